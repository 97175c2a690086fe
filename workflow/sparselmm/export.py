"""Trained models people can take away: a final fit on all samples, its weight files in
the field's formats, and the scoring of another cohort.

Files of one model (``results/models/{phenotype}/{method}.*``):

* ``weights.tsv``: the SNPs of the exported model (nonzero weight; PIP at least
  ``models.min_pip`` where the method has PIPs): ``snp, chrom, pos, a1, a2, weight,
  a1_mean[, pip]``. ``weight`` is the effect of one more copy of the .bim's A1
  allele (column 5) on the phenotype as fitted (after ``phenotype_transform``);
  ``a1_mean`` the mean A1 count in the training samples, which stands in for a
  missing call.
* ``score``: PLINK 2 ``--score`` file (``ID A1 WEIGHT``, SNPs with weight exactly 0
  left out); ``afreq``: the training A1 frequencies as a PLINK 2 ``.afreq``
  (``--read-freq``) so that PLINK mean-imputes missing calls exactly as the model does::

      plink2 --bfile cohort --read-freq M.afreq --score M.score 1 2 3 header \\
             cols=+scoresums no-mean-imputation   # (drop no-mean-imputation to impute)

  ``SCORE1_SUM`` is then ``sum_j weight_j x_j`` over the SNPs found.
* ``json``: what ``predict`` needs besides the weights (``intercept``: the phenotype
  at A1 count 0 for every SNP and covariates 0; ``covariates``: name -> effect,
  ``covariate_means``), the hyperparameters, the samples and SNPs counts, and the
  cross-validated accuracy of this configuration.

The model's prediction for a sample with genotypes ``x`` and covariates ``z`` is
``intercept + sum_k z_k c_k + sum_j weight_j x_j`` (missing ``x_j`` = ``a1_mean_j``).
"""

import gzip
import json
import math
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from . import plink
from ._design import take_columns, take_rows
from ._kernels import INT8_MISSING
from .cis import group_columns
from .cv import BINARY_METRICS
from .fitting import resolve_storage
from .methods import make_model
from .methods import method as registry_row
from .outputs import atomic, write_text, write_tsv
from .plink import read_bim
from .samples import SampleTables
from .traits import prevalence_of

# fitted values worth keeping with a model, where it has them
HYPERPARAMETERS = ("pi_", "sigma2_e_", "sigma2_b_", "pve_", "weights_", "prior_var_", "alpha_",
                   "l1_ratio", "delta_", "sigma2_g_", "inference_", "damping_", "n_iter_",
                   "converged_", "n_nonzero_", "hyperparameters_", "chosen_", "cv_mse_")


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def cv_accuracy(metrics, predictions, phenotype=None):
    """Cross-validated accuracy of one phenotype x method from its fold files.

    ``r2_snp_mean``: the mean over folds of the held-out R^2 of the SNP part (the
    results tables' measure); ``pred_perf_r2``, ``pred_perf_pval``: PrediXcan's
    measure, the squared correlation between the held-out SNP part of the
    prediction and the phenotype after the covariate fit, pooled over folds, with
    the p-value of that correlation (t test, n - 2 degrees of freedom);
    ``pred_perf_rho`` that correlation itself (signed). A binary phenotype's also
    give the fold means of its :data:`sparselmm.cv.BINARY_METRICS` (``auc_mean``, ...).
    Files of a group of phenotypes (a ``phenotype`` column) are restricted to
    ``phenotype``.
    """
    from scipy import stats

    def read(files):
        t = pd.concat([pd.read_csv(f, sep="\t", dtype={"phenotype": str},
                                   keep_default_na=False, na_values=[""]) for f in files])
        if phenotype is not None and "phenotype" in t.columns:
            t = t[t["phenotype"] == phenotype]
            if t.empty:
                raise ValueError(f"no cross-validation rows of phenotype {phenotype!r} in "
                                 f"{', '.join(map(str, files))}")
        return t

    m, p = read(metrics), read(predictions)
    snp = p["pred"] - p["pred_covariates"]
    resid = p["y"] - p["pred_covariates"]
    if snp.std() > 0 and resid.std() > 0:
        r, pval = stats.pearsonr(snp, resid)
    else:
        r, pval = 0.0, 1.0
    binary = {f"{c}_mean": float(m[c].mean()) for c in BINARY_METRICS
              if c in m.columns and m[c].notna().all()}
    return {"folds": int(len(m)), "r2_mean": float(m["r2"].mean()),
            "r2_snp_mean": float(m["r2_snp"].mean()), **binary, "pred_perf_r2": float(r * r),
            "pred_perf_rho": float(r), "pred_perf_pval": float(pval), "n": int(len(p))}


