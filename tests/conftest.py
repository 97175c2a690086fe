import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


def simulate_small(n=300, p=1000, n_causal=5, h2=0.5, seed=1, dtype=np.int8):
    """Genotypes of the paper's design (MAF ~ U(0.05, 0.5)), 3 covariates."""
    rng = np.random.default_rng(seed)
    maf = rng.uniform(0.05, 0.5, p)
    G = rng.binomial(2, maf, size=(n, p)).astype(dtype)
    Z = rng.normal(size=(n, 3))
    beta = np.zeros(p)
    causal = rng.choice(p, n_causal, replace=False)
    beta[causal] = rng.normal(size=n_causal)
    Xs = (G - G.mean(0)) / G.std(0)
    g = Xs @ beta
    g *= math.sqrt(h2 / g.var())
    y = 1.0 + Z @ np.array([3.0, -2.0, 1.0]) + g + rng.normal(size=n) * math.sqrt(1 - h2)
    return G, y, Z, causal, g


def ld_block_genotypes(rng, n, blocks, size, redraw):
    """``blocks`` blocks of ``size`` SNPs, each SNP a copy of its block's SNP (MAF ~
    U(0.1, 0.5)) with a share ``redraw`` of its genotypes redrawn (MAF 0.3)."""
    cols = []
    for _ in range(blocks):
        base = rng.binomial(2, rng.uniform(0.1, 0.5), n)
        for _ in range(size):
            c = base.copy()
            idx = rng.random(n) < redraw
            c[idx] = rng.binomial(2, 0.3, idx.sum())
            cols.append(c)
    return np.column_stack(cols).astype(np.int8)


@pytest.fixture(scope="session")
def small_data():
    return simulate_small()
