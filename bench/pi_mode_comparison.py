"""Which way of choosing pi predicts best? EM update vs varbvs-style grid averaging.

Runs both ``pi_mode="em"`` and ``pi_mode="grid"`` on every simulated data set
and fold that the workflow made (run ``snakemake --cores N`` first) and prints
mean held-out R^2 of the SNP part per scenario, the difference, and the time.

    python bench/pi_mode_comparison.py [results/simulation/data]
"""

import sys
from pathlib import Path

import pandas as pd

from sparselmm.fitting import fit_fold


def main(root="results/simulation/data"):
    rows = []
    for data in sorted(Path(root).glob("c*_h*/rep*")):
        n_causal, h2 = data.parent.name[1:].split("_h")
        folds = pd.read_csv(data / "folds.tsv", sep="\t")["y"].unique()
        for fold in sorted(folds):
            for mode in ("em", "grid"):
                _, m, t, _ = fit_fold(
                    bed=data / "genotypes", phenotypes=data / "phenotypes.tsv", names=["y"],
                    folds=data / "folds.tsv", fold=int(fold), method="sparselmm",
                    options={"pi_mode": mode}, covariates=data / "covariates.tsv")
                m, seconds = m.iloc[0], t["fit_seconds"].iloc[0]
                rows.append(dict(n_causal=int(n_causal), h2=float(h2), replicate=data.name,
                                 fold=fold, pi_mode=mode, r2_snp=m["r2_snp"],
                                 seconds=seconds))
                print(rows[-1], file=sys.stderr, flush=True)
    if not rows:
        sys.exit(f"no simulated data sets under {root}: run the workflow first")
    t = pd.DataFrame(rows)
    piv = t.pivot_table(index=["n_causal", "h2"], columns="pi_mode", values="r2_snp")
    piv["grid - em"] = piv["grid"] - piv["em"]
    sec = t.pivot_table(index=["n_causal", "h2"], columns="pi_mode", values="seconds")
    piv["seconds em"], piv["seconds grid"] = sec["em"], sec["grid"]
    print(piv.round(4).to_string())
    print(f"\nmean r2_snp: em {t[t.pi_mode == 'em'].r2_snp.mean():.4f}, "
          f"grid {t[t.pi_mode == 'grid'].r2_snp.mean():.4f}; "
          f"mean time: em {t[t.pi_mode == 'em'].seconds.mean():.2f} s, "
          f"grid {t[t.pi_mode == 'grid'].seconds.mean():.2f} s "
          f"(ratio {t[t.pi_mode == 'grid'].seconds.mean() / t[t.pi_mode == 'em'].seconds.mean():.1f}x)")


if __name__ == "__main__":
    main(*sys.argv[1:])
