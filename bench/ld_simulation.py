"""The coalescent genotypes of configs/fig1_ld.yaml: time to simulate, and their LD.

Simulates one data set of the Fig 1 size (1,000 x 20,000, MAF >= 0.05) with
``sparselmm.simulate.coalescent_genotypes`` on one core and reports its wall time
against the paper's independent design (``independent_genotypes``, the baseline,
same run), then the mean r^2 between SNPs about 1, 10 and 100 kb apart (pairs
whose distance is within 20 % of the target; up to 5,000 random pairs each) for
both designs (the independent SNPs placed at the coalescent positions).

    OMP_NUM_THREADS=1 .venv/bin/python bench/ld_simulation.py [n] [p] [seed]
"""

import sys
import time

import numpy as np

from sparselmm.simulate import coalescent_genotypes, independent_genotypes


def mean_r2(G, pos, distance, rng, pairs=5000):
    X = G.astype(float)
    X = (X - X.mean(0)) / X.std(0)
    j = rng.integers(0, len(pos), 4 * pairs)
    k = np.searchsorted(pos, pos[j] + distance)
    ok = k < len(pos)
    j, k = j[ok], k[ok]
    near = np.abs(pos[k] - pos[j] - distance) <= 0.2 * distance
    j, k = j[near][:pairs], k[near][:pairs]
    r = np.einsum("ij,ij->j", X[:, j], X[:, k]) / X.shape[0]
    return float(np.mean(r**2)), len(j)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    p = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    t = time.perf_counter()
    co = coalescent_genotypes(n, p, (0.05, 0.5), seed)
    t_co = time.perf_counter() - t
    t = time.perf_counter()
    G_ind, _ = independent_genotypes(n, p, (0.05, 0.5), np.random.default_rng(seed))
    t_ind = time.perf_counter() - t
    span = (co.positions[-1] - co.positions[0]) / 1e6
    print(f"coalescent {n} x {p}: {t_co:.1f} s (independent design {t_ind:.1f} s, "
          f"ratio {t_co / t_ind:.1f}); {span:.1f} Mb, {p / span / 1000:.2f} SNPs per kb")
    rng = np.random.default_rng(0)
    print("distance  mean r^2 coalescent  independent  (pairs)")
    for d in (1_000, 10_000, 100_000):
        r_co, m = mean_r2(co.dosages, co.positions, d, rng)
        r_ind, _ = mean_r2(G_ind, co.positions, d, rng)
        print(f"{d // 1000:>5} kb  {r_co:>18.4f}  {r_ind:>11.4f}  ({m})")
    print(f"(1/n = {1 / n:.4f}: the r^2 of independent SNPs)")


if __name__ == "__main__":
    main()
