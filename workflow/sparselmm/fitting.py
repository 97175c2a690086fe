"""One cross-validation fold: fit a method on the training samples of each phenotype
of a group and score its predictions of the held-out samples.

This is the one fit path of the workflow. A simulated data set is a group of one
phenotype; a transcriptome has hundreds to thousands of phenotypes measured on the
same samples, fitted in groups so that a job

* reads the genotypes of a fold's training and test samples once (only the SNPs in
  the group's cis windows when windows are used) and keeps them while the next
  phenotype has the same samples (phenotypes with missing values get their own read);
* with every SNP in the model (no window), shares the genotype work (moments,
  covariate projection, the hybrid's and ridge's ``n x n`` eigendecompositions)
  through one :class:`sparselmm.PreparedGenotypes` per sample set; the fits are the
  ones a job per phenotype gives (tested).

``auto`` beside its candidates (``shared``): the candidates' own fits of the fold are
auto's. A candidate with its own inner CV (the Lasso) run with auto's ``cv`` and ``seed``
writes each inner fold's error (``FoldFits.inner``), which auto's choice reads instead of
fitting it again; the chosen candidate's held-out predictions are auto's, read instead of
refitting it. auto's fit is then its choice alone (the other candidates' inner CV), and
its predictions are the ones it would refit (tested).
"""

import sys
import time
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import plink
from ._design import PreparedGenotypes, take_columns, take_rows
from .cv import BINARY_METRICS, binary_metrics, covariate_fit, heldout_metrics
from .methods import genotype_storage, make_model
from .methods import method as registry_row
from .samples import fit_samples
from .select import fold_errors_at_others_choice
from .traits import code_phenotypes, prevalence_of
from .simulate import read_truth
from .tables import read_results, read_table

# what to do about a shared fit file that is not this fold's
REDO_FIT = "delete it and rerun the workflow"
# fitted attributes worth a line in a fit's log, where the model has them
SUMMARY_ATTRIBUTES = ("chosen_", "cv_mse_", "converged_", "n_iter_", "pve_", "sigma2_e_",
                      "pi_", "inference_", "damping_", "start_", "start_evidence_",
                      "ridge_evidence_", "log_evidence_")


