"""The Lasso and elastic net: the int8 solver against the dense celer route, on Fig 1's folds.

Runs exactly what the workflow's ``fit_simulation`` job runs
(``sparselmm.fitting.fit_fold``: n=800 training samples, p=20,000 SNPs, 3
covariates, penalty by inner 5-fold CV over 30 penalties) on every simulated
data set and fold the workflow made, once with ``solver: cd`` (the default:
coordinate descent on the int8 genotypes) and once with the baseline
``solver: celer`` (dense float64 copies and celer's working-set solver, the
default before), and prints per scenario the held-out R^2 of both, their
difference, and the ratio of the whole CV fit's wall time (fit + predict,
genotype reading excluded), all measured in this run. Both minimise the same
objective to the same duality-gap tolerance.

    .venv/bin/snakemake --cores 2                       # makes results/simulation/data
    .venv/bin/python -m pip install -e ".[celer]"       # the baseline's solver
    .venv/bin/python bench/bench_penalised.py [results/simulation/data] [lasso elasticnet]

The paper's real-data size (5,123 x 319,147 int8, one ``fit_real`` job) is
``bench/bench_realdata_fold.py DIR lasso elasticnet``.
"""

import sys
from pathlib import Path

import pandas as pd

from sparselmm.fitting import fit_fold

BASELINE = "celer"


def main(root="results/simulation/data", *methods):
    methods = methods or ("lasso", "elasticnet")
    try:
        import celer  # noqa: F401
    except ImportError:
        sys.exit('the baseline needs celer: .venv/bin/python -m pip install -e ".[celer]"')
    rows = []
    for data in sorted(Path(root).glob("c*_h*/rep*")):
        n_causal, h2 = data.parent.name[1:].split("_h")
        folds = pd.read_csv(data / "folds.tsv", sep="\t")["y"].unique()
        for fold in sorted(folds):
            for method in methods:
                for solver in ("cd", BASELINE):
                    _, m, t, _ = fit_fold(
                        bed=data / "genotypes", phenotypes=data / "phenotypes.tsv",
                        names=["y"], folds=data / "folds.tsv", fold=int(fold),
                        method=method, options={"solver": solver},
                        covariates=data / "covariates.tsv")
                    m, seconds = m.iloc[0], t["fit_seconds"].iloc[0]
                    rows.append(dict(method=method, n_causal=int(n_causal), h2=float(h2),
                                     replicate=data.name, fold=fold, solver=solver,
                                     r2_snp=m["r2_snp"], seconds=seconds))
                    print(rows[-1], file=sys.stderr, flush=True)
    if not rows:
        sys.exit(f"no simulated data sets under {root}: run the workflow first")
    t = pd.DataFrame(rows)
    for method, part in t.groupby("method", sort=False):
        r2 = part.pivot_table(index=["n_causal", "h2"], columns="solver", values="r2_snp")
        sec = part.pivot_table(index=["n_causal", "h2"], columns="solver", values="seconds")
        table = pd.DataFrame({
            f"r2_snp {BASELINE}": r2[BASELINE], "r2_snp cd": r2["cd"],
            f"cd - {BASELINE}": r2["cd"] - r2[BASELINE],
            f"s/fit {BASELINE}": sec[BASELINE], "s/fit cd": sec["cd"],
            "speed-up": sec[BASELINE] / sec["cd"]})
        print(f"\n{method}: mean over {part.fold.nunique()} folds x "
              f"{part.replicate.nunique()} replicate(s) per scenario")
        print(table.round(4).to_string())
        worst = (r2["cd"] - r2[BASELINE]).abs().max()
        print(f"largest |difference| in mean R^2: {worst:.5f}   target <= 0.002; whole CV fit "
              f"{sec[BASELINE].values.sum() / sec['cd'].values.sum():.1f}x faster overall "
              f"(per scenario {table['speed-up'].min():.1f}x to {table['speed-up'].max():.1f}x)"
              f"   target >= 5x")


if __name__ == "__main__":
    main(*sys.argv[1:])
