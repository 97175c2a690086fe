"""Sparse linear mixed model: spike-and-slab regression with covariates,
fitted by variational EM.

Model (Xiao 2019, "Sparse Linear Mixed Model"; the varbvs parameterisation of
Carbonetto & Stephens 2012)::

    y = Z w + X beta + e,          e ~ N(0, sigma_e^2 I)
    beta_j ~ pi N(0, sigma_e^2 sigma_b^2) + (1 - pi) delta_0

The slab variance is *scaled by the residual variance*: ``sigma2_b_`` is the
prior variance of a standardised SNP effect in units of ``sigma2_e_``. ``X`` is
standardised per SNP (mean 0, variance 1 over the training samples, missing
calls imputed to the mean) unless ``standardize=False``. ``Z`` always gets an
intercept column and has a flat prior: it is integrated out exactly by
projecting ``y`` and ``X`` onto the orthogonal complement of ``[1, Z]``.
"""

import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from . import _kernels
from ._base import LinearPredictor
from ._design import build_design, residuals
from .penalised import path_end

PI_MODES = ("em", "grid", "fixed")
ORDERS = ("marginal", "index")
INITS = ("prior", "lasso", "both")
# init="lasso": the end of one Lasso path (no CV) from the smallest penalty with no SNP
# in the model down to LASSO_START_EPS times it, on LASSO_START_ALPHAS penalties
LASSO_START_EPS = 0.01
LASSO_START_ALPHAS = 30
# a grid point whose ELBO stays this far below the best has importance
# weight below exp(-20) ~ 2e-9 and is not iterated to convergence
NEGLIGIBLE = 20.0


@dataclass
class _State:
    """Variational parameters and hyperparameters of one fit."""

    alpha: np.ndarray
    mu: np.ndarray
    s2: np.ndarray
    sigma2: float
    sa: float
    logodds: float
    elbo: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    abandoned: bool = False

    def copy(self):
        return _State(self.alpha.copy(), self.mu.copy(), self.s2.copy(), self.sigma2,
                      self.sa, self.logodds, list(self.elbo))


def default_pi(p):
    """Starting share of SNPs with an effect: ``min(0.01, 10/p)`` (10 SNPs when
    ``p`` is large; 1% when it is small)."""
    return min(0.01, 10.0 / p)


# |z| of a SNP's marginal association above which it is visited first (``"marginal"``)
LEAD_Z = 3.0


def marginal_association(design):
    """Each SNP's marginal association with the phenotype after the covariates.

    Returns ``(xty, z)``: ``xty_j = (P x_j)^T P y`` for the standardised SNP, so that
    ``xty_j / d_j`` is its least-squares effect alone (``d_j = ||P x_j||^2``), and
    ``z_j = sqrt(n') r_j``, ``r_j`` the correlation of ``P x_j`` with ``P y`` and
    ``n'`` the samples less the covariate columns; 0 for SNPs outside the model.
    """
    xty = np.zeros(design.G.shape[1])
    _kernels.rmatvec(design.G, design.sentinel, design.mean, design.scale, design.active,
                     design.y_tilde, xty)
    yy = float(design.y_tilde @ design.y_tilde)
    d = np.where(design.active, design.d, 1.0)
    z = xty / np.sqrt(d * max(yy, 1e-300)) * math.sqrt(design.n_eff)
    return xty, np.where(design.active, z, 0.0)


def update_order(design, how="marginal"):
    """The SNPs in the model, in the order the coordinate updates visit them.

    ``"index"``: as they come in ``X``. ``"marginal"``: first the SNPs whose
    marginal association with the phenotype after the covariates reaches
    ``|z| >= LEAD_Z`` (``z = sqrt(n') r``, ``r`` the correlation of ``P x_j``
    with ``P y``), strongest first, then the rest as they come in ``X``.

    Mean field settles on one SNP of a group in LD and keeps it: visited in
    file order, the first SNP of a haplotype that tags a causal variant takes
    the signal, and better proxies later in the file never enter (on GEUVADIS
    genes with strong cis-eQTLs this stopped 20-40 nats of ELBO short).
    Visiting the strongest associations first lets the lead SNP in, and the
    others then compete only for what it leaves. The SNPs without marginal
    signal keep file order, so a sweep still streams through memory (a fully
    shuffled order made sweeps 1.7x slower at 5,123 x 319,147).
    """
    snps = np.flatnonzero(design.active)
    if how == "index":
        return snps
    if how != "marginal":
        raise ValueError(f"order must be one of {ORDERS}, got {how!r}")
    _, z = marginal_association(design)
    z = np.abs(z[snps])
    lead = z >= LEAD_Z
    first = snps[lead][np.argsort(-z[lead], kind="stable")]
    return np.concatenate([first, snps[~lead]])