def final_fit(*, bed, phenotypes, phenotype, covariates, method, options, transform, out,
              min_pip=0.0, cv_metrics=(), cv_predictions=(), cols=None, window=None,
              read=None, samples=None, bim=None, binary="auto", prevalence=None,
              log=sys.stderr):
    """Fit ``method`` on every sample of ``phenotype`` and write the model files
    ``{out}.weights.tsv``, ``.score``, ``.afreq`` and ``.json``.

    The files hold the SNPs with a nonzero weight and, for models with inclusion
    probabilities below 1 (SparseLMM, the hybrid), a PIP of at least ``min_pip``.
    Posterior means give every SNP a weight, most of them negligible (``alpha_j
    mu_j`` with ``alpha_j`` near ``pi``); a SNP left out counts at its training
    mean, its share moving into the intercept. The json records how many SNPs that
    leaves out and the largest change it makes to a training sample's prediction
    (``pruning``), so the exported model is exactly what is written, and how close
    it is to the fit is known. ``cols``: the SNPs (.bim rows) of the phenotype's
    cis window (None: every SNP), ``window`` its description for the json. ``read``:
    ``read(rows, cols)`` gives those genotypes (default: from ``bed``); ``samples``, a
    :class:`sparselmm.samples.SampleTables` of ``bed``, ``phenotypes`` and
    ``covariates``, and ``bim``, the .bim table: what a group of phenotypes reads once
    (:func:`final_fit_group`; default: read here). ``binary``, ``prevalence``: as in
    :func:`sparselmm.fitting.fit_fold`; the json says the trait's type and the scale
    of the model's prediction (``scale``).
    """
    samples = samples or SampleTables(bed, phenotypes, covariates, binary)
    ids, rows, y, Z = samples(phenotype, transform)
    is_binary = phenotype in samples.binary
    if read is None:
        G = plink.read_genotypes(bed, rows=rows, cols=cols)
    else:
        G = read(rows, cols)
    model = make_model(method, options).fit(G, y, Z)
    logistic = model.LINK == "logit"
    bim = read_bim(bed) if bim is None else bim
    if cols is not None:
        bim = bim.iloc[np.asarray(cols)].reset_index(drop=True)
    weights = bim[["snp", "chrom", "pos", "a1", "a2"]].copy()
    weights["weight"] = model.coef_
    weights["a1_mean"] = model.x_mean_
    keep = model.coef_ != 0
    if hasattr(model, "pip_"):
        weights["pip"] = model.pip_
        if getattr(model, "prunable_", registry_row(method).prunable):
            keep &= model.pip_ >= min_pip
    cut = np.flatnonzero((model.coef_ != 0) & ~keep)
    change = model.predict_genetic(G, snps=cut) if cut.size else np.zeros(0)
    used = weights[keep]
    out = str(out)
    write_tsv(used, f"{out}.weights.tsv", float_format="%.12g")
    write_tsv(used[["snp", "a1", "weight"]].rename(
        columns={"snp": "ID", "a1": "A1", "weight": "WEIGHT"}), f"{out}.score",
        float_format="%.12g")
    n_obs = 2 * (take_columns(G, used.index.to_numpy()) != INT8_MISSING).sum(axis=0)
    write_tsv(pd.DataFrame({"#CHROM": used["chrom"], "ID": used["snp"], "REF": used["a2"],
                            "ALT": used["a1"], "ALT_FREQS": used["a1_mean"] / 2,
                            "OBS_CT": n_obs}), f"{out}.afreq", float_format="%.12g")
    names = [] if samples.covariates is None else list(samples.covariates.columns)
    genetic = model.predict_genetic(G)
    info = {
        "phenotype": phenotype, "method": method, "options": dict(options or {}),
        "phenotype_transform": "none (binary)" if is_binary else transform,
        "trait": "binary" if is_binary else "quantitative",
        "link": "logit" if logistic else "identity",
        "scale": ("log-odds of being a case (logistic model): probability = 1 / (1 + "
                  "exp(-prediction))") if logistic else (
                  "linear model of the 0/1 phenotype (1 = case): the prediction estimates "
                  "the risk on the 0/1 scale, not log-odds") if is_binary else (
                  f"the phenotype as fitted (phenotype_transform: {transform})"),
        **({"cases": int(y.sum()), "controls": int((y == 0).sum()),
            "prevalence": (float(y.mean()) if prevalence_of(prevalence, phenotype) is None
                           else prevalence_of(prevalence, phenotype))} if is_binary else {}),
        "n_samples": len(ids), "n_snps": int(len(bim)),
        "n_snps_in_model": int(len(used)), "cis_window": window,
        "effect_allele": "A1 (column 5 of the .bim)",
        "intercept": model.intercept_ + float(model.coef_[cut] @ model.x_mean_[cut]),
        "covariates": dict(zip(names, model.covariate_coef_)),
        "covariate_means": dict(zip(names, [] if Z is None else Z.mean(axis=0))),
        "hyperparameters": {a.rstrip("_"): getattr(model, a) for a in HYPERPARAMETERS
                            if getattr(model, a, None) is not None},
        "pruning": {"min_pip": min_pip, "snps_left_out": int(cut.size),
                    "max_abs_change_train": float(np.abs(change).max(initial=0.0)),
                    "sd_genetic_value_train": float(genetic.std())},
        "cv": cv_accuracy(cv_metrics, cv_predictions, phenotype) if cv_metrics else None,
    }
    write_text(f"{out}.json", json.dumps(_jsonable(info), indent=1) + "\n")
    print(f"{phenotype} / {method}: {len(ids)} samples, {len(used)} of {len(bim)} SNPs in the "
          f"exported model ({cut.size} with PIP < {min_pip} left out: largest change of a "
          f"training prediction {info['pruning']['max_abs_change_train']:.3g}, SD of the "
          f"genetic value {genetic.std():.3g})", file=log)
    return model, info


