"""Sparse-plus-polygenic model: a mixture-of-normals prior fitted by EM.

The prior on every standardised SNP effect is a point mass plus a grid of
zero-mean normals (the adaptive-shrinkage prior of mr.ash; Kim, Wang,
Carbonetto & Stephens 2024)::

    beta_j ~ pi_0 delta_0 + sum_{k=1}^{K-1} pi_k N(0, sigma_e^2 sigma_k^2)

with the variances ``sigma_k^2`` on a fixed grid, from tiny (a polygenic
background on every SNP, as in BSLMM, Zhou, Carbonetto & Stephens 2013) to
large (sparse strong effects), and the weights ``pi`` estimated by EM. With
``K = 2`` and fixed weights and variance it is exactly :class:`SparseLMM`'s
spike-and-slab.

Two E-steps are available. ``inference="vamp"`` (the default) computes the
posterior by vector approximate message passing (:mod:`sparselmm._vamp`),
whose posterior means are near-exact when SNPs are weakly correlated;
``inference="mean_field"`` is variational EM with a factorised posterior and a
monotone ELBO, exactly as :class:`SparseLMM` fits its prior. Mean field
shrinks many weak effects too hard: on Fig 1's 100-causal scenarios it stays
~0.02 of held-out R^2 below the exact posterior mean (``bench/bayes_limit.py``);
VAMP recovers about half of that gap at h2 = 0.5 and two thirds at h2 = 0.8.
"""

import math
import sys
import time
import warnings

import numpy as np

from . import _kernels, _vamp
from ._base import LinearPredictor
from ._design import build_design, residuals
from .model import default_pi, xlogy_ratio


def default_grid(p, n_components=20):
    """0 (the spike) plus ``n_components - 1`` variances from ``0.1 / p`` to 1."""
    return np.concatenate([[0.0], np.geomspace(0.1 / max(p, 1), 1.0, n_components - 1)])


# weight of the normals at the second, diffuse VAMP start (1% of SNPs)
DIFFUSE_SLAB = 0.01
# nats by which the diffuse start's evidence must beat the sparse start's: a
# Bayes factor of e^3 ~ 20, "strong" on Kass & Raftery's (1995) scale
START_MARGIN = 3.0


def spread_weights(n_components, slab):
    """``1 - slab`` on the point mass, ``slab`` spread evenly over the normals."""
    return np.concatenate([[1.0 - slab], np.full(n_components - 1, slab / (n_components - 1))])


def default_weights(n_components, p):
    """Start near the sparse end: the point mass keeps ``1 -``
    :func:`sparselmm.model.default_pi` (SparseLMM's starting ``pi``), the rest
    is spread evenly over the normals.

    With the default grid and ``p >= 1000`` the prior then puts about half of
    the phenotypic variance on the SNPs, as :class:`SparseLMM`'s start does.
    """
    return spread_weights(n_components, default_pi(p))


class _MixState:
    def __init__(self, phi, mu, s2, b, sigma2, pi):
        self.phi, self.mu, self.s2, self.b = phi, mu, s2, b
        self.sigma2, self.pi = sigma2, pi
        self.elbo = []
        self.n_iter = 0
        self.converged = False