def _prob(logodds):
    """The probability of log-odds ``logodds``, as a float."""
    return float(expit(logodds))


def xlogy_ratio(a, b):
    """``a log(a / b)`` with ``0 log 0 = 0``."""
    out = np.zeros_like(a)
    b = np.broadcast_to(b, a.shape)
    pos = (a > 0) & (b > 0)  # b == 0 < a only by underflow of a denormal a
    out[pos] = a[pos] * np.log(a[pos] / b[pos])
    return out


def elbo(design, st, v, u):
    """Evidence lower bound of the mean-field posterior (up to ``-log|Z^T Z|/2``).

    ``v = y~ - X b`` and ``u = Q^T X b`` for ``b = alpha * mu``.
    """
    a = design.active
    al, mu, s2 = st.alpha[a], st.mu[a], st.s2[a]
    d = design.d[a]
    sigma2, sa = st.sigma2, st.sa
    pi = _prob(st.logodds)
    r = v + design.Q @ u
    rss = float(r @ r)
    var_term = float(d @ (al * (mu**2 + s2) - (al * mu) ** 2))
    loglik = -0.5 * design.n_eff * math.log(2 * math.pi * sigma2) - (rss + var_term) / (2 * sigma2)
    vb = sigma2 * sa
    kl_beta = -0.5 * float(al @ (1.0 + np.log(s2 / vb) - (mu**2 + s2) / vb))
    kl_gamma = float(np.sum(xlogy_ratio(al, pi) + xlogy_ratio(1.0 - al, 1.0 - pi)))
    return loglik - kl_beta - kl_gamma, rss, var_term


