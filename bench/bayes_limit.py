"""How far is the variational fit from the best possible prediction on Fig 1's hardest cells?

In the simulation the SNP effects *are* drawn from a spike-and-slab prior
(``n_causal`` of ``p`` SNPs, normal effects), so the best predictor in mean
squared error is the exact posterior mean under that prior with the true
hyperparameters. This benchmark estimates it by Gibbs sampling (the
baseline, "exact Bayes") and compares, on the same data and split:

* ``sparselmm``       SparseLMM, variational EM (hyperparameters estimated);
* ``sparselmm_true``  the same variational fit with the true pi, sigma_b^2, sigma_e^2;
* ``hybrid_mf``       HybridLMM (mixture-of-normals prior, weights by EM), mean field;
* ``hybrid``          the same model with VAMP as the E-step (the workflow's default);
* ``gibbs_true``      posterior mean by Gibbs sampling with the true hyperparameters;
* ``oracle``          the true effects.

It prints the held-out R^2 of the SNP part (the workflow's ``r2_snp``) per
data set and the mean difference of every method from ``gibbs_true``.
Sizes are the workflow's defaults (n = 1,000 of which 800 train, p = 20,000).

    python bench/bayes_limit.py [n_causal=100] [n_datasets=3] [sweeps=1500]
"""

import math
import sys
import time

import numpy as np
from numba import njit

from sparselmm import HybridLMM, SparseLMM
from sparselmm._design import covariate_matrix, inverse_sd, orthonormal_basis
from sparselmm.cv import covariate_fit, heldout_metrics
from sparselmm.simulate import simulate


def standardised(G):
    """Dense standardised copy of simulated dosages (no missing calls), mean, 1/SD."""
    mean, sd = G.mean(axis=0), G.std(axis=0)
    scale = inverse_sd(mean, sd)
    return (G - mean) * scale, mean, scale


@njit(cache=True)
def gibbs_mean(X, y, d, pi, sigma2_b, sigma2_e, n_sweeps, burn, seed):
    """Posterior mean of beta under beta_j ~ (1-pi) delta_0 + pi N(0, sigma2_e sigma2_b),
    y ~ N(X beta, sigma2_e I), by single-site Gibbs sampling of (gamma_j, beta_j)
    with the other effects fixed; the mean is Rao-Blackwellised
    (E[beta_j | rest] is averaged rather than the draws)."""
    np.random.seed(seed)
    n, p = X.shape
    beta = np.zeros(p)
    r = y.copy()
    total = np.zeros(p)
    logodds = math.log(pi / (1.0 - pi))
    for it in range(n_sweeps):
        for j in range(p):
            xr = d[j] * beta[j]
            for i in range(n):
                xr += X[i, j] * r[i]
            s2 = sigma2_e * sigma2_b / (sigma2_b * d[j] + 1.0)
            mu = s2 / sigma2_e * xr
            z = logodds + 0.5 * (math.log(s2 / (sigma2_b * sigma2_e)) + mu * mu / s2)
            prob = 1.0 / (1.0 + math.exp(-z)) if z > -40.0 else 0.0
            if it >= burn:
                total[j] += prob * mu
            new = mu + math.sqrt(s2) * np.random.standard_normal() \
                if np.random.random() < prob else 0.0
            if new != beta[j]:
                delta = new - beta[j]
                for i in range(n):
                    r[i] -= X[i, j] * delta
                beta[j] = new
    return total / (n_sweeps - burn)


def split(n, seed):
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).choice(n, n // 5, replace=False)] = True
    return ~test, test


def run_dataset(n_causal, h2, seed, sweeps):
    s = simulate(n=1000, p=20_000, n_causal=n_causal, h2=h2,
                 covariate_effects=(1.0, -0.7, 0.5), seed=seed)
    tr, te = split(1000, seed + 1)
    G, y, Z = s.genotypes, s.y, s.covariates
    p = G.shape[1]
    cov_pred = covariate_fit(Z[tr], y[tr], Z[te])
    truth = dict(pi=n_causal / p, sigma2_e=1 - h2, sigma2_b=h2 / n_causal / (1 - h2))
    out, seconds = {}, {}

    def score(name, pred, t0):
        out[name] = heldout_metrics(y[te], pred, cov_pred)["r2_snp"]
        seconds[name] = time.perf_counter() - t0

    models = {
        "sparselmm": SparseLMM(),
        "sparselmm_true": SparseLMM(pi_mode="fixed", pi=truth["pi"], sigma2_b=truth["sigma2_b"],
                                    estimate_sigma2_b=False, sigma2_e=truth["sigma2_e"],
                                    estimate_sigma2_e=False),
        "hybrid_mf": HybridLMM(inference="mean_field"),
        "hybrid": HybridLMM(inference="vamp"),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(G[tr], y[tr], Z[tr])
        score(name, model.predict(G[te], Z[te]), t0)
    t0 = time.perf_counter()
    Xs, mean, scale = standardised(G[tr])
    Q, _ = orthonormal_basis(covariate_matrix(Z[tr], int(tr.sum())))
    Xp, yp = Xs - Q @ (Q.T @ Xs), y[tr] - Q @ (Q.T @ y[tr])
    b = gibbs_mean(Xp, yp, (Xp ** 2).sum(axis=0), truth["pi"], truth["sigma2_b"],
                   truth["sigma2_e"], sweeps, sweeps // 5, seed)
    Xte = (G[te] - mean) * scale
    score("gibbs_true", covariate_fit(Z[tr], y[tr] - Xs @ b, Z[te]) + Xte @ b, t0)
    t0 = time.perf_counter()
    oracle = G[te].astype(float) @ s.beta
    score("oracle", covariate_fit(Z[tr], y[tr] - G[tr].astype(float) @ s.beta, Z[te]) + oracle,
          t0)
    return out, seconds


def main(n_causal=100, n_datasets=3, sweeps=1500):
    n_causal, n_datasets, sweeps = int(n_causal), int(n_datasets), int(sweeps)
    rows = []
    for h2 in (0.5, 0.8):
        for k in range(n_datasets):
            r, sec = run_dataset(n_causal, h2, 1000 + k, sweeps)
            rows.append((h2, r))
            print(f"h2={h2} data set {k}: " + "  ".join(f"{m} {v:.4f} ({sec[m]:.0f} s)"
                                                       for m, v in r.items()), flush=True)
    print(f"\n{n_causal} causal SNPs, mean held-out r2_snp over {n_datasets} data sets; "
          f"difference from the baseline gibbs_true (exact posterior mean, {sweeps} sweeps):")
    for h2 in (0.5, 0.8):
        sel = [r for h, r in rows if h == h2]
        names = list(sel[0])
        line = "  ".join(f"{m} {np.mean([r[m] for r in sel]):.4f} "
                         f"({np.mean([r[m] - r['gibbs_true'] for r in sel]):+.4f})" for m in names)
        print(f"h2={h2}: {line}")


if __name__ == "__main__":
    main(*sys.argv[1:])
