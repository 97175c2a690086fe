"""The int8 Lasso / elastic-net solver against scikit-learn, KKT and duality."""

import numpy as np
import pytest
import reference
from conftest import simulate_small

from sparselmm import _kernels, penalised
from sparselmm._design import build_design, row_subsets
from sparselmm.penalised import ProjectedElasticNetCV, ProjectedLassoCV


def awkward_data(seed=0, n=160, p=300):
    """Small int8 data with what real files have: missing calls, monomorphic SNPs,
    a SNP missing everywhere but one sample, covariates with large effects."""
    G, y, Z, causal, _ = simulate_small(n=n, p=p, n_causal=8, h2=0.6, seed=seed)
    rng = np.random.default_rng(seed + 100)
    G[rng.random(G.shape) < 0.03] = _kernels.INT8_MISSING
    G[:, 5] = 1  # monomorphic
    G[:, 17] = 2
    G[:, 17][rng.random(n) < 0.5] = _kernels.INT8_MISSING  # monomorphic among observed
    return G, y, Z, causal


def float_copy(G):
    X = G.astype(float)
    X[G == _kernels.INT8_MISSING] = np.nan
    return X


def imputed_sd(G):
    """SD of each column with missing calls imputed to the column mean (over all rows)."""
    X = float_copy(G)
    centred = np.where(np.isnan(X), 0.0, X - np.nanmean(X, axis=0))
    return np.sqrt((centred**2).mean(axis=0))


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.2])
def test_coefficients_equal_sklearn_with_unpenalised_covariates(l1_ratio):
    from sklearn.linear_model import ElasticNet

    G, y, Z, _ = awkward_data()
    m = ProjectedElasticNetCV(l1_ratio=l1_ratio, tol=1e-12, n_alphas=12).fit(G, y, Z)
    assert m.converged_ and m.n_nonzero_ > 0
    Xt, yt, _ = reference.projected(G, y, Z)  # dense P X (standardised, mean-imputed), P y
    ref = ElasticNet(alpha=m.alpha_, l1_ratio=l1_ratio, fit_intercept=False, tol=1e-14,
                     max_iter=200_000).fit(Xt, yt)
    np.testing.assert_allclose(m.coef_ * imputed_sd(G), ref.coef_, atol=1e-6)
    assert m.coef_[5] == 0 and m.coef_[17] == 0
    assert m.alphas_[0] == pytest.approx(np.abs(Xt.T @ yt).max() / (len(y) * l1_ratio))


def test_projected_fit_is_the_fit_with_unpenalised_covariates():
    # optimality of (w, b) for ||y - [1 Z] w - X b||^2 / 2n + alpha ||b||_1 itself,
    # without any projection: d/dw = 0 and the Lasso's KKT conditions in b
    G, y, Z, _ = awkward_data(seed=3)
    m = ProjectedLassoCV(tol=1e-12, n_alphas=10).fit(G, y, Z)
    X = float_copy(G)
    n = len(y)
    resid = y - m.predict(X, Z)
    Zf = np.column_stack([np.ones(n), Z])
    np.testing.assert_allclose(Zf.T @ resid / n, 0, atol=1e-9)
    mean = np.nanmean(X, axis=0)
    Xc = np.where(np.isnan(X), 0.0, X - mean)  # raw (unstandardised) centred dosages
    # penalty on standardised effects: |x_j^T r| / (n sd_j) <= alpha, = alpha where b_j != 0
    sd = np.sqrt((Xc**2).mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(sd > 0, Xc.T @ resid / (n * sd), 0.0)
    nz = m.coef_ != 0
    assert np.all(np.abs(score) <= m.alpha_ * (1 + 1e-6))
    np.testing.assert_allclose(score[nz], m.alpha_ * np.sign(m.coef_[nz]), rtol=1e-5)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_kkt_conditions_hold_at_every_penalty_of_the_path(l1_ratio):
    G, y, Z, _ = awkward_data(seed=1)
    design = build_design(G, y, Z)
    full = penalised._full_rows(design)
    Xt, yt, _ = reference.projected(G, y, Z)
    n = len(y)
    alpha_max = np.abs(Xt.T @ yt).max() / (n * l1_ratio)
    alphas = alpha_max * np.geomspace(1, 0.01, 25)
    seen = 0
    for k, b, v, gap, converged in penalised.enet_path(design, full, alphas, l1_ratio=l1_ratio,
                                                       tol=1e-12):
        assert converged and gap <= 1e-12 * (yt @ yt)
        l1, l2 = n * alphas[k] * l1_ratio, n * alphas[k] * (1 - l1_ratio)
        g = Xt.T @ (yt - Xt @ b) - l2 * b  # dense, independent of the kernels
        nz = b != 0
        assert np.all(np.abs(g[~nz]) <= l1 * (1 + 1e-6))
        np.testing.assert_allclose(g[nz], l1 * np.sign(b[nz]), rtol=1e-6)
        # v carries X b on every row
        np.testing.assert_allclose(design.y_tilde - v, (Xt + 0) @ b + reference_shift(
            G, Z, b), atol=1e-8)
        seen += 1
    assert seen == alphas.size


def test_kkt_check_over_all_snps_catches_what_screening_missed(monkeypatch):
    # with a strong rule that keeps nothing, every entrant must come from the check
    # over all SNPs, and the path is still the exact one
    G, y, Z, _ = awkward_data(seed=1)
    a = ProjectedLassoCV(tol=1e-12, n_alphas=12).fit(G, y, Z)
    monkeypatch.setattr(penalised, "strong_rule", lambda grad, l1, l1_prev: np.zeros(
        grad.shape, dtype=bool))
    b = ProjectedLassoCV(tol=1e-12, n_alphas=12).fit(G, y, Z)
    assert b.converged_
    np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-8)
    np.testing.assert_allclose(b.coef_, a.coef_, atol=1e-9)


