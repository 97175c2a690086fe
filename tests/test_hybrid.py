"""HybridLMM (point mass + normal mixture) against exact answers and SparseLMM."""

import math

import numpy as np
import pytest
import reference
from conftest import simulate_small
from test_model import orthogonal_problem

from sparselmm import HybridLMM, SparseLMM


def test_two_components_with_fixed_hyperparameters_is_sparselmm(small_data):
    G, y, Z, _, _ = small_data
    common = dict(sigma2_e=0.9, estimate_sigma2_e=False, tol=1e-10, elbo_tol=0.0)
    s = SparseLMM(pi_mode="fixed", pi=0.02, sigma2_b=0.15, estimate_sigma2_b=False,
                  **common).fit(G, y, Z)
    h = HybridLMM(prior_var=[0, 0.15], weights=[0.98, 0.02], estimate_weights=False,
                  **common).fit(G, y, Z)
    np.testing.assert_allclose(h.pip_, s.pip_, atol=1e-8)
    np.testing.assert_allclose(h.coef_, s.coef_, atol=1e-8)
    np.testing.assert_allclose(h.elbo_[-1], s.elbo_[-1], rtol=1e-10)


def mixture_evidence_orthogonal(Xt, yt, n_eff, sigma2, grid, pi):
    """Exact log evidence and posterior means when X^T X is diagonal.

    The likelihood then factorises over SNPs: y~ projected on x_j only informs
    beta_j, and each beta_j has a 1-D normal-mixture posterior.
    """
    d = np.einsum("ij,ij->j", Xt, Xt)
    xy = Xt.T @ yt
    logz = -0.5 * n_eff * math.log(2 * math.pi * sigma2) - yt @ yt / (2 * sigma2)
    means = []
    for j in range(Xt.shape[1]):
        logs, post_means = [math.log(pi[0])], [0.0]
        for k in range(1, len(grid)):
            # Bayes factor of N(0, sigma2 v) against 0 for a single regressor
            v = grid[k]
            logs.append(math.log(pi[k]) - 0.5 * math.log(1 + v * d[j])
                        + xy[j] ** 2 * v / (2 * sigma2 * (1 + v * d[j])))
            post_means.append(xy[j] * v / (1 + v * d[j]))
        logs = np.array(logs)
        m = logs.max()
        w = np.exp(logs - m)
        logz += m + math.log(w.sum())
        means.append(float(w @ post_means / w.sum()))
    return logz, np.array(means)


def test_orthogonal_design_is_exact():
    X, y, Z = orthogonal_problem(p=6)
    grid = np.array([0.0, 0.01, 0.1, 1.0])
    pi = np.array([0.5, 0.2, 0.2, 0.1])
    h = HybridLMM(prior_var=grid, weights=pi, estimate_weights=False, sigma2_e=1.3,
                  estimate_sigma2_e=False, standardize=False, tol=1e-12,
                  elbo_tol=0.0).fit(X, y, Z)
    Xt, yt, n_eff = reference.projected(X, y, Z, standardize=False)
    logz, means = mixture_evidence_orthogonal(Xt, yt, n_eff, 1.3, grid, pi)
    np.testing.assert_allclose(h.coef_, means, rtol=1e-8, atol=1e-12)
    assert h.elbo_[-1] == pytest.approx(logz, abs=1e-8)


def test_correlated_tiny_problem_close_to_enumeration():
    # SNP 2 is a copy of the causal SNP 1 with 30 of 200 genotypes redrawn (r = 0.82):
    # mean field is an approximation here; compare with the exact posterior
    # summed over all 3^7 assignments of SNPs to components
    G, y, Z, causal, _ = simulate_small(n=200, p=7, n_causal=2, h2=0.6, seed=3)
    rng = np.random.default_rng(0)
    G[:, 2] = G[:, 1]
    rows = rng.choice(200, 30, replace=False)
    G[rows, 2] = rng.binomial(2, 0.3, 30)
    grid, pi = np.array([0.0, 0.002, 0.3]), np.array([0.7, 0.2, 0.1])
    h = HybridLMM(prior_var=grid, weights=pi, estimate_weights=False, sigma2_e=1.1,
                  estimate_sigma2_e=False, tol=1e-12, elbo_tol=0.0).fit(G, y, Z)
    Xt, yt, n_eff = reference.projected(G, y, Z)
    pip, mean, logz = reference.enumerate_mixture(Xt, yt, n_eff, 1.1, grid, pi)
    # measured: PIP error 0.027 (on the LD partner), posterior-mean error 0.0017
    # (largest effect 0.74), ELBO 0.035 below the log evidence
    assert np.abs(h.pip_ - pip).max() < 0.05
    assert np.abs(h.coef_ * G.std(0) - mean).max() < 0.01
    assert logz - 0.5 < h.elbo_[-1] <= logz + 1e-9  # a lower bound, and a tight one


@pytest.mark.parametrize("est_e,est_w", [(True, True), (True, False), (False, True)])
def test_elbo_never_decreases(small_data, est_e, est_w):
    G, y, Z, _, _ = small_data
    h = HybridLMM(estimate_sigma2_e=est_e, estimate_weights=est_w, n_components=8).fit(G, y, Z)
    assert np.diff(h.elbo_).min() >= -1e-8 * abs(h.elbo_[-1])
    assert h.converged_ and np.isfinite(h.coef_).all()
    assert h.weights_.sum() == pytest.approx(1.0)


def test_sparse_plus_polygenic_signal():
    # 5 large effects carrying half of h2 = 0.6 plus 400 small ones (BSLMM's case)
    rng = np.random.default_rng(4)
    n, p = 700, 1000
    G = rng.binomial(2, rng.uniform(0.05, 0.5, p), size=(n, p)).astype(np.int8)
    Xs = (G - G.mean(0)) / G.std(0)
    big, small = Xs[:, :5] @ rng.normal(size=5), Xs[:, 5:405] @ rng.normal(size=400)
    g = big * math.sqrt(0.3 / big.var()) + small * math.sqrt(0.3 / small.var())
    y = g + rng.normal(size=n) * math.sqrt(0.4)
    tr, te = np.arange(560), np.arange(560, n)
    h = HybridLMM().fit(G[tr], y[tr])
    s = SparseLMM().fit(G[tr], y[tr])

    def r2_genetic(m):
        return np.corrcoef(m.predict_genetic(G[te]), g[te])[0, 1] ** 2

    # measured: hybrid 0.451, SparseLMM 0.426 (squared correlation with g)
    assert r2_genetic(h) > r2_genetic(s) + 0.01, (r2_genetic(h), r2_genetic(s))
    assert r2_genetic(h) > 0.4
    assert 0.2 < h.pve_ < 0.8
    # the point mass keeps most of the weight; the rest spreads over the normals
    assert 0.5 < h.weights_[0] < 1


def test_sparse_signal_is_still_found(small_data):
    G, y, Z, causal, g = small_data
    h = HybridLMM().fit(G, y, Z)
    assert np.corrcoef(h.predict_genetic(G), g)[0, 1] > 0.95
    assert set(np.argsort(-h.pip_)[:3]) <= set(causal)


def test_bad_hybrid_options(small_data):
    G, y, Z, _, _ = small_data
    with pytest.raises(ValueError, match="prior_var must be"):
        HybridLMM(prior_var=[0.1, 1.0]).fit(G, y, Z)
    with pytest.raises(ValueError, match="weights must be 3"):
        HybridLMM(prior_var=[0, 0.1, 1.0], weights=[0.5, 0.5]).fit(G, y, Z)
