"""BSLMM through GEMMA: end to end on a tiny fileset, GEMMA's -predict against the
exported linear predictor, and a clear error without gemma."""

import shutil

import numpy as np
import pytest

from sparselmm.bslmm import GemmaBSLMM

needs_gemma = pytest.mark.skipif(shutil.which("gemma") is None,
                                 reason="needs Debian's gemma (setup.sh installs it as root)")


def data(seed=0, n=240, p=300):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    G[rng.random((n, p)) < 0.01] = -127
    X = np.where(G == -127, 1, G).astype(float)
    g = X[:, [5, 77, 150]] @ [0.9, -0.7, 0.6]
    Z = rng.normal(size=(n, 2))
    y = 2.0 + Z @ [0.5, -1.0] + g + 0.6 * rng.normal(size=n)
    return G, y, Z, g


@needs_gemma
def test_bslmm_predicts_the_signal_and_reruns_identically():
    G, y, Z, g = data()
    tr, te = np.arange(180), np.arange(180, 240)
    opts = dict(burn_in=2000, samples=10000, seed=3)
    m = GemmaBSLMM(**opts).fit(G[tr], y[tr], Z[tr])
    pred = m.predict(G[te], Z[te])
    cov = np.column_stack([np.ones(len(te)), Z[te]]) @ m._w
    assert np.corrcoef(pred - cov, g[te])[0, 1] > 0.8
    assert set(np.argsort(-m.pip_)[:3]) == {5, 77, 150}
    again = GemmaBSLMM(**opts).fit(G[tr], y[tr], Z[tr]).predict(G[te], Z[te])
    np.testing.assert_array_equal(pred, again)
    assert 0 < m.pve_ < 1 and m.converged_


@needs_gemma
def test_gemma_predict_is_the_exported_linear_predictor():
    # without missing calls GEMMA's -predict is sum_j (x_j - training mean_j) (alpha_j +
    # beta_j gamma_j), the linear predictor the model files export (to GEMMA's printed
    # digits); GEMMA treats missing calls its own way, so none here
    G, y, Z, _ = data(seed=1)
    G = np.where(G == -127, 1, G).astype(np.int8)
    tr, te = np.arange(180), np.arange(180, 240)
    m = GemmaBSLMM(burn_in=1000, samples=5000, seed=2).fit(G[tr], y[tr], Z[tr])
    pred = m.predict(G[te], Z[te])
    linear = m.intercept_ + Z[te] @ m.covariate_coef_ + G[te] @ m.coef_
    np.testing.assert_allclose(pred, linear, atol=1e-5)


def test_missing_gemma_names_the_package():
    G, y, Z, _ = data(n=30)
    with pytest.raises(RuntimeError, match="install Debian's package gemma"):
        GemmaBSLMM(executable="gemma-not-installed").fit(G, y, Z)
