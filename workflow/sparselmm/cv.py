"""Cross-validation folds and held-out accuracy.

A folds table (tab-separated) has a column ``iid`` and one column per phenotype
holding each sample's fold (0-based), empty where the sample is not used for that
phenotype (phenotype or a covariate missing). A simulated data set's table has the
one column of its phenotype.
"""

import numpy as np
import pandas as pd
from scipy.special import expit

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


def covariate_fit(Z_train, y_train, Z_test, n_test=None, link="identity"):
    """Least-squares prediction from ``[1, Z]`` fitted on the training fold; with
    ``link="logit"``, the probability of being a case from the maximum-likelihood
    logistic regression on ``[1, Z]`` (a logistic model's covariate-only baseline).

    ``y_train`` may be a vector or, for least squares, a matrix (one fit per column).
    ``Z`` may be None (intercept only); ``n_test`` is then required.
    """
    n_tr = len(y_train)
    n_te = Z_test.shape[0] if Z_test is not None else n_test
    if n_te is None:
        raise ValueError("covariate_fit needs n_test when Z_test is None")
    A = np.ones((n_tr, 1)) if Z_train is None else np.column_stack([np.ones(n_tr), Z_train])
    B = np.ones((n_te, 1)) if Z_test is None else np.column_stack([np.ones(n_te), Z_test])
    if link == "logit":
        b, _ = logistic_fit(y_train, A)
        return expit(B @ b)
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


# the columns a binary phenotype's metrics add (empty for quantitative phenotypes)
BINARY_METRICS = ("auc", "auc_snp", "nagelkerke_r2", "r2_liability", "prevalence")


def auc(y, score):
    """Area under the ROC curve of ``score`` for the 0/1 outcome ``y``: the chance that a
    random case scores above a random control, ties counted half (Mann-Whitney)."""
    from scipy.stats import rankdata

    y = np.asarray(y) == 1
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def liability_r2(r2_observed, prevalence, case_fraction):
    """R^2 on the liability scale from R^2 on the observed 0/1 scale (Lee, Goddard, Wray
    & Visscher 2012, Genet Epidemiol 36:214, eq. 15), for a population prevalence
    ``K`` and a case fraction ``P`` in the sample the R^2 was measured on.

    With ``t`` the liability threshold (``Phi(t) = 1 - K``), ``z`` the normal density
    at ``t`` and ``m = z / K``: ``C = K (1 - K) / z^2 * K (1 - K) / (P (1 - P))``,
    ``theta = m (P - K) / (1 - K) * (m (P - K) / (1 - K) - t)`` and
    ``R2_l = R2_o C / (1 + R2_o theta C)``. With ``P = K`` this is the
    Dempster-Lerner transform ``R2_o K (1 - K) / z^2``.
    """
    from scipy.stats import norm

    K, P = float(prevalence), float(case_fraction)
    if not (0 < K < 1 and 0 < P < 1):
        return float("nan")
    t = norm.isf(K)
    z = norm.pdf(t)
    m = z / K
    C = K * (1 - K) / z**2 * K * (1 - K) / (P * (1 - P))
    a = m * (P - K) / (1 - K)
    theta = a * (a - t)
    return float(r2_observed * C / (1 + r2_observed * theta * C))


def logistic_fit(y, X, max_iter=100, tol=1e-10):
    """``(b, loglik)``: the maximum-likelihood logistic regression of the 0/1 ``y`` on the
    columns of ``X`` (which should hold an intercept), by Newton's method. Under
    separation the likelihood tends to 1 without a maximum; the iterations stop when
    it no longer rises by ``tol``."""
    y = np.asarray(y, dtype=float)
    b = np.zeros(X.shape[1])
    ll, best = -np.inf, b
    for _ in range(max_iter):
        eta = X @ b
        new = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        if new - ll < tol:
            return (b, new) if new >= ll else (best, ll)
        ll, best = new, b
        p = expit(eta)
        w = p * (1 - p) + 1e-12
        b = b + np.linalg.lstsq(X.T @ (X * w[:, None]), X.T @ (y - p), rcond=None)[0]
    return best, ll


def logistic_loglik(y, X, max_iter=100, tol=1e-10):
    """The maximised log likelihood of :func:`logistic_fit`."""
    return logistic_fit(y, X, max_iter, tol)[1]


def nagelkerke_r2(y, X):
    """Nagelkerke's R^2 of the logistic regression of the 0/1 ``y`` on ``[1, X]``:
    Cox-Snell's ``1 - exp(2 (l0 - l1) / n)`` over its maximum ``1 - exp(2 l0 / n)``."""
    y = np.asarray(y, dtype=float)
    n = y.size
    one = np.ones((n, 1))
    l0 = logistic_loglik(y, one)
    l1 = logistic_loglik(y, np.column_stack([one, X]))
    top = 1 - np.exp(2 * l0 / n)
    return float((1 - np.exp(2 * (l0 - l1) / n)) / top) if top > 0 else float("nan")


def binary_metrics(y_test, pred, cov_pred, prevalence=None, snp=None):
    """Held-out accuracy of a prediction of a 0/1 phenotype (``pred`` on any scale that
    increases with the risk; ``cov_pred`` the covariate-only fit from the training fold).

    ``auc``: AUC of the full prediction; ``auc_snp``: of the SNP part, the polygenic
    score ``snp`` (the model's ``predict_genetic``; default ``pred - cov_pred``);
    ``nagelkerke_r2``: the gain in Nagelkerke's R^2 from adding the SNP part to the
    covariate fit (logistic regressions on the held-out samples, as PRS tools report
    it); ``r2_liability``: the squared correlation of the SNP part with ``y_test -
    cov_pred`` (R^2 on the observed scale) taken to the liability scale
    (:func:`liability_r2`) for ``prevalence`` (None: the held-out case fraction) and
    the held-out case fraction.
    """
    y = np.asarray(y_test, dtype=float)
    snp = np.asarray(pred, dtype=float) - cov_pred if snp is None else np.asarray(snp)
    P = float(y.mean())
    K = P if prevalence is None else float(prevalence)
    resid = y - cov_pred
    r2_obs = (float(np.corrcoef(resid, snp)[0, 1] ** 2)
              if np.std(snp) > 0 and np.std(resid) > 0 else 0.0)
    with np.errstate(over="ignore"):
        gain = (nagelkerke_r2(y, np.column_stack([cov_pred, snp]))
                - nagelkerke_r2(y, cov_pred[:, None])) if np.std(cov_pred) > 0 else (
                nagelkerke_r2(y, snp[:, None]))
    return {"auc": auc(y, pred), "auc_snp": auc(y, snp), "nagelkerke_r2": gain,
            "r2_liability": liability_r2(r2_obs, K, P), "prevalence": K}


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
    ``phenotypes`` is the workflow's checked table, binary phenotypes already coded
    0/1 (PLINK's 0 missing) by :func:`sparselmm.tables.prepare_phenotypes`. Returns
    ``{phenotype: samples}``.
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

