"""Speed and memory of SparseLMM at the paper's two sizes.

Baseline, measured in the same run: ``tests/reference.py::sweep_incremental``,
a plain-numpy coordinate sweep over a dense, projected float64 copy of X (the
readable reference the tests check the kernel against). Printed as ratios.

    python bench/bench_sparselmm.py sim     # n=800, p=20,000, 3 covariates
    python bench/bench_sparselmm.py real    # n=5,123, p=319,147 int8 (about 2 GiB RAM, minutes)

The real-size run also measures the floor for one sweep: the time to stream
the int8 genotype matrix through memory once (a numba sum over every entry).
"""

import argparse
import math
import resource
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference  # noqa: E402

from sparselmm import SparseLMM, _kernels  # noqa: E402
from sparselmm._design import build_design  # noqa: E402
from sparselmm._design import residuals  # noqa: E402


def genotypes(n, p, seed):
    """int8 dosages with MAF ~ U(0.05, 0.5), column blocks (fast, Fortran order)."""
    rng = np.random.default_rng(seed)
    G = np.empty((n, p), dtype=np.int8, order="F")
    maf = rng.uniform(0.05, 0.5, p)
    for j0 in range(0, p, 4096):
        j1 = min(p, j0 + 4096)
        t = (maf[j0:j1] * 65536).astype(np.uint16)
        a = rng.integers(0, 65536, size=(n, j1 - j0), dtype=np.uint16) < t
        b = rng.integers(0, 65536, size=(n, j1 - j0), dtype=np.uint16) < t
        G[:, j0:j1] = a.astype(np.int8) + b.astype(np.int8)
    return G


def phenotype(G, n_causal, h2, n_cov, seed):
    rng = np.random.default_rng(seed)
    causal = rng.choice(G.shape[1], n_causal, replace=False)
    Xc = G[:, causal].astype(float)
    g = ((Xc - Xc.mean(0)) / Xc.std(0)) @ rng.normal(size=n_causal)
    g *= math.sqrt(h2 / g.var())
    Z = rng.normal(size=(G.shape[0], n_cov))
    y = Z @ rng.normal(size=n_cov) * 2 + g + rng.normal(size=G.shape[0]) * math.sqrt(1 - h2)
    return y, Z


def best_of(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def kernel_sweep_seconds(design, repeat=3):
    p = design.G.shape[1]
    alpha, mu, s2 = np.full(p, 0.01), np.zeros(p), np.full(p, 0.1)

    def run():
        v, u = residuals(design, alpha * mu)
        _kernels.sweep(design.G, design.sentinel, design.mean, design.scale, design.C, design.d,
                       np.flatnonzero(design.active), v, u, alpha.copy(), mu.copy(), s2.copy(),
                       1.0, 0.01, -6.0)

    run()  # compile
    return best_of(run, repeat)


@njit(cache=True)
def _stream(G):
    total = 0
    for j in range(G.shape[1]):
        for i in range(G.shape[0]):
            total += G[i, j]
    return total


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_sim():
    n, p = 800, 20_000
    G = genotypes(n, p, 1)
    y, Z = phenotype(G, 10, 0.5, 3, 2)
    SparseLMM().fit(G[:100, :100], y[:100], Z[:100])  # compile
    design = build_design(G, y, Z)
    t_kernel = kernel_sweep_seconds(design)
    Xt, yt, _ = reference.projected(G, y, Z)
    start = (np.full(p, 0.01), np.zeros(p), np.full(p, 0.1))
    t_ref = best_of(lambda: reference.sweep_incremental(Xt, yt, *start, 1.0, 0.01, -6.0), 1)
    t_em = best_of(lambda: SparseLMM().fit(G, y, Z))
    em = SparseLMM().fit(G, y, Z)
    t_grid = best_of(lambda: SparseLMM(pi_mode="grid").fit(G, y, Z), 1)
    print(f"paper simulation size: n={n}, p={p:,}, 3 covariates, 10 causal SNPs, h2=0.5")
    print(f"  one sweep: numpy reference {t_ref:.3f} s, kernel {t_kernel:.4f} s "
          f"-> kernel {t_ref / t_kernel:.0f}x faster")
    print(f"  full fit, pi by EM: {t_em:.2f} s ({em.n_iter_} iterations; the reference would "
          f"need about {em.n_iter_ * t_ref:.0f} s for those sweeps alone, "
          f"{em.n_iter_ * t_ref / t_em:.0f}x)   target < 1 s")
    print(f"  full fit, 20-point log-odds grid: {t_grid:.2f} s "
          f"({t_grid / t_em:.1f}x the EM fit)   target < 10 s")


def bench_real():
    n, p = 5123, 319_147
    t0 = time.perf_counter()
    G = genotypes(n, p, 3)
    print(f"paper real-data size: n={n:,}, p={p:,} int8 ({G.nbytes / 2**30:.2f} GiB), "
          f"generated in {time.perf_counter() - t0:.0f} s", flush=True)
    y, Z = phenotype(G, 100, 0.5, 10, 4)
    _stream(G[:10, :10])
    t_stream = best_of(lambda: _stream(G))
    t0 = time.perf_counter()
    design = build_design(G, y, Z)
    t_design = time.perf_counter() - t0
    t_kernel = kernel_sweep_seconds(design, repeat=2)
    print(f"  stream int8 matrix once: {t_stream:.2f} s; one sweep: {t_kernel:.2f} s "
          f"-> {t_kernel / t_stream:.2f}x the streaming bound   target <= 3x", flush=True)
    # baseline on a 2,000-SNP slice (a dense float64 copy of all of X would need 12 GiB)
    sl = slice(0, 2000)
    Xt, yt, _ = reference.projected(G[:, sl], y, Z)
    start = (np.full(2000, 0.01), np.zeros(2000), np.full(2000, 0.1))
    t_ref = best_of(lambda: reference.sweep_incremental(Xt, yt, *start, 1.0, 0.01, -6.0), 1)
    t_ref_full = t_ref * p / 2000
    del Xt
    print(f"  numpy reference sweep (extrapolated from 2,000 SNPs): {t_ref_full:.0f} s "
          f"-> kernel {t_ref_full / t_kernel:.0f}x faster", flush=True)
    t0 = time.perf_counter()
    m = SparseLMM(verbose=True).fit(G, y, Z)
    t_fit = time.perf_counter() - t0
    print(f"  full fit (pi by EM, 10 covariates): {t_fit:.0f} s incl. {t_design:.0f} s set-up, "
          f"{m.n_iter_} iterations, converged={m.converged_}   target < 300 s")
    print(f"  peak resident memory: {peak_rss_gib():.2f} GiB   target < 4 GiB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("size", choices=["sim", "real"])
    args = ap.parse_args()
    bench_sim() if args.size == "sim" else bench_real()