def reference_shift(G, Z, b):
    """``X b - P X b``: the covariate-space part of the (unprojected) ``X b``."""
    raw = float_copy(G)
    X = np.where(np.isnan(raw), 0.0, raw - np.nanmean(raw, axis=0))
    sd = imputed_sd(G)
    X = np.divide(X, sd, out=np.zeros_like(X), where=sd > 0)
    Zf = np.column_stack([np.ones(len(X)), Z])
    xb = X @ b
    return Zf @ np.linalg.lstsq(Zf, xb, rcond=None)[0]


def test_int8_and_float_input_give_the_same_fit():
    G, y, Z, _ = awkward_data(seed=2)
    a = ProjectedElasticNetCV(tol=1e-10).fit(G, y, Z)
    b = ProjectedElasticNetCV(tol=1e-10).fit(float_copy(G), y, Z)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-10)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)
    np.testing.assert_allclose(a.predict(G, Z), b.predict(float_copy(G), Z), atol=1e-9)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_inner_cross_validation_equals_the_dense_route(l1_ratio):
    # the row-weighted inner fits (no copy of the genotypes) against scikit-learn's
    # enet_path on dense copies of each inner training split
    G, y, Z, _ = awkward_data(seed=4)
    a = ProjectedElasticNetCV(l1_ratio=l1_ratio, tol=1e-12, n_alphas=12).fit(G, y, Z)
    b = ProjectedElasticNetCV(l1_ratio=l1_ratio, tol=1e-12, n_alphas=12, max_iter=200_000,
                              solver="sklearn").fit(G, y, Z)
    np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-12)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-6)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)


def test_row_subsets_equal_the_dense_projection_of_the_rows():
    G, y, Z, _ = awkward_data(seed=5)
    design = build_design(G, y, Z)
    mask = np.random.default_rng(0).random(len(y)) < 0.7
    (sub,) = row_subsets(design, [mask])
    # standardised with the whole data's moments, projected on the subset's own [1, Z]
    X = np.empty(G.shape)
    _kernels.decode_block(G, design.sentinel, design.mean, design.scale, 0, G.shape[1], X)
    Zf = np.column_stack([np.ones(mask.sum()), Z[mask]])
    P = np.eye(mask.sum()) - Zf @ np.linalg.pinv(Zf)
    PX = P @ X[mask]
    np.testing.assert_allclose(sub.d, np.einsum("ij,ij->j", PX, PX), atol=1e-9)
    np.testing.assert_allclose(sub.Q.T @ np.where(mask[:, None], X, 0), sub.C, atol=1e-9)
    np.testing.assert_allclose(sub.y_tilde[mask], P @ y[mask], atol=1e-9)
    assert np.all(sub.y_tilde[~mask] == 0) and np.all(sub.Q[~mask] == 0)
    assert sub.n == mask.sum()


