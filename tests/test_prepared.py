"""PreparedGenotypes: many phenotypes fitted on one prepared genotype matrix give the
fits of one-off calls, and the shared work is done once."""

import shutil

import numpy as np
import pytest
from conftest import simulate_small

from sparselmm import PreparedGenotypes
from sparselmm._design import _kernels
from sparselmm.methods import REGISTRY, make_model
from sparselmm.methods import method as registry_row

# every method fitted from genotypes (BSLMM, which needs gemma, has its own test)
METHODS = [m.name for m in REGISTRY if not m.needs_truth and m.name != "bslmm"]


@pytest.fixture(scope="module")
def two_phenotypes():
    G, y1, Z, _, _ = simulate_small(n=200, p=400, n_causal=3, seed=4)
    _, y2, _, _, _ = simulate_small(n=200, p=400, n_causal=20, seed=5)
    G = G.copy()
    G[::17, ::13] = _kernels.INT8_MISSING  # missing calls take the shared path too
    return G, Z, [y1, y2 + 0.3 * y1]


@pytest.mark.parametrize("method", METHODS)
def test_prepared_fits_equal_one_off_fits(two_phenotypes, method):
    G, Z, ys = two_phenotypes
    options = {"max_iter": 300} if method in ("sparselmm", "hybrid") else {}
    prepared = PreparedGenotypes(G, Z)
    Gtest = G[:50]
    if registry_row(method).binary_only:  # a logistic model: the top 30 % are cases
        ys = [(y > np.quantile(y, 0.7)).astype(float) for y in ys]
    for y in ys:  # the second fit reuses what the first computed
        one_off = make_model(method, options).fit(G, y, Z)
        shared = make_model(method, options).fit(prepared, y)
        np.testing.assert_allclose(shared.coef_, one_off.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(shared.predict(Gtest, Z[:50]), one_off.predict(Gtest, Z[:50]),
                                   rtol=1e-10, atol=1e-12)
    cache = prepared.shared(True)
    assert "design" in cache
    if method == "hybrid":
        assert "spectrum" in cache
    if method == "ridge":
        assert "ridge_eigen" in cache
    if method in ("lasso", "elasticnet"):
        assert any(isinstance(k, tuple) and k[0] == "row_subsets" for k in cache)


def test_prepared_design_is_computed_once(two_phenotypes, monkeypatch):
    G, Z, ys = two_phenotypes
    calls = []
    real = _kernels.column_moments
    monkeypatch.setattr(_kernels, "column_moments", lambda *a: calls.append(1) or real(*a))
    prepared = PreparedGenotypes(G, Z)
    for y in ys:
        make_model("sparselmm", {}).fit(prepared, y)
    assert len(calls) == 1
    make_model("sparselmm", {"standardize": False}).fit(prepared, ys[0])
    assert len(calls) == 2  # another standardisation is another design


def test_prepared_refuses_covariates_twice(two_phenotypes):
    G, Z, ys = two_phenotypes
    with pytest.raises(ValueError, match="give the covariates to it"):
        make_model("sparselmm", {}).fit(PreparedGenotypes(G, Z), ys[0], Z)


@pytest.mark.skipif(shutil.which("gemma") is None, reason="needs Debian's gemma")
def test_prepared_bslmm_uses_the_prepared_covariates(two_phenotypes):
    G, Z, ys = two_phenotypes
    options = {"burn_in": 100, "samples": 500, "seed": 3}
    a = make_model("bslmm", options).fit(G, ys[0], Z)
    b = make_model("bslmm", options).fit(PreparedGenotypes(G, Z), ys[0])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_allclose(a.covariate_coef_, b.covariate_coef_)