def _run(design, st, *, order, estimate_sigma2_e, estimate_sigma2_b, estimate_pi, max_iter,
         tol, elbo_tol, abandon_below=None, verbose=False, label=""):
    """Coordinate ascent (SNPs visited in ``order``) + M-steps until
    ``max |d alpha| < tol`` or the ELBO rises by less than ``elbo_tol`` relative;
    updates ``st``.

    ``abandon_below``: stop early (``st.abandoned``) once the ELBO, extrapolated
    geometrically from its last two increments, stays below this value; used on
    grid points whose importance weight is negligible anyway.
    """
    a = design.active
    n_active = max(int(a.sum()), 1)
    v, u = residuals(design, st.alpha * st.mu)
    F, _, _ = elbo(design, st, v, u)
    st.elbo = [F]
    t0 = time.perf_counter()
    for it in range(1, max_iter + 1):
        change = _kernels.sweep(design.G, design.sentinel, design.mean, design.scale,
                                design.C, design.d, order, v, u, st.alpha, st.mu, st.s2,
                                st.sigma2, st.sa, st.logodds)
        al, mu, s2 = st.alpha[a], st.mu[a], st.s2[a]
        sum_alpha = float(al.sum())
        second = float(al @ (mu**2 + s2))  # E[beta^2] summed
        if estimate_sigma2_e:
            _, rss, var_term = elbo(design, st, v, u)
            st.sigma2 = (rss + var_term + second / st.sa) / (design.n_eff + sum_alpha)
        if estimate_sigma2_b and sum_alpha > 0:
            st.sa = max(second / (st.sigma2 * sum_alpha), 1e-12)
        if estimate_pi:
            pi = min(max(sum_alpha / n_active, 1.0 / (10.0 * n_active)), 0.5)
            st.logodds = math.log(pi / (1.0 - pi))
        F, _, _ = elbo(design, st, v, u)
        st.elbo.append(F)
        st.n_iter = it
        if verbose:
            print(f"[sparselmm{label}] iter {it:4d}  elbo {F:.6f}  max|dalpha| {change:.2e}  "
                  f"sigma2_e {st.sigma2:.4g}  sigma2_b {st.sa:.4g}  pi {_prob(st.logodds):.3g}  "
                  f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
        gain = st.elbo[-1] - st.elbo[-2]
        if change < tol or 0 <= gain < elbo_tol * abs(F):
            st.converged = True
            break
        if abandon_below is not None and it >= 3:
            ratio = gain / (st.elbo[-2] - st.elbo[-3]) if st.elbo[-2] > st.elbo[-3] else 1.0
            if 0 <= ratio < 1 and F + gain * ratio / (1 - ratio) < abandon_below:
                st.abandoned = True
                break
    return st


class SparseLMM(LinearPredictor):
    """Spike-and-slab linear mixed model fitted by variational EM.

    Parameters
    ----------
    pi_mode : {"em", "grid", "fixed"}, default="em"
        How the prior inclusion probability ``pi`` is chosen. ``"em"``:
        M-step update ``pi = sum(alpha) / p``. ``"grid"``: fit at each
        log-odds in ``logodds_grid`` and average the fits with importance
        weights proportional to ``exp(ELBO)`` (varbvs). ``"fixed"``: keep
        ``pi``.
    pi : float, optional
        Initial (``"em"``) or fixed (``"fixed"``) ``pi``. Default ``min(0.01, 10/p)``.
    logodds_grid : array-like, optional
        ``log10(pi / (1 - pi))`` values for ``pi_mode="grid"``. Default
        ``n_grid`` points evenly spaced on ``[-log10(p), -1]``.
    n_grid : int, default=20
    init : {"prior", "lasso", "both"}, default="prior"
        Where the coordinate ascent starts. ``"prior"``: every ``alpha_j = pi``,
        ``mu_j = 0`` (the paper's and varbvs's start; this class's default, the
        workflow's is ``"lasso"``). ``"lasso"``: the end of one Lasso path on the
        same data (:func:`sparselmm.penalised.path_end`, no CV; about 40 % of the
        Lasso method's time, 3-10x the prior start's fit): ``alpha_j = 1`` and
        ``mu_j`` the Lasso effect on its support, ``alpha_j = 0`` elsewhere,
        ``sigma_e^2`` its residual variance, ``sigma_b^2`` and ``pi`` from its
        effects (the initialisation of mr.ash, Kim, Wang, Carbonetto & Stephens
        2024). Under LD the prior start can stop at a sparser local optimum that
        predicts worse (``docs/model.md``, where the coordinate ascent starts).
        ``"both"``: a fit from each start, keeping the one with the higher ELBO
        (grid: pass 1 runs every grid point from both, and pass 2 starts from the
        best of them all).
    order : {"marginal", "index"}, default="marginal"
        Order of the coordinate updates within a sweep: by decreasing marginal
        association with the phenotype (see :func:`update_order`; on real
        genotypes with LD it reaches a higher ELBO) or as the SNPs come in ``X``.
    sigma2_e, sigma2_b : float, optional
        Initial (or, with ``estimate_* = False``, fixed) residual variance and
        scaled slab variance. Defaults: the variance of the projected phenotype,
        and ``1 / (p pi)`` (prior PVE of one half).
    estimate_sigma2_e, estimate_sigma2_b : bool, default=True
    standardize : bool, default=True
        Scale every SNP to unit variance (the prior is then on standardised
        effects, as in GCTA-style heritability models).
    max_iter : int, default=1000
    tol : float, default=1e-4
        Convergence when the largest change in any ``alpha_j`` over a sweep
        falls below ``tol``...
    elbo_tol : float, default=1e-8
        ...or when an iteration raises the ELBO by less than ``elbo_tol * |ELBO|``
        (slowly drifting fits with many small effects).
    n_jobs : int, default=1
        Threads for the grid fits (the kernel releases the GIL).
    verbose : bool, default=False
        Print one progress line per iteration to stderr.

    Attributes
    ----------
    pip_ : ndarray (p,)  posterior inclusion probabilities (0 for monomorphic SNPs)
    coef_ : ndarray (p,)  posterior mean effects per allele (original scale)
    intercept_ : float
    covariate_coef_ : ndarray (q,)  effects of the columns of ``Z``
    sigma2_e_, sigma2_b_, pi_ : float  fitted hyperparameters (grid: weighted means)
    pve_ : float  proportion of phenotypic variance (after covariates) explained by SNPs
    elbo_ : ndarray  ELBO after every iteration (grid: of the best grid point)
    n_iter_ : int
    converged_ : bool
    logodds_, grid_weights_, grid_elbo_ : grid mode only

    Notes
    -----
    Coordinate update for SNP ``j`` with ``d_j = ||P x_j||^2``::

        s_j^2   = sigma_e^2 sigma_b^2 / (sigma_b^2 d_j + 1)
        mu_j    = s_j^2 / sigma_e^2 * x_j^T P (y - sum_{k != j} x_k alpha_k mu_k)
        logit alpha_j = logit pi + log(s_j / (sigma_b sigma_e)) + mu_j^2 / (2 s_j^2)

    M-step (exact maximisers of the ELBO, ``n' = n - rank([1, Z])``)::

        sigma_e^2 = (||P(y - X b)||^2 + sum_j d_j Var_q(beta_j)
                     + sum_j alpha_j (mu_j^2 + s_j^2) / sigma_b^2) / (n' + sum_j alpha_j)
        sigma_b^2 = sum_j alpha_j (mu_j^2 + s_j^2) / (sigma_e^2 sum_j alpha_j)
        pi        = sum_j alpha_j / p

    References
    ----------
    Carbonetto P. & Stephens M. (2012) Scalable variational inference for
    Bayesian variable selection in regression. Bayesian Analysis 7(1):73-108.
    Xiao, "Sparse Linear Mixed Model" (2019).
    """

    def __init__(self, *, pi_mode="em", pi=None, logodds_grid=None, n_grid=20, init="prior",
                 order="marginal", sigma2_e=None, sigma2_b=None, estimate_sigma2_e=True,
                 estimate_sigma2_b=True, standardize=True, max_iter=1000, tol=1e-4,
                 elbo_tol=1e-8, n_jobs=1, verbose=False):
        self.pi_mode = pi_mode
        self.pi = pi
        self.logodds_grid = logodds_grid
        self.n_grid = n_grid
        self.init = init
        self.order = order
        self.sigma2_e = sigma2_e
        self.sigma2_b = sigma2_b
        self.estimate_sigma2_e = estimate_sigma2_e
        self.estimate_sigma2_b = estimate_sigma2_b
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.elbo_tol = elbo_tol
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fitting ---------------------------------------------------------
    def _check_params(self):
        if self.pi_mode not in PI_MODES:
            raise ValueError(f"pi_mode must be one of {PI_MODES}, got {self.pi_mode!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.pi is not None and not 0 < self.pi < 1:
            raise ValueError(f"pi must lie in (0, 1), got {self.pi}")
        for name in ("sigma2_e", "sigma2_b"):
            val = getattr(self, name)
            if val is not None and not val > 0:
                raise ValueError(f"{name} must be positive, got {val}")
        if int(self.max_iter) < 1:
            raise ValueError("max_iter must be >= 1")
        if not self.tol > 0 or not self.elbo_tol >= 0:
            raise ValueError("tol must be positive and elbo_tol non-negative")

    def _initial_state(self, design, pi, start=None):
        """The state the coordinate ascent starts from at prior inclusion ``pi``:
        ``start`` (the Lasso start) with its ``pi`` replaced, or the prior start."""
        if start is not None:
            st = start.copy()
            st.logodds = math.log(pi / (1 - pi))
            return st
        p = design.G.shape[1]
        n_active = max(int(design.active.sum()), 1)
        sigma2 = self.sigma2_e if self.sigma2_e is not None else float(
            design.y_tilde @ design.y_tilde / design.n_eff)
        sa = self.sigma2_b if self.sigma2_b is not None else 1.0 / (n_active * pi)
        alpha = np.where(design.active, pi, 0.0)
        mu = np.zeros(p)
        s2 = np.full(p, sigma2 * sa)
        return _State(alpha, mu, s2, sigma2, sa, math.log(pi / (1 - pi)))

    def _lasso_state(self, design):
        """The Lasso start (``init="lasso"``) and its ``pi``; ``(None, None)`` when the
        Lasso path keeps no SNP (the prior start is used)."""
        b = np.where(design.active,
                     path_end(design, eps=LASSO_START_EPS, n_alphas=LASSO_START_ALPHAS,
                              n_jobs=self.n_jobs), 0.0)
        support = b != 0
        k = int(support.sum())
        if k == 0:
            return None, None
        n_active = max(int(design.active.sum()), 1)
        v, u = residuals(design, b)
        r = v + design.Q @ u
        sigma2 = self.sigma2_e if self.sigma2_e is not None else max(
            float(r @ r) / design.n_eff, 1e-12)
        sa = self.sigma2_b if self.sigma2_b is not None else max(
            float(b @ b) / (sigma2 * k), 1e-12)
        pi = min(max(k / n_active, 1.0 / (10.0 * n_active)), 0.5)
        alpha = support.astype(float)
        s2 = sigma2 * sa / (sa * design.d + 1.0)
        return _State(alpha, b, s2, sigma2, sa, math.log(pi / (1 - pi))), pi

    def fit(self, X, y, Z=None):
        """Fit the model.

        Parameters
        ----------
        X : array (n, p), int8 dosages (missing = -127) or float (missing = NaN)
        y : array (n,)
        Z : array (n, q), optional; covariates, an intercept is always added

        Returns
        -------
        self
        """
        self._check_params()
        design = build_design(X, y, Z, standardize=self.standardize)
        n_active = max(int(design.active.sum()), 1)
        pi0 = self.pi if self.pi is not None else default_pi(n_active)
        starts = [] if self.init == "lasso" else [(None, pi0)]
        if self.init != "prior":
            start, pi_lasso = self._lasso_state(design)
            if start is not None:
                starts.append((start, self.pi if self.pi is not None else pi_lasso))
        if not starts:  # the Lasso path keeps no SNP: start from the prior
            starts.append((None, pi0))
        opts = dict(order=update_order(design, self.order),
                    estimate_sigma2_e=self.estimate_sigma2_e,
                    estimate_sigma2_b=self.estimate_sigma2_b,
                    max_iter=int(self.max_iter), tol=float(self.tol),
                    elbo_tol=float(self.elbo_tol))
        if self.pi_mode == "grid":
            st, b = self._fit_grid(design, opts, [start for start, _ in starts])
        else:
            fits = [_run(design, self._initial_state(design, pi, start),
                         estimate_pi=self.pi_mode == "em", verbose=self.verbose, **opts)
                    for start, pi in starts]
            st = max(fits, key=lambda f: f.elbo[-1])
            b = st.alpha * st.mu
            self.pip_ = st.alpha.copy()
            self.sigma2_e_, self.sigma2_b_, self.pi_ = st.sigma2, st.sa, _prob(st.logodds)
            self.pve_ = self._pve(design, st)
        self.elbo_ = np.asarray(st.elbo)
        self.n_iter_ = st.n_iter
        self.converged_ = st.converged
        self._finish(design, b)
        return self

    def _grid(self, p):
        if self.logodds_grid is not None:
            grid = np.asarray(self.logodds_grid, dtype=float).ravel()
            if grid.size == 0 or not np.all(np.isfinite(grid)):
                raise ValueError("logodds_grid must be a non-empty list of finite numbers")
            return grid
        return np.linspace(-math.log10(max(p, 2)), -1.0, int(self.n_grid))

    def _fit_grid(self, design, opts, initial):
        grid = self._grid(max(int(design.active.sum()), 1))
        lo = grid * math.log(10.0)  # natural log-odds

        def run_from(start, i, label, floor):  # start: a state (None: the prior start)
            st = self._initial_state(design, _prob(lo[i]), start)
            return _run(design, st, estimate_pi=False, verbose=self.verbose,
                        abandon_below=floor, label=f" {label} {i + 1}/{grid.size}", **opts)

        # pass 1: every grid point from each initial start, in order, abandoning
        # points that fall far below the best so far
        first, best = [], None
        for start in initial:
            for i in range(grid.size):
                floor = None if best is None else best.elbo[-1] - NEGLIGIBLE
                st = run_from(start, i, "pass1", floor)
                first.append(st)
                if best is None or st.elbo[-1] > best.elbo[-1]:
                    best = st
        # pass 2: every grid point from the best fit of pass 1 (varbvs)
        floor = best.elbo[-1] - NEGLIGIBLE
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            fits = list(pool.map(lambda i: run_from(best, i, "pass2", floor), range(grid.size)))
        F = np.array([s.elbo[-1] for s in fits])
        w = np.exp(F - F.max())
        w /= w.sum()
        self.logodds_ = grid
        self.grid_elbo_ = F
        self.grid_weights_ = w
        self.pip_ = sum(wi * s.alpha for wi, s in zip(w, fits))
        b = sum(wi * s.alpha * s.mu for wi, s in zip(w, fits))
        self.sigma2_e_ = float(sum(wi * s.sigma2 for wi, s in zip(w, fits)))
        self.sigma2_b_ = float(sum(wi * s.sa for wi, s in zip(w, fits)))
        self.pi_ = float(sum(wi * _prob(s.logodds) for wi, s in zip(w, fits)))
        self.pve_ = float(sum(wi * self._pve(design, s) for wi, s in zip(w, fits)))
        best_fit = fits[int(np.argmax(F))]
        # points abandoned below the floor carry weight < exp(-NEGLIGIBLE)
        best_fit.converged = all(s.converged or s.abandoned for s in fits)
        best_fit.n_iter = sum(s.n_iter for s in first) + sum(s.n_iter for s in fits)
        return best_fit, b

    @staticmethod
    def _pve(design, st):
        """E_q ||P X beta||^2 / (that + n' sigma_e^2): the SNP heritability."""
        b = st.alpha * st.mu
        v, u = residuals(design, b)
        r = v + design.Q @ u
        fitted = design.y_tilde - r
        a = design.active
        var = float(design.d[a] @ (st.alpha[a] * (st.mu[a] ** 2 + st.s2[a]) - b[a] ** 2))
        genetic = (float(fitted @ fitted) + var) / design.n_eff
        return genetic / (genetic + st.sigma2)
