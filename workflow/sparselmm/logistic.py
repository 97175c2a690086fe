"""Logistic spike-and-slab regression for case-control traits, by variational EM on
a Gaussian approximation of the likelihood: the Jaakkola-Jordan bound (varbvs's
``family = "binomial"``) or the second-order expansion at the current fit (IRLS).

Model::

    logit P(y_i = 1) = t_i = z_i^T w + x_i^T beta,
    beta_j ~ pi N(0, sigma_b^2) + (1 - pi) delta_0,     w flat (intercept included)

``X`` is standardised per SNP as in :class:`sparselmm.SparseLMM`. The likelihood
is bounded below, for any ``eta_i > 0``, by a Gaussian in ``t_i`` (Jaakkola & Jordan
2000)::

    log sigmoid(t) - t / 2 >= g(eta) - lambda(eta) (t^2 - eta^2),
    g(eta) = log sigmoid(eta) - eta / 2,   lambda(eta) = tanh(eta / 2) / (4 eta)

so that, with ``D = diag(2 lambda(eta_i))`` and the pseudo-response ``y^ = (y -
1/2) / (2 lambda)``, the bound is a weighted linear regression of ``y^`` on ``Z w +
X beta`` with residual variance 1. ``w`` is integrated out exactly (flat prior):
the SNPs then enter through the ``D``-weighted projection ``P_D = D - D Z (Z^T D
Z)^-1 Z^T D``, and the coordinate updates are those of the linear model
(:class:`sparselmm.SparseLMM`, with ``sigma_e^2 = 1``, ``d_j = x_j^T P_D x_j``),
run by the same kernels over int8 or packed genotypes with row weights.

The bound's curvature ``2 lambda(eta)`` exceeds the likelihood's ``p (1 - p)`` away
from ``t = 0`` (twice at ``|t| = 2.2``, a case probability of 0.1): where the
covariates predict well or the disease is rare it understates every SNP's evidence.
The second-order expansion of the log likelihood at the posterior mean of ``t``
(``approximation="taylor"``, the default) uses ``D = p (1 - p)`` and the working
response ``y^ = t + (y - p) / D``, as IRLS and glmnet do: the same weighted
regression, with the right curvature at the fit, but no longer a bound (its ELBO
is an approximation and need not rise every iteration).
"""

import math
import sys
import time

import numpy as np
from scipy.special import expit

from . import _kernels
from ._base import LogisticPredictor
from ._design import PreparedGenotypes, build_design, standardized_matvec
from .cv import logistic_fit
from .model import SparseLMM, default_pi, update_order, xlogy_ratio


def jj_lambda(eta):
    """``lambda(eta) = tanh(eta / 2) / (4 eta)`` (1/8 at 0)."""
    eta = np.abs(np.asarray(eta, dtype=float))
    small = eta < 1e-6
    out = np.empty_like(eta)
    out[~small] = np.tanh(eta[~small] / 2) / (4 * eta[~small])
    out[small] = 0.125 - eta[small] ** 2 / 96  # its Taylor series
    return out


def jj_g(eta):
    """``g(eta) = log sigmoid(eta) - eta / 2 = -log(2 cosh(eta / 2))``."""
    eta = np.abs(np.asarray(eta, dtype=float))
    return -(eta / 2 + np.log1p(np.exp(-eta)))


class _Weighted:
    """The likelihood as a weighted regression: weights ``D`` and pseudo-response
    ``y^`` (:meth:`bound` or :meth:`taylor`), with ``const`` the rest of its log, the
    ``D``-orthonormal covariate basis ``Q`` (``Q^T D Q = I``, ``Q = Z R^-1``),
    ``C = Q^T D X``, ``d_j = x_j^T P_D x_j``, and the pseudo-response split into its
    covariate part ``q = Q^T D y^`` and the rest ``y~ = y^ - Q q``."""

    @classmethod
    def bound(cls, design, eta):
        """The Jaakkola-Jordan bound at ``eta``: ``D = 2 lambda(eta)``, ``y^ = (y - 1/2)
        / D``, ``const = sum g(eta) + lambda eta^2 + 1 / (16 lambda)``."""
        lam = jj_lambda(eta)
        D = 2.0 * lam
        const = float(np.sum(jj_g(eta) + lam * eta**2 + 1.0 / (16.0 * lam)))
        return cls(design, D, (design.y - 0.5) / D, const)

    @classmethod
    def taylor(cls, design, t):
        """The second-order expansion of the log likelihood at the linear predictors
        ``t`` (IRLS): ``D = p (1 - p)``, ``y^ = t + (y - p) / D``, ``const = sum
        loglik(t) + (y - p)^2 / (2 D)``."""
        prob = expit(t)
        D = np.maximum(prob * (1.0 - prob), 1e-5)
        g = design.y - prob
        loglik = design.y * t - np.logaddexp(0.0, t)
        return cls(design, D, t + g / D, float(np.sum(loglik + g * g / (2.0 * D))))

    def __init__(self, design, D, yhat, const):
        self.D, self.const = D, const
        Zfull = design.Zfull
        ZDZ = Zfull.T @ (Zfull * self.D[:, None])
        self.R = np.linalg.cholesky(ZDZ).T  # upper: R^T R = Z^T D Z
        self.Q = np.linalg.solve(self.R.T, Zfull.T).T  # Z R^-1
        p = design.G.shape[1]
        QD = self.Q * self.D[:, None]
        self.C = np.empty((self.Q.shape[1], p))
        self.d = np.empty(p)
        _kernels.weighted_moments(design.G, design.sentinel, design.mean, design.scale,
                                  self.D, np.ascontiguousarray(QD.T), np.arange(p),
                                  self.C, self.d)
        self.d[~design.active] = 0.0
        self.yhat = yhat
        self.q = QD.T @ self.yhat
        self.y_tilde = self.yhat - self.Q @ self.q

    def residuals(self, xb):
        """``v = y~ - X b`` and ``u = Q^T D X b`` from ``X b``."""
        return self.y_tilde - xb, self.Q.T @ (self.D * xb)

    def covariate_effects(self, v, u):
        """Posterior mean of ``w`` given ``b``: ``(Z^T D Z)^-1 Z^T D (y^ - X b)``."""
        return np.linalg.solve(self.R, self.q - u)


