"""Baselines: the Lasso with unpenalised covariates, and the simulation oracle."""

import numpy as np

from ._design import (check_genotypes, check_vector, covariate_matrix, inverse_sd,
                      orthonormal_basis)
from .cv import assign_folds, covariate_fit


def _standardised_dense(X, mean=None, sd=None):
    """Dense float64 standardised copy (mean-imputed); the Lasso needs one.

    Returns ``(X_std, mean, sd, scale)`` with ``scale = 1/sd`` (0 for monomorphic SNPs).
    """
    G, sentinel = check_genotypes(X, fill=mean)
    Xf = G.astype(np.float64, order="F")
    if G.dtype == np.int8:
        miss = G == sentinel
        Xf[miss] = np.nan
        if mean is None:
            mean = np.nanmean(Xf, axis=0)
        Xf[miss] = np.broadcast_to(mean, Xf.shape)[miss]
    if mean is None:
        mean = Xf.mean(axis=0)
    Xf -= mean
    if sd is None:
        sd = Xf.std(axis=0)
    scale = inverse_sd(mean, sd)
    Xf *= scale
    return Xf, mean, sd, scale


class ProjectedElasticNetCV:
    """Elastic net on standardised SNPs with covariates projected out, penalty by K-fold CV.

    Objective ``||y - X b||^2 / (2 n) + alpha (l1_ratio ||b||_1 + (1 - l1_ratio) ||b||^2 / 2)``
    (scikit-learn's). ``solver="celer"`` (default) computes the warm-started
    paths with celer's working-set solver, ``"sklearn"`` with scikit-learn's
    ``enet_path``; both minimise the same objective. The rest as in
    :class:`ProjectedLassoCV`, which is the ``l1_ratio = 1`` case.
    """

    def __init__(self, *, l1_ratio=0.5, n_alphas=30, eps=1e-2, cv=5, tol=1e-4, solver="celer",
                 seed=0):
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.tol = tol
        self.solver = solver
        self.seed = seed

    def _path(self, X, y, alphas):
        if not 0 < self.l1_ratio <= 1:
            raise ValueError(f"l1_ratio must lie in (0, 1], got {self.l1_ratio}")
        if self.solver == "celer":
            from celer import celer_path

            _, coefs, _ = celer_path(X, y, "lasso", alphas=alphas, l1_ratio=self.l1_ratio,
                                     tol=self.tol)
        elif self.solver == "sklearn":
            from sklearn.linear_model import enet_path

            _, coefs, _ = enet_path(X, y, l1_ratio=self.l1_ratio, alphas=alphas, tol=self.tol)
        else:
            raise ValueError(f"solver must be 'celer' or 'sklearn', got {self.solver!r}")
        return coefs  # p x n_alphas

    @staticmethod
    def _project(X, y, Zfull):
        Q, _ = orthonormal_basis(Zfull)
        return np.asfortranarray(X - Q @ (Q.T @ X)), y - Q @ (Q.T @ y)

    def fit(self, X, y, Z=None):
        Xs, self._mean, self._sd, scale = _standardised_dense(X)
        y = check_vector(y, Xs.shape[0], "y")
        Zfull = covariate_matrix(Z, Xs.shape[0])
        Xt, yt = self._project(Xs, y, Zfull)
        n = Xt.shape[0]
        alpha_max = np.abs(Xt.T @ yt).max() / (n * self.l1_ratio)
        self.alphas_ = alpha_max * np.geomspace(1.0, self.eps, int(self.n_alphas))
        folds = assign_folds(n, int(self.cv), self.seed)
        mse = np.zeros((int(self.cv), self.alphas_.size))
        for k in range(int(self.cv)):
            tr, te = folds != k, folds == k
            # the inner split re-projects within its own training part
            Xi, yi = self._project(Xs[tr], y[tr], Zfull[tr])
            coefs = self._path(Xi, yi, self.alphas_)
            # covariate effects per penalty: least squares of the residuals on [1, Z]
            resid_cov = covariate_fit(Zfull[tr, 1:], y[tr, None] - Xs[tr] @ coefs, Zfull[te, 1:])
            pred = Xs[te] @ coefs + resid_cov
            mse[k] = np.mean((y[te, None] - pred) ** 2, axis=0)
        self.mse_path_ = mse
        best = int(np.argmin(mse.mean(axis=0)))
        self.alpha_ = float(self.alphas_[best])
        coefs = self._path(Xt, yt, self.alphas_[: best + 1])
        b = coefs[:, best]
        self._b = b
        self._w = np.linalg.lstsq(Zfull, y - Xs @ b, rcond=None)[0]
        self.coef_ = b * scale
        self.intercept_ = float(self._w[0] - self._mean @ self.coef_)
        self.covariate_coef_ = self._w[1:]
        self.n_features_in_ = Xs.shape[1]
        return self

    def predict_genetic(self, X):
        Xs, _, _, _ = _standardised_dense(X, self._mean, self._sd)
        return Xs @ self._b

    def predict(self, X, Z=None):
        Xg = self.predict_genetic(X)
        return covariate_matrix(Z, Xg.shape[0]) @ self._w + Xg


class ProjectedLassoCV(ProjectedElasticNetCV):
    """Lasso on standardised SNPs with covariates projected out, lambda by K-fold CV.

    Covariates (and an intercept) are unpenalised: within the training data
    ``y`` and ``X`` are projected onto the orthogonal complement of ``[1, Z]``
    (the Lasso on the projected data gives the same SNP effects as a Lasso
    with unpenalised ``Z``); ``Z``'s effects are then least squares on
    ``y - X beta``. The penalty is chosen by ``cv``-fold CV over ``n_alphas``
    values spaced geometrically from ``alpha_max`` down to ``eps * alpha_max``,
    every path warm-started; objective ``||y - X b||^2 / (2 n) + alpha ||b||_1``.
    """

    def __init__(self, *, n_alphas=30, eps=1e-2, cv=5, tol=1e-4, solver="celer", seed=0):
        super().__init__(l1_ratio=1.0, n_alphas=n_alphas, eps=eps, cv=cv, tol=tol,
                         solver=solver, seed=seed)


class Oracle:
    """The true model of a simulated data set: predictions from the true effects."""

    def __init__(self, *, beta, intercept, covariate_effects):
        self.beta = np.asarray(beta, dtype=float)
        self.intercept = float(intercept)
        self.covariate_effects = np.asarray(covariate_effects, dtype=float)

    def fit(self, X, y, Z=None):
        return self

    def predict_genetic(self, X):
        G, _ = check_genotypes(X)
        nz = np.flatnonzero(self.beta)
        return G[:, nz].astype(float) @ self.beta[nz]

    def predict(self, X, Z=None):
        Zfull = covariate_matrix(Z, X.shape[0])
        return Zfull @ np.concatenate([[self.intercept], self.covariate_effects]) + \
            self.predict_genetic(X)
