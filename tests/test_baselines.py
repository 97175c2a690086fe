"""Baselines: ridge/GBLUP against a direct solve; one monomorphic rule everywhere.

(The Lasso and the elastic net: tests/test_penalised.py.)
"""

import numpy as np
import pytest
import reference
from conftest import simulate_small

from sparselmm.ridge import RidgeREML


def test_ridge_blup_equals_direct_ridge_solve(small_data):
    G, y, Z, _, _ = small_data
    m = RidgeREML().fit(G, y, Z)
    Xt, yt, _ = reference.projected(G, y, Z)
    p = Xt.shape[1]
    # BLUP = ridge regression on the projected data with penalty p * delta
    beta = np.linalg.solve(Xt.T @ Xt + p * m.delta_ * np.eye(p), Xt.T @ yt)
    sd = G.std(0)
    np.testing.assert_allclose(m.coef_, beta / sd, rtol=1e-6, atol=1e-10)


def test_ridge_reml_is_the_maximum(small_data):
    G, y, Z, _, _ = small_data
    m = RidgeREML().fit(G, y, Z)
    Xt, yt, n_eff = reference.projected(G, y, Z)
    p = Xt.shape[1]
    Zf = np.column_stack([np.ones(len(y)), Z])
    Qfull, _ = np.linalg.qr(Zf, mode="complete")
    Qp = Qfull[:, Zf.shape[1]:]
    K = Qp.T @ Xt @ Xt.T @ Qp / p
    yp = Qp.T @ yt

    def reml(delta):  # profile REML likelihood, dense
        V = K + delta * np.eye(K.shape[0])
        s2 = yp @ np.linalg.solve(V, yp) / yp.size
        return -0.5 * (yp.size * np.log(s2) + np.linalg.slogdet(V)[1])

    assert reml(m.delta_) == pytest.approx(m.reml_, rel=1e-9)
    for f in (0.8, 1.25):
        assert reml(m.delta_ * f) < m.reml_


def test_ridge_heritability_on_polygenic_data():
    G, y, Z, _, g = simulate_small(n=800, p=400, n_causal=400, h2=0.5, seed=8)
    m = RidgeREML().fit(G, y, Z)
    assert m.converged_ and not m.at_bound_
    assert 0.3 < m.pve_ < 0.7
    assert np.corrcoef(m.predict_genetic(G), g)[0, 1] > 0.7


def test_ridge_without_signal_is_at_the_bound_not_failed():
    G, _, Z, _, _ = simulate_small(n=300, p=200, n_causal=1, h2=0.5, seed=2)
    # no genetic signal at all; for this draw the REML optimum is h2 = 0 (about half
    # of pure-noise draws land there, the others at a small interior h2)
    y = np.random.default_rng(2).normal(size=300)
    m = RidgeREML().fit(G, y, Z)
    assert m.at_bound_ and m.converged_
    assert m.pve_ < 1e-3


def test_one_monomorphic_rule_everywhere():
    # the design of every model (variational, ridge, Lasso) and the PCs all use
    # _design.inverse_sd: a column constant up to rounding gets scale 0
    from sparselmm._design import build_design, inverse_sd
    from sparselmm.penalised import ProjectedLassoCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) + 2.0
    X[:, 1] = 1.7 + 1e-13 * rng.normal(size=50)
    expected = [1 / X[:, 0].std(), 0.0, 1 / X[:, 2].std()]
    np.testing.assert_allclose(inverse_sd(X.mean(0), X.std(0)), expected)
    y = X[:, 0] + rng.normal(size=50)
    np.testing.assert_allclose(build_design(X, y, None).scale, expected)
    assert ProjectedLassoCV(n_alphas=5).fit(X, y).coef_[1] == 0.0


# -- top1: the single best SNP ---------------------------------------------------------
def marginal_scan(G, y, Z):
    """Every SNP's regression y ~ 1 + Z + x_j by least squares (missing calls at the
    SNP's mean): the t statistic and coefficient of x_j; monomorphic SNPs skipped."""
    X = G.astype(float)
    X[G == -127] = np.nan
    X = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    n = len(y)
    base = np.column_stack([np.ones(n), Z])
    t, coef = np.full(X.shape[1], np.nan), np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        if np.ptp(X[:, j]) == 0:
            continue
        A = np.column_stack([base, X[:, j]])
        beta, *_ = np.linalg.lstsq(A, y, rcond=None)
        resid = y - A @ beta
        s2 = resid @ resid / (n - A.shape[1])
        cov = s2 * np.linalg.inv(A.T @ A)
        t[j], coef[j] = beta[-1] / np.sqrt(cov[-1, -1]), beta[-1]
    return t, coef, base


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top1_equals_a_direct_marginal_scan(seed):
    from sparselmm import TopSNP

    rng = np.random.default_rng(seed)
    n, p = 80, 40
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    G[:, 4] = 1  # monomorphic
    G[rng.random((n, p)) < 0.03] = -127
    G[:, 4] = 1
    Z = rng.normal(size=(n, 2))
    y = 0.4 * np.where(G[:, 7] == -127, 1, G[:, 7]) + Z @ [1.0, -0.5] + rng.normal(size=n)
    m = TopSNP().fit(G, y, Z)
    t, coef, base = marginal_scan(G, y, Z)
    j = int(np.nanargmax(np.abs(t)))
    assert m.snp_ == j
    assert np.count_nonzero(m.coef_) == 1 and m.coef_[j] == pytest.approx(coef[j], rel=1e-9)
    # the covariate effects and intercept of that regression, and its fitted values
    X = np.where(G[:, j] == -127, np.nanmean(np.where(G[:, j] == -127, np.nan, G[:, j])),
                 G[:, j])
    A = np.column_stack([base, X])
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(m.predict(G, Z), A @ beta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(m.covariate_coef_, beta[1:3], rtol=1e-9)
    # z = sqrt(n - k) r, and |t| is the same ranking: t = z sqrt(n'-1) / sqrt(n' - z^2)
    n_eff = n - base.shape[1]
    r = m.z_ / np.sqrt(n_eff)
    assert abs(t[j]) == pytest.approx(abs(r) * np.sqrt((n_eff - 1) / (1 - r * r)), rel=1e-9)
    # int8 and float input give the same fit
    Gf = np.where(G == -127, np.nan, G).astype(float)
    np.testing.assert_allclose(TopSNP().fit(Gf, y, Z).coef_, m.coef_, rtol=1e-12, atol=1e-15)