def elbo(design, wt, alpha, mu, s2, sa, logodds, v, u):
    """The evidence lower bound (flat prior on ``w``: up to the constant of its
    improper density), for ``v = y~ - X b``, ``u = Q^T D X b`` at ``b = alpha mu``.

    Bound of ``log p(y | beta)`` after integrating ``w`` out::

        sum_i [g(eta_i) + lambda_i eta_i^2 + 1 / (16 lambda_i)] + k/2 log(2 pi)
        - log|Z^T D Z| / 2 - (y^ - X b)^T P_D (y^ - X b) / 2 - sum_j d_j Var(beta_j) / 2

    with ``(y^ - X b)^T P_D (y^ - X b) = sum_i D_i v_i^2 - ||u||^2``; minus the KL
    divergences of ``q`` from the prior, as in :func:`sparselmm.model.elbo`.
    """
    a = design.active
    al, m, s = alpha[a], mu[a], s2[a]
    k = wt.Q.shape[1]
    rss = float(wt.D @ (v * v)) - float(u @ u)
    var_term = float(wt.d[a] @ (al * (m**2 + s) - (al * m) ** 2))
    bound = wt.const + 0.5 * k * math.log(2 * math.pi) - float(np.sum(np.log(np.diag(wt.R))))
    bound -= 0.5 * (rss + var_term)
    pi = 1.0 / (1.0 + math.exp(-logodds))
    kl_beta = -0.5 * float(al @ (1.0 + np.log(s / sa) - (m**2 + s) / sa))
    kl_gamma = float(np.sum(xlogy_ratio(al, pi) + xlogy_ratio(1.0 - al, 1.0 - pi)))
    return bound - kl_beta - kl_gamma


def update_eta(design, wt, alpha, mu, s2, v, u):
    """The ``eta`` that maximise the bound for the current ``q(beta)``, with ``w`` at
    its conditional posterior given ``beta`` (an EM step: the ELBO cannot fall):
    ``eta_i^2 = E[t_i]^2 + Var[t_i]``.

    ``t = Q Q^T D y^ + (I - Q Q^T D) X beta + Z e_w`` with ``Cov(e_w) = (Z^T D Z)^-1``,
    so ``E[t] = y^ - v - Q u`` and ``Var[t_i] = ||Q_i||^2 + sum_j Var(beta_j)
    (x_ij - Q_i C_j)^2``, summed over SNPs in one pass (:func:`_kernels.variance_sums`).
    """
    var = np.where(design.active, alpha * (mu**2 + s2) - (alpha * mu) ** 2, 0.0)
    k, n = wt.Q.shape[1], design.n
    s = np.zeros(n)
    M = np.zeros((k, n))
    _kernels.variance_sums(design.G, design.sentinel, design.mean, design.scale, var, wt.C,
                           s, M)
    K = (wt.C * var) @ wt.C.T
    Q = wt.Q
    mean_t = wt.yhat - v - Q @ u
    var_t = (np.einsum("ik,ik->i", Q, Q) + s - 2.0 * np.einsum("ik,ki->i", Q, M)
             + np.einsum("ik,kl,il->i", Q, K, Q))
    return np.sqrt(mean_t**2 + np.maximum(var_t, 0.0))


