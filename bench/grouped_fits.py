"""Grouped real-data fits against one job per phenotype, on GEUVADIS whole-chromosome folds.

Needs a finished default run (results/realdata: QC'd genotypes, covariates, the
checked phenotype table). Takes the first ``n`` genes of the table (all 358
samples, every one of the 85,485 SNPs, 10 PCs) and CV fold 0, and times, each
as a child process started from scratch as Snakemake starts a job:

* ``one job per phenotype``: ``sparselmm.fitting.fit_fold`` once per gene
  (reads the genotypes, standardises, projects the covariates, fits): the
  layout before grouping; the sum over the genes is the baseline;
* ``grouped``: ``sparselmm.fitting.fit_fold`` on all ``n`` genes in one process
  (the ``fit_real`` job now).

It prints seconds per phenotype for both and their ratio, per method, and the
grouped fit seconds of every method against SparseLMM's (the hybrid's target: within
5x). Run it on an idle machine:

    .venv/bin/python bench/grouped_fits.py [results/realdata] [n_genes] [method ...]
    .venv/bin/python bench/grouped_fits.py 10 sparselmm hybrid
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "results/realdata"
CONFIG = {"sparselmm": {"order": "marginal"}, "hybrid": {}, "lasso": {}, "ridge": {},
          "elasticnet": {}, "top1": {}}

CHILD = """
import json, os, sys, time
t = time.perf_counter()
from sparselmm.fitting import fit_fold
args = json.loads(sys.argv[1])
real = args["real"]
common = dict(bed=real + "/genotypes/qc", phenotypes=real + "/phenotypes.tsv", fold=0,
              method=args["method"], options=args["options"],
              covariates=real + "/covariates.tsv", transform="rank_inverse_normal")
if args["grouped"]:
    _, metrics, timings, _ = fit_fold(names=args["names"], folds=args["folds"], **common)
    fit = timings["fit_seconds"].tolist()
    r2 = metrics["r2_snp"].tolist()
else:
    _, m, t, _ = fit_fold(names=args["names"][:1], folds=args["folds"], **common)
    fit, r2 = [float(t["fit_seconds"].iloc[0])], [float(m["r2_snp"].iloc[0])]
print(json.dumps({"wall": time.perf_counter() - t, "fit": fit, "r2": r2}))
"""


def child(**args):
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    global REAL
    args = sys.argv[1:]
    if args and Path(args[0]).is_dir():
        REAL = Path(args.pop(0)).resolve()
    n = int(args[0]) if args else 10
    methods = args[1:] or ["sparselmm", "hybrid"]
    if not (REAL / "genotypes/qc.bed").exists():
        sys.exit(f"{REAL}: run the default workflow first (snakemake --cores N)")
    from sparselmm.cv import group_fold_table
    from sparselmm.plink import read_samples

    names = [c for c in pd.read_csv(REAL / "phenotypes.tsv", sep="\t", nrows=0).columns
             if c not in ("iid", "fid")][:n]
    fam = read_samples(REAL / "genotypes/qc")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        group_folds = f"{tmp}/group.tsv"
        group_fold_table(REAL / "phenotypes.tsv", names, fam, REAL / "covariates.tsv", 5, 1,
                         group_folds)
        for name in names:
            group_fold_table(REAL / "phenotypes.tsv", [name], fam, REAL / "covariates.tsv", 5, 1,
                            f"{tmp}/{name}.tsv")
        child(real=str(REAL), names=names[:1], folds=f"{tmp}/{names[0]}.tsv",
              method="sparselmm", options={}, grouped=False)  # numba caches, file cache
        for method in methods:
            options = CONFIG.get(method, {})
            t = time.perf_counter()
            single = [child(real=str(REAL), names=[g], folds=f"{tmp}/{g}.tsv", method=method,
                            options=options, grouped=False) for g in names]
            t_single = time.perf_counter() - t
            t = time.perf_counter()
            grouped = child(real=str(REAL), names=names, folds=group_folds, method=method,
                            options=options, grouped=True)
            t_group = time.perf_counter() - t
            r2_single = np.array([s["r2"][0] for s in single])
            rows.append({"method": method, "genes": n,
                         "per_gene_s_one_job_each": t_single / n,
                         "per_gene_s_grouped": t_group / n,
                         "speedup": t_single / t_group,
                         "median_fit_s_grouped": float(np.median(grouped["fit"])),
                         "max_abs_r2_diff": float(np.abs(r2_single - grouped["r2"]).max())})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    if "sparselmm" in set(table["method"]):
        base = table.set_index("method").loc["sparselmm", "median_fit_s_grouped"]
        table["fit_vs_sparselmm"] = table["median_fit_s_grouped"] / base
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
