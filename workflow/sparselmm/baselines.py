"""The simulation oracle: predictions from the true effects.

(The Lasso and the elastic net live in :mod:`sparselmm.penalised`.)
"""

import numpy as np

from ._design import check_genotypes, covariate_matrix


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
