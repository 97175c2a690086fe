"""Fits straight from the packed .bed (2 bits per genotype) at biobank-like sizes.

Writes a synthetic PLINK fileset once (default 50,000 x 500,000: 6.25 GB; MAF
~ U(0.01, 0.5), 1 % missing calls, a phenotype of 100 causal SNPs with h2 = 0.5
plus 10 covariates), then, each in a child process so that its peak resident memory
is its own, what one ``fit_real`` job runs (``sparselmm.fitting.fit_fold``, fold 0
of 5, ``storage="packed"``) for each method asked for. Baselines measured in the
same run, on the same training rows:

* one streaming pass over the packed training matrix (decode every genotype of
  the fold and sum it: the floor of anything that reads the genotypes), and
* one SparseLMM coordinate-ascent sweep (``_kernels.sweep``) on it,

so that the sweep is reported as a ratio to one pass. Each method gets the options of
the workflow's ``config.yaml`` (e.g. SparseLMM's ``init``, the Lasso's ``patience``),
printed with its result. ``--int8`` runs each method
a second time with the genotypes read into memory as int8 (today's route), for the
memory ratio and the check that the held-out R^2 is the same.

    python bench/biobank.py                                  # 50,000 x 500,000
    python bench/biobank.py --n 5123 --p 319147 --int8       # the paper's size
    python bench/biobank.py --n 20000 --p 100000 --methods sparselmm lasso
    # --workdir keeps the fileset between runs (default /tmp/slmm_biobank_{n}x{p})
"""

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from workflow_config import config_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from sparselmm import plink  # noqa: E402
from sparselmm._design import take_columns  # noqa: E402
from sparselmm.cv import write_folds  # noqa: E402

N_COV, N_CAUSAL, H2, MISSING = 10, 100, 0.5, 0.01
# dosage -> 2-bit .bed code (A1 counted): 2 -> 00, 1 -> 10, 0 -> 11, missing -> 01
CODE = np.array([3, 2, 0], dtype=np.uint8)


def write_fileset(prefix, n, p, seed=1, chunk=2000):
    """A SNP-major .bed written chunk by chunk (never n x p in memory) with its .bim,
    .fam, phenotype, covariates and folds."""
    rng = np.random.default_rng(seed)
    per_snp = (n + 3) // 4
    maf = rng.uniform(0.01, 0.5, p)
    with open(f"{prefix}.bed", "wb") as fh:
        fh.write(b"\x6c\x1b\x01")
        for j0 in range(0, p, chunk):
            j1 = min(p, j0 + chunk)
            t = (maf[j0:j1, None] * 65536).astype(np.uint32)
            dose = ((rng.integers(0, 65536, (j1 - j0, n), dtype=np.uint16) < t).astype(np.uint8)
                    + (rng.integers(0, 65536, (j1 - j0, n), dtype=np.uint16) < t))
            codes = np.zeros((j1 - j0, 4 * per_snp), dtype=np.uint8)
            codes[:, :n] = CODE[dose]
            codes[:, :n][rng.random((j1 - j0, n), dtype=np.float32) < MISSING] = 1
            packed = (codes[:, 0::4] | codes[:, 1::4] << 2 | codes[:, 2::4] << 4
                      | codes[:, 3::4] << 6)
            fh.write(np.ascontiguousarray(packed, dtype=np.uint8).tobytes())
    iids = [f"i{k}" for k in range(n)]
    Path(f"{prefix}.fam").write_text("".join(f"{i} {i} 0 0 0 -9\n" for i in iids))
    Path(f"{prefix}.bim").write_text("".join(f"1\ts{j}\t0\t{j + 1}\tA\tG\n" for j in range(p)))
    causal = np.sort(rng.choice(p, N_CAUSAL, replace=False))
    Gc = take_columns(plink.open_packed(prefix), causal).astype(float)
    Gc[Gc == -127] = np.nan
    Xc = (Gc - np.nanmean(Gc, 0)) / np.nanstd(Gc, 0)
    g = np.nan_to_num(Xc) @ rng.normal(size=N_CAUSAL)
    g *= math.sqrt(H2 / g.var())
    Z = rng.normal(size=(n, N_COV))
    y = Z @ rng.normal(size=N_COV) * 2 + g + rng.normal(size=n) * math.sqrt(1 - H2)
    folder = Path(prefix).parent
    pd.DataFrame({"iid": iids, "y": y}).to_csv(folder / "pheno.tsv", sep="\t", index=False)
    cov = pd.DataFrame(Z, columns=[f"PC{k + 1}" for k in range(N_COV)])
    cov.insert(0, "iid", iids)
    cov.to_csv(folder / "covar.tsv", sep="\t", index=False)
    write_folds(folder / "folds.tsv", iids, 5, 1, ["y"])


