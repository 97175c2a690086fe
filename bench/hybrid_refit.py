"""The hybrid's E-step now against the hybrid fits stored in a Fig 1 results tree.

Refits every ``hybrid`` fold of a finished Fig 1 run (``<analysis>/simulation``:
its data sets and folds, with config.yaml's ``hybrid`` options) with the code checked
out now, and prints per fit and in total: converged, VAMP damping, iterations,
which start was kept and whether the diffuse start ran, held-out R^2_SNP and fit
seconds, beside the stored fit's (``converged``, ``damping``, ``r2_snp``,
``fit_seconds``: the code that made the run). Use it to show what a change of the
E-step does on the same folds, e.g. under coalescent LD:

    .venv/bin/python bench/hybrid_refit.py results/fig1_ld [scenario ...]

Stored fit seconds come from the workflow (its jobs may have run side by side);
this script fits one at a time, so compare times on an idle machine only.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from workflow_config import config_section


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1]) / "simulation"
    wanted = set(sys.argv[2:])
    from sparselmm import fitting

    made = []
    make_model = fitting.make_model

    def keep_model(*args, **kwargs):  # fit_fold's model, for its fitted attributes
        made.append(make_model(*args, **kwargs))
        return made[-1]

    fitting.make_model = keep_model

    options = config_section("hybrid")  # the workflow's
    rows = []
    for metrics in sorted(root.glob("fits/*/rep*/hybrid/fold*.metrics.tsv")):
        scenario, rep = metrics.parts[-4], metrics.parts[-3]
        if wanted and scenario not in wanted:
            continue
        fold = int(metrics.stem.split(".")[0][len("fold"):])
        data = root / "data" / scenario / rep
        old = pd.read_csv(metrics, sep="\t").iloc[0]
        old_s = pd.read_csv(metrics.with_name(f"fold{fold}.timing.tsv"), sep="\t")
        t = time.perf_counter()
        fits = fitting.fit_fold(
            bed=str(data / "genotypes"), phenotypes=data / "phenotypes.tsv", names=["y"],
            covariates=data / "covariates.tsv", folds=data / "folds.tsv", fold=fold,
            method="hybrid", options=options, truth=data / "truth.json")
        new, timing = fits.metrics, fits.timings
        new, seconds = new.iloc[0], float(timing["fit_seconds"].iloc[0])
        model = made[-1]
        rows.append({
            "scenario": scenario, "rep": rep, "fold": fold,
            "old_converged": bool(old["converged"]), "old_damping": old.get("damping"),
            "old_r2_snp": old["r2_snp"], "old_s": float(old_s["fit_seconds"].iloc[0]),
            "converged": bool(new["converged"]), "damping": new.get("damping"),
            "n_iter": model.n_iter_, "start": model.start_,
            "diffuse_ran": "diffuse" in model.start_evidence_,
            "r2_snp": new["r2_snp"], "s": round(seconds, 2),
            "wall_s": round(time.perf_counter() - t, 2)})
        if len(rows) == 1:
            print("\t".join(rows[0]))
        print("\t".join(str(v) for v in rows[-1].values()), flush=True)
    table = pd.DataFrame(rows)
    if table.empty:
        sys.exit(f"{root}: no stored hybrid fits")
    n = len(table)
    print(f"\n{n} fits")
    for what in ("old_", ""):
        label = "stored" if what == "old_" else "now"
        print(f"{label:7s} converged {int(table[what + 'converged'].sum())}/{n}; damping 0.8 "
              f"{int((table[what + 'damping'] == 0.8).sum())}, 0.05 "
              f"{int((table[what + 'damping'] == 0.05).sum())}; median fit "
              f"{table[what + 's'].median():.2f} s")
    diff = table["r2_snp"] - table["old_r2_snp"]
    print(f"diffuse start run in {int(table['diffuse_ran'].sum())}, kept in "
          f"{int((table['start'] == 'diffuse').sum())}; R^2_SNP now - stored: mean "
          f"{diff.mean():+.4f}, largest |difference| {np.abs(diff).max():.4f}")


if __name__ == "__main__":
    main()
