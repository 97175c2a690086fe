"""Slow, readable numpy versions of the model's computations, for the tests.

Written from the equations in ``sparselmm.model`` (not from the kernels), with
a dense projected design ``Xt = P X`` and no tricks.
"""

import itertools
import math

import numpy as np


def projected(X, y, Z, standardize=True):
    """Dense ``P X`` (standardised, mean-imputed) and ``P y``."""
    raw = np.asarray(X)
    X = raw.astype(float)
    if raw.dtype == np.int8:
        X[raw == -127] = np.nan
    m = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), m, X) - m
    sd = X.std(axis=0)
    if standardize:
        X = np.divide(X, sd, out=np.zeros_like(X), where=sd > 0)
    n = X.shape[0]
    Zf = np.ones((n, 1)) if Z is None else np.column_stack([np.ones(n), Z])
    P = np.eye(n) - Zf @ np.linalg.pinv(Zf)
    return P @ X, P @ y, n - Zf.shape[1]


def complement_basis(Z, n):
    """Orthonormal basis (n x n') of the complement of ``[1, Z]``, where ``P y`` lives."""
    Zf = np.ones((n, 1)) if Z is None else np.column_stack([np.ones(n), Z])
    full, _ = np.linalg.qr(np.column_stack([Zf, np.eye(n)]))
    return full[:, Zf.shape[1]:n]


def sweep(Xt, yt, alpha, mu, s2, sigma2, sa, logodds, order=None):
    """One coordinate pass (SNPs in ``order``, default all in index order) with
    the residual recomputed densely each time."""
    alpha, mu, s2 = alpha.copy(), mu.copy(), s2.copy()
    for j in range(Xt.shape[1]) if order is None else order:
        dj = Xt[:, j] @ Xt[:, j]
        b = alpha * mu
        b[j] = 0.0
        r = yt - Xt @ b
        s2[j] = sigma2 * sa / (sa * dj + 1)
        mu[j] = s2[j] / sigma2 * (Xt[:, j] @ r)
        z = logodds + 0.5 * (math.log(s2[j] / (sa * sigma2)) + mu[j] ** 2 / s2[j])
        alpha[j] = 1 / (1 + math.exp(-z))
    return alpha, mu, s2


def elbo(Xt, yt, n_eff, alpha, mu, s2, sigma2, sa, pi):
    d = np.einsum("ij,ij->j", Xt, Xt)
    r = yt - Xt @ (alpha * mu)
    e_rss = r @ r + d @ (alpha * (mu**2 + s2) - (alpha * mu) ** 2)
    ll = -0.5 * n_eff * math.log(2 * math.pi * sigma2) - e_rss / (2 * sigma2)
    vb = sigma2 * sa
    kl_b = 0.5 * np.sum(alpha * (np.log(vb / s2) + (mu**2 + s2) / vb - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_g = np.nansum(alpha * np.log(alpha / pi)) + np.nansum(
            (1 - alpha) * np.log((1 - alpha) / (1 - pi)))
    return ll - kl_b - kl_g


def enumerate_posterior(Xt, yt, n_eff, sigma2, sa, pi):
    """Exact PIPs and log marginal likelihood over all 2^p models."""
    n, p = Xt.shape
    logs, models = [], []
    for gamma in itertools.product([0, 1], repeat=p):
        idx = np.flatnonzero(gamma)
        k = idx.size
        lp = k * math.log(pi) + (p - k) * math.log(1 - pi)
        quad = yt @ yt
        logdet = 0.0
        if k:
            Xg = Xt[:, idx]
            A = Xg.T @ Xg + np.eye(k) / sa
            xy = Xg.T @ yt
            quad -= xy @ np.linalg.solve(A, xy)
            logdet = np.linalg.slogdet(np.eye(k) + sa * Xg.T @ Xg)[1]
        ll = -0.5 * n_eff * math.log(2 * math.pi * sigma2) - 0.5 * logdet - quad / (2 * sigma2)
        logs.append(lp + ll)
        models.append(gamma)
    logs = np.array(logs)
    logz = logs.max() + math.log(np.exp(logs - logs.max()).sum())
    post = np.exp(logs - logz)
    pip = post @ np.array(models)
    return pip, logz


def enumerate_mixture(Xt, yt, n_eff, sigma2, grid, pi):
    """Exact inclusion probabilities, posterior means and log evidence under the
    mixture prior ``beta_j ~ pi_0 delta_0 + sum_k pi_k N(0, sigma2 grid_k)``,
    summing over all ``K^p`` assignments of SNPs to components."""
    n, p = Xt.shape
    logs, pips, means = [], [], []
    for comp in itertools.product(range(len(grid)), repeat=p):
        comp = np.array(comp)
        idx = np.flatnonzero(comp)
        lp = float(np.sum(np.log(np.asarray(pi)[comp])))
        quad, logdet, mean = yt @ yt, 0.0, np.zeros(p)
        if idx.size:
            Xg, v = Xt[:, idx], np.asarray(grid, dtype=float)[comp[idx]]
            A = Xg.T @ Xg + np.diag(1.0 / v)
            xy = Xg.T @ yt
            mean[idx] = np.linalg.solve(A, xy)
            quad -= xy @ mean[idx]
            logdet = np.linalg.slogdet(np.eye(idx.size) + v[:, None] * (Xg.T @ Xg))[1]
        logs.append(lp - 0.5 * n_eff * math.log(2 * math.pi * sigma2) - 0.5 * logdet
                    - quad / (2 * sigma2))
        pips.append(comp > 0)
        means.append(mean)
    logs = np.array(logs)
    logz = logs.max() + math.log(np.exp(logs - logs.max()).sum())
    post = np.exp(logs - logz)
    return post @ np.array(pips, dtype=float), post @ np.array(means), logz


def sweep_incremental(Xt, yt, alpha, mu, s2, sigma2, sa, logodds):
    """The same pass as :func:`sweep`, keeping the residual up to date instead
    of recomputing it: plain numpy, one SNP at a time (the benchmarks' baseline)."""
    alpha, mu, s2 = alpha.copy(), mu.copy(), s2.copy()
    d = np.einsum("ij,ij->j", Xt, Xt)
    r = yt - Xt @ (alpha * mu)
    for j in range(Xt.shape[1]):
        xj = Xt[:, j]
        b_old = alpha[j] * mu[j]
        s2[j] = sigma2 * sa / (sa * d[j] + 1)
        mu[j] = s2[j] / sigma2 * (xj @ r + d[j] * b_old)
        z = logodds + 0.5 * (math.log(s2[j] / (sa * sigma2)) + mu[j] ** 2 / s2[j])
        alpha[j] = 1 / (1 + math.exp(-z))
        r -= xj * (alpha[j] * mu[j] - b_old)
    return alpha, mu, s2
