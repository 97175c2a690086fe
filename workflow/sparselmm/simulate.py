"""Simulated genotypes and phenotypes of the paper's Fig 1 design (Xiao 2019).

Genotypes: independent SNPs, ``MAF ~ U(maf_low, maf_high)``, dosages
``Binomial(2, MAF)``. Phenotype ``y = intercept + Z w + g + e`` with ``Z`` a few
standard-normal covariates of large effect, ``g = X_std beta`` from
``n_causal`` SNPs with ``N(0, 1)`` standardised effects, and ``g`` and ``e``
rescaled so that the SNP heritability ``var(g) / (var(g) + var(e))`` equals
``h2`` exactly in the simulated sample (``e`` is made orthogonal to ``g`` and
``g + e`` has unit variance).
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Simulated:
    genotypes: np.ndarray  # n x p int8
    y: np.ndarray
    covariates: np.ndarray  # n x q
    maf: np.ndarray  # population allele frequency used to draw each SNP
    beta: np.ndarray  # per-allele effects (0 for null SNPs)
    intercept: float  # true intercept once beta is per-allele
    covariate_effects: np.ndarray
    genetic_value: np.ndarray  # g (centred in the sample)
    noise: np.ndarray


def simulate(*, n, p, n_causal, h2, covariate_effects=(1.0, -1.0, 0.5), intercept=0.0,
             maf_range=(0.05, 0.5), seed=0):
    """Simulate one data set. Every draw comes from ``numpy.random.default_rng(seed)``."""
    if not 0 < h2 < 1:
        raise ValueError(f"h2 must lie in (0, 1), got {h2}")
    if not 1 <= n_causal <= p:
        raise ValueError(f"n_causal must be between 1 and p={p}, got {n_causal}")
    lo, hi = maf_range
    if not 0 < lo <= hi <= 0.5:
        raise ValueError(f"maf_range must satisfy 0 < low <= high <= 0.5, got {maf_range}")
    rng = np.random.default_rng(seed)
    maf = rng.uniform(lo, hi, p)
    G = np.empty((n, p), dtype=np.int8, order="F")
    for j in range(p):  # column by column: no n x p int64 temporary
        G[:, j] = rng.binomial(2, maf[j], size=n)
    # redraw any SNP that came out monomorphic in this sample
    for j in np.flatnonzero(G.min(axis=0) == G.max(axis=0)):
        while G[:, j].min() == G[:, j].max():
            G[:, j] = rng.binomial(2, maf[j], size=n)
    w = np.asarray(covariate_effects, dtype=float)
    Z = rng.normal(size=(n, w.size))
    causal = np.sort(rng.choice(p, n_causal, replace=False))
    effect = rng.normal(size=n_causal)
    Gc = G[:, causal].astype(float)
    mean, sd = Gc.mean(axis=0), Gc.std(axis=0)
    g = ((Gc - mean) / sd) @ effect
    scale = np.sqrt(h2 / g.var())
    g *= scale
    e = rng.normal(size=n)
    e -= e.mean()
    e -= g * (g @ e) / (g @ g)  # orthogonal to g: no sample covariance
    e *= np.sqrt((1 - h2) / e.var())
    beta = np.zeros(p)
    beta[causal] = effect * scale / sd
    y = intercept + Z @ w + g + e
    return Simulated(G, y, Z, maf, beta, float(intercept - mean @ beta[causal]), w, g, e)