class FoldFits(NamedTuple):
    """What :func:`fit_fold` returns: four DataFrames, each with a ``phenotype`` column.

    ``predictions``: ``phenotype, iid, fold, y, pred, pred_covariates`` of the held-out
    samples; ``metrics``: ``phenotype, method, fold`` and the held-out metrics
    (:func:`score_fit`), one row per phenotype, which depend only on the data and
    options (reruns give identical tables); ``timings``: ``phenotype, method, fold,
    fit_seconds``, the wall time of fit plus prediction, kept apart because it does not;
    ``inner``: ``phenotype, inner_fold, mse`` for a method that chooses its penalty by
    inner CV, each inner fold's held-out squared error at the penalty the other folds
    choose (:func:`sparselmm.select.fold_errors_at_others_choice`, what ``auto`` compares),
    no rows for other methods.
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    timings: pd.DataFrame
    inner: pd.DataFrame


def fit_fold(*, bed, phenotypes, names, folds, fold, method, options=None, covariates=None,
             transform="none", windows=None, truth=None, storage="int8", binary="auto",
             prevalence=None, shared=None, log=None):
    """Fit ``method`` on all folds but ``fold`` of every phenotype of ``names`` and
    predict ``fold``.

    Parameters
    ----------
    bed : path
        PLINK prefix of the genotypes.
    phenotypes, covariates : path
        Tables keyed by ``iid`` (:func:`sparselmm.tables.read_table`); ``covariates``
        None: intercept only.
    names : list of str
        The phenotypes (columns of ``phenotypes``) to fit.
    folds : path
        A folds table with a column per phenotype (:mod:`sparselmm.cv`).
    fold : int
        The held-out fold.
    method, options : str, dict
        A method of the registry and its options (:func:`sparselmm.methods.make_model`).
    transform : {"none", "rank_inverse_normal"}
        Applied to each quantitative phenotype over its samples, before the split.
    binary : "auto" or list of str
        Which phenotypes are binary (:func:`sparselmm.traits.code_phenotypes`): fitted
        as 0/1, never transformed, and scored by :data:`sparselmm.cv.BINARY_METRICS`
        too (empty for the quantitative phenotypes when some phenotype is binary).
    prevalence : None, float or dict
        Population prevalence of the binary phenotypes for the liability scale
        (:func:`sparselmm.traits.prevalence_of`); None: each phenotype's case
        fraction over its samples (both folds), which the metrics state.
    windows : dict, optional
        ``{phenotype: column indices}`` of each phenotype's SNPs (absent: every SNP).
    truth : path, optional
        The ``truth.json`` of a simulated data set, for methods that need it.
    shared : dict, optional
        ``method="auto"`` only: ``{candidate: {"predictions": path, "metrics": path,
        "inner": path}}``, the files of the candidates' own fits of this fold with the
        options auto gives them (:func:`read_shared`; module docstring).
    storage : {"int8", "packed", "auto"}
        How phenotypes fitted on every SNP hold the genotypes: read into memory as
        int8 (1 byte per genotype, the fastest kernels), or left packed in the
        memory-mapped .bed (2 bits per genotype; the fold is a row index over it,
        and the fits are the same bit for bit); "auto": by the fileset's size
        (:func:`resolve_storage`). Cis windows are always read as int8.

    Returns
    -------
    FoldFits
    """
    log = log or sys.stderr
    windows = windows or {}
    if shared and method != "auto":
        raise ValueError(f"{method}: only auto reuses other methods' fits (shared)")
    shared = read_shared(shared or {}, fold)
    fam = plink.read_samples(bed)
    pheno, binary = code_phenotypes(read_table(phenotypes, "phenotype"), binary, phenotypes)
    cov_tab = None if covariates is None else read_table(covariates, "covariate")
    fold_tab = read_table(folds, "fold")
    wanted = [windows.get(n) for n in names]
    if any(w is None for w in wanted):
        cols = None  # some phenotype uses every SNP: read them all
    else:
        cols = np.unique(np.concatenate(wanted)) if wanted else np.zeros(0, np.int64)
    storage = resolve_storage(storage, bed)
    held, packed = {}, None
    true_effects = None  # read once the genotypes give the number of SNPs
    preds, metrics, timings, inner = [], [], [], []
    for name in names:
        if name not in fold_tab.columns:
            raise ValueError(f"{folds}: no fold column for phenotype {name!r}")
        in_folds = fold_tab[name].dropna()
        ids, rows, y, Z = fit_samples(fam, pheno, name, cov_tab, transform,
                                      within=in_folds.index, source=phenotypes, binary=binary)
        f = in_folds.loc[ids].to_numpy().astype(int)
        train, test = f != fold, f == fold
        key = (rows[train].tobytes(), rows[test].tobytes())
        if held.get("key") != key:
            t0 = time.perf_counter()
            if storage == "packed" and cols is None:
                packed = packed if packed is not None else plink.open_packed(bed)
                held = {"key": key, "prepared": None, "train": take_rows(packed, rows[train]),
                        "test": take_rows(packed, rows[test])}
                how = "mapped (2 bits per genotype)"
            else:
                held = {"key": key, "prepared": None,
                        "train": plink.read_genotypes(bed, rows=rows[train], cols=cols),
                        "test": plink.read_genotypes(bed, rows=rows[test], cols=cols)}
                how = "read as int8"
            print(f"{held['train'].shape[0]} + {held['test'].shape[0]} samples x "
                  f"{held['train'].shape[1]} SNPs {how} in {time.perf_counter() - t0:.2f} s",
                  file=log)
        Ztr = None if Z is None else Z[train]
        Zte = None if Z is None else Z[test]
        window = windows.get(name)
        if window is None:
            if held["prepared"] is None:
                held["prepared"] = PreparedGenotypes(held["train"], Ztr)
            X, Gte = held["prepared"], held["test"]
        else:
            at = window if cols is None else np.searchsorted(cols, window)
            X, Gte = take_columns(held["train"], at), take_columns(held["test"], at)
        print(f"{name}: ", end="", file=log)
        if registry_row(method).binary_only and name not in binary:
            raise ValueError(f"phenotype {name!r}, {method}: a logistic model fits binary "
                             f"(case-control) phenotypes only; {name!r} is quantitative "
                             f"(realdata.binary_phenotypes)")
        try:
            if truth is not None and true_effects is None:
                true_effects = read_truth(truth, held["train"].shape[1])
            model = make_model(method, options, true_effects)
            kw = dict(X_train=X, y_train=y[train], Z_train=Ztr, G_test=Gte, y_test=y[test],
                      Z_test=Zte, log=log, label=method)
            if shared:
                pred, cov_pred, m, seconds = score_shared_auto(
                    model, shared, name, np.asarray(ids)[test], **kw)
            else:
                pred, cov_pred, m, seconds = score_fit(model, **kw)
            if registry_row(method).inner_cv:
                errors = fold_errors_at_others_choice(model.mse_path_)
                inner.append(pd.DataFrame({"phenotype": name, "inner_fold": range(errors.size),
                                           "mse": errors}))
            if name in binary and not set(BINARY_METRICS) <= set(m):
                K = prevalence_of(prevalence, name)
                # the SNP part: the polygenic score X b (a logistic model's on the
                # log-odds scale)
                m.update(binary_metrics(y[test], pred, cov_pred,
                                        float(y.mean()) if K is None else K,
                                        snp=model.predict_genetic(Gte)))
        except ValueError as err:
            raise ValueError(f"phenotype {name!r}, fold {fold}, {method}: {err}") from err
        preds.append(pd.DataFrame({"phenotype": name, "iid": np.asarray(ids)[test], "fold": fold,
                                   "y": y[test], "pred": pred, "pred_covariates": cov_pred}))
        metrics.append({"phenotype": name, "method": method, "fold": fold, **m})
        timings.append({"phenotype": name, "method": method, "fold": fold,
                        "fit_seconds": round(seconds, 3)})
    metrics = pd.DataFrame(metrics)
    if binary & set(names):  # the binary columns after the others, empty where quantitative
        metrics = metrics[[c for c in metrics.columns if c not in BINARY_METRICS]
                          + list(BINARY_METRICS)]
    inner = pd.concat(inner, ignore_index=True) if inner else pd.DataFrame(
        columns=["phenotype", "inner_fold", "mse"])
    return FoldFits(pd.concat(preds, ignore_index=True), metrics, pd.DataFrame(timings), inner)


def read_shared(files, fold):
    """The tables of the candidates' fits that auto reuses: ``{candidate: {"predictions",
    "metrics": DataFrame, "inner": DataFrame or None, "files": the paths}}``, each
    checked to be of fold ``fold``. A simulated data set's files have no ``phenotype``
    column (one phenotype each)."""
    tables = {}
    for cand, paths in files.items():
        t = {"files": paths, "inner": None}
        for part in ("predictions", "metrics", "inner"):
            if paths.get(part) is None:
                continue
            frame = read_results(paths[part])
            if part != "inner" and not (frame["fold"] == fold).all():
                raise ValueError(f"{paths[part]}: not a fit of fold {fold}")
            t[part] = frame
        tables[cand] = t
    return tables


def _rows_of(frame, name):
    return frame if "phenotype" not in frame.columns else frame[frame["phenotype"] == name]


def score_shared_auto(model, shared, name, test_ids, *, X_train, y_train, Z_train, G_test,
                      y_test, Z_test, log=None, label="auto"):
    """:func:`score_fit` for auto beside its candidates: the choice by
    :meth:`sparselmm.select.AutoSelectCV.select` with the inner errors of the shared
    candidates that have them; the chosen candidate's predictions read from its own
    fit where it is shared, refitted otherwise. The seconds are auto's own work."""
    log = log or sys.stderr
    errors = {}
    for cand, t in shared.items():
        if t["inner"] is not None:
            rows = _rows_of(t["inner"], name).sort_values("inner_fold")
            if rows.empty:
                raise ValueError(f"{t['files']['inner']}: no inner-CV errors of {name!r}")
            errors[cand] = rows["mse"].to_numpy(dtype=float)
    t0 = time.perf_counter()
    X = X_train if isinstance(X_train, PreparedGenotypes) else PreparedGenotypes(X_train, Z_train)
    model.select(X, y_train, errors=errors)
    reused = shared.get(model.chosen_)
    extra = {}
    if reused is None:
        model.refit(X, y_train)
        pred = model.predict(G_test, Z_test)
        print(f"{label} fit: {fit_summary(model)}", file=log)
    else:
        rows = _rows_of(reused["predictions"], name)
        if list(rows["iid"]) != [str(i) for i in test_ids] or not np.allclose(
                rows["y"].to_numpy(dtype=float), y_test):
            raise ValueError(f"{reused['files']['predictions']}: the held-out samples of "
                             f"{name!r} are not this fold's (a fit of other data? {REDO_FIT})")
        pred = rows["pred"].to_numpy(dtype=float)
        done = _rows_of(reused["metrics"], name).iloc[0]
        # its convergence, and a binary phenotype's metrics (they need its model)
        extra = {k: str(done[k]) == "True" for k in ("converged", "at_bound")
                 if k in done.index}
        extra.update({k: done[k] for k in BINARY_METRICS
                      if k in done.index and pd.notna(done[k])})
        print(f"{label} fit: {fit_summary(model)} (the fit of {model.chosen_} reused: "
              f"{reused['files']['predictions']})", file=log)
    seconds = time.perf_counter() - t0
    cov_pred, metrics = _scored(model, pred, X_train, y_train, Z_train, y_test, Z_test)
    metrics.update(extra)
    return pred, cov_pred, metrics, seconds