BASELINES = """
import json, sys, time
import numpy as np
from numba import njit
from sparselmm import _kernels, plink
from sparselmm._design import build_design, residuals, take_rows
from sparselmm.tables import read_table

@njit(nogil=True)
def stream(G):
    work = _kernels.scratch(G, 1)
    total = 0
    for j in range(G.shape[1]):
        X, c = _kernels.column(G, j, work, 0)
        for i in range(G.shape[0]):
            total += X[i, c]
    return total

d = sys.argv[1]
folds = read_table(d + "/folds.tsv", "fold")["y"].to_numpy()
train = np.flatnonzero(folds != 0)
P = plink.open_packed(d + "/geno")
small = take_rows(P, train[:8])
stream(_kernels.PackedBed(small.data[:2], small.rows, (8, 2)))  # compile
t = time.perf_counter(); stream(P); first = time.perf_counter() - t  # also warms the cache
G = take_rows(P, train)
t = time.perf_counter(); stream(G); one_pass = time.perf_counter() - t
y = read_table(d + "/pheno.tsv", "phenotype")["y"].to_numpy()[train]
Z = read_table(d + "/covar.tsv", "covariate").to_numpy()[train]
t = time.perf_counter(); design = build_design(G, y, Z); prep = time.perf_counter() - t
p = G.shape[1]
alpha, mu, s2 = np.full(p, 0.01), np.zeros(p), np.full(p, 0.1)
order = np.flatnonzero(design.active)
v, u = residuals(design, alpha * mu)
_kernels.sweep(design.G, design.sentinel, design.mean, design.scale, design.C, design.d,
               order[:4], v.copy(), u.copy(), alpha.copy(), mu.copy(), s2.copy(),
               1.0, 0.01, -5.0)
t = time.perf_counter()
_kernels.sweep(design.G, design.sentinel, design.mean, design.scale, design.C, design.d,
               order, v, u, alpha, mu, s2, 1.0, 0.01, -5.0)
sweep = time.perf_counter() - t
print(json.dumps({"first_pass": first, "one_pass": one_pass, "design": prep, "sweep": sweep,
                  "n_train": int(train.size)}))
"""

CHILD = """
import json, resource, sys, time
from sparselmm.fitting import fit_fold
d, method, options, storage = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
t = time.perf_counter()
fits = fit_fold(bed=d + "/geno", phenotypes=d + "/pheno.tsv", names=["y"],
                folds=d + "/folds.tsv", fold=0, method=method, options=options,
                covariates=d + "/covar.tsv", storage=storage)
m = {k: (v.item() if hasattr(v, "item") else v) for k, v in fits.metrics.iloc[0].items()}
m["seconds"] = float(fits.timings["fit_seconds"].iloc[0])
m["wall"] = time.perf_counter() - t
m["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(m))
"""

# beside the workflow's options (config.yaml): verbose where the model has it, SparseLMM's
# prior start (docs/biobank.md asks for it at this size) and the inner folds of the
# penalised regressions on the 2 cores (their n_jobs)
EXTRA = {"sparselmm": {"verbose": True, "init": "prior"}, "hybrid": {"verbose": True},
         "lasso": {"n_jobs": 2}, "elasticnet": {"n_jobs": 2}}
