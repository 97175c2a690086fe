"""Logistic against linear SparseLMM on simulated diseases, same folds.

Liability-threshold simulations (``sparselmm.simulate.simulate(prevalence=K)``) of
the paper's Fig 1 design (1,000 individuals, 20,000 independent SNPs, 3 covariates
of large effect), for prevalences 0.1 and 0.3, 1/10/100 causal SNPs and liability
h2 0.2/0.5, each with ``--replicates`` data sets and 5-fold CV. On every fold both
versions of each method asked for (``--pairs``: SparseLMM, the Lasso; and the oracle,
the true probability of being a case) are fitted and
scored as the workflow scores them (:func:`sparselmm.fitting.score_fit`,
:func:`sparselmm.cv.binary_metrics`). Printed per scenario: mean AUC and
liability-scale R^2 of each method, the paired difference logistic - linear with its
standard error (units: data sets x folds), and the ratio of their fit times
(the baseline: linear SparseLMM, measured in the same run).

    python bench/binary_traits.py                 # 12 scenarios x 2 replicates
    python bench/binary_traits.py --approximation bound          # the JJ bound
    python bench/binary_traits.py --replicates 1 --pairs sparselmm lasso  # the Lassos too
    python bench/binary_traits.py --replicates 1 --n-snps 5000   # quicker
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from sparselmm.cv import assign_folds, binary_metrics  # noqa: E402
from sparselmm.fitting import score_fit  # noqa: E402
from sparselmm.methods import make_model  # noqa: E402
from sparselmm.simulate import simulate  # noqa: E402

# each logistic model against its linear version on the 0/1 phenotype
PAIRS = {"sparselmm": ("sparselmm", "sparselmm_logistic"), "lasso": ("lasso", "lasso_logistic")}


def one_dataset(n, p, n_causal, h2, prevalence, seed, options, methods, folds=5):
    sim = simulate(n=n, p=p, n_causal=n_causal, h2=h2, covariate_effects=(1.0, -0.7, 0.5),
                   seed=seed, prevalence=prevalence)
    truth = {"beta_full": sim.beta, "intercept": sim.intercept,
             "covariate_effects": sim.covariate_effects,
             "liability_threshold": sim.threshold, "noise_sd": float(sim.noise.std())}
    split = assign_folds(n, folds, seed)
    rows = []
    for fold in range(folds):
        tr, te = split != fold, split == fold
        for method in methods:
            model = make_model(method, options.get(method), truth)
            pred, cov_pred, m, seconds = score_fit(
                model, X_train=sim.genotypes[tr], y_train=sim.y[tr], Z_train=sim.covariates[tr],
                G_test=sim.genotypes[te], y_test=sim.y[te], Z_test=sim.covariates[te],
                log=open("/dev/null", "w"), label=method)
            b = binary_metrics(sim.y[te], pred, cov_pred, prevalence,
                               snp=model.predict_genetic(sim.genotypes[te]))
            rows.append({"method": method, "fold": fold, "seconds": seconds, **b,
                         "converged": m["converged"]})
    return rows


def se(x):
    x = np.asarray(x, dtype=float)
    return float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--n-snps", type=int, default=20_000)
    ap.add_argument("--replicates", type=int, default=2)
    ap.add_argument("--approximation", default="taylor", choices=["taylor", "bound"],
                    help="the logistic model's likelihood approximation")
    ap.add_argument("--pairs", nargs="+", default=["sparselmm"], choices=sorted(PAIRS),
                    help="linear/logistic pairs to compare (lasso: about 10 s per fit)")
    ap.add_argument("--out", help="write every fit's row to this TSV")
    args = ap.parse_args(argv)
    methods = [m for pair in args.pairs for m in PAIRS[pair]] + ["oracle"]
    options = {"sparselmm_logistic": {"approximation": args.approximation},
               "lasso": {"n_jobs": 1}, "lasso_logistic": {"n_jobs": 1}}
    rows = []
    t0 = time.perf_counter()
    for prevalence in (0.1, 0.3):
        for n_causal in (1, 10, 100):
            for h2 in (0.2, 0.5):
                for rep in range(args.replicates):
                    seed = 1000 * int(prevalence * 10) + 10 * n_causal + int(h2 * 10) + 7 * rep
                    for r in one_dataset(args.n, args.n_snps, n_causal, h2, prevalence, seed,
                                         options, methods):
                        rows.append({"prevalence": prevalence, "n_causal": n_causal, "h2": h2,
                                     "replicate": rep, **r})
                print(f"prevalence {prevalence}, {n_causal} causal, h2 {h2}: done "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)
    keys = ["prevalence", "n_causal", "h2"]
    wide = table.pivot_table(index=keys + ["replicate", "fold"], columns="method",
                             values=["auc", "auc_snp", "r2_liability", "seconds"])
    pd.set_option("display.width", 400)
    for pair in args.pairs:
        linear, logistic = PAIRS[pair]
        out = []
        for key, block in wide.groupby(level=keys):
            row = dict(zip(keys, key))
            for metric in ("auc", "auc_snp", "r2_liability"):
                lin, log_ = block[(metric, linear)], block[(metric, logistic)]
                d = log_ - lin
                row.update({f"{metric} lin": lin.mean(), f"{metric} logit": log_.mean(),
                            f"{metric} oracle": block[(metric, "oracle")].mean(),
                            f"{metric} diff": d.mean(), f"{metric} se": se(d)})
            row["time ratio"] = (block[("seconds", logistic)].sum()
                                 / block[("seconds", linear)].sum())
            out.append(row)
        print(f"\n{logistic} - {linear}:")
        print(pd.DataFrame(out).to_string(index=False, float_format=lambda v: f"{v:.4f}"))

        def diff(metric):
            d = wide[(metric, logistic)] - wide[(metric, linear)]
            return f"{d.mean():+.4f} +- {se(d):.4f}"

        seconds = table.groupby("method")["seconds"].sum()
        print(f"all {len(wide)} folds, {logistic} - {linear}: AUC {diff('auc')}; AUC of the "
              f"SNP part {diff('auc_snp')}; liability R^2 {diff('r2_liability')}; time "
              f"{seconds[logistic] / seconds[linear]:.2f}x ({seconds[logistic]:.0f} s / "
              f"{seconds[linear]:.0f} s)")
    print(f"not converged: {int((~table['converged']).sum())} of {len(table)} fits")


if __name__ == "__main__":
    main()
