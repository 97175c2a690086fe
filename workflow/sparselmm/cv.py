"""Cross-validation folds and held-out accuracy.

A folds table (tab-separated) has a column ``iid`` and one column per phenotype
holding each sample's fold (0-based), empty where the sample is not used for that
phenotype (phenotype or a covariate missing). A simulated data set's table has the
one column of its phenotype.
"""

import numpy as np
import pandas as pd

from .outputs import write_tsv
from .tables import read_table, redundant_columns


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


def write_folds(path, iids, k, seed, names):
    """A folds table over all of ``iids`` with the same seeded split (:func:`assign_folds`)
    in the column of each phenotype of ``names``."""
    folds = assign_folds(len(iids), k, seed)
    table = pd.DataFrame({name: folds for name in names}, index=pd.Index(list(iids), name="iid"))
    write_tsv(table.reset_index(), path)


def phenotype_folds(pheno, phenotype, fam_iids, cov, k, seed, source):
    """``(iids, folds)`` of one phenotype: its samples with covariates, in .fam order,
    and their fold; a covariate constant in a fold's training samples is an error."""
    keep = pheno[phenotype].dropna().index
    iids = [i for i in fam_iids if i in keep and i in cov.index]
    folds = assign_folds(len(iids), k, seed)
    Z = cov.loc[iids].to_numpy(dtype=float)
    # the intercept and every covariate are fitted in each training fold, and the
    # residual variance needs at least one sample more
    smallest = min(int((folds != fold).sum()) for fold in range(k)) if iids else 0
    if smallest < Z.shape[1] + 2:
        raise ValueError(
            f"phenotype {phenotype!r}: {len(iids)} samples with genotypes and covariates, "
            f"so {smallest} in the smallest training fold, too few for the intercept and "
            f"{Z.shape[1]} covariates of {source} (at least {Z.shape[1] + 2} needed): use "
            f"fewer covariates (realdata.n_pcs, realdata.covariate_table) or leave this "
            f"phenotype out (realdata.phenotypes)")
    for fold in range(k):
        bad = redundant_columns(Z[folds != fold], list(cov.columns), 0)
        if bad:
            name, why = bad[0]
            raise ValueError(f"{source}: covariate {name!r} is {why} in the training samples "
                             f"of fold {fold} of phenotype {phenotype!r}; with so few samples "
                             f"carrying it, drop or merge that covariate")
    return iids, folds


def group_fold_table(phenotypes, names, fam_iids, covariates, k, seed, out):
    """The folds table of a group of real-data phenotypes: each phenotype's samples
    (genotyped, phenotyped, with covariates) split by :func:`phenotype_folds`.

    Fails here, before any fit, when a covariate does not vary in the training
    samples of a fold (a rare category), naming the column, phenotype and fold.
    Returns ``{phenotype: samples}``.
    """
    pheno = read_table(phenotypes, "phenotype")
    cov = read_table(covariates, "covariate")
    columns = {}
    for name in names:
        if name not in pheno.columns:
            raise ValueError(f"{phenotypes}: no phenotype column {name!r}")
        iids, folds = phenotype_folds(pheno, name, fam_iids, cov, k, seed, covariates)
        columns[name] = pd.Series(folds, index=iids, dtype="Int64")
    table = pd.DataFrame(columns, index=pd.Index(list(fam_iids), name="iid"), columns=names)
    write_tsv(table.reset_index(), out)
    return table.notna().sum().to_dict()