def test_correlation_kernel_with_missing_calls_equals_dense():
    G, y, Z, _ = awkward_data(seed=6)
    design = build_design(G, y, Z)
    rng = np.random.default_rng(1)
    v, u = rng.normal(size=len(y)), rng.normal(size=design.Q.shape[1])
    full = penalised._full_rows(design)
    everyone = np.flatnonzero(design.active)
    got = penalised._correlations(design, full, everyone, v, u)
    X = np.empty(G.shape)
    _kernels.decode_block(G, design.sentinel, design.mean, design.scale, 0, G.shape[1], X)
    r = v + design.Q @ u
    np.testing.assert_allclose(got, (X.T @ r)[everyone], rtol=1e-10, atol=1e-9)


def test_gram_passes_equal_int8_passes():
    G, y, Z, _ = awkward_data(seed=7)
    design = build_design(G, y, Z)
    full = penalised._full_rows(design)
    snps = np.flatnonzero(design.active)[:40]
    cache = penalised._Cache(design, full)
    assert cache.admit(snps)
    l1, l2 = 5.0, 2.0
    b1 = np.zeros(G.shape[1])
    v, u = design.y_tilde.copy(), np.zeros(design.Q.shape[1])
    for _ in range(3):
        _kernels.enet_epoch(design.G, design.sentinel, design.mean, design.scale, design.C,
                            design.d, snps, full.w, v, u, b1, l1, l2)
    b2 = np.zeros(G.shape[1])
    m = cache.m
    bc = b2[cache.idx]
    grad = cache.c[:m] - cache.A[:m, :m] @ bc
    for _ in range(3):
        _kernels.gram_epoch(cache.A, m, cache.pos[snps], grad, bc, l1, l2)
    b2[cache.idx] = bc
    np.testing.assert_allclose(b2, b1, atol=1e-10)
    v2, u2 = cache.residual(b2)
    np.testing.assert_allclose(v2, v, atol=1e-9)
    np.testing.assert_allclose(u2, u, atol=1e-9)


def test_without_the_cache_the_answer_is_the_same(monkeypatch):
    G, y, Z, _ = awkward_data(seed=8)
    a = ProjectedLassoCV(tol=1e-10).fit(G, y, Z)
    monkeypatch.setattr(penalised, "CACHE_BYTES", 0)  # every pass on the int8 genotypes
    b = ProjectedLassoCV(tol=1e-10).fit(G, y, Z)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-8)


def test_duality_gap_bounds_the_suboptimality():
    from sklearn.linear_model import ElasticNet

    G, y, Z, _ = awkward_data(seed=9)
    Xt, yt, _ = reference.projected(G, y, Z)
    n, alpha, ratio = len(y), 0.05, 0.7
    l1, l2 = n * alpha * ratio, n * alpha * (1 - ratio)

    def primal(b):
        r = yt - Xt @ b
        return 0.5 * r @ r + l1 * np.abs(b).sum() + 0.5 * l2 * b @ b

    def gap(b):
        r = yt - Xt @ b
        return penalised.duality_gap(r @ r, yt @ r, b, Xt.T @ r, l1, l2)

    best = ElasticNet(alpha=alpha, l1_ratio=ratio, fit_intercept=False, tol=1e-14,
                      max_iter=200_000).fit(Xt, yt).coef_
    assert abs(gap(best)) < 1e-8 * (yt @ yt)
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-1, 1.0):
        b = best + scale * rng.normal(size=best.size) * (rng.random(best.size) < 0.2)
        assert gap(b) >= primal(b) - primal(best) - 1e-9
        assert gap(b) > 0


def test_max_iter_reached_is_flagged_not_hidden():
    G, y, Z, _ = awkward_data(seed=10)
    with pytest.warns(UserWarning, match="did not reach"):
        m = ProjectedLassoCV(tol=1e-12, max_iter=1).fit(G, y, Z)
    assert not m.converged_


@pytest.mark.parametrize("kwargs, message", [
    ({"l1_ratio": 0.0}, "l1_ratio"),
    ({"l1_ratio": 1.5}, "l1_ratio"),
    ({"solver": "glmnet"}, "solver"),
    ({"eps": 0.0}, "eps"),
    ({"n_alphas": 0}, "n_alphas"),
    ({"tol": 0.0}, "tol"),
])
def test_bad_options_are_clear_errors(kwargs, message):
    G, y, Z, _ = awkward_data()
    with pytest.raises(ValueError, match=message):
        ProjectedElasticNetCV(**kwargs).fit(G, y, Z)