def resolve_storage(storage, bed):
    """``"int8"`` or ``"packed"`` for a fit on the fileset ``bed``: ``storage`` itself, or
    for ``"auto"`` packed when the int8 copy would exceed
    :data:`sparselmm.methods.PACKED_ABOVE_MB`."""
    bed_bytes = plink.fileset(bed)["bed"].stat().st_size
    return genotype_storage(storage, 4 * bed_bytes / 1e6)


def score_fit(model, *, X_train, y_train, Z_train, G_test, y_test, Z_test, log=None,
              label="fit"):
    """Fit ``model`` on the training part and predict the test part.

    ``X_train`` may be a :class:`sparselmm.PreparedGenotypes` holding ``Z_train``
    (pass ``Z_train`` too: the covariate-only fit needs it). Returns ``(pred,
    cov_pred, metrics, seconds)``: the held-out prediction, the covariate-only
    prediction from the training fold (least squares; for a logistic model, the
    logistic regression's probability), the metrics (``r2``,
    ``r2_snp`` of :func:`sparselmm.cv.heldout_metrics`, sample and SNP counts,
    ``converged``, ``at_bound``, and the hybrid's ``inference`` and ``damping``)
    and the seconds of fit plus prediction.
    """
    prepared = isinstance(X_train, PreparedGenotypes)
    t0 = time.perf_counter()
    model.fit(X_train, y_train, None if prepared else Z_train)
    pred = model.predict(G_test, Z_test)
    seconds = time.perf_counter() - t0
    print(f"{label} fit: {fit_summary(model)}", file=log or sys.stderr)
    cov_pred, metrics = _scored(model, pred, X_train, y_train, Z_train, y_test, Z_test)
    return pred, cov_pred, metrics, seconds


