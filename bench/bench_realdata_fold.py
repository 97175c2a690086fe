"""One cross-validation fold of the real-data rule at the paper's size.

Simulates int8 genotypes of n=5,123 x p=319,147 (the paper's real data set),
writes them as a PLINK fileset, then runs exactly what the workflow's
``fit_real`` job runs (``sparselmm.fitting.fit_fold``: read the .bed by row
index as int8, fit on 4/5, predict 1/5) in a child process, for each method
asked for, and reports its wall time and peak resident memory. Baselines,
same run: the time to read the fileset once with bed-reader (the job's
unavoidable I/O) and to stream the training fold's int8 matrix through
memory once (a numba sum over every entry: the floor of one pass).

    python bench/bench_realdata_fold.py [workdir] [method ...]   # default: sparselmm pcs
    python bench/bench_realdata_fold.py /tmp/big lasso elasticnet
    # "pcs": the covariates rule (10 PCs of all samples) instead of a fit
    # needs ~0.5 GiB disk and 4 GiB RAM
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sparselmm import genotypes, phenotype  # noqa: E402

from sparselmm import plink  # noqa: E402
from sparselmm.cv import write_folds  # noqa: E402

N, P, K_PCS = 5123, 319_147, 10

CHILD = """
import json, resource, sys, time
from sparselmm.fitting import fit_fold
d = sys.argv[1]
t = time.perf_counter()
fits = fit_fold(bed=d + "/geno", phenotypes=d + "/pheno.tsv", names=["y"],
                folds=d + "/folds.tsv", fold=0, method=sys.argv[2],
                options=json.loads(sys.argv[3]), covariates=d + "/covar.tsv")
metrics = {k: (v.item() if hasattr(v, "item") else v)
           for k, v in fits.metrics.iloc[0].items()}
metrics["seconds"] = float(fits.timings["fit_seconds"].iloc[0])
metrics["wall"] = time.perf_counter() - t
metrics["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(metrics))
"""

PCS = """
import json, resource, sys, time
from sparselmm.realdata import write_covariates
t = time.perf_counter()
write_covariates(sys.argv[1] + "/geno", sys.argv[1] + "/pcs.tsv", n_pcs=10)
print(json.dumps({"wall": time.perf_counter() - t,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

READ = """
import sys, time
sys.path.insert(0, sys.argv[2])
from bench_sparselmm import _stream
from sparselmm.plink import read_genotypes
t = time.perf_counter(); G = read_genotypes(sys.argv[1] + "/geno"); read = time.perf_counter() - t
G = G[: 4 * G.shape[0] // 5]  # the training fold's size
_stream(G[:10, :10])
t = time.perf_counter(); _stream(G); print(read, time.perf_counter() - t)
"""

# options per method: the workflow's defaults (config.yaml), verbose where available
OPTIONS = {"sparselmm": {"verbose": True}, "hybrid": {"verbose": True}}


def main(workdir=None, *methods):
    methods = methods or ("sparselmm", "pcs")
    tmp = Path(workdir or tempfile.mkdtemp(prefix="slmm_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    if not (tmp / "geno.bed").exists():
        t = time.perf_counter()
        G = genotypes(N, P, 5)
        y, Z = phenotype(G, 100, 0.5, K_PCS, 6)
        iids = [f"i{k}" for k in range(N)]
        plink.write_bed(tmp / "geno", G, iids, [f"s{j}" for j in range(P)])
        pd.DataFrame({"iid": iids, "y": y}).to_csv(tmp / "pheno.tsv", sep="\t", index=False)
        cov = pd.DataFrame(Z, columns=[f"PC{k + 1}" for k in range(K_PCS)])
        cov.insert(0, "iid", iids)
        cov.to_csv(tmp / "covar.tsv", sep="\t", index=False)
        write_folds(tmp / "folds.tsv", iids, 5, 1, ["y"])
        del G
        print(f"wrote {N:,} x {P:,} fileset to {tmp} in {time.perf_counter() - t:.0f} s",
              flush=True)
    here = str(Path(__file__).resolve().parent)
    read, stream = map(float, subprocess.run([sys.executable, "-c", READ, str(tmp), here],
                                             check=True, capture_output=True,
                                             text=True).stdout.split())
    print(f"reading the whole .bed once: {read:.1f} s; streaming the training fold's int8 "
          f"matrix once: {stream:.2f} s")
    for method in (m for m in methods if m != "pcs"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(tmp), method,
                              json.dumps(OPTIONS.get(method, {}))], check=True,
                             stdout=subprocess.PIPE, text=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"one fold, {method} (intercept + {K_PCS} covariates), n_train={m['n_train']:,}, "
              f"p={m['p']:,}:")
        print(f"  wall time {m['wall']:.0f} s (fit + predict {m['seconds']:.0f} s) = "
              f"{m['wall'] / read:.0f}x one read of the .bed = {m['seconds'] / stream:.0f}x one "
              f"stream of the int8 matrix   target < 300 s")
        print(f"  peak resident memory {m['peak_gib']:.2f} GiB "
              f"(int8 genotypes alone: {N * P / 2**30:.2f} GiB)   target < 4 GiB")
        print(f"  held-out r2_snp {m['r2_snp']:.3f}, converged={m['converged']}", flush=True)
    if "pcs" not in methods:
        return
    out = subprocess.run([sys.executable, "-c", PCS, str(tmp)], check=True,
                         stdout=subprocess.PIPE, text=True)
    c = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"covariates rule (10 PCs by randomized SVD, all {N:,} samples): wall time "
          f"{c['wall']:.0f} s = {c['wall'] / read:.0f}x one read, "
          f"peak memory {c['peak_gib']:.2f} GiB")


if __name__ == "__main__":
    main(*sys.argv[1:])