def final_fit_group(*, bed, phenotypes, covariates, groups, method, options, transform,
                    prefix, window_kb=None, min_pip=0.0, cv_metrics=(), cv_predictions=(),
                    storage="int8", binary="auto", prevalence=None, log=sys.stderr):
    """:func:`final_fit` of every phenotype of ``groups`` (rows of the workflow's
    groups table: phenotype, chrom, window_start, window_end), reading the genotypes
    once (every sample, the union of the windows). ``prefix``: the model files'
    prefix with ``{phenotype}`` and ``{method}`` unfilled; ``cv_metrics`` and
    ``cv_predictions``: the group's CV fold files; ``storage``: as in
    :func:`sparselmm.fitting.fit_fold` (packed: every-SNP fits read the mapped .bed).
    Returns the group's manifest: a row per phenotype with its model prefix and the
    SNPs in the model."""
    bim = read_bim(bed)
    samples = SampleTables(bed, phenotypes, covariates, binary)
    windows = group_columns(groups, lambda: bim)
    wanted = list(windows.values())
    union = None if any(w is None for w in wanted) else np.unique(np.concatenate(wanted))
    t0 = time.perf_counter()
    if resolve_storage(storage, bed) == "packed" and union is None:
        G, how = plink.open_packed(bed), "mapped (2 bits per genotype)"
    else:
        G, how = plink.read_genotypes(bed, cols=union), "read as int8"
    print(f"{G.shape[0]} samples x {G.shape[1]} SNPs {how} in "
          f"{time.perf_counter() - t0:.2f} s", file=log)

    def read(rows, cols):
        if cols is None:
            return take_rows(G, rows)
        return take_columns(take_rows(G, rows), cols if union is None else
                            np.searchsorted(union, cols))

    rows = []
    for row in groups.itertuples():
        cols = windows[row.phenotype]
        window = None if cols is None else {"chrom": row.chrom, "start": int(row.window_start),
                                            "end": int(row.window_end), "kb": window_kb}
        out = prefix.format(phenotype=row.phenotype, method=method)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        _, info = final_fit(bed=bed, phenotypes=phenotypes, phenotype=row.phenotype,
                            covariates=covariates, method=method, options=options,
                            transform=transform, out=out, min_pip=min_pip,
                            cv_metrics=cv_metrics, cv_predictions=cv_predictions, cols=cols,
                            window=window, read=read, samples=samples, bim=bim,
                            prevalence=prevalence, log=log)
        rows.append({"phenotype": row.phenotype, "method": method, "prefix": out,
                     "n_snps_in_model": info["n_snps_in_model"]})
    return pd.DataFrame(rows)


