"""How long a GEMMA BSLMM chain has to be: two chains of different seeds on the same
Fig 1 folds, per chain length; the chain is long enough when their held-out R^2 agree
(the criterion: within 0.005). Prints R^2 per seed, |difference| and seconds per fit.

    .venv/bin/snakemake --cores 2 results/tables/simulation_r2.tsv   # the Fig 1 data
    .venv/bin/python bench/bslmm_chain.py [SCENARIO ...] [BURN+SAMPLES ...] [fold=K ...]
    # default: c10_h0.5 c100_h0.5, chains 1000+10000 and 10000+100000, folds 0 and 1
"""

import sys
import time
from pathlib import Path

import numpy as np

from sparselmm import plink
from sparselmm.bslmm import GemmaBSLMM
from sparselmm.cv import covariate_fit, heldout_metrics
from sparselmm.tables import read_table

CHAINS = [(1_000, 10_000), (10_000, 100_000)]  # (burn-in, samples); GEMMA: 100k, 1M
SEEDS = (1, 2)
FOLDS = (0, 1)


def main(*args):
    chains = [tuple(map(int, a.split("+"))) for a in args if "+" in a] or CHAINS
    folds = [int(a[5:]) for a in args if a.startswith("fold=")] or FOLDS
    scenarios = [a for a in args if a.startswith("c") and "+" not in a] or ["c10_h0.5",
                                                                            "c100_h0.5"]
    for scenario in scenarios:
        data = Path("results/simulation/data") / scenario / "rep1"
        G = plink.read_genotypes(data / "genotypes")
        y = read_table(data / "phenotypes.tsv", "phenotype")["y"].to_numpy(dtype=float)
        Z = read_table(data / "covariates.tsv", "covariate").to_numpy(dtype=float)
        folds = read_table(data / "folds.tsv", "fold")["y"].to_numpy()
        for k in folds:
            tr, te = folds != k, folds == k
            cov = covariate_fit(Z[tr], y[tr], Z[te])
            for burn, samples in chains:
                r2, sec = [], []
                for seed in SEEDS:
                    t = time.perf_counter()
                    m = GemmaBSLMM(burn_in=burn, samples=samples, seed=seed)
                    pred = m.fit(G[tr], y[tr], Z[tr]).predict(G[te], Z[te])
                    sec.append(time.perf_counter() - t)
                    r2.append(heldout_metrics(y[te], pred, cov)["r2_snp"])
                print(f"{scenario} fold {k} chain {burn}+{samples}: R^2 "
                      f"{' / '.join(f'{r:.4f}' for r in r2)}, |diff| {abs(r2[0] - r2[1]):.4f}, "
                      f"{np.mean(sec):.1f} s per fit", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
