"""Cross-validation folds and held-out accuracy."""

import numpy as np


def assign_folds(n, k, seed):
    """Balanced fold labels ``0..k-1`` in a seeded random order."""
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    if n < k:
        raise ValueError(f"{n} samples cannot be split into {k} folds")
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % k)


def r2(y, pred):
    """Held-out coefficient of determination ``1 - SS_res / SS_tot``."""
    y = np.asarray(y, dtype=float)
    ss_tot = np.sum((y - y.mean()) ** 2)
    return float(1.0 - np.sum((y - pred) ** 2) / ss_tot) if ss_tot > 0 else float("nan")


def covariate_fit(Z_train, y_train, Z_test, n_test=None):
    """Least-squares prediction from ``[1, Z]`` fitted on the training fold.

    ``y_train`` may be a vector or a matrix (one fit per column). ``Z`` may be
    None (intercept only); ``n_test`` is then required.
    """
    n_tr = len(y_train)
    n_te = Z_test.shape[0] if Z_test is not None else n_test
    if n_te is None:
        raise ValueError("covariate_fit needs n_test when Z_test is None")
    A = np.ones((n_tr, 1)) if Z_train is None else np.column_stack([np.ones(n_tr), Z_train])
    B = np.ones((n_te, 1)) if Z_test is None else np.column_stack([np.ones(n_te), Z_test])
    w, *_ = np.linalg.lstsq(A, y_train, rcond=None)
    return B @ w


def heldout_metrics(y_test, pred, cov_pred):
    """``r2`` of the full prediction and ``r2_snp`` of the gain over covariates.

    ``r2_snp`` is the held-out R^2 of ``pred - cov_pred`` against
    ``y_test - cov_pred``, where ``cov_pred`` is the covariate-only least-squares
    fit from the training fold: the share of the variance left after
    covariates that the SNPs predict.
    """
    return {"r2": r2(y_test, pred), "r2_snp": r2(y_test - cov_pred, pred - cov_pred)}
