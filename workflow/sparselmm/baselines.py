"""Baselines: the simulation oracle (predictions from the true effects) and the single
best SNP (``top1``).

(The Lasso and the elastic net live in :mod:`sparselmm.penalised`.)
"""

import numpy as np

from ._base import LinearPredictor
from ._design import build_design, check_genotypes, covariate_matrix
from .model import marginal_association


class Oracle:
    """The true model of a simulated data set: predictions from the true effects.

    For a disease (liability-threshold model: ``threshold`` and ``noise_sd`` given) the
    prediction is the probability of being a case given the true covariate and genetic
    values, ``Phi((l - threshold) / noise_sd)`` with ``l`` the liability without its
    noise; ``predict_genetic`` stays the genetic value on the liability scale.
    """

    def __init__(self, *, beta, intercept, covariate_effects, threshold=None, noise_sd=None):
        self.beta = np.asarray(beta, dtype=float)
        self.intercept = float(intercept)
        self.covariate_effects = np.asarray(covariate_effects, dtype=float)
        self.threshold = threshold
        self.noise_sd = noise_sd

    @classmethod
    def from_truth(cls, truth):
        """The oracle of a simulated data set (:func:`sparselmm.simulate.read_truth`)."""
        return cls(beta=truth["beta_full"], intercept=truth["intercept"],
                   covariate_effects=truth["covariate_effects"],
                   threshold=truth.get("liability_threshold"), noise_sd=truth.get("noise_sd"))

    def fit(self, X, y, Z=None):
        return self

    def predict_genetic(self, X):
        G, sentinel = check_genotypes(X)
        nz = np.flatnonzero(self.beta)
        Gc = G[:, nz].astype(float)
        if G.dtype == np.int8:  # missing calls (real genotypes) at the column's mean
            Gc[G[:, nz] == sentinel] = np.nan
            Gc = np.where(np.isnan(Gc), np.nanmean(Gc, axis=0), Gc)
        return Gc @ self.beta[nz]

    def predict(self, X, Z=None):
        Zfull = covariate_matrix(Z, X.shape[0])
        liability = Zfull @ np.concatenate([[self.intercept], self.covariate_effects]) + \
            self.predict_genetic(X)
        if self.threshold is None:
            return liability
        from scipy.stats import norm

        return norm.cdf((liability - self.threshold) / self.noise_sd)


class TopSNP(LinearPredictor):
    """The single best SNP (FUSION's ``top1``): the SNP with the strongest marginal
    association in the training data after the covariates, with its least-squares
    effect; every other SNP has effect 0.

    Covariates (and an intercept) are projected out exactly, as in
    :class:`sparselmm.SparseLMM`: the chosen SNP maximises the correlation of
    ``P x_j`` with ``P y`` (equivalently its t statistic in ``y ~ 1 + Z + x_j``) and
    its effect is the coefficient of ``x_j`` in that regression. Genotypes stay int8.

    Attributes
    ----------
    snp_ : int
        Column of the chosen SNP.
    z_ : float
        Its marginal z score ``sqrt(n') r`` (``n'``: samples less covariate columns).
    coef_, intercept_, covariate_coef_ : as in :class:`sparselmm.SparseLMM`
    """

    def __init__(self, *, standardize=True):
        self.standardize = standardize

    def fit(self, X, y, Z=None):
        design = build_design(X, y, Z, standardize=self.standardize)
        xty, z = marginal_association(design)
        b = np.zeros(design.G.shape[1])
        if design.active.any():
            gain = np.where(design.active, xty**2 / np.where(design.active, design.d, 1.0),
                            -1.0)
            j = int(np.argmax(gain))
            b[j] = xty[j] / design.d[j]
            self.snp_, self.z_ = j, float(z[j])
        else:
            self.snp_, self.z_ = None, 0.0
        self.converged_ = True
        self._finish(design, b)
        return self
