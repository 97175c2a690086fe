"""What every estimator of the package shares: parameters as scikit-learn expects
them, and prediction on the original genotype scale from the fitted state.

The fitted state that other modules use (export, scoring) is public and
documented here, as scikit-learn's ``LinearModel`` documents ``coef_`` and
``intercept_``:

``coef_``
    Effect of one more copy of the counted allele (the .bim's A1) of each SNP.
``x_mean_``
    Mean allele count of each SNP over the training samples (missing calls left
    out); a missing call counts at this value in ``predict``.
``x_scale_``
    Multiplier of the centred allele count that the model was fitted on: ``1/SD``
    when SNPs are standardised, 1 when not, 0 for SNPs that did not enter the
    model (monomorphic, or collinear with the covariates). ``coef_`` is the
    standardised effect times ``x_scale_``.
``intercept_``, ``covariate_coef_``
    The covariate part ``intercept_ + Z covariate_coef_`` of the prediction at an
    allele count of 0 for every SNP.

The SNP part of a prediction, restricted to some SNPs if asked, is
:meth:`LinearPredictor.predict_genetic`.
"""

import numpy as np
from scipy.special import expit

from ._design import check_genotypes, covariate_matrix, standardized_matvec
from ._kernels import PackedBed


class EstimatorParams:
    """``get_params``/``set_params`` as scikit-learn's ``clone`` expects them.

    (Not inheriting ``sklearn.base.BaseEstimator`` keeps ``import sparselmm``
    free of scikit-learn's two-second import, paid by every workflow job.)
    """

    def get_params(self, deep=True):
        import inspect

        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.kind == p.KEYWORD_ONLY]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
            setattr(self, key, value)
        return self

    def score(self, X, y, Z=None):
        """Coefficient of determination of ``predict(X, Z)``."""
        from .cv import r2

        return r2(y, self.predict(X, Z))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class LinearPredictor(EstimatorParams):
    """Prediction on the original scale, shared by the linear models.

    A subclass's ``fit`` ends with :meth:`_finish`, which stores the public fitted
    state described in the module docstring. ``LINK``: ``"identity"`` (``predict`` is
    the linear prediction) or, for a logistic model, ``"logit"`` (the linear
    prediction is the log-odds, ``predict`` the probability).
    """

    LINK = "identity"

    def _finish(self, design, b, w=None):
        """Store the standardisation and map the standardised effects ``b`` back to
        the original scale; the covariate effects (on ``[1, Z]``) are ``w``, by default
        the least-squares fit of ``y - X b`` on ``[1, Z]``."""
        b = np.where(design.active, b, 0.0)
        if hasattr(self, "pip_"):
            self.pip_ = np.where(design.active, self.pip_, 0.0)
        self.n_features_in_ = design.G.shape[1]
        self.x_mean_ = design.mean
        self.x_scale_ = design.scale
        self._b = b
        if w is None:
            xb = standardized_matvec(design.G, design.sentinel, design.mean, design.scale, b)
            w = np.linalg.solve(design.R, design.Q.T @ (design.y - xb))
        self._w = np.asarray(w, dtype=float)
        self.coef_ = b * design.scale
        self.intercept_ = float(self._w[0] - design.mean @ self.coef_)
        self.covariate_coef_ = self._w[1:].copy()
        self.n_covariates_ = design.Zfull.shape[1] - 1
        self.n_missing_ = design.n_missing
        self.active_ = design.active

    # -- prediction ------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _check_width(self, X):
        if getattr(X, "ndim", 2) == 2 and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} SNPs but the model was fitted on "
                             f"{self.n_features_in_}")

    def predict(self, X, Z=None):
        """Posterior mean prediction ``[1, Z] w + X coef`` on the original scale.

        Missing genotypes (int8 -127 or NaN) are imputed to the training mean.
        """
        return self.predict_covariates(X.shape[0] if hasattr(X, "shape") else len(X), Z) + \
            self.predict_genetic(X)

    def predict_genetic(self, X, snps=None):
        """The SNP part ``sum_j coef_j (x_j - x_mean_j)`` of the prediction (centred
        at the training means; a missing call contributes 0).

        ``snps``: column indices; the sum is then over those SNPs only (what leaving
        the other SNPs out of an exported model changes). Computed by the int8
        kernel of ``predict``, without a float copy of the columns.
        """
        self._check_fitted()
        X = X if hasattr(X, "dtype") or isinstance(X, PackedBed) else np.asarray(X)
        self._check_width(X)
        b = self._b
        if snps is not None:
            b = np.zeros_like(self._b)
            b[snps] = self._b[snps]
        G, sentinel = check_genotypes(X, fill=self.x_mean_)
        return standardized_matvec(G, sentinel, self.x_mean_, self.x_scale_, b)

    def predict_covariates(self, n, Z=None):
        """The covariate part ``[1, Z] w`` of the prediction."""
        self._check_fitted()
        Zfull = covariate_matrix(Z, n)
        if Zfull.shape[1] != self._w.size:
            raise ValueError(f"Z has {Zfull.shape[1] - 1} columns but the model was "
                             f"fitted with {self._w.size - 1}")
        return Zfull @ self._w


class LogisticPredictor(LinearPredictor):
    """A linear model of the log-odds of a 0/1 outcome (``LINK = "logit"``): the linear
    prediction is :meth:`decision_function`, ``predict`` the probability of a case."""

    LINK = "logit"

    @staticmethod
    def _binary_outcome(y):
        """``y`` as floats, checked to be coded 0/1 with both classes present."""
        y = np.asarray(y, dtype=float)
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y must be coded 0 (control) / 1 (case) for a logistic model")
        if y.min() == y.max():
            raise ValueError("y has one class only (all cases or all controls)")
        return y

    def decision_function(self, X, Z=None):
        """The log-odds ``[1, Z] w + X coef`` of being a case."""
        return super().predict(X, Z)

    def predict(self, X, Z=None):
        """The probability of being a case (the logistic of :meth:`decision_function`)."""
        return expit(self.decision_function(X, Z))

    def predict_proba(self, X, Z=None):
        """As :meth:`predict`."""
        return self.predict(X, Z)

