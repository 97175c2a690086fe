"""The workflow's steps as plain functions: data sets on disk, one CV fold fit.

The Snakemake scripts only unpack the ``snakemake`` object and call these.
File formats (all tab-separated, with a header):

* phenotypes: column ``iid`` plus one column per phenotype;
* covariates: column ``iid`` plus one numeric column per covariate;
* folds: ``iid``, ``fold`` (0-based);
* predictions: ``iid``, ``fold``, ``y``, ``pred``, ``pred_covariates``.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import plink
from ._design import PreparedGenotypes
from .baselines import Oracle, TopSNP
from .cv import assign_folds, covariate_fit, heldout_metrics
from .hybrid import HybridLMM
from .model import SparseLMM
from .penalised import ProjectedElasticNetCV, ProjectedLassoCV
from .simulate import Genotypes, simulate
from .tables import MISSING, redundant_columns

METHODS = ("sparselmm", "hybrid", "ridge", "lasso", "elasticnet", "top1", "bslmm", "oracle")


# -- simulation -----------------------------------------------------------------
def write_simulation(out_prefix, *, n, p, n_causal, h2, covariate_effects, intercept,
                     maf_range, seed, genotypes="independent"):
    """Simulate one data set and write ``.bed/.bim/.fam``, phenotype, covariate, truth.

    ``genotypes``: ``"independent"`` (the paper's design), ``"coalescent"`` (msprime),
    or the prefix of a PLINK fileset whose genotypes are used as they are (its samples
    and SNPs; ``n`` and ``p`` are then ignored).
    """
    out = Path(out_prefix)
    source = None
    if genotypes not in ("independent", "coalescent"):
        source = str(genotypes)
        bim = plink.read_bim(source)
        fam = plink.read_fam(source)
        genotypes = Genotypes(plink.read_genotypes(source), bim["pos"].astype(np.int64).to_numpy())
    sim = simulate(n=n, p=p, n_causal=n_causal, h2=h2, covariate_effects=covariate_effects,
                   intercept=intercept, maf_range=maf_range, seed=seed, genotypes=genotypes)
    n, p = sim.genotypes.shape
    if source is None:
        iids = [f"ind{i + 1}" for i in range(n)]
        sids = [f"snp{j + 1}" for j in range(p)]
        plink.write_bed(out / "genotypes", sim.genotypes, iids, sids, positions=sim.positions)
    else:  # the fileset's own samples and SNPs (IDs, chromosomes, positions, alleles)
        sids = list(bim["snp"])
        plink.write_bed_props(out / "genotypes", sim.genotypes, {
            "fid": fam.fids, "iid": fam.iids, "sid": sids, "chromosome": list(bim["chrom"]),
            "bp_position": list(sim.positions), "allele_1": list(bim["a1"]),
            "allele_2": list(bim["a2"])})
        iids = list(fam.keys)  # the tables' sample keys (FID IID where IIDs repeat)
    pd.DataFrame({"iid": iids, "y": sim.y}).to_csv(out / "phenotypes.tsv", sep="\t", index=False,
                                                   float_format="%.10g")
    cov = pd.DataFrame(sim.covariates, columns=[f"cov{k + 1}" for k in range(sim.covariates.shape[1])])
    cov.insert(0, "iid", iids)
    cov.to_csv(out / "covariates.tsv", sep="\t", index=False, float_format="%.10g")
    causal = np.flatnonzero(sim.beta)
    truth = {
        "intercept": sim.intercept,
        "covariate_effects": sim.covariate_effects.tolist(),
        "causal_snps": [sids[j] for j in causal],
        "causal_index": causal.tolist(),
        "beta": sim.beta[causal].tolist(),
        "h2_target": h2,
        "h2_realised": float(sim.genetic_value.var() / (sim.genetic_value + sim.noise).var()),
        "seed": seed,
        "genotypes": source or genotypes,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return sim


# -- folds ----------------------------------------------------------------------
def write_folds(path, iids, k, seed):
    folds = assign_folds(len(iids), k, seed)
    pd.DataFrame({"iid": iids, "fold": folds}).to_csv(path, sep="\t", index=False)


def _read_tsv(path, text_columns):
    with open(path) as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    return pd.read_csv(path, sep="\t", dtype={c: str for c in text_columns if c in header},
                       keep_default_na=False,
                       na_values={c: MISSING for c in header if c not in text_columns})


def read_table(path, what):
    """A TSV keyed by ``iid`` (read as strings), with a clear error if malformed."""
    df = _read_tsv(path, ["iid"])
    if "iid" not in df.columns:
        raise ValueError(f"{path}: {what} table needs an 'iid' column, found {list(df.columns)}")
    dup = df["iid"][df["iid"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: duplicate sample ID {dup.iloc[0]!r} in the {what} table")
    return df.set_index("iid")


# -- fitting one fold -----------------------------------------------------------
def make_model(method, options, truth=None):
    options = dict(options or {})
    if method == "sparselmm":
        return SparseLMM(**options)
    if method == "hybrid":
        return HybridLMM(**options)
    if method == "ridge":
        from .ridge import RidgeREML

        return RidgeREML(**options)
    if method == "lasso":
        return ProjectedLassoCV(**options)
    if method == "elasticnet":
        return ProjectedElasticNetCV(**options)
    if method == "top1":
        return TopSNP(**options)
    if method == "bslmm":
        from .bslmm import GemmaBSLMM

        return GemmaBSLMM(**options)
    if method == "oracle":
        if truth is None:
            raise ValueError("method 'oracle' needs the true effects (simulated data only)")
        return Oracle(beta=truth["beta_full"], intercept=truth["intercept"],
                      covariate_effects=truth["covariate_effects"])
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def rank_inverse_normal(y):
    """Blom's rank-based inverse normal transform (average ranks for ties)."""
    from scipy.stats import norm, rankdata

    y = np.asarray(y, dtype=float)
    return norm.ppf((rankdata(y) - 0.375) / (y.size + 0.25))


TRANSFORMS = {"none": None, "rank_inverse_normal": rank_inverse_normal}


def phenotype_samples(bed, phenotypes, phenotype, covariates=None, transform="none",
                      within=None):
    """The samples a fit of ``phenotype`` uses, in .fam order: genotyped, with the
    phenotype, with covariates (where given) and in ``within`` (where given).

    Returns ``(ids, rows, y, Z)``: sample keys, their .fam rows, the phenotype
    (transformed) and the covariate matrix (None without covariates).
    """
    fam = plink.read_samples(bed)
    pheno = read_table(phenotypes, "phenotype")
    cov_tab = None if covariates is None else read_table(covariates, "covariate")
    return samples_of(fam, pheno, phenotype, cov_tab, transform, within, source=phenotypes)


def samples_of(fam, pheno, phenotype, cov_tab=None, transform="none", within=None,
               source="phenotype table"):
    """:func:`phenotype_samples` from tables already read (``fam``: sample keys in
    .fam order; ``pheno``, ``cov_tab``: DataFrames indexed by sample key)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown phenotype transform {transform!r}; choose from "
                         f"{', '.join(TRANSFORMS)}")
    if phenotype not in pheno.columns:
        raise ValueError(f"{source}: no phenotype column {phenotype!r} "
                         f"(columns: {', '.join(map(str, pheno.columns))})")
    y_all = pheno[phenotype]
    ids = [i for i in fam if i in y_all.index and pd.notna(y_all[i])
           and (within is None or i in within)]
    cov = None
    if cov_tab is not None:
        ids = [i for i in ids if i in cov_tab.index]
        cov = cov_tab.loc[ids].to_numpy(dtype=float)
    pos = {iid: k for k, iid in enumerate(fam)}
    rows = np.array([pos[i] for i in ids], dtype=np.int64)
    y = y_all.loc[ids].to_numpy(dtype=float)
    if TRANSFORMS[transform] is not None:
        y = TRANSFORMS[transform](y)
    return ids, rows, y, cov


def fit_fold(*, bed, phenotypes, phenotype, folds, fold, method, options=None,
             covariates=None, truth=None, transform="none"):
    """Fit ``method`` on all folds but ``fold`` and predict ``fold``.

    Returns ``(predictions DataFrame, metrics dict, seconds)``: the metrics depend
    only on the data and options (reruns give identical tables); ``seconds``, the
    wall time of fit plus prediction, is kept apart because it does not. Samples
    are matched by ID between the .fam, phenotype, covariate and fold tables;
    samples with a missing phenotype are left out. ``transform`` (``"none"`` or
    ``"rank_inverse_normal"``) is applied to the phenotype of those samples
    before the split; it uses the phenotype values only, never the genotypes.
    """
    fold_tab = read_table(folds, "fold")["fold"]
    ids, rows, y, cov = phenotype_samples(bed, phenotypes, phenotype, covariates, transform,
                                          within=fold_tab.index)
    f = fold_tab.loc[ids].to_numpy()
    train, test = f != fold, f == fold
    # read the two parts separately: no second in-memory copy of the genotypes
    G_train = plink.read_genotypes(bed, rows=rows[train])
    G_test = plink.read_genotypes(bed, rows=rows[test])
    if truth is not None:
        truth = dict(json.loads(Path(truth).read_text()))
        beta = np.zeros(G_train.shape[1])
        beta[truth["causal_index"]] = truth["beta"]
        truth["beta_full"] = beta
    Ztr = None if cov is None else cov[train]
    Zte = None if cov is None else cov[test]
    model = make_model(method, options, truth)
    return fit_and_score(model, method, G_train, y[train], Ztr, G_test, y[test], Zte,
                         np.asarray(ids)[test], fold)


def fit_and_score(model, method, X_train, y_train, Z_train, G_test, y_test, Z_test, test_ids,
                  fold, log=None):
    """Fit ``model`` on the training part, predict the test part: ``(predictions,
    metrics, seconds)`` as :func:`fit_fold` returns them. ``X_train`` may be a
    :class:`sparselmm.PreparedGenotypes` (holding ``Z_train``; pass ``Z_train`` too,
    for the covariate-only fit)."""
    prepared = isinstance(X_train, PreparedGenotypes)
    t0 = time.perf_counter()
    model.fit(X_train, y_train, None if prepared else Z_train)
    pred = model.predict(G_test, Z_test)
    seconds = time.perf_counter() - t0
    print(f"{method} fit: {fit_summary(model)}", file=log or sys.stderr)
    n_test = len(y_test)
    cov_pred = covariate_fit(Z_train, y_train, Z_test, n_test)
    metrics = heldout_metrics(y_test, pred, cov_pred)
    metrics.update(
        n_train=len(y_train),
        n_test=n_test,
        p=int(X_train.shape[1]),
        converged=bool(getattr(model, "converged_", True)),
        # a variance component estimated at its bound (ridge: h2 = 0)
        at_bound=bool(getattr(model, "at_bound_", False)),
    )
    if getattr(model, "inference_", None) is not None:  # how the hybrid's E-step ended
        metrics.update(inference=model.inference_,
                       damping=np.nan if model.damping_ is None else float(model.damping_))
    preds = pd.DataFrame({"iid": test_ids, "fold": fold, "y": y_test,
                          "pred": pred, "pred_covariates": cov_pred})
    return preds, metrics, seconds


# fitted attributes worth a line in a fit's log, where the model has them
SUMMARY_ATTRIBUTES = ("converged_", "n_iter_", "pve_", "sigma2_e_", "pi_", "inference_",
                      "damping_", "start_", "start_evidence_", "ridge_evidence_", "log_evidence_")


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


def read_results(path):
    """A results table (metrics), keeping phenotype names such as "NA" as text."""
    return _read_tsv(path, ["phenotype", "method"])


def _stable_order(table):
    """Rows sorted by the labels that identify a fit (the same order on every run)."""
    keys = [c for c in ("phenotype", "n_causal", "h2", "replicate", "method", "fold")
            if c in table.columns]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def collect_metrics(paths):
    """Concatenate one-row metric files into one table, in a stable order."""
    table = pd.concat([read_results(p) for p in paths], ignore_index=True)
    return _stable_order(table)


def method_order(methods):
    """``methods`` in the plotting order of :data:`METHODS`, others after, by name."""
    return sorted(methods, key=lambda m: (METHODS.index(m) if m in METHODS else len(METHODS), m))


PANEL = "(panel mean)"


def summarise(table, baseline="sparselmm", metric="r2_snp"):
    """Mean accuracy per scenario (or phenotype) and method, with standard errors,
    and the paired difference from ``baseline``.

    The unit of replication is the simulated data set when there are several
    (its fold mean is one observation), else the cross-validation fold.
    ``se`` is the standard error of the mean over units; ``diff`` the mean of
    the unit-wise ``method - baseline`` differences and ``se_diff`` its
    standard error (paired: the methods saw the same data and folds). Without
    ``baseline`` among the methods the two columns are left empty. Real data
    get a last block, ``phenotype == "(panel mean)"``, whose units are the
    phenotypes' fold means.
    """
    group = ["n_causal", "h2"] if "n_causal" in table.columns else ["phenotype"]
    by_rep = "replicate" in table.columns and table["replicate"].nunique() > 1
    unit = "replicate" if by_rep else "fold"
    per_unit = table.groupby(group + [unit, "method"], sort=True)[metric].mean().unstack("method")
    blocks = [(key, block, unit) for key, block in per_unit.groupby(level=group, sort=True)]
    if group == ["phenotype"]:
        # real data: also the panel as a whole, one unit per phenotype
        blocks.append((PANEL, per_unit.groupby(level="phenotype").mean(), "phenotype"))
    rows = []
    for key, block, unit in blocks:
        key = key if isinstance(key, tuple) else (key,)
        order = method_order(block.columns)
        for method in order:
            values = block[method].dropna()
            row = dict(zip(group, key), method=method,
                       units=f"{len(values)} {unit}s",
                       mean=values.mean(), se=_se(values))
            if baseline in block.columns:
                diff = (block[method] - block[baseline]).dropna()
                row.update(diff=diff.mean(), se_diff=_se(diff))
            else:
                row.update(diff=np.nan, se_diff=np.nan)
            rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(len(group) + 1, "metric", metric)
    return out


def predicted_counts(table, thresholds=(0.05, 0.1), baseline="sparselmm", metric="r2_snp"):
    """How many phenotypes each method predicts: per method, the phenotypes whose
    CV-mean ``metric`` exceeds each threshold (``n_above_T``) and the mean of
    ``metric`` over them (``mean_above_T``); ``best``, the phenotypes on which the
    method has the highest mean (ties to the first in :data:`METHODS` order);
    ``better_than_baseline`` / ``worse_than_baseline``, phenotypes above / below
    ``baseline``; and ``diff`` / ``se_diff``, the paired mean difference from
    ``baseline`` over all phenotypes and its standard error."""
    means = table.groupby(["phenotype", "method"])[metric].mean().unstack("method")
    order = method_order(means.columns)
    means = means[order]
    best = means.idxmax(axis=1).value_counts()
    rows = []
    for m in order:
        v = means[m].dropna()
        row = {"method": m, "metric": metric, "phenotypes": len(v), "mean": v.mean(),
               "se": _se(v), "best": int(best.get(m, 0))}
        for t in thresholds:
            above = v[v > t]
            row[f"n_above_{t:g}"] = len(above)
            row[f"mean_above_{t:g}"] = above.mean() if len(above) else np.nan
        if baseline in means.columns:
            d = (means[m] - means[baseline]).dropna()
            row.update(better_than_baseline=int((d > 0).sum()),
                       worse_than_baseline=int((d < 0).sum()), diff=d.mean(), se_diff=_se(d))
        rows.append(row)
    return pd.DataFrame(rows)


def hybrid_status(table, damping=0.8):
    """How the hybrid's EM-VAMP E-step (``inference: vamp``) ended, per scenario (or
    phenotype): fits, converged fits, fits by VAMP at the configured ``damping``, by
    VAMP with more damping (restarted after diverging or stalling; the smallest
    damping used), and fits that fell back to mean field (VAMP diverged at every
    damping; the fit warned)."""
    columns = ["fits", "converged", "vamp_configured_damping", "vamp_more_damping",
               "min_damping", "mean_field_fallback"]
    hy = table[table["method"] == "hybrid"]
    group = ["n_causal", "h2"] if "n_causal" in table.columns else ["phenotype"]
    if hy.empty or "inference" not in hy.columns:
        return pd.DataFrame(columns=group + columns)
    top = float(damping) - 1e-12
    rows = []
    for key, b in hy.groupby(group, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        vamp = b[b["inference"] == "vamp"]
        rows.append({**dict(zip(group, key)), "fits": len(b),
                     "converged": int(b["converged"].astype(bool).sum()),
                     "vamp_configured_damping": int((vamp["damping"] >= top).sum()),
                     "vamp_more_damping": int((vamp["damping"] < top).sum()),
                     "min_damping": vamp["damping"].min() if len(vamp) else np.nan,
                     "mean_field_fallback": int((b["inference"] == "mean_field").sum())})
    return pd.DataFrame(rows)


def _se(values):
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan


def collect_timings(timings, benchmarks):
    """One row per fit: its labels, the fit's own wall time and Snakemake's job record.

    ``timings`` are the fit scripts' timing files (labels, ``fit_seconds`` and
    ``max_rss_mb``, the process's peak resident memory from getrusage; a grouped
    real-data job writes one row per phenotype), ``benchmarks`` the matching
    Snakemake benchmark TSVs, in the same order. ``job_seconds`` (whole job:
    start-up, reading genotypes, every fit of the job) and ``job_fits`` (fits in
    that job) come from them. Snakemake samples memory and misses sub-second jobs,
    so its ``max_rss`` is used only for a timing file written before the fit
    script recorded its own.
    """
    if len(timings) != len(benchmarks):
        raise ValueError(f"{len(timings)} timing files but {len(benchmarks)} benchmark files")
    parts = []
    for t, b in zip(timings, benchmarks):
        rows = read_results(t)
        bench = pd.read_csv(b, sep="\t")
        for col in ("s", "max_rss"):
            if col not in bench.columns or bench.empty:
                raise ValueError(f"{b}: not a Snakemake benchmark file (no {col!r} column)")
        rows["job_seconds"] = float(bench["s"].iloc[0])
        rows["job_fits"] = len(rows)
        if "max_rss_mb" not in rows.columns:
            rows["max_rss_mb"] = np.nan
        rows["max_rss_mb"] = rows["max_rss_mb"].fillna(
            pd.to_numeric(bench["max_rss"], errors="coerce").iloc[0])
        parts.append(rows)
    return _stable_order(pd.concat(parts, ignore_index=True))


# -- real data --------------------------------------------------------------------
def real_fold_table(phenotypes, phenotype, fam_iids, covariates, k, seed, out):
    """Folds for one phenotype over samples genotyped, phenotyped and with covariates.

    ``phenotypes`` is the workflow's checked table (:func:`sparselmm.tables.prepare_phenotypes`).
    Fails here, before any fit, when a covariate does not vary in the training samples
    of a fold (a rare category), naming the column, phenotype and fold.
    """
    pheno = read_table(phenotypes, "phenotype")[[phenotype]]
    cov = read_table(covariates, "covariate")
    iids, _ = phenotype_folds(pheno, phenotype, fam_iids, cov, k, seed, covariates)
    write_folds(out, iids, k, seed)  # the same assign_folds as phenotype_folds
    return len(iids)


def phenotype_folds(pheno, phenotype, fam_iids, cov, k, seed, source):
    """``(iids, folds)`` of one phenotype: its samples with covariates, in .fam order,
    and their fold; a covariate constant in a fold's training samples is an error."""
    keep = pheno[phenotype].dropna().index
    iids = [i for i in fam_iids if i in keep and i in cov.index]
    folds = assign_folds(len(iids), k, seed)
    Z = cov.loc[iids].to_numpy(dtype=float)
    for fold in range(k):
        bad = redundant_columns(Z[folds != fold], list(cov.columns), 0)
        if bad:
            name, why = bad[0]
            raise ValueError(f"{source}: covariate {name!r} is {why} in the training samples "
                             f"of fold {fold} of phenotype {phenotype!r}; with so few samples "
                             f"carrying it, drop or merge that covariate")
    return iids, folds


def group_fold_table(phenotypes, names, fam_iids, covariates, k, seed, out):
    """The folds of a group of phenotypes in one table: ``iid`` and a column per
    phenotype holding each sample's fold (empty where the sample is not used:
    phenotype or covariate missing). Each column is what :func:`real_fold_table`
    writes for that phenotype alone."""
    pheno = read_table(phenotypes, "phenotype")
    cov = read_table(covariates, "covariate")
    columns = {}
    for name in names:
        if name not in pheno.columns:
            raise ValueError(f"{phenotypes}: no phenotype column {name!r}")
        iids, folds = phenotype_folds(pheno, name, fam_iids, cov, k, seed, covariates)
        columns[name] = pd.Series(folds, index=iids, dtype="Int64")
    table = pd.DataFrame(columns, index=pd.Index(list(fam_iids), name="iid"), columns=names)
    table.reset_index().to_csv(out, sep="\t", index=False)
    return table.notna().sum().to_dict()
