"""The dense LMM the paper argues against: ridge regression / GBLUP with REML.

Every standardised SNP gets a small normal effect, ``beta_j ~ N(0, sigma_g^2 / p)``;
the genetic relationship matrix ``K = X~ X~^T / p`` is formed from the projected
genotypes (covariates integrated out exactly, as in :mod:`sparselmm.model`) and
the variance ratio ``delta = sigma_e^2 / sigma_g^2`` maximises the REML
likelihood, computed from one eigendecomposition of ``K`` restricted to the
orthogonal complement of ``[1, Z]`` (Kang et al. 2008, EMMA). Effects are the
BLUP ``beta = X~^T (K + delta I)^{-1} y~ / p``, equivalently ridge regression
with penalty ``p * delta``.
"""

import math

import numpy as np
from scipy.optimize import minimize_scalar

from ._base import LinearPredictor
from ._design import build_design, projected_blocks


class RidgeREML(LinearPredictor):
    """GBLUP / ridge regression with the variance ratio by REML.

    Attributes
    ----------
    coef_, intercept_, covariate_coef_, predict(...) : as in :class:`SparseLMM`
    delta_ : float  ``sigma_e^2 / sigma_g^2`` at the REML optimum
    sigma2_g_, sigma2_e_ : float
    pve_ : float  ``sigma_g^2 / (sigma_g^2 + sigma_e^2)`` (SNP heritability)
    reml_ : float  the maximised REML log-likelihood (up to a constant)
    at_bound_ : bool  the optimum lies at an end of ``log10_delta_bounds`` (in
        practice h2 ~ 0: no polygenic variance); a legitimate estimate, not a failure
    converged_ : bool  the bounded 1-D search succeeded
    """

    def __init__(self, *, standardize=True, log10_delta_bounds=(-5.0, 5.0)):
        self.standardize = standardize
        self.log10_delta_bounds = log10_delta_bounds

    def fit(self, X, y, Z=None):
        design = build_design(X, y, Z, standardize=self.standardize)
        p = max(int(design.active.sum()), 1)
        Qp, lam, U = design.cached("ridge_eigen", lambda: _kernel_eigen(design, p))
        z = U.T @ (Qp.T @ design.y_tilde)
        m = z.size

        def neg_reml(log10_delta):
            w = lam + 10.0**log10_delta
            return 0.5 * (m * math.log(float(np.sum(z**2 / w)) / m) + float(np.sum(np.log(w))))

        lo, hi = self.log10_delta_bounds
        res = minimize_scalar(neg_reml, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-6})
        delta = 10.0 ** res.x
        self.delta_ = float(delta)
        self.sigma2_g_ = float(np.sum(z**2 / (lam + delta)) / m)
        self.sigma2_e_ = self.delta_ * self.sigma2_g_
        self.pve_ = 1.0 / (1.0 + self.delta_)
        self.reml_ = float(-res.fun)
        alpha = Qp @ (U @ (z / (lam + delta)))
        b = np.zeros(design.G.shape[1])
        for j0, j1, blk in projected_blocks(design):
            b[j0:j1] = blk.T @ alpha / p
        self.pip_ = design.active.astype(float)
        self.at_bound_ = not bool(lo + 1e-3 < res.x < hi - 1e-3)
        self.converged_ = bool(res.success)
        self._finish(design, b)
        return self


def _kernel_eigen(design, p):
    """``(Qp, lam, U)``: a basis of the complement of span([1, Z]) and the
    eigendecomposition of the genetic relationship matrix ``P X X^T P / p`` in it."""
    n = design.n
    K = np.zeros((n, n))
    for _, _, blk in projected_blocks(design):
        K += blk @ blk.T
    K /= p
    Qfull, _ = np.linalg.qr(design.Zfull, mode="complete")
    Qp = Qfull[:, design.Q.shape[1]:]
    lam, U = np.linalg.eigh(Qp.T @ K @ Qp)
    return Qp, np.maximum(lam, 0.0), U
