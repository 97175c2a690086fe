"""auto's cost and accuracy against its candidates, from a finished workflow run.

Reads an analysis's ``tables/timings.tsv`` and ``tables/*_r2.tsv`` (one workflow run: the
candidates and auto fitted on the same folds, under the same load) and prints

* the summed fit seconds of auto and of each candidate, and auto's as a ratio to the
  candidates' sum (the baseline: running the candidates and choosing by hand);
* held-out R^2 of the SNP part: per scenario (simulations) or over all phenotypes (real
  data), auto against the better candidate, paired over folds or phenotypes, with its SE;
* how often each candidate was chosen.

auto beside its candidates reuses their fits of each fold (docs/beyond-the-paper.md,
"Reusing the candidates' fits"), so its seconds are its own work only. Usage, after the
run::

    .venv/bin/snakemake --cores 2 --configfile configs/auto_fig1.yaml
    .venv/bin/python bench/auto_cost.py results/auto_fig1 [sparselmm lasso]
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sparselmm.tables import read_results


def paired(diff):
    """Mean and standard error of paired differences."""
    diff = np.asarray(diff, dtype=float)
    se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else 0.0
    return f"{diff.mean():+.4f} ± {se:.4f}"


def main(root, *candidates):
    root = Path(root)
    candidates = list(candidates) or ["sparselmm", "lasso"]
    timings = read_results(root / "tables" / "timings.tsv")
    seconds = timings.groupby("method")["fit_seconds"].sum()
    missing = [m for m in candidates + ["auto"] if m not in seconds.index]
    if missing:
        raise SystemExit(f"{root}/tables/timings.tsv: no fits of {', '.join(missing)}")
    total = float(seconds[candidates].sum())
    print("summed fit seconds: " + ", ".join(f"{m} {seconds[m]:.1f}"
                                             for m in candidates + ["auto"]))
    print(f"auto / candidates' sum: {seconds['auto'] / total:.2f}")

    sim = root / "tables" / "simulation_r2.tsv"
    real = root / "tables" / "real_r2.tsv"
    if sim.exists():
        table = read_results(sim)
        keys = ["n_causal", "h2", "replicate", "fold"]
        wide = table.pivot_table(index=keys, columns="method", values="r2_snp")
        groups = wide.groupby(level=["n_causal", "h2"])
        print("\nheld-out R^2 of the SNP part, mean over replicates and folds")
        rows = []
        for (c, h), part in groups:
            means = part[candidates].mean()
            best = means.idxmax()
            rows.append({"n_causal": c, "h2": h, **means.round(4).to_dict(),
                         "auto": round(part["auto"].mean(), 4),
                         "auto - better": paired(part["auto"] - part[best]),
                         "better": best})
        print(pd.DataFrame(rows).to_string(index=False))
        chosen = table[table["method"] == "auto"].groupby(["n_causal", "h2"])["chosen"]
    else:
        table = read_results(real)
        per = table.pivot_table(index="phenotype", columns="method", values="r2_snp")
        print(f"\nheld-out R^2 of the SNP part over {len(per)} phenotypes (fold means)")
        print(per[candidates + ["auto"]].mean().round(4).to_string())
        for m in candidates:
            print(f"auto - {m}: {paired(per['auto'] - per[m])}")
        chosen = table[table["method"] == "auto"].groupby(lambda _: "all")["chosen"]
    print("\nfolds where auto chose each candidate")
    print(chosen.value_counts().unstack(fill_value=0).to_string())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