def _scored(model, pred, X_train, y_train, Z_train, y_test, Z_test):
    """The covariate-only prediction and the metrics of :func:`score_fit`."""
    n_test = len(y_test)
    # each model against the covariate-only model of its family: a logistic model's
    # prediction is a probability, its baseline the logistic regression on [1, Z]
    cov_pred = covariate_fit(Z_train, y_train, Z_test, n_test,
                             link=getattr(model, "LINK", "identity"))
    metrics = heldout_metrics(y_test, pred, cov_pred)
    metrics.update(
        n_train=len(y_train),
        n_test=n_test,
        p=int(X_train.shape[1]),
        converged=bool(getattr(model, "converged_", True)),
        # a variance component estimated at its bound (ridge: h2 = 0)
        at_bound=bool(getattr(model, "at_bound_", False)),
    )
    if getattr(model, "chosen_", None) is not None:  # auto: the method it chose
        metrics.update(chosen=model.chosen_)
    if getattr(model, "inference_", None) is not None:  # how the hybrid's E-step ended
        metrics.update(inference=model.inference_,
                       damping=np.nan if model.damping_ is None else float(model.damping_))
    return cov_pred, metrics


def fit_summary(model):
    """``name=value`` for each of :data:`SUMMARY_ATTRIBUTES` the model has."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return f"{v:.6g}"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
        if isinstance(v, tuple):
            return "(" + ", ".join(map(fmt, v)) + ")"
        return str(v)
    return " ".join(f"{a.rstrip('_')}={fmt(getattr(model, a))}" for a in SUMMARY_ATTRIBUTES
                    if getattr(model, a, None) is not None)


def read_groups(path):
    """The workflow's ``groups.tsv`` (:func:`sparselmm.cis.assign_groups`)."""
    return pd.read_csv(path, sep="\t", dtype={"phenotype": str, "chrom": str},
                       keep_default_na=False)