def mix_elbo(design, st, prior_var, v, u):
    """ELBO of the mixture model (up to ``-log|Z^T Z|/2``); also returns rss, var term."""
    a = design.active
    phi, mu, s2, b = st.phi[a], st.mu[a], st.s2[a], st.b[a]
    sigma2 = st.sigma2
    r = v + design.Q @ u
    rss = float(r @ r)
    second = np.sum(phi * (mu**2 + s2), axis=1)
    var_term = float(design.d[a] @ (second - b**2))
    loglik = -0.5 * design.n_eff * math.log(2 * math.pi * sigma2) - (rss + var_term) / (2 * sigma2)
    vk = sigma2 * prior_var[1:]
    slab = phi[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_normal = 0.5 * (np.log(vk / s2[:, 1:]) + (s2[:, 1:] + mu[:, 1:] ** 2) / vk - 1.0)
    kl_normal = float(np.sum(np.where(slab > 0, slab * kl_normal, 0.0)))
    kl_weights = float(np.sum(xlogy_ratio(phi, st.pi)))
    return loglik - kl_normal - kl_weights, rss, var_term


class HybridLMM(LinearPredictor):
    """Linear mixed model with a point-mass-plus-normal-mixture prior (EM).

    Parameters
    ----------
    prior_var : array-like, optional
        ``[0, sigma_1^2, ..., sigma_{K-1}^2]``: component variances in units of
        ``sigma_e^2`` per standardised SNP; entry 0 is the point mass. Default
        :func:`default_grid` with ``n_components`` entries.
    n_components : int, default=20
    weights : array-like, optional
        Initial (or, with ``estimate_weights=False``, fixed) mixture weights.
        Default :func:`default_weights`: ``1 - min(0.01, 10/p)`` on the point
        mass, the rest spread evenly.
    sigma2_e : float, optional
        Initial or fixed residual variance (default: variance of the projected ``y``).
    estimate_sigma2_e, estimate_weights : bool, default=True
    inference : {"vamp", "mean_field"}, default="vamp"
        E-step: vector approximate message passing with EM-VAMP M-steps, or
        variational (mean-field) EM.
    damping : float in (0, 1], default=0.8
        VAMP only: weight of the new message (1 = undamped). A run that
        diverges or oscillates (strong LD) restarts with half the damping,
        down to 0.05; if that diverges too the model is fitted by mean field
        with a ``RuntimeWarning``.
    multi_start : bool, default=True
        VAMP with estimated, default-initialised weights: fit from the sparse
        start (:func:`default_weights`) and from a diffuse one (1% of the SNPs
        in the normals); a converged fit beats one that did not converge,
        and the diffuse fit is kept only if its ``log_evidence_`` is higher
        by more than ``start_margin``. EM-VAMP can have two fixed points
        when many weak effects are present: from the sparse start it may
        stop at "no signal" (``pve_`` ~ 0) while the diffuse start finds the
        signal with a much higher evidence (Fig 1, 100 causal SNPs, h2 = 0.5:
        17 nats). The diffuse start runs only when the sparse fit did not
        converge or its evidence is below ``ridge_evidence_``, the exact
        evidence of the best single normal prior on the grid (a prior the
        mixture contains, so a fixed point below it is not the best one);
        otherwise the sparse fit is kept without it (on GEUVADIS whole-chromosome
        folds the second start was most of a fit's time and was never kept).
        Identical starts (``p <= 1000``) run once.
    start_margin : float >= 0, default=3.0
        Nats by which the diffuse start must win (a Bayes factor of about 20,
        "strong" on Kass & Raftery's 1995 scale). The evidence is approximate
        and ``p >> n``: on GEUVADIS genes without signal the diffuse start
        won by 0.03 to 2.8 nats in 26 of 69 folds, with a spurious ``pve_``
        of 0.2 to 0.4, and predicted worse than the sparse one on average.
    standardize, max_iter, tol, elbo_tol, verbose : as in :class:`SparseLMM`
        (VAMP stops when its two factors agree and the posterior means, in
        units of the phenotype's SD, and ``sigma_e^2`` change by less than
        ``tol`` per iteration; ``elbo_tol`` is for mean field only)

    Attributes
    ----------
    coef_, intercept_, covariate_coef_, pip_ (1 - responsibility of the point mass),
    weights_, prior_var_, sigma2_e_, pve_, n_iter_, converged_
    elbo_ : ndarray  ELBO per iteration (mean field; empty for VAMP, which
        optimises no lower bound)
    log_evidence_ : float  approximate ``log p(y | weights_, sigma2_e_)`` up to
        ``-log|Z^T Z| / 2``: the last ELBO (mean field) or the
        expectation-consistent free energy at VAMP's fixed point (exact for
        a Gaussian prior and for orthogonal SNPs; :func:`sparselmm._vamp.log_evidence`)
    inference_ : str  the E-step actually used; damping_ : float or None
    start_ : str  VAMP: the start that gave the kept fit, "sparse" or "diffuse"
    start_evidence_ : dict  VAMP: ``log_evidence_`` of every start run (None if
        it diverged) and whether it converged: ``{start: (log evidence, converged)}``
    ridge_evidence_ : float  VAMP: exact ``log p(y | beta ~ N(0, sigma_e^2 v I))``,
        the largest over the grid's variances ``v`` with ``sigma_e^2`` at its
        maximum (:func:`sparselmm._vamp.gaussian_evidence`); None for mean field
    pve_ : ``E||P X beta||^2 / (that + n' sigma_e^2)``; with VAMP the
        expectation is under the LMMSE factor's Gaussian belief, whose full
        covariance keeps the negative posterior correlations of ``p >> n`` SNPs

    Notes
    -----
    For SNP ``j`` and component ``k >= 1``::

        s_jk^2 = sigma_e^2 sigma_k^2 / (sigma_k^2 d_j + 1),   mu_jk = s_jk^2 / sigma_e^2 * xr_j
        phi_jk propto pi_k sqrt(s_jk^2 / (sigma_e^2 sigma_k^2)) exp(mu_jk^2 / (2 s_jk^2)),
        phi_j0 propto pi_0

    with ``xr_j = x_j^T P (y - sum_{l != j} x_l b_l)`` and ``b_j = sum_k phi_jk mu_jk``.
    M-step: ``pi_k = mean_j phi_jk``; ``sigma_e^2 = (E||P(y - X beta)||^2 + sum_jk
    phi_jk E[beta^2 | k] / sigma_k^2) / (n' + sum_j (1 - phi_j0))``.

    VAMP (``inference="vamp"``): see :mod:`sparselmm._vamp`.

    References
    ----------
    Rangan S., Schniter P. & Fletcher A. K. (2019) Vector approximate message
    passing. IEEE Trans. Inf. Theory 65(10): 6664-6684.
    Fletcher A. K., Sahraee-Ardakan M., Rangan S. & Schniter P. (2017)
    Learning and free energies for vector approximate message passing.
    Proc. IEEE ICASSP (EM-VAMP).
    Opper M. & Winther O. (2005) Expectation consistent approximate
    inference. JMLR 6: 2177-2204.
    Kim Y., Wang W., Carbonetto P. & Stephens M. (2024) A flexible empirical
    Bayes approach to multiple linear regression and connections with
    penalized regression. JMLR 25.
    Zhou X., Carbonetto P. & Stephens M. (2013) Polygenic modeling with
    Bayesian sparse linear mixed models. PLoS Genetics 9(2): e1003264.
    """

    def __init__(self, *, prior_var=None, n_components=20, weights=None, sigma2_e=None,
                 estimate_sigma2_e=True, estimate_weights=True, standardize=True,
                 inference="vamp", damping=0.8, multi_start=True, start_margin=START_MARGIN,
                 max_iter=1000, tol=1e-4, elbo_tol=1e-8, verbose=False):
        self.prior_var = prior_var
        self.n_components = n_components
        self.weights = weights
        self.sigma2_e = sigma2_e
        self.estimate_sigma2_e = estimate_sigma2_e
        self.estimate_weights = estimate_weights
        self.standardize = standardize
        self.inference = inference
        self.damping = damping
        self.multi_start = multi_start
        self.start_margin = start_margin
        self.max_iter = max_iter
        self.tol = tol
        self.elbo_tol = elbo_tol
        self.verbose = verbose

    def _grid(self, p):
        if self.prior_var is None:
            if int(self.n_components) < 2:
                raise ValueError("n_components must be >= 2 (the spike and one normal)")
            return default_grid(p, int(self.n_components))
        grid = np.asarray(self.prior_var, dtype=float).ravel()
        if grid.size < 2 or grid[0] != 0 or not np.all(grid[1:] > 0) or not np.all(
                np.isfinite(grid)):
            raise ValueError("prior_var must be [0, v_1, ..., v_K] with every v_k > 0")
        return grid

    def fit(self, X, y, Z=None):
        """Fit the model; ``X`` int8 dosages (-127 missing) or floats; returns self."""
        if self.inference not in ("mean_field", "vamp"):
            raise ValueError(f"inference must be 'mean_field' or 'vamp', got {self.inference!r}")
        if not 0 < float(self.damping) <= 1:
            raise ValueError(f"damping must lie in (0, 1], got {self.damping}")
        if not float(self.start_margin) >= 0:
            raise ValueError(f"start_margin must be >= 0 (nats), got {self.start_margin}")
        design = build_design(X, y, Z, standardize=self.standardize)
        p = design.G.shape[1]
        a = design.active
        grid = self._grid(max(int(a.sum()), 1))
        K = grid.size
        if self.weights is None:
            pi = default_weights(K, max(int(a.sum()), 1))
        else:
            pi = np.asarray(self.weights, dtype=float).ravel()
            if pi.size != K or np.any(pi < 0) or not math.isclose(pi.sum(), 1.0, rel_tol=1e-9):
                raise ValueError(f"weights must be {K} non-negative numbers summing to 1")
        sigma2 = self.sigma2_e if self.sigma2_e is not None else float(
            design.y_tilde @ design.y_tilde / design.n_eff)
        self.ridge_evidence_ = None
        if self.inference == "vamp":
            return self._fit_vamp(design, grid, pi, sigma2)
        return self._fit_mean_field(design, grid, pi, sigma2)

    def _fit_mean_field(self, design, grid, pi, sigma2):
        p, K, a = design.G.shape[1], grid.size, design.active
        phi = np.zeros((p, K))
        phi[a] = pi
        st = _MixState(phi, np.zeros((p, K)), np.zeros((p, K)), np.zeros(p), sigma2, pi.copy())
        self._run(design, st, grid)
        self.inference_ = "mean_field"
        self.damping_ = None
        self.start_, self.start_evidence_ = None, {}
        self.weights_ = st.pi
        self.prior_var_ = grid
        self.sigma2_e_ = st.sigma2
        self.pip_ = 1.0 - st.phi[:, 0]
        self.elbo_ = np.asarray(st.elbo)
        self.log_evidence_ = float(st.elbo[-1])
        self.n_iter_ = st.n_iter
        self.converged_ = st.converged
        self.pve_ = self._pve(design, st)
        self._finish(design, st.b)
        return self

    def _fit_vamp(self, design, grid, pi, sigma2):
        starts = {"sparse": pi}
        if self.multi_start and self.weights is None and self.estimate_weights:
            diffuse = spread_weights(grid.size, DIFFUSE_SLAB)
            if not np.allclose(diffuse, pi):
                starts["diffuse"] = diffuse
        lmmse = _vamp.Lmmse(design)  # one eigendecomposition for every start
        # the exact evidence of the best single-normal (ridge) prior on the grid:
        # the diffuse start is only worth running if the sparse fit is below it
        self.ridge_evidence_ = float(_vamp.gaussian_evidence(lmmse, grid[1:])[0].max())
        fits = {}
        for name, start in starts.items():
            if name == "diffuse":
                sparse = fits["sparse"]
                if sparse.converged and sparse.log_evidence >= self.ridge_evidence_:
                    if self.verbose:
                        print("[hybrid/vamp] no diffuse start: the sparse fit's evidence "
                              f"{sparse.log_evidence:.2f} is at least the best normal "
                              f"prior's {self.ridge_evidence_:.2f}", file=sys.stderr, flush=True)
                    continue
            if self.verbose:
                print(f"[hybrid/vamp] {name} start", file=sys.stderr, flush=True)
            fits[name] = _vamp.em_vamp(
                lmmse, grid, start, sigma2, estimate_sigma2_e=self.estimate_sigma2_e,
                estimate_weights=self.estimate_weights, damping=float(self.damping),
                max_iter=self.max_iter, tol=self.tol, verbose=self.verbose)
        usable = {k: f for k, f in fits.items() if not f.diverged}
        if not usable:
            # VAMP failed even at the smallest damping (extreme LD): mean field
            # always converges, so fall back to it and say so
            warnings.warn("VAMP diverged at every damping; fitted by mean field instead "
                          "(inference_ = 'mean_field')", RuntimeWarning, stacklevel=3)
            return self._fit_mean_field(design, grid, pi, sigma2)

        # a converged fit before one that is not; then the higher evidence, a
        # converged sparse fit counting start_margin nats more (ties keep it:
        # max returns the first, and the sparse start is the first)
        def rank(k):
            f = usable[k]
            head_start = self.start_margin if k == "sparse" and f.converged else 0.0
            return f.converged, f.log_evidence + head_start

        self.start_ = max(usable, key=rank)
        self.start_evidence_ = {k: (None if f.diverged else float(f.log_evidence), f.converged)
                                for k, f in fits.items()}
        st = usable[self.start_]
        self.inference_ = "vamp"
        self.damping_ = st.damping
        self.weights_ = st.pi
        self.prior_var_ = grid
        self.sigma2_e_ = st.sigma2
        self.pip_ = 1.0 - st.w[:, 0]
        self.elbo_ = np.array([])  # VAMP optimises no lower bound
        self.log_evidence_ = st.log_evidence
        self.n_iter_ = st.n_iter
        self.converged_ = st.converged
        # E||P X beta||^2 / n' under the LMMSE factor's Gaussian belief, whose
        # covariance keeps the (negative) posterior correlations of p >> n SNPs
        self.pve_ = st.genetic / (st.genetic + st.sigma2)
        self._finish(design, st.x)
        return self

    def _run(self, design, st, grid):
        a = design.active
        n_active = max(int(a.sum()), 1)
        v, u = residuals(design, st.b)
        st.elbo = [mix_elbo(design, st, grid, v, u)[0]]
        t0 = time.perf_counter()
        for it in range(1, int(self.max_iter) + 1):
            with np.errstate(divide="ignore"):
                log_pi = np.log(st.pi)
            change = _kernels.sweep_mix(design.G, design.sentinel, design.mean, design.scale,
                                        design.C, design.d, a, v, u, st.phi, st.mu, st.s2,
                                        st.b, st.sigma2, grid, log_pi)
            if self.estimate_sigma2_e:
                _, rss, var_term = mix_elbo(design, st, grid, v, u)
                phi, mu, s2 = st.phi[a, 1:], st.mu[a, 1:], st.s2[a, 1:]
                prior_term = float(np.sum(phi * (mu**2 + s2) / grid[1:]))
                st.sigma2 = (rss + var_term + prior_term) / (design.n_eff + float(phi.sum()))
            if self.estimate_weights:
                st.pi = st.phi[a].sum(axis=0) / n_active
            F, _, _ = mix_elbo(design, st, grid, v, u)
            st.elbo.append(F)
            st.n_iter = it
            if self.verbose:
                print(f"[hybrid] iter {it:4d}  elbo {F:.6f}  max|dphi| {change:.2e}  "
                      f"sigma2_e {st.sigma2:.4g}  pi_0 {st.pi[0]:.4g}  "
                      f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
            gain = st.elbo[-1] - st.elbo[-2]
            if change < self.tol or 0 <= gain < self.elbo_tol * abs(F):
                st.converged = True
                break

    @staticmethod
    def _pve(design, st):
        a = design.active
        v, u = residuals(design, st.b)
        fitted = design.y_tilde - (v + design.Q @ u)
        second = np.sum(st.phi[a] * (st.mu[a] ** 2 + st.s2[a]), axis=1)
        genetic = (float(fitted @ fitted) + float(design.d[a] @ (second - st.b[a] ** 2))) \
            / design.n_eff
        return genetic / (genetic + st.sigma2)