# -- PrediXcan / PredictDB ---------------------------------------------------------------
# PredictDB's published filter of its models (Gamazon et al. 2015; the GTEx v7/v8 dbs):
# a cross-validated correlation above 0.1 with a p-value below 0.05
FILTER_RHO, FILTER_PVAL = 0.1, 0.05


def write_predixcan_db(path, models, *, n_samples=None, chromosome=None, cv_seed=None,
                       names=None):
    """A PrediXcan (PredictDB) model database from ``models``: ``(gene, prefix)`` pairs of
    final fits. Tables ``weights`` (rsid, gene, weight, ref_allele, eff_allele; one row
    per SNP with a nonzero weight; ``eff_allele`` is the allele counted, the .bim's A1),
    ``extra`` (gene, genename, gene_type, n.snps.in.model, pred.perf.R2, pred.perf.pval,
    pred.perf.qval, rho_avg: cross-validated, see :func:`cv_accuracy`; q-values by
    Benjamini-Hochberg over the genes of the file; ``genename`` and ``gene_type`` from
    ``names``, :func:`sparselmm.cis.read_gene_names`, else the gene ID and NULL) and,
    as PredictDB writes them,
    ``construction`` (chr, cv.seed) and ``sample_info`` (n.samples). Returns the
    ``extra`` rows as a DataFrame (gene order of the file)."""
    with atomic(path) as tmp:
        extra = _write_predixcan_tables(tmp, models, n_samples, chromosome, cv_seed, names)
    return extra


def predixcan_filter(extra):
    """The genes of ``extra`` (:func:`write_predixcan_db`) that pass PredictDB's filter."""
    ok = (extra["rho_avg"] > FILTER_RHO) & (extra["pred.perf.pval"] < FILTER_PVAL)
    return extra.loc[ok.fillna(False), "gene"].tolist()


