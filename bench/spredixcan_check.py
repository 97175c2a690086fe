"""S-PrediXcan with MetaXcan's own SPrediXcan.py on the workflow's PredictDB db and
covariance, against the individual-level test on the same samples.

A trait is simulated from the predicted expression of every gene of a finished default
run (results/models/predixcan/{method}.db) plus noise, on the QC'd GEUVADIS samples; its
GWAS z-scores (simple regression per SNP) go to SPrediXcan.py with our covariance; the
printed correlation is between S-PrediXcan's z-scores and the z-scores of the trait's
regression on our predicted expression. Not a test: it needs MetaXcan, e.g.

    git clone https://github.com/hakyimlab/MetaXcan /tmp/MetaXcan
    python3 -m venv /tmp/mxenv && /tmp/mxenv/bin/pip install "numpy<2" "pandas<2.2" \\
        "scipy<1.14" statsmodels patsy
    .venv/bin/python bench/spredixcan_check.py /tmp/mxenv/bin/python \\
        /tmp/MetaXcan/software/SPrediXcan.py sparselmm lasso
"""

import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sparselmm import plink
from sparselmm.export import read_bim

QC = "results/realdata/genotypes/qc"


def z_of(x, y):
    """The t statistic of the simple regression of ``y`` on ``x``."""
    r = np.corrcoef(x, y)[0, 1]
    return r * np.sqrt((len(y) - 2) / (1 - r * r))


def check(python, spredixcan, method, seed=3):
    db = f"results/models/predixcan/{method}.db"
    with sqlite3.connect(db) as con:
        w = pd.read_sql("SELECT * FROM weights", con)
    bim = read_bim(QC)
    col = pd.Series(np.arange(len(bim)), index=bim["snp"])
    snps = sorted(set(w["rsid"]))
    G = plink.read_genotypes(QC, cols=col[snps].to_numpy()).astype(float)
    G[G == -127] = np.nan
    X = pd.DataFrame(np.where(np.isnan(G), np.nanmean(G, axis=0), G), columns=snps)
    genes = list(dict.fromkeys(w["gene"]))
    pred = {g: X[w.loc[w.gene == g, "rsid"]].to_numpy() @ w.loc[w.gene == g, "weight"].to_numpy()
            for g in genes}
    rng = np.random.default_rng(seed)
    trait = rng.normal(size=len(X))
    for g in genes:
        if pred[g].std() > 0:
            trait += rng.normal(0, 0.3) * (pred[g] - pred[g].mean()) / pred[g].std()
    alleles = bim.set_index("snp").loc[snps]
    with tempfile.TemporaryDirectory() as tmp:
        gwas, out = Path(tmp, "gwas.tsv"), Path(tmp, "out.csv")
        pd.DataFrame({"SNP": snps, "A1": alleles["a1"].to_numpy(), "A2": alleles["a2"].to_numpy(),
                      "Z": [z_of(X[s], trait) for s in snps]}).to_csv(gwas, sep="\t", index=False)
        subprocess.run([python, spredixcan, "--model_db_path", db, "--covariance",
                        f"results/models/predixcan/{method}.covariances.txt.gz",
                        "--gwas_file", str(gwas), "--snp_column", "SNP",
                        "--effect_allele_column", "A1", "--non_effect_allele_column", "A2",
                        "--zscore_column", "Z", "--keep_non_rsid", "--output_file", str(out),
                        "--throw"], check=True, capture_output=True)
        summary = pd.read_csv(out).set_index("gene")["zscore"].dropna()
    individual = pd.Series({g: z_of(pred[g], trait) for g in genes if pred[g].std() > 0})
    both = summary.index.intersection(individual.index)
    r = np.corrcoef(summary[both], individual[both])[0, 1]
    print(f"{method}: {len(both)} of {len(genes)} genes; correlation of S-PrediXcan's z with "
          f"the individual-level z {r:.5f}; largest |difference| "
          f"{(summary[both] - individual[both]).abs().max():.3f}")


if __name__ == "__main__":
    python, spredixcan, *methods = sys.argv[1:]
    for method in methods or ["sparselmm"]:
        check(python, spredixcan, method)