class LogisticSparseLMM(LogisticPredictor):
    """Spike-and-slab logistic regression with covariates, by variational EM.

    Parameters
    ----------
    pi_mode : {"em", "fixed"}, default="em"
        ``"em"``: M-step ``pi = sum(alpha) / p``; ``"fixed"``: keep ``pi``.
    pi : float, optional
        Initial or fixed prior inclusion probability; default ``min(0.01, 10/p)``.
    sigma2_b : float, optional
        Initial (or, with ``estimate_sigma2_b=False``, fixed) prior variance of a
        standardised SNP's effect on the log-odds; default 0.1.
    estimate_sigma2_b : bool, default=True
    order : {"marginal", "index"}, default="marginal"
        As :class:`sparselmm.SparseLMM` (marginal associations of the 0/1 outcome).
    approximation : {"taylor", "bound"}, default="taylor"
        The likelihood's Gaussian approximation (module docstring): the expansion at
        the current fit, or the Jaakkola-Jordan bound (a true lower bound; its ELBO
        never falls; looser where the covariates predict well or cases are rare).
    init : {"linear", "null"}, default="linear"
        Start from the linear :class:`sparselmm.SparseLMM` fit of the 0/1 outcome
        (its PIPs, effects, ``pi`` and prior variance on the log-odds scale), or from
        no effects at ``pi`` and ``sigma2_b``. From "null", EM on ``pi`` and
        ``sigma2_b`` can collapse to the empty model before the bound's weights have
        settled (measured on simulated diseases: ``bench/binary_traits.py``).
    max_iter : int, default=1000
    tol, elbo_tol : float
        Stop when no ``alpha_j`` moves by ``tol`` in an iteration, or the ELBO
        rises by less than ``elbo_tol * |ELBO|``.
    verbose : bool

    Attributes
    ----------
    pip_, coef_, intercept_, covariate_coef_ : as :class:`sparselmm.SparseLMM`, on the
        log-odds scale (``coef_``: log odds ratio per copy of A1)
    sigma2_b_, pi_ : fitted hyperparameters
    eta_ : the linear predictors the approximation was last taken at (bound: its
        variational parameters, one per sample)
    elbo_, n_iter_, converged_

    Notes
    -----
    One iteration: a coordinate-ascent sweep over the SNPs (the updates of
    :class:`sparselmm.SparseLMM` with ``sigma_e^2 = 1`` on the weighted regression
    of the module docstring), the M-steps ``sigma_b^2 = sum_j alpha_j (mu_j^2 +
    s_j^2) / sum_j alpha_j`` and ``pi = sum_j alpha_j / p``, then the approximation
    at the new fit (bound: ``eta`` by :func:`update_eta`, one pass) and its weighted
    design (:func:`_kernels.weighted_moments`, one pass). With the bound every step
    maximises the ELBO in its own variables, so it never decreases.

    ``predict`` returns the probability of being a case; ``decision_function``
    the log-odds.

    References
    ----------
    Jaakkola T. & Jordan M. (2000) Bayesian parameter estimation via variational
    methods. Statistics and Computing 10:25-37.
    Carbonetto P. & Stephens M. (2012) Scalable variational inference for Bayesian
    variable selection in regression. Bayesian Analysis 7(1):73-108.
    """

    def __init__(self, *, pi_mode="em", pi=None, sigma2_b=None, estimate_sigma2_b=True,
                 order="marginal", init="linear", approximation="taylor", max_iter=1000,
                 tol=1e-4, elbo_tol=1e-8, verbose=False):
        self.pi_mode = pi_mode
        self.approximation = approximation
        self.init = init
        self.pi = pi
        self.sigma2_b = sigma2_b
        self.estimate_sigma2_b = estimate_sigma2_b
        self.order = order
        self.max_iter = max_iter
        self.tol = tol
        self.elbo_tol = elbo_tol
        self.verbose = verbose

    def _check_params(self):
        if self.approximation not in ("bound", "taylor"):
            raise ValueError(f"approximation must be 'bound' or 'taylor', got "
                             f"{self.approximation!r}")
        if self.init not in ("linear", "null"):
            raise ValueError(f"init must be 'linear' or 'null', got {self.init!r}")
        if self.pi_mode not in ("em", "fixed"):
            raise ValueError(f"pi_mode must be 'em' or 'fixed', got {self.pi_mode!r}")
        if self.pi is not None and not 0 < self.pi < 1:
            raise ValueError(f"pi must lie in (0, 1), got {self.pi}")
        if self.sigma2_b is not None and not self.sigma2_b > 0:
            raise ValueError(f"sigma2_b must be positive, got {self.sigma2_b}")
        if int(self.max_iter) < 1 or not self.tol > 0 or not self.elbo_tol >= 0:
            raise ValueError("need max_iter >= 1, tol > 0 and elbo_tol >= 0")

    def fit(self, X, y, Z=None):
        """Fit to the 0/1 outcome ``y`` (1 = case); ``X``, ``Z`` as
        :meth:`sparselmm.SparseLMM.fit`."""
        self._check_params()
        y_arr = self._binary_outcome(y)
        # one prepared design for the linear start and this fit
        X = X if isinstance(X, PreparedGenotypes) else PreparedGenotypes(X, Z)
        design = build_design(X, y_arr, None)
        a = design.active
        n_active = max(int(a.sum()), 1)
        p = design.G.shape[1]
        pi = self.pi if self.pi is not None else default_pi(n_active)
        sa = float(self.sigma2_b) if self.sigma2_b is not None else 0.1
        alpha = np.where(a, pi, 0.0)
        mu = np.zeros(p)
        if self.init == "linear":
            pi, sa = self._linear_start(X, y_arr, design, alpha, mu, pi, sa)
        logodds = math.log(pi / (1 - pi))
        s2 = np.full(p, sa)
        order = update_order(design, self.order)
        # the bound starts tight at the covariate-only logistic regression
        w0, _ = logistic_fit(y_arr, design.Zfull)
        eta = design.Zfull @ w0
        taylor = self.approximation == "taylor"
        wt = _Weighted.taylor(design, eta) if taylor else _Weighted.bound(design, np.abs(eta))
        v, u = wt.residuals(standardized_matvec(design.G, design.sentinel, design.mean,
                                                design.scale, alpha * mu))
        F = elbo(design, wt, alpha, mu, s2, sa, logodds, v, u)
        trace = [F]
        converged = False
        t0 = time.perf_counter()
        it = 0
        for it in range(1, int(self.max_iter) + 1):
            change = _kernels.sweep_weighted(design.G, design.sentinel, design.mean,
                                             design.scale, wt.C, wt.d, order, wt.D, v, u,
                                             alpha, mu, s2, sa, logodds)
            al = alpha[a]
            sum_alpha = float(al.sum())
            if self.estimate_sigma2_b and sum_alpha > 0:
                sa = max(float(al @ (mu[a] ** 2 + s2[a])) / sum_alpha, 1e-12)
            if self.pi_mode == "em":
                pi = min(max(sum_alpha / n_active, 1.0 / (10.0 * n_active)), 0.5)
                logodds = math.log(pi / (1 - pi))
            xb = wt.y_tilde - v
            if taylor:  # expand again at the posterior mean of the linear predictors
                eta = design.Zfull @ wt.covariate_effects(v, u) + xb
                wt = _Weighted.taylor(design, eta)
            else:
                eta = update_eta(design, wt, alpha, mu, s2, v, u)
                wt = _Weighted.bound(design, eta)
            v, u = wt.residuals(xb)
            F = elbo(design, wt, alpha, mu, s2, sa, logodds, v, u)
            trace.append(F)
            if self.verbose:
                print(f"[logistic] iter {it:4d}  elbo {F:.6f}  max|dalpha| {change:.2e}  "
                      f"sigma2_b {sa:.4g}  pi {1 / (1 + math.exp(-logodds)):.3g}  "
                      f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
            gain = trace[-1] - trace[-2]
            if change < self.tol or 0 <= gain < self.elbo_tol * abs(F):
                converged = True
                break
        b = alpha * mu
        self.pip_ = alpha.copy()
        self.sigma2_b_, self.pi_ = sa, 1.0 / (1.0 + math.exp(-logodds))
        self.eta_ = eta
        self.elbo_ = np.asarray(trace)
        self.n_iter_ = it
        self.converged_ = converged
        self._finish(design, b, w=wt.covariate_effects(v, u))
        return self

    def _linear_start(self, X, y, design, alpha, mu, pi, sa):
        """Start from the linear SparseLMM of the 0/1 outcome (``init="linear"``): its
        PIPs and effects, taken to the log-odds scale by ``c = 1 / (ybar (1 - ybar))``
        (the slope of the logit at the case fraction), and its ``pi`` and prior
        variance (times ``c^2``) where not given. Fills ``alpha``, ``mu``; returns
        ``(pi, sigma2_b)``."""
        lin = SparseLMM(order=self.order).fit(X, y)
        ybar = float(y.mean())
        c = 1.0 / (ybar * (1.0 - ybar))
        b = np.divide(lin.coef_, design.scale, out=np.zeros_like(lin.coef_),
                      where=design.scale > 0)
        alpha[:] = np.where(design.active, lin.pip_, 0.0)
        mu[:] = np.divide(c * b, alpha, out=np.zeros_like(b), where=alpha > 0)
        if self.pi is None:
            pi = min(max(lin.pi_, 1e-6), 0.5)
        if self.sigma2_b is None:
            sa = min(max(c * c * lin.sigma2_e_ * lin.sigma2_b_, 1e-6), 10.0)
        return pi, sa