def _write_predixcan_tables(path, models, n_samples, chromosome, cv_seed, names):
    names = pd.DataFrame() if names is None else names

    def annotation(gene, column, default):
        if column in names.columns and gene in names.index and names.at[gene, column] != "":
            return names.at[gene, column]
        return default

    extra = []
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE weights (rsid TEXT, gene TEXT, weight DOUBLE, "
                    "ref_allele CHARACTER, eff_allele CHARACTER)")
        con.execute('CREATE TABLE extra (gene TEXT, genename TEXT, gene_type TEXT, '
                    '"n.snps.in.model" INTEGER, '
                    '"pred.perf.R2" DOUBLE, "pred.perf.pval" DOUBLE, "pred.perf.qval" DOUBLE, '
                    "rho_avg DOUBLE)")
        con.execute('CREATE TABLE construction (chr TEXT, "cv.seed" INTEGER)')
        con.execute('CREATE TABLE sample_info ("n.samples" INTEGER)')
        for gene, prefix in models:
            w = model_weights(prefix)
            con.executemany("INSERT INTO weights VALUES (?, ?, ?, ?, ?)",
                            zip(w["snp"], [gene] * len(w), w["weight"].astype(float),
                                w["a2"], w["a1"]))
            cv = json.loads(Path(f"{prefix}.json").read_text())["cv"] or {}
            if cv and "pred_perf_rho" not in cv:
                raise ValueError(f"{prefix}.json: no pred_perf_rho (a model file of an older "
                                 f"version); refit it: snakemake --forcerun final_fit")
            extra.append({"gene": gene, "genename": annotation(gene, "genename", gene),
                          "gene_type": annotation(gene, "gene_type", None),
                          "n.snps.in.model": int(len(w)),
                          "pred.perf.R2": cv.get("pred_perf_r2"),
                          "pred.perf.pval": cv.get("pred_perf_pval"), "pred.perf.qval": None,
                          "rho_avg": cv.get("pred_perf_rho")})
        pvals = np.array([np.nan if e["pred.perf.pval"] is None else e["pred.perf.pval"]
                          for e in extra], dtype=float)
        for e, q in zip(extra, _bh(pvals)):
            e["pred.perf.qval"] = None if np.isnan(q) else float(q)
        con.executemany("INSERT INTO extra VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [list(e.values()) for e in extra])
        con.execute("INSERT INTO construction VALUES (?, ?)", (chromosome, cv_seed))
        con.execute("INSERT INTO sample_info VALUES (?)", (n_samples,))
        for name, cols in (("weights_rsid", "weights (rsid)"), ("weights_gene", "weights (gene)"),
                           ("weights_rsid_gene", "weights (rsid, gene)"),
                           ("extra_gene", "extra (gene)")):
            con.execute(f"CREATE INDEX {name} ON {cols}")
        con.commit()
    finally:
        con.close()
    table = pd.DataFrame(extra, columns=["gene", "genename", "gene_type", "n.snps.in.model",
                                         "pred.perf.R2", "pred.perf.pval", "pred.perf.qval",
                                         "rho_avg"])
    numbers = ["pred.perf.R2", "pred.perf.pval", "pred.perf.qval", "rho_avg"]
    table[numbers] = table[numbers].astype(float)  # (None, a model without CV: NaN)
    return table


def model_weights(prefix):
    """The SNPs of a final fit's ``weights.tsv`` with a nonzero weight."""
    w = pd.read_csv(f"{prefix}.weights.tsv", sep="\t", dtype={"snp": str, "a1": str,
                                                             "a2": str, "chrom": str})
    return w[w["weight"] != 0].reset_index(drop=True)


COVARIANCE_HEADER = "GENE\tRSID1\tRSID2\tVALUE\n"


def _training_dosages(bed, rows, cols, means=None):
    """A1 dosages (float) of the samples at ``rows`` and SNPs at ``cols``, a missing call
    at ``means`` (the model's training means; default: the mean of the calls read,
    the same value in the training samples)."""
    G = plink.read_genotypes(bed, rows=rows, cols=cols).astype(float)
    G[G == INT8_MISSING] = np.nan
    fill = np.nanmean(G, axis=0) if means is None else np.asarray(means, dtype=float)
    return np.where(np.isnan(G), fill, G)


def _gzip(text):
    """``text`` as one gzip member, without a name or time in its header (reruns write
    the same bytes); members written one after another make one gzip file."""
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def write_predixcan_covariance(path, models, *, bed, phenotypes, covariates, transform,
                               max_snps, log=sys.stderr):
    """S-PrediXcan's covariance file of the models' SNPs (MetaXcan's format: gzipped,
    ``GENE RSID1 RSID2 VALUE``, a gene's pairs contiguous, each pair once with the
    diagonal, genes in the order of ``models``, which is that of the db's ``extra``).

    The covariance of a gene's model SNPs is that of their A1 dosages (the allele the
    weights count, the db's ``eff_allele``) in the gene's training samples (PredictDB's
    practice), a missing call at the training mean, as the model predicts; divisor
    n - 1. A gene with more than ``max_snps`` SNPs in its model (dense models: ridge,
    BSLMM) gets no rows, with a note in ``log``: its pairs would be ``max_snps^2 / 2``
    lines (85,485 SNPs of a chromosome: 3.7e9). Returns ``{gene: SNPs}`` written.
    """
    bim = read_bim(bed)
    where = pd.Series(np.arange(len(bim)), index=bim["snp"])
    samples = SampleTables(bed, phenotypes, covariates)
    written, too_many = {}, []
    with atomic(path) as tmp, open(tmp, "wb") as fh:
        fh.write(_gzip(COVARIANCE_HEADER))
        for gene, prefix in models:
            w = model_weights(prefix)
            if w.empty:
                continue
            if len(w) > max_snps:
                too_many.append(f"{gene} ({len(w)})")
                continue
            _, rows, _, _ = samples(gene, transform)
            cols = where.reindex(w["snp"]).to_numpy()
            if np.isnan(cols.astype(float)).any():
                raise ValueError(f"{prefix}.weights.tsv: SNPs not in {bed}.bim")
            G = _training_dosages(bed, rows, cols.astype(int), means=w["a1_mean"])
            C = np.atleast_2d(np.cov(G, rowvar=False))
            i, j = np.triu_indices(len(w))
            snps = w["snp"].to_numpy()
            fh.write(_gzip("".join(f"{gene}\t{a}\t{b}\t{v:.10g}\n"
                                   for a, b, v in zip(snps[i], snps[j], C[i, j]))))
            written[gene] = len(w)
    if too_many:
        print(f"{path}: no covariance for {len(too_many)} gene(s) with more than {max_snps} "
              f"model SNPs (models.covariance_max_snps): {', '.join(too_many[:5])}"
              + (" ..." if len(too_many) > 5 else ""), file=log)
    return written


def filter_covariance(source, path, genes):
    """The rows of the covariance file ``source`` of ``genes`` only, into ``path``."""
    keep = set(genes)
    with gzip.open(source, "rt") as src, atomic(path) as tmp, open(tmp, "wb") as out:
        out.write(_gzip(src.readline()))
        lines = []
        for line in src:
            if line.split("\t", 1)[0] in keep:
                lines.append(line)
            if len(lines) >= 100_000:
                out.write(_gzip("".join(lines)))
                lines = []
        out.write(_gzip("".join(lines)))


# -- FUSION --------------------------------------------------------------------------
FUSION_SAVE = r"""
args <- commandArgs(TRUE)
text <- c(gene = "character", snp = "character", chrom = "character", a1 = "character",
          a2 = "character", method = "character")
w <- read.delim(args[1], colClasses = text, na.strings = "")
perf <- read.delim(args[2], colClasses = text[c("gene", "method")], na.strings = "")
for (g in unique(perf$gene)) {
  p <- perf[perf$gene == g, ]
  x <- w[w$gene == g, ]
  first <- !duplicated(x$snp)
  snps <- data.frame(V1 = x$chrom[first], V2 = x$snp[first], V3 = x$cm[first],
                     V4 = x$pos[first], V5 = x$a1[first], V6 = x$a2[first],
                     stringsAsFactors = FALSE)
  wgt.matrix <- matrix(0, nrow(snps), nrow(p), dimnames = list(snps$V2, p$method))
  wgt.matrix[cbind(match(x$snp, snps$V2), match(x$method, p$method))] <- x$weight
  cv.performance <- rbind(rsq = p$rsq, pval = p$pval)
  colnames(cv.performance) <- p$method
  N.tot <- p$n[1]
  save(wgt.matrix, snps, cv.performance, N.tot,
       file = file.path(args[3], paste0(g, ".wgt.RDat")))
}
"""


def write_fusion(pos_file, genes, methods, *, prefix, bed, phenotypes, covariates, transform,
                 groups, window_kb=None, panel="sparselmm", rscript="Rscript",
                 log=sys.stderr):
    """FUSION weights (Gusev et al. 2016): per gene with a model, ``{gene}.wgt.RDat`` in
    the folder ``weights`` beside ``pos_file`` (R's own ``save()``, through ``rscript``),
    and the panel's ``pos_file`` (FUSION's ``--weights``; ``--weights_dir``: its folder).

    ``wgt.matrix``: a row per SNP of any of ``methods``' models, a column per method;
    FUSION's weights act on standardised genotypes, so each is ours times the SNP's SD
    (of its A1 dosage in the gene's training samples, a missing call at the training
    mean, divisor n - 1). ``snps``: those SNPs' .bim rows (V5 = A1, the counted allele).
    ``cv.performance``: rows ``rsq`` and ``pval``, our cross-validated pred.perf.R2 and
    its p-value. ``N.tot``: the training samples. The .pos has ``PANEL WGT ID CHR P0 P1
    N``, P0-P1 the gene's position (its cis window less ``window_kb``; without windows,
    the span of its model SNPs). Returns the genes written.
    """
    import subprocess
    import tempfile

    out_dir = Path(pos_file).parent
    (out_dir / "weights").mkdir(parents=True, exist_ok=True)
    bim = read_bim(bed)
    where = pd.Series(np.arange(len(bim)), index=bim["snp"])
    samples = SampleTables(bed, phenotypes, covariates)
    rows, perf, pos = [], [], []
    for gene in genes:
        used = {m: model_weights(prefix.format(phenotype=gene, method=m)) for m in methods}
        snps = sorted({s for w in used.values() for s in w["snp"]}, key=where.get)
        if not snps:
            continue
        _, training, _, _ = samples(gene, transform)
        cols = where[snps].to_numpy()
        G = _training_dosages(bed, training, cols)
        sd = pd.Series(G.std(axis=0, ddof=1), index=snps)
        info = bim.iloc[cols]
        for m, w in used.items():
            meta = json.loads(Path(prefix.format(phenotype=gene, method=m) + ".json").read_text())
            cv = meta["cv"] or {}
            perf.append({"gene": gene, "method": m, "rsq": cv.get("pred_perf_r2"),
                         "pval": cv.get("pred_perf_pval"), "n": meta["n_samples"]})
            rows.append(pd.DataFrame({
                "gene": gene, "snp": w["snp"], "method": m,
                "weight": w["weight"].to_numpy() * sd[w["snp"]].to_numpy()}))
        row = groups.loc[groups["phenotype"] == gene].iloc[0]
        if row["window_start"] >= 0 and window_kb is not None:
            p0, p1 = row["window_start"] + 1000 * window_kb, row["window_end"] - 1000 * window_kb
        else:
            p0, p1 = int(info["pos"].astype(int).min()), int(info["pos"].astype(int).max())
        pos.append({"PANEL": panel, "WGT": f"weights/{gene}.wgt.RDat", "ID": gene,
                    "CHR": info["chrom"].iloc[0], "P0": int(p0), "P1": int(p1),
                    "N": perf[-1]["n"]})
    table = bim.set_index("snp")[["chrom", "cm", "pos", "a1", "a2"]]
    weights = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["gene", "snp", "method", "weight"])
    weights = weights.join(table, on="snp")[["gene", "snp", "chrom", "cm", "pos", "a1", "a2",
                                              "method", "weight"]]
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        paths = [Path(tmp, name) for name in ("weights.tsv", "perf.tsv", "save.R")]
        weights.to_csv(paths[0], sep="\t", index=False, float_format="%.17g")
        pd.DataFrame(perf, columns=["gene", "method", "rsq", "pval", "n"]).to_csv(
            paths[1], sep="\t", index=False, float_format="%.17g")
        paths[2].write_text(FUSION_SAVE)
        done = subprocess.run([rscript, "--vanilla", str(paths[2]), str(paths[0]),
                               str(paths[1]), str(out_dir / "weights")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{rscript} failed writing FUSION weights: {done.stderr[-2000:]}")
    write_tsv(pd.DataFrame(pos, columns=["PANEL", "WGT", "ID", "CHR", "P0", "P1", "N"]),
              pos_file)
    print(f"{pos_file}: FUSION weights of {len(pos)} of {len(genes)} genes "
          f"({', '.join(methods)})", file=log)
    return [p["ID"] for p in pos]


def _bh(p):
    """Benjamini-Hochberg q-values (NaN stays NaN)."""
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size:
        order = ok[np.argsort(p[ok])]
        ranked = p[order] * ok.size / np.arange(1, ok.size + 1)
        q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


# -- scoring another cohort ------------------------------------------------------------
def match_snps(weights, bim):
    """Where each model SNP is in a cohort's .bim and how its alleles compare.

    Returns a DataFrame aligned with ``weights``: ``col`` (cohort column or -1) and
    ``status``: ``same`` (A1/A2 as in the model), ``flipped`` (A1 and A2 swapped: the
    cohort's dosage counts the other allele), ``absent`` (ID not in the cohort) or
    ``alleles differ`` (other alleles; left out, as a strand flip cannot be told
    from a different variant for A/T and C/G SNPs).
    """
    where = pd.Series(np.arange(len(bim)), index=bim["snp"].to_numpy())
    where = where[~where.index.duplicated(keep=False)]  # an ID listed twice is ambiguous
    col = weights["snp"].map(where)
    found = col.notna().to_numpy()
    c = col.fillna(0).astype(np.int64).to_numpy()
    a1, a2 = bim["a1"].to_numpy()[c], bim["a2"].to_numpy()[c]
    same = found & (a1 == weights["a1"].to_numpy()) & (a2 == weights["a2"].to_numpy())
    flip = found & (a1 == weights["a2"].to_numpy()) & (a2 == weights["a1"].to_numpy())
    status = np.where(~found, "absent", np.where(same, "same", np.where(flip, "flipped",
                                                                        "alleles differ")))
    return pd.DataFrame({"col": np.where(same | flip, c, -1), "status": status},
                        index=weights.index)


def score_cohort(prefix, models, *, min_fraction, log=sys.stderr):
    """Predicted phenotypes of the samples of the PLINK fileset ``prefix`` under each of
    ``models`` (``(phenotype, method, model prefix)``).

    SNPs are matched by ID and alleles (:func:`match_snps`); a missing call, or a model
    SNP absent from the cohort, counts at the training mean ``a1_mean``. Columns:
    ``snp_score`` = ``sum weight_j x_j`` over the SNPs found (PLINK 2's ``SCORE1_SUM``
    with the model's ``.afreq``); ``genetic_value`` = ``sum weight_j (x_j - a1_mean_j)``,
    the SNP part of ``predict``; ``prediction`` = the phenotype predicted at the
    training samples' mean covariates (a logistic model's: the log-odds, and
    ``probability`` its logistic). A model with fewer than ``min_fraction`` of its
    SNPs (nonzero weight) found is refused, with the counts. Returns
    ``(predictions, matching)`` tables. The fileset is checked first
    (:func:`sparselmm.plink.check_fileset`: a .fam a line short is an error).
    """
    plink.check_fileset(prefix)
    bim = read_bim(prefix)
    with plink.open_fileset(prefix) as bed:
        fids, iids = np.asarray(bed.fid, dtype=str), np.asarray(bed.iid, dtype=str)
    preds, counts = [], []
    for phenotype, method, mprefix in models:
        w = pd.read_csv(f"{mprefix}.weights.tsv", sep="\t",
                        dtype={"snp": str, "a1": str, "a2": str, "chrom": str})
        w = w[w["weight"] != 0].reset_index(drop=True)
        info = json.loads(Path(f"{mprefix}.json").read_text())
        m = match_snps(w, bim)
        n_found = int((m["col"] >= 0).sum())
        row = {"phenotype": phenotype, "method": method, "model_snps": len(w),
               "matched": n_found, "flipped": int((m["status"] == "flipped").sum()),
               "absent": int((m["status"] == "absent").sum()),
               "alleles_differ": int((m["status"] == "alleles differ").sum())}
        if len(w) and n_found < min_fraction * len(w):
            raise ValueError(
                f"{prefix}: only {n_found} of the {len(w)} SNPs of the {method} model of "
                f"{phenotype!r} are in this cohort with matching alleles ({row['absent']} "
                f"absent, {row['alleles_differ']} with other alleles); scoring.min_snp_fraction "
                f"is {min_fraction}. Check that the SNP IDs follow the same convention as the "
                f"training .bim (e.g. rsIDs vs chr_pos)")
        ok = np.flatnonzero(m["col"].to_numpy() >= 0)
        cols = m["col"].to_numpy()[ok]
        order = np.argsort(cols, kind="stable")
        G = plink.read_genotypes(prefix, cols=cols[order])
        x = G.astype(float)
        mean = w["a1_mean"].to_numpy()[ok][order]
        flip = (m["status"].to_numpy()[ok][order] == "flipped")
        x[:, flip] = 2.0 - x[:, flip]
        miss = G == INT8_MISSING
        x[miss] = np.broadcast_to(mean, x.shape)[miss]
        weight = w["weight"].to_numpy()[ok][order]
        snp_score = x @ weight
        genetic = (x - mean) @ weight
        covs = info.get("covariates") or {}
        base = info["intercept"] + float(w["weight"] @ w["a1_mean"]) + sum(
            c * info["covariate_means"][k] for k, c in covs.items())
        row["missing_calls_imputed"] = int(miss.sum())
        counts.append(row)
        print(f"{phenotype} / {method}: {row['model_snps']} model SNPs: {row['matched']} "
              f"matched ({row['flipped']} with A1/A2 swapped, scored on the other allele), "
              f"{row['absent']} absent, {row['alleles_differ']} with other alleles; "
              f"{row['missing_calls_imputed']} missing calls at the training mean", file=log)
        pred = pd.DataFrame({"fid": fids, "iid": iids, "phenotype": phenotype,
                             "method": method, "prediction": base + genetic,
                             "genetic_value": genetic, "snp_score": snp_score})
        if info.get("link") == "logit":
            pred["probability"] = expit(pred["prediction"])
        preds.append(pred)
    return pd.concat(preds, ignore_index=True), pd.DataFrame(counts)