def test_no_snp_that_varies_is_a_clear_error():
    G, y, Z, _ = awkward_data()
    G[:] = 1
    with pytest.raises(ValueError, match="no SNP varies"):
        ProjectedLassoCV().fit(G, y, Z)


def test_sklearn_clone_round_trip():
    from sklearn.base import clone

    m = ProjectedLassoCV(n_alphas=7, tol=1e-6)
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert "l1_ratio" not in c.get_params()


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_early_stopped_path_chooses_what_the_whole_path_chooses(l1_ratio):
    # with signal: the held-out error falls, then rises; without (a permuted
    # phenotype): it rises from the start and the folds stop after `patience` steps
    G, y, Z, _ = awkward_data(seed=4)
    null = np.random.default_rng(1).permutation(y)
    for target in (y, null):
        whole = ProjectedElasticNetCV(l1_ratio=l1_ratio).fit(G, target, Z)
        early = ProjectedElasticNetCV(l1_ratio=l1_ratio, patience=4).fit(G, target, Z)
        assert early.alpha_ == whole.alpha_
        np.testing.assert_allclose(early.coef_, whole.coef_, atol=1e-12)
        reached = ~np.isnan(early.mse_path_)
        np.testing.assert_allclose(early.mse_path_[reached], whole.mse_path_[reached],
                                   rtol=1e-12)
        # a fold stops 4 penalties after its best one
        last = reached.sum(axis=1) - 1
        best = np.nanargmin(early.mse_path_, axis=1)
        assert np.all((last == best + 4) | (last == early.alphas_.size - 1))
    assert reached.sum() < 0.5 * reached.size  # the null phenotype: most of the path skipped


def test_patience_needs_the_int8_solver():
    G, y, Z, _ = awkward_data()
    with pytest.raises(ValueError, match="patience must be None or >= 1 and needs solver 'cd'"):
        ProjectedLassoCV(patience=3, solver="sklearn").fit(G, y, Z)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_inner_folds_in_lockstep_equal_one_path_at_a_time(l1_ratio, n_jobs):
    # the folds share each pass over every SNP (penalised.SharedPasses); each path must
    # still be the one it is alone, up to the order of the sums, including the paths
    # that stop early (patience) and leave the lockstep
    G, y, Z, _ = awkward_data(seed=8)
    m = ProjectedElasticNetCV(l1_ratio=l1_ratio, n_alphas=12, cv=4, n_jobs=n_jobs,
                              patience=3).fit(G, y, Z)
    design = build_design(G, y, Z)
    folds = penalised.assign_folds(len(y), 4, 0)
    subs = row_subsets(design, [folds != k for k in range(4)])
    alone = np.array([m._inner_errors(design, sub, folds == k) for k, sub in enumerate(subs)])
    np.testing.assert_allclose(m.mse_path_, alone, rtol=1e-9)
    np.testing.assert_array_equal(np.isnan(m.mse_path_), np.isnan(alone))
    assert np.isnan(alone).any()  # some fold stopped early and left the lockstep
    # the path on every row, run beside the folds, stops at their choice: its effects
    # are those of a path run alone down to the chosen penalty
    best = int(np.nanargmin(alone.mean(axis=0)))
    for _, b, _, _, _ in penalised.enet_path(design, penalised._full_rows(design),
                                             m.alphas_[:best + 1], l1_ratio=l1_ratio):
        pass
    assert m.alpha_ == m.alphas_[best]
    np.testing.assert_allclose(m.coef_ / np.where(m.x_scale_ > 0, m.x_scale_, 1), b,
                               rtol=1e-9, atol=1e-12)


def test_a_failing_path_does_not_hang_the_others(monkeypatch):
    G, y, Z, _ = awkward_data(seed=8)
    calls = []
    real = ProjectedElasticNetCV._inner_errors

    def flaky(self, design, sub, test, *args):
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("planted failure in one inner fold")
        return real(self, design, sub, test, *args)

    monkeypatch.setattr(ProjectedElasticNetCV, "_inner_errors", flaky)
    with pytest.raises(FloatingPointError, match="planted"):
        ProjectedLassoCV(n_alphas=8, cv=4).fit(G, y, Z)
