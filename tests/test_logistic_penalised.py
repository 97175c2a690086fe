"""The penalised logistic regressions against an independent solver and scikit-learn."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sparselmm.logistic_penalised import LogisticElasticNetCV, LogisticLassoCV


def problem(seed=0, n=200, p=30, missing=0.03):
    rng = np.random.default_rng(seed)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(np.int8)
    G[rng.random(G.shape) < missing] = -127
    Z = rng.normal(size=(n, 2))
    x = np.where(G == -127, 1, G).astype(float)
    t = -0.5 + Z @ [0.8, -0.5] + (x[:, :4] - 1) @ [0.9, -0.7, 0.5, 0.4]
    y = (rng.random(n) < 1 / (1 + np.exp(-t))).astype(float)
    return G, Z, y


def reference(X, Zfull, y, l1, l2):
    """The minimiser of sum [log(1 + e^t) - y t] + l1 |b|_1 + l2 |b|^2 / 2, w free, by
    L-BFGS-B on b = b+ - b- (b+, b- >= 0): a smooth problem with bounds."""
    k, p = Zfull.shape[1], X.shape[1]

    def f(theta):
        w, bp, bm = theta[:k], theta[k:k + p], theta[k + p:]
        b = bp - bm
        t = Zfull @ w + X @ b
        prob = 1 / (1 + np.exp(-t))
        g_t = prob - y
        g_b = X.T @ g_t + l2 * b
        val = np.sum(np.logaddexp(0, t) - y * t) + l1 * np.sum(bp + bm) + 0.5 * l2 * b @ b
        return val, np.concatenate([Zfull.T @ g_t, g_b + l1, -g_b + l1])

    theta0 = np.zeros(k + 2 * p)
    bounds = [(None, None)] * k + [(0, None)] * (2 * p)
    res = minimize(f, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 100_000, "ftol": 1e-16, "gtol": 1e-12, "maxcor": 50})
    w, b = res.x[:k], res.x[k:k + p] - res.x[k + p:]
    return w, b


def standardised(model, G):
    X = (G.astype(float) - model.x_mean_) * model.x_scale_
    X[G == -127] = 0.0
    return X


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_equals_an_independent_solver_with_unpenalised_covariates(l1_ratio):
    G, Z, y = problem()
    n = len(y)
    m = LogisticElasticNetCV(l1_ratio=l1_ratio, tol=1e-13, max_iter=200)
    probe = m.fit(G, y, Z, alphas=[1.0])  # alpha large: only the standardisation is used
    X = standardised(probe, G)
    Zfull = np.column_stack([np.ones(n), Z])
    grad0 = np.abs(X.T @ (y - y.mean())).max()  # a scale for the penalties
    alphas = grad0 / n * np.geomspace(1.0, 0.05, 8)
    m.fit(G, y, Z, alphas=alphas)
    alpha = alphas[-1]
    w_ref, b_ref = reference(X, Zfull, y, n * alpha * l1_ratio, n * alpha * (1 - l1_ratio))
    b = m.coef_ / np.where(m.x_scale_ > 0, m.x_scale_, 1)
    assert np.count_nonzero(b) >= 4
    np.testing.assert_allclose(b, b_ref, atol=1e-6)
    # the covariate effects, and the log-odds
    np.testing.assert_allclose(m.covariate_coef_, w_ref[1:], atol=1e-6)
    np.testing.assert_allclose(m.decision_function(G, Z), Zfull @ w_ref + X @ b_ref, atol=1e-5)


def test_equals_scikit_learn_with_an_intercept_only():
    from sklearn.linear_model import LogisticRegression

    G, _, y = problem(seed=1)
    n = len(y)
    m = LogisticLassoCV(tol=1e-13, max_iter=200)
    probe = m.fit(G, y, alphas=[1.0])
    X = standardised(probe, G)
    alpha = 0.02
    m.fit(G, y, alphas=alpha * np.array([4.0, 2.0, 1.0]))
    # scikit-learn: ||b||_1 + C sum(loss), the intercept unpenalised (saga)
    sk = LogisticRegression(l1_ratio=1.0, C=1.0 / (n * alpha), solver="saga", tol=1e-12,
                            max_iter=200_000).fit(X, y)
    b = m.coef_ / np.where(m.x_scale_ > 0, m.x_scale_, 1)
    np.testing.assert_allclose(b, sk.coef_[0], atol=1e-6)
    assert m.intercept_ + m.x_mean_ @ m.coef_ == pytest.approx(sk.intercept_[0], abs=1e-6)


def test_cross_validation_finds_the_causal_snps():
    G, Z, y = problem(seed=2, n=400, p=200)
    m = LogisticLassoCV(n_alphas=15, cv=3).fit(G, y, Z)
    assert m.deviance_path_.shape == (3, 15) and m.converged_
    top = set(np.argsort(-np.abs(m.coef_))[:4])
    assert len(top & {0, 1, 2, 3}) >= 3
    prob = m.predict(G, Z)
    assert np.all((prob > 0) & (prob < 1))