TARGET_MIN = {"sparselmm": 15, "lasso": 30, "elasticnet": 30}


def workflow_options(method):
    """``method``'s options as a ``fit_real`` job of the default config.yaml gets them,
    with ``EXTRA``."""
    return {**config_section(method), **EXTRA.get(method, {})}


def child(code, *args):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True,
                         stdout=subprocess.PIPE, text=True,
                         env={"PYTHONPATH": str(ROOT / "workflow"),
                              "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
                              "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--p", type=int, default=500_000)
    ap.add_argument("--methods", nargs="+", default=["sparselmm", "top1", "lasso",
                                                      "elasticnet"])
    ap.add_argument("--int8", action="store_true",
                    help="also fit each method from int8 genotypes in memory")
    ap.add_argument("--workdir")
    args = ap.parse_args(argv)
    n, p = args.n, args.p
    work = Path(args.workdir or f"/tmp/slmm_biobank_{n}x{p}")
    work.mkdir(parents=True, exist_ok=True)
    bed = work / "geno.bed"
    if not (bed.exists() and (work / "folds.tsv").exists()):
        t = time.perf_counter()
        write_fileset(work / "geno", n, p)
        print(f"wrote {n:,} x {p:,} ({bed.stat().st_size / 1e9:.2f} GB .bed) to {work} in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
    bed_gib = bed.stat().st_size / 2**30
    b = child(BASELINES, work)
    print(f"packed .bed {bed_gib:.2f} GiB; training fold {b['n_train']:,} x {p:,}")
    print(f"  one streaming pass over the packed training matrix: {b['one_pass']:.1f} s "
          f"({b['n_train'] * p / b['one_pass'] / 1e9:.2f} G genotypes/s, one core); "
          f"first pass over the whole file {b['first_pass']:.1f} s")
    print(f"  design (moments, covariate projection): {b['design']:.1f} s = "
          f"{b['design'] / b['one_pass']:.1f} passes")
    print(f"  one SparseLMM sweep: {b['sweep']:.1f} s = {b['sweep'] / b['one_pass']:.2f}x one "
          f"pass   target <= 3x", flush=True)
    rows = []
    for method in args.methods:
        for storage in ("packed", "int8") if args.int8 else ("packed",):
            options = workflow_options(method)
            m = child(CHILD, work, method, json.dumps(options), storage)
            target = TARGET_MIN.get(method)
            print(f"{method} ({storage}), options {options}:")
            print(f"  fold wall {m['wall']:.0f} s (fit + predict {m['seconds']:.0f} s = "
                  f"{m['seconds'] / b['one_pass']:.0f} passes)"
                  + (f"   target < {target * 60} s" if target and storage == "packed" else ""))
            print(f"  peak RSS {m['peak_gib']:.2f} GiB = {m['peak_gib'] / bed_gib:.2f}x the .bed"
                  + ("   target < 1.5x + O(n + p)" if storage == "packed" else ""))
            print(f"  held-out r2 {m['r2']:.4f}, r2_snp {m['r2_snp']:.4f}, "
                  f"converged={m['converged']}", flush=True)
            rows.append({"method": method, "storage": storage, **{
                k: m[k] for k in ("wall", "seconds", "peak_gib", "r2", "r2_snp", "converged")}})
    if args.int8:
        t = pd.DataFrame(rows).pivot(index="method", columns="storage")
        for method in args.methods:
            r = t.loc[method]
            print(f"{method}: peak memory packed / int8 = "
                  f"{r[('peak_gib', 'packed')] / r[('peak_gib', 'int8')]:.2f} "
                  f"({r[('peak_gib', 'packed')]:.2f} / {r[('peak_gib', 'int8')]:.2f} GiB); "
                  f"time packed / int8 = "
                  f"{r[('seconds', 'packed')] / r[('seconds', 'int8')]:.2f}; same r2: "
                  f"{r[('r2', 'packed')] == r[('r2', 'int8')]}")


if __name__ == "__main__":
    main()
