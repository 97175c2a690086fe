"""The three steps of one EM-VAMP iteration (the hybrid), each against its baseline.

On one training fold (4/5 of the samples) of the GEUVADIS chr22 genotypes, int8, all
of its SNPs, times per call (median of ``--reps``) and prints the ratio:

* ``X b`` for a dense ``b``: ``_kernels.matvec_raw`` (raw dosages, four SNPs per pass
  over the samples, missing calls taken out afterwards) against ``_kernels.matvec``
  (one SNP at a time, each genotype tested and centred);
* ``X^T z``: ``_kernels.correlations`` (raw dosages, two SNPs per pass) against
  ``_kernels.rmatvec`` (one SNP at a time, each genotype tested and centred);
* the denoiser of the 20-component mixture: ``_vamp.denoise_moments`` (numba kernels
  in blocks around numpy's vectorised exp) against ``_vamp.denoise`` (numpy on p x K
  arrays, the readable version the tests check it against).

and checks that each pair agrees (relative difference printed). Needs the default
run's QC'd genotypes (``snakemake --cores 2``). One core:

    OMP_NUM_THREADS=1 .venv/bin/python bench/vamp_kernels.py [--reps 30]
"""

import argparse
import statistics
import time

import numpy as np

from sparselmm import _kernels, _vamp, plink
from sparselmm.hybrid import default_grid, default_weights

BED = "results/realdata/genotypes/qc"


def timed(f, reps):
    f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    G = plink.read_genotypes(BED)
    keep = np.arange(G.shape[0]) % 5 != 0
    G = np.asfortranarray(G[keep])
    n, p = G.shape
    sentinel = np.int8(_kernels.INT8_MISSING)
    mean, sd, n_missing = _kernels.column_moments(G, sentinel)
    scale = np.divide(1.0, sd, out=np.zeros(p), where=sd > 0)
    ptr, rows = _kernels.missing_calls(G, sentinel, n_missing)
    rng = np.random.default_rng(0)
    b, z = rng.normal(size=p) * 0.01, rng.normal(size=n)
    active = np.flatnonzero(scale > 0)
    mask = scale > 0
    print(f"{n} samples x {p} SNPs, {ptr[-1]} missing calls; median of {args.reps} calls")

    def matvec():
        out = np.zeros(n)
        _kernels.matvec(G, sentinel, mean, scale, b, out)
        return out

    def matvec_raw():
        out = np.zeros(n)
        _kernels.matvec_raw(G, mean, scale, b, ptr, rows, out)
        return out

    def rmatvec():
        out = np.zeros(p)
        _kernels.rmatvec(G, sentinel, mean, scale, mask, z, out)
        return out[active]

    def correlations():
        out = np.empty(active.size)
        _kernels.correlations(G, mean, scale, np.zeros((p, 0)), active, ptr, rows, z,
                              np.zeros(0), out)
        return out

    # a denoiser input as in a fit with signal: most SNPs near 0, a few large
    var = default_grid(p) * 0.6
    pi = default_weights(var.size, p)
    r = rng.normal(size=active.size) * 0.06
    r[:50] *= 10
    gamma = 268.0

    def readable():
        x, v, w, m, c = _vamp.denoise(r, gamma, pi, var)
        return np.concatenate([x, v, w.sum(axis=0), (w * (m * m + c)).sum(axis=0)])

    def compiled():
        return np.concatenate(_vamp.denoise_moments(r, gamma, pi, var))

    print(f"{'step':<12} {'baseline':<22} {'ms':>7}   {'now':<30} {'ms':>7}  speed-up  "
          "max rel. diff")
    for step, (name0, f0), (name1, f1) in (
            ("X b", ("matvec", matvec), ("matvec_raw", matvec_raw)),
            ("X^T z", ("rmatvec", rmatvec), ("correlations", correlations)),
            ("denoiser", ("denoise (numpy, p x K)", readable),
             ("denoise_moments (blocks)", compiled))):
        a, c = f0(), f1()
        diff = float(np.max(np.abs(a - c)) / np.max(np.abs(a)))
        t0, t1 = timed(f0, args.reps), timed(f1, args.reps)
        print(f"{step:<12} {name0:<22} {t0 * 1e3:7.2f}   {name1:<30} {t1 * 1e3:7.2f}  "
              f"{t0 / t1:7.2f}x  {diff:.1e}")


if __name__ == "__main__":
    main()
