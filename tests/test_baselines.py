"""Baselines: ridge/GBLUP against a direct solve, the Lasso against scikit-learn."""

import numpy as np
import pytest
import reference
from conftest import simulate_small

from sparselmm.baselines import ProjectedLassoCV
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


def test_lasso_celer_and_sklearn_paths_agree(small_data):
    G, y, Z, _, _ = small_data
    a = ProjectedLassoCV(solver="celer", tol=1e-8, n_alphas=15).fit(G, y, Z)
    b = ProjectedLassoCV(solver="sklearn", tol=1e-8, n_alphas=15).fit(G, y, Z)
    assert a.alpha_ == b.alpha_
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)
    np.testing.assert_allclose(a.predict(G, Z), b.predict(G, Z), atol=1e-3)


def test_elastic_net_celer_and_sklearn_paths_agree(small_data):
    from sparselmm.baselines import ProjectedElasticNetCV

    G, y, Z, _, _ = small_data
    a = ProjectedElasticNetCV(solver="celer", tol=1e-8, n_alphas=15, l1_ratio=0.3).fit(G, y, Z)
    b = ProjectedElasticNetCV(solver="sklearn", tol=1e-8, n_alphas=15, l1_ratio=0.3).fit(G, y, Z)
    assert a.alpha_ == b.alpha_
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)


def test_lasso_matches_sklearn_lasso_with_unpenalised_covariates(small_data):
    # projecting Z out gives the same SNP effects as leaving Z unpenalised
    from sklearn.linear_model import Lasso

    G, y, Z, _, _ = small_data
    m = ProjectedLassoCV(tol=1e-10, n_alphas=10).fit(G, y, Z)
    Xt, yt, _ = reference.projected(G, y, Z)
    ref = Lasso(alpha=m.alpha_, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(Xt, yt)
    np.testing.assert_allclose(m.coef_ * G.std(0), ref.coef_, atol=1e-5)


@pytest.mark.parametrize("solver", ["celer", "sklearn"])
def test_elastic_net_matches_sklearn_with_unpenalised_covariates(small_data, solver):
    from sklearn.linear_model import ElasticNet

    from sparselmm.baselines import ProjectedElasticNetCV

    G, y, Z, _, _ = small_data
    m = ProjectedElasticNetCV(l1_ratio=0.5, tol=1e-10, n_alphas=10, solver=solver).fit(G, y, Z)
    Xt, yt, _ = reference.projected(G, y, Z)
    ref = ElasticNet(alpha=m.alpha_, l1_ratio=0.5, fit_intercept=False, tol=1e-12,
                     max_iter=100_000).fit(Xt, yt)
    np.testing.assert_allclose(m.coef_ * G.std(0), ref.coef_, atol=1e-5)
    assert m.alphas_[0] == pytest.approx(np.abs(Xt.T @ yt).max() / (len(y) * 0.5))


def test_one_monomorphic_rule_everywhere():
    # the dense copy of the Lasso, the variational models' design and the PCs
    # all use _design.inverse_sd: a column constant up to rounding gets scale 0
    from sparselmm._design import build_design, inverse_sd
    from sparselmm.baselines import _standardised_dense

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) + 2.0
    X[:, 1] = 1.7 + 1e-13 * rng.normal(size=50)
    expected = [1 / X[:, 0].std(), 0.0, 1 / X[:, 2].std()]
    np.testing.assert_allclose(inverse_sd(X.mean(0), X.std(0)), expected)
    np.testing.assert_allclose(_standardised_dense(X)[3], expected)
    np.testing.assert_allclose(build_design(X, rng.normal(size=50), None).scale, expected)
