"""One CV fold of a group of phenotypes in one process.

A transcriptome has hundreds to thousands of phenotypes measured on the same
samples. One job per phenotype x method x fold re-reads the genotypes, recomputes
the column moments and the covariate projection (and the hybrid's and ridge's
``n x n`` eigendecompositions) every time; here a job fits a whole group:

* the genotypes of a fold's training and test samples are read once (only the
  SNPs in the group's windows when cis windows are used) and kept while the next
  phenotype has the same samples (phenotypes with missing values get their own read);
* with every SNP in the model (no window), the genotype work is shared through one
  :class:`sparselmm.PreparedGenotypes` per sample set; the fits are the ones a
  per-phenotype job gives (tested).

Results are one row per phenotype, as :func:`sparselmm.pipeline.fit_fold` gives.
"""

import sys
import time

import numpy as np
import pandas as pd

from . import plink
from ._design import PreparedGenotypes
from .pipeline import fit_and_score, make_model, read_table, samples_of


def read_groups(path):
    """The workflow's ``groups.tsv`` (:func:`sparselmm.cis.assign_groups`)."""
    return pd.read_csv(path, sep="\t", dtype={"phenotype": str, "chrom": str},
                       keep_default_na=False)


def fit_group(*, bed, phenotypes, names, folds, fold, method, options=None, covariates=None,
              transform="none", windows=None, log=None):
    """Fit ``method`` on every phenotype of ``names`` for one CV ``fold``.

    ``folds``: a table with ``iid`` and one fold column per phenotype
    (:func:`sparselmm.pipeline.group_fold_table`); ``windows``: ``{phenotype:
    column indices}`` of each phenotype's SNPs (None or absent: every SNP).

    Returns ``(predictions, metrics, timings)`` DataFrames, each with a
    ``phenotype`` column: the held-out predictions, one metrics row per phenotype
    and one row of fit seconds per phenotype.
    """
    log = log or sys.stderr
    windows = windows or {}
    fam = plink.read_samples(bed)
    pheno = read_table(phenotypes, "phenotype")
    cov_tab = None if covariates is None else read_table(covariates, "covariate")
    fold_tab = read_table(folds, "fold")
    wanted = [windows.get(n) for n in names]
    if any(w is None for w in wanted):
        cols = None  # some phenotype uses every SNP: read them all
    else:
        cols = np.unique(np.concatenate(wanted)) if wanted else np.zeros(0, np.int64)
    held = {}
    preds, metrics, timings = [], [], []
    for name in names:
        if name not in fold_tab.columns:
            raise ValueError(f"{folds}: no fold column for phenotype {name!r}")
        in_folds = fold_tab[name].dropna()
        ids, rows, y, Z = samples_of(fam, pheno, name, cov_tab, transform,
                                     within=in_folds.index, source=phenotypes)
        f = in_folds.loc[ids].to_numpy().astype(int)
        train, test = f != fold, f == fold
        key = (rows[train].tobytes(), rows[test].tobytes())
        if held.get("key") != key:
            t0 = time.perf_counter()
            held = {"key": key, "prepared": None,
                    "train": plink.read_genotypes(bed, rows=rows[train], cols=cols),
                    "test": plink.read_genotypes(bed, rows=rows[test], cols=cols)}
            print(f"read {held['train'].shape[0]} + {held['test'].shape[0]} samples x "
                  f"{held['train'].shape[1]} SNPs in {time.perf_counter() - t0:.2f} s", file=log)
        Ztr = None if Z is None else Z[train]
        Zte = None if Z is None else Z[test]
        window = windows.get(name)
        if window is None:
            if held["prepared"] is None:
                held["prepared"] = PreparedGenotypes(held["train"], Ztr)
            X, Gte = held["prepared"], held["test"]
        else:
            at = window if cols is None else np.searchsorted(cols, window)
            X, Gte = np.asfortranarray(held["train"][:, at]), np.asfortranarray(held["test"][:, at])
        print(f"{name}: ", end="", file=log)
        try:
            p, m, seconds = fit_and_score(make_model(method, options), method, X, y[train], Ztr,
                                          Gte, y[test], Zte, np.asarray(ids)[test], fold, log=log)
        except ValueError as err:
            raise ValueError(f"phenotype {name!r}, fold {fold}, {method}: {err}") from err
        p.insert(0, "phenotype", name)
        preds.append(p)
        metrics.append({"phenotype": name, "method": method, "fold": fold, **m})
        timings.append({"phenotype": name, "method": method, "fold": fold,
                        "fit_seconds": round(seconds, 3)})
    return pd.concat(preds, ignore_index=True), pd.DataFrame(metrics), pd.DataFrame(timings)
