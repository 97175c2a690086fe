"""The Lasso and the elastic net for case-control traits: penalised logistic
regression on int8 (or packed) genotypes, covariates unpenalised, the penalty chosen
by inner cross-validation on the deviance.

Objective (glmnet's, on standardised SNPs)::

    sum_i [log(1 + e^{t_i}) - y_i t_i] / n + alpha (l1_ratio ||b||_1
                                                  + (1 - l1_ratio) ||b||^2 / 2),
    t = [1, Z] w + X b,   w unpenalised.

Proximal Newton (glmnet's outer IRLS loop; Friedman, Hastie & Tibshirani 2010): at
the current fit the log likelihood is replaced by its quadratic expansion, a weighted
least-squares problem with weights ``W_i = p_i (1 - p_i)`` and working response
``z_i = t_i + (y_i - p_i) / W_i``. The covariates are profiled out through the
``W``-weighted projection (as :mod:`sparselmm.logistic` does), and the penalised
weighted problem is solved by the Lasso's coordinate-descent kernel
(:func:`sparselmm._kernels.enet_epoch`) with row weights ``W``, over a working set:
the SNPs in the model and the strong-rule survivors (Tibshirani et al. 2012). A
Newton step that does not lower the objective is halved until it does. Each penalty
ends with a KKT check over *all* SNPs, ``|x_j^T (y - p)| <= n alpha l1_ratio`` for a
SNP out of the model (one pass over the genotypes); violators join the working set
and the solve goes on. Inner folds are row weights (0 on the held-out rows), so the
genotypes are never copied.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import expit

from . import _kernels
from ._base import LogisticPredictor
from ._design import build_design
from .cv import assign_folds, logistic_fit
from .penalised import check_path_params, strong_rule

# the smallest Newton weight p (1 - p) (glmnet's: a fitted probability within 1e-5 of 0
# or 1 would make the working response explode)
MIN_WEIGHT = 1e-5


def penalised_objective(y, m, t, b, l1, l2):
    """``sum_i m_i [log(1 + e^{t_i}) - y_i t_i] + l1 ||b||_1 + l2 ||b||^2 / 2`` (the
    objective times the number of rows in the fit, ``m`` their 0/1 weights)."""
    loss = float(m @ (np.logaddexp(0.0, t) - y * t))
    return loss + l1 * float(np.abs(b).sum()) + 0.5 * l2 * float(b @ b)


class _Path:
    """The solution along the penalties of one fit (rows ``m``): ``b`` (standardised
    SNP effects), ``w`` (covariate effects on ``[1, Z]``) and ``t``, the linear
    predictor of *every* row (held-out rows included)."""

    def __init__(self, design, m, tol, max_iter):
        self.design, self.m = design, m
        self.tol, self.max_iter = tol, max_iter
        p = design.G.shape[1]
        k = design.Zfull.shape[1]
        fit = m > 0
        self.w, _ = logistic_fit(design.y[fit], design.Zfull[fit])
        self.b = np.zeros(p)
        self.t = design.Zfull @ self.w
        self.C = np.zeros((k, p))
        self.d = np.zeros(p)
        self.converged = True
        self.start_gradient = self.gradient()  # at b = 0: where the path starts

    def gradient(self):
        """``x_j^T (m (y - p))`` for every SNP (0 outside ``active``): one pass."""
        d = self.design
        out = np.zeros(d.G.shape[1])
        z = self.m * (d.y - expit(self.t))
        _kernels.rmatvec(d.G, d.sentinel, d.mean, d.scale, d.active, z, out)
        return out

    def solve(self, ws, l1, l2):
        """Proximal Newton on the SNPs ``ws`` (an index array), the others held at 0,
        until an iteration lowers the objective by less than ``tol`` relative."""
        d, m = self.design, self.m
        Zf, y = d.Zfull, d.y
        f = penalised_objective(y, m, self.t, self.b, l1, l2)
        for _ in range(self.max_iter):
            prob = expit(self.t)
            W = m * np.maximum(prob * (1 - prob), MIN_WEIGHT)
            z = self.t + np.divide(m * (y - prob), W, out=np.zeros_like(W), where=W > 0)
            R = np.linalg.cholesky(Zf.T @ (Zf * W[:, None])).T
            Q = np.linalg.solve(R.T, Zf.T).T  # W-orthonormal basis of [1, Z]
            QW = Q * W[:, None]
            _kernels.weighted_moments(d.G, d.sentinel, d.mean, d.scale, W,
                                      np.ascontiguousarray(QW.T), ws, self.C, self.d)
            xb = self.t - Zf @ self.w
            q = QW.T @ z
            z_tilde = z - Q @ q
            v, u = z_tilde - xb, QW.T @ xb
            b_new = self.b.copy()
            target = self.tol * max(f, 1e-300)
            for _ in range(10_000):  # coordinate descent on the quadratic expansion
                step = _kernels.enet_epoch(d.G, d.sentinel, d.mean, d.scale, self.C, self.d,
                                           ws, W, v, u, b_new, l1, l2)
                if step <= target:
                    break
            w_new = np.linalg.solve(R, q - u)
            t_new = Zf @ w_new + (z_tilde - v)
            s = 1.0
            while True:  # halve the step until the objective falls
                t_try = self.t + s * (t_new - self.t)
                b_try = self.b + s * (b_new - self.b)
                f_try = penalised_objective(y, m, t_try, b_try, l1, l2)
                if f_try <= f or s < 1e-6:
                    break
                s *= 0.5
            self.w += s * (w_new - self.w)
            self.b, self.t = b_try, t_try
            done = f - f_try <= self.tol * abs(f_try)
            f = min(f, f_try)
            if done:
                return
        self.converged = False

    def run(self, alphas, l1_ratio):
        """A generator: after each penalty of ``alphas`` (decreasing) the index."""
        d = self.design
        n_fit = float(self.m.sum())
        grad = self.start_gradient if not self.b.any() else self.gradient()
        l1_prev = float(np.abs(grad).max())
        for k, alpha in enumerate(alphas):
            l1 = n_fit * alpha * l1_ratio
            l2 = n_fit * alpha * (1.0 - l1_ratio)
            ws = d.active & ((self.b != 0) | (np.abs(grad) > l1) | strong_rule(grad, l1, l1_prev))
            while True:
                if ws.any():
                    self.solve(np.flatnonzero(ws), l1, l2)
                grad = self.gradient()
                late = d.active & ~ws & (np.abs(grad) > l1)
                if not late.any():
                    break
                ws |= late
            l1_prev = l1
            yield k


def deviance(y, t):
    """Mean binomial deviance ``2 [log(1 + e^t) - y t]`` of the linear predictors ``t``."""
    return float(np.mean(2.0 * (np.logaddexp(0.0, t) - y * t)))


class LogisticElasticNetCV(LogisticPredictor):
    """Penalised logistic regression (elastic net; ``l1_ratio = 1``: the Lasso) on
    standardised SNPs, covariates unpenalised, penalty by K-fold CV on the deviance.

    Parameters
    ----------
    l1_ratio : float in (0, 1]
    n_alphas, eps : penalties on a geometric grid from ``alpha_max`` (the smallest with
        no SNP in the model, on the whole training data) down to ``eps * alpha_max``.
    cv : int
        Inner folds (seeded by ``seed``); the penalty with the lowest mean held-out
        deviance is refitted on every training sample.
    tol : float
        A Newton iteration that lowers the objective by less than ``tol`` (relative)
        ends the penalty's solve.
    max_iter : int
        Newton iterations per solve (``converged_`` False beyond).
    n_jobs : int
        Threads for the inner folds.

    Attributes
    ----------
    coef_, intercept_, covariate_coef_ : on the log-odds scale
    alphas_, alpha_ : the penalty grid and the chosen penalty
    deviance_path_ : (cv, n_alphas) mean held-out deviance of every inner fit
    n_nonzero_, converged_

    Notes
    -----
    The module docstring gives the algorithm. As in
    :class:`sparselmm.penalised.ProjectedElasticNetCV`, the SNPs are standardised once
    over the training data (missing calls at the mean) and the inner fits share that
    scale.
    """

    def __init__(self, *, l1_ratio=0.5, n_alphas=30, eps=1e-2, cv=5, tol=1e-7, max_iter=100,
                 n_jobs=1, seed=0):
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.seed = seed

    def _check_params(self):
        check_path_params(self.l1_ratio, self.n_alphas, self.eps, self.tol, self.max_iter)

    def fit(self, X, y, Z=None, alphas=None):
        """Fit to the 0/1 outcome ``y``; ``alphas``: fit this penalty grid on every
        sample without cross-validation (the last penalty's fit is kept)."""
        self._check_params()
        y_arr = self._binary_outcome(y)
        design = build_design(X, y_arr, Z)
        n = design.n
        path = _Path(design, np.ones(n), self.tol, int(self.max_iter))  # every sample
        if alphas is None:
            alpha_max = float(np.abs(path.start_gradient).max()) / (n * self.l1_ratio)
            if not alpha_max > 0:
                raise ValueError("no SNP is associated with y after the covariates")
            self.alphas_ = alpha_max * np.geomspace(1.0, self.eps, int(self.n_alphas))
            folds = assign_folds(n, int(self.cv), self.seed)

            def errors(k):
                path = _Path(design, (folds != k).astype(float), self.tol, int(self.max_iter))
                out = np.full(self.alphas_.size, np.nan)
                held = folds == k
                for i in path.run(self.alphas_, self.l1_ratio):
                    out[i] = deviance(design.y[held], path.t[held])
                return out

            if int(self.n_jobs) > 1:
                with ThreadPoolExecutor(max_workers=int(self.n_jobs)) as pool:
                    self.deviance_path_ = np.array(list(pool.map(errors, range(int(self.cv)))))
            else:
                self.deviance_path_ = np.array([errors(k) for k in range(int(self.cv))])
            best = int(np.nanargmin(self.deviance_path_.mean(axis=0)))
            grid = self.alphas_[:best + 1]
        else:
            self.alphas_ = grid = np.asarray(alphas, dtype=float)
            self.deviance_path_ = None
        for _ in path.run(grid, self.l1_ratio):
            pass
        self.alpha_ = float(grid[-1])
        self.converged_ = bool(path.converged)
        if not path.converged:
            warnings.warn(f"{type(self).__name__}: Newton's method did not reach tol="
                          f"{self.tol} within max_iter={self.max_iter}", stacklevel=2)
        self._finish(design, path.b, w=path.w)
        self.n_nonzero_ = int(np.count_nonzero(self._b))
        return self


class LogisticLassoCV(LogisticElasticNetCV):
    """The Lasso (``l1_ratio = 1``) of :class:`LogisticElasticNetCV`."""

    def __init__(self, *, n_alphas=30, eps=1e-2, cv=5, tol=1e-7, max_iter=100, n_jobs=1,
                 seed=0):
        super().__init__(l1_ratio=1.0, n_alphas=n_alphas, eps=eps, cv=cv, tol=tol,
                         max_iter=max_iter, n_jobs=n_jobs, seed=seed)

