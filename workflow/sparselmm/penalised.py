"""The Lasso and the elastic net on int8 genotypes, covariates unpenalised.

Objective (scikit-learn's, on standardised SNPs with ``[1, Z]`` projected out)::

    ||P y - P X b||^2 / (2 n) + alpha (l1_ratio ||b||_1 + (1 - l1_ratio) ||b||^2 / 2)

Projecting ``y`` and ``X`` onto the orthogonal complement of ``span([1, Z])``
(``P``) gives the same SNP effects as leaving ``Z`` and the intercept
unpenalised; their effects are then least squares on ``y - X b``.

The solver is cyclic coordinate descent (Friedman, Hastie & Tibshirani 2010)
run by the numba kernels of :mod:`sparselmm._kernels` on the raw genotype
matrix, standardised on the fly, with ``P`` applied through ``C = Q^T X`` as
in :mod:`sparselmm._design`: no dense float copy of the genotypes is made.
Along the penalty path (warm starts) each penalty is solved on a working set,
the sequential strong rule's survivors plus the SNPs already in the model
(Tibshirani et al. 2012, JRSS-B 74:245), and then checked over *all* SNPs:
any SNP violating its KKT condition ``|x_j^T r| <= n alpha l1_ratio`` joins
the working set and the solve is repeated, and the penalty is done only when
the duality gap of the full problem is below ``tol * ||P y||^2`` (the
criterion of scikit-learn's coordinate descent). The answer is therefore the
exact optimum to that tolerance, not a screened approximation.
"""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _kernels
from ._base import LinearPredictor
from ._design import RowSubset, build_design, row_subsets, take_columns
from .cv import assign_folds

SOLVERS = ("cd", "sklearn", "celer")


def _full_rows(design):
    """The whole design as a :class:`RowSubset` (every row weight 1)."""
    return RowSubset(np.ones(design.n), design.Q, design.R, np.ascontiguousarray(design.C.T),
                     design.d, design.active, design.y_tilde)


# coordinate passes between two duality-gap checks
CHECK_EVERY = 5
# memory for the dense copies of the SNPs in the model and their Gram matrices, shared
# by the paths computing at one time; past it, passes over those SNPs read the
# genotypes (slower, same answer)
CACHE_BYTES = 256 * 2**20
# SNPs per thread below which a pass is not split between threads
MIN_CHUNK = 2048


def in_chunks(n_jobs, size, work):
    """``work(a, b)`` over contiguous ranges covering ``range(size)``, one per thread
    (``n_jobs`` at most, each of ``MIN_CHUNK`` SNPs at least; the calling thread
    takes the first). For passes whose outputs are per SNP: the same numbers, bit
    for bit, however they are split."""
    k = int(min(max(1, int(n_jobs)), max(1, size // MIN_CHUNK)))
    if k == 1:
        work(0, size)
        return
    edges = np.linspace(0, size, k + 1).astype(np.intp)
    with ThreadPoolExecutor(max_workers=k - 1) as pool:
        rest = [pool.submit(work, a, b) for a, b in zip(edges[1:-1], edges[2:])]
        work(edges[0], edges[1])
        for r in rest:
            r.result()


def _correlations(design, sub, idx, v, u, n_jobs=1):
    """``X^T r`` over the SNPs ``idx``: one pass over those columns (split between
    ``n_jobs`` threads)."""
    out = np.empty(idx.size)
    z = sub.w * v
    calls = design.missing_calls()

    def part(a, b):
        _kernels.correlations(design.G, design.mean, design.scale, sub.Ct, idx[a:b], *calls,
                              z, u, out[a:b])

    in_chunks(n_jobs, idx.size, part)
    return out


def dual_value(yr, sq, top, l1):
    """The best dual value along one direction of the dual space.

    The elastic net ``||r||^2 / 2 + l1 ||b||_1 + l2 ||b||^2 / 2`` is the Lasso
    of the augmented data ``[X; sqrt(l2) I]``, ``[y; 0]`` (Zou & Hastie 2005),
    whose dual is ``max y^T theta - ||theta||^2 / 2`` subject to
    ``||X_aug^T theta||_inf <= l1``. For ``theta = s a`` with ``a`` the augmented
    residual ``[r; -sqrt(l2) b]``: ``yr = y^T r``, ``sq = ||a||^2 = ||r||^2 +
    l2 ||b||^2`` and ``top = ||X^T r - l2 b||_inf``; the best feasible ``s`` is
    ``yr / sq`` clipped to ``|s| <= l1 / top``.
    """
    if not sq > 0:
        return 0.0
    s = yr / sq
    if top > 0:
        s = min(max(s, -l1 / top), l1 / top)
    return s * yr - 0.5 * s * s * sq


def duality_gap(rr, yr, b, grad, l1, l2):
    """Primal minus dual value, the dual point along the residual. ``rr = ||r||^2``,
    ``yr = y^T r``; ``b`` and ``grad = X^T r`` on a set of SNPs outside which
    ``b`` is 0 (all SNPs: the gap of the full problem; fewer: of the problem
    restricted to them)."""
    bb = float(b @ b)
    primal = 0.5 * rr + l1 * float(np.abs(b).sum()) + 0.5 * l2 * bb
    top = float(np.abs(grad - l2 * b).max()) if b.size else 0.0
    return primal - dual_value(yr, rr + l2 * bb, top, l1)


class _Cache:
    """The SNPs that entered the model along one path: their standardised columns
    (dense, every row) and the Gram matrix ``A = (P X)^T (P X)`` and ``c = (P X)^T y~``
    over the rows in the fit, so that passes over the effects in the model
    cost ``m`` per coordinate instead of ``n`` (glmnet's covariance updates;
    Friedman, Hastie & Tibshirani 2010). Grows by doubling, within ``budget`` bytes
    (``CACHE_BYTES`` if None).
    """

    def __init__(self, design, sub, budget=None):
        self.design, self.sub = design, sub
        self.budget = CACHE_BYTES if budget is None else budget
        self.idx = np.empty(0, dtype=np.intp)
        self.pos = np.full(design.G.shape[1], -1, dtype=np.intp)
        self.X = np.empty((design.n, 0), order="F")
        self.A = np.empty((0, 0))
        self.c = np.empty(0)
        self.yy = float(sub.y_tilde @ sub.y_tilde)

    @property
    def m(self):
        return self.idx.size

    def admit(self, snps):
        """Add the SNPs of ``snps`` not cached yet; False if they would not fit."""
        new = snps[self.pos[snps] < 0]
        m, k = self.m, new.size
        if 8 * (m + k) * (self.design.n + m + k) > self.budget:
            return False
        if k == 0:
            return True
        d, sub = self.design, self.sub
        if m + k > self.X.shape[1]:  # grow by doubling
            cap = max(2 * self.X.shape[1], m + k, 16)
            X = np.empty((d.n, cap), order="F")
            X[:, :m] = self.X[:, :m]
            A = np.empty((cap, cap))
            A[:m, :m] = self.A[:m, :m]
            c = np.empty(cap)
            c[:m] = self.c[:m]
            self.X, self.A, self.c = X, A, c
        Xn = self.X[:, m:m + k]
        _kernels.decode_block(take_columns(d.G, new), d.sentinel, d.mean[new],
                              d.scale[new], 0, k, Xn)
        Cn = sub.C[:, new]
        Wn = Xn * sub.w[:, None]
        cross = Wn.T @ self.X[:, :m] - Cn.T @ sub.C[:, self.idx]
        self.A[m:m + k, :m] = cross
        self.A[:m, m:m + k] = cross.T
        self.A[m:m + k, m:m + k] = Wn.T @ Xn - Cn.T @ Cn
        self.c[m:m + k] = Xn.T @ sub.y_tilde  # y~ is 0 outside the fit and Q^T y~ = 0
        self.pos[new] = np.arange(m, m + k)
        self.idx = np.concatenate([self.idx, new])
        return True

    def solve(self, b, snps, l1, l2, target, max_iter):
        """Coordinate descent over the cached ``snps`` until the gap of the problem
        restricted to them is at most ``target``; updates ``b``. Returns the passes.
        The gap is checked every ``CHECK_EVERY`` passes: on an easy problem the
        passes past the target cost little and leave a far more accurate answer
        (held-out errors of neighbouring penalties can differ by 1e-5 only, and
        the choice between them should not hang on the solver's stopping point).
        """
        m = self.m
        S = self.pos[snps]
        bc = b[self.idx]
        grad = self.c[:m] - self.A[:m, :m] @ bc
        cs = self.c[S]
        epochs = 0
        while epochs < max_iter:
            for _ in range(CHECK_EVERY):
                step = _kernels.gram_epoch(self.A, m, S, grad, bc, l1, l2)
                epochs += 1
                if step == 0.0:
                    break
            bs, gs = bc[S], grad[S]  # b is 0 on the cache outside snps
            bs_c = float(bs @ cs)
            rr = self.yy - bs_c - float(bs @ gs)  # ||r||^2 = y~^T y~ - 2 b^T c + b^T A b
            if step == 0.0 or duality_gap(rr, self.yy - bs_c, bs, gs, l1, l2) <= target:
                break
        b[self.idx] = bc
        return epochs

    def residual(self, b):
        """``v = y~ - X b`` (every row) and ``u = Q^T X b`` for ``b`` non-zero only
        on the cache."""
        bc = b[self.idx]
        return self.sub.y_tilde - self.X[:, :self.m] @ bc, self.sub.C[:, self.idx] @ bc


def strong_rule(grad, l1, l1_prev):
    """The sequential strong rule for the elastic net (Tibshirani et al. 2012): SNPs
    likely to enter at penalty ``l1`` given ``grad = X^T r`` at the solution for
    ``l1_prev``. A heuristic: its misses are caught by the KKT check over all SNPs."""
    return np.abs(grad) >= 2.0 * l1 - l1_prev


def enet_path(design, sub, alphas, *, l1_ratio=1.0, tol=1e-4, max_iter=10_000,
              full_pass=None, start=None, n_jobs=1, cache_bytes=None):
    """Solve the penalised problem on the rows of ``sub`` along ``alphas`` (decreasing).

    A generator: after each penalty it yields ``(k, b, v, gap, converged)`` with
    ``b`` the standardised effects (a view, overwritten by the next step) and
    ``v`` such that ``X b = sub.y_tilde - v`` on every row (in the fit and
    outside it). ``max_iter`` bounds the coordinate passes per penalty.

    Per penalty (glmnet's scheme, Friedman et al. 2010; Tibshirani et al.
    2012): the SNPs in the model, and those violating their KKT condition at
    the previous penalty's solution, are solved for by coordinate descent on
    their Gram matrix (:class:`_Cache`) until the gap of that restricted
    problem is below the target; then the strong-rule survivors are checked
    (one pass over their columns), violators join and the solve goes on; when
    none is left, one pass over every SNP gives ``X^T r`` for the KKT check of
    all SNPs (violators join and the solve goes on) and the duality gap of the
    full problem, which must be below the target.

    ``full_pass(v, u)``, if given, computes those passes over every SNP (``X^T r`` on
    ``flatnonzero(sub.active)``); :class:`SharedPasses` gives the inner folds of a
    CV one pass for all. Otherwise the path's own passes over many SNPs are split
    between ``n_jobs`` threads (:func:`in_chunks`). ``start``, if given, is that pass
    at ``b = 0`` (:func:`start_correlations`), already computed. ``cache_bytes``
    bounds the path's :class:`_Cache`.
    """
    p = design.G.shape[1]
    everyone = np.flatnonzero(sub.active)
    if full_pass is None:
        def full_pass(v, u):
            return _correlations(design, sub, everyone, v, u, n_jobs)
    n_fit = sub.n
    b = np.zeros(p)
    v = sub.y_tilde.copy()
    u = np.zeros(sub.Q.shape[1])
    grad = np.zeros(p)  # X^T r at the current b, from the last pass over every SNP
    grad[everyone] = full_pass(v, u) if start is None else start
    target = tol * float(sub.y_tilde @ sub.y_tilde)
    l1_prev = float(np.abs(grad).max())  # the smallest l1 at which b = 0 is optimal
    cache = _Cache(design, sub, cache_bytes)
    args = (design.G, design.sentinel, design.mean, design.scale, sub.C, sub.d)

    def solve(snps, limit, budget):
        """Coordinate descent on ``snps`` until their restricted gap is <= limit."""
        if cache.admit(snps):
            done = cache.solve(b, snps, l1, l2, limit, budget)
            v[:], u[:] = cache.residual(b)
            return done
        done = 0  # too many to cache: the same passes on the int8 genotypes
        while done < budget:
            for _ in range(CHECK_EVERY):
                step = _kernels.enet_epoch(*args, snps, sub.w, v, u, b, l1, l2)
                done += 1
                if step == 0.0 or done >= budget:
                    break
            if step == 0.0 or gap(snps, _correlations(design, sub, snps, v, u,
                                                      n_jobs)) <= limit:
                break
        return done

    def gap(idx, g):
        r = sub.w * v + sub.Q @ u
        return duality_gap(float(r @ r), float(sub.y_tilde @ r), b[idx], g, l1, l2)

    for k, alpha in enumerate(alphas):
        l1 = n_fit * alpha * l1_ratio
        l2 = n_fit * alpha * (1.0 - l1_ratio)
        # in the model, or violating KKT at the new penalty (grad is exact at this b)
        in_fit = sub.active & ((b != 0.0) | (np.abs(grad) > l1))
        strong = sub.active & strong_rule(grad, l1, l1_prev) & ~in_fit
        limit = 0.9 * target
        epochs = 0
        while True:
            epochs += solve(np.flatnonzero(in_fit), limit, max(max_iter - epochs, 1))
            watch = np.flatnonzero(strong & ~in_fit)
            if watch.size:
                late = watch[np.abs(_correlations(design, sub, watch, v, u, n_jobs)) > l1]
                if late.size and epochs < max_iter:
                    in_fit[late] = True
                    continue
            g = full_pass(v, u)
            grad[everyone] = g
            # KKT over all SNPs: one left out of the fit must have |x_j^T r| <= l1
            violators = sub.active & ~in_fit & (np.abs(grad) > l1)
            if violators.any() and epochs < max_iter:
                in_fit |= violators
                strong |= violators
                continue
            full_gap = gap(everyone, g)
            if full_gap <= target or epochs >= max_iter:
                break
            limit *= 0.1
        l1_prev = l1
        yield k, b, v, full_gap, full_gap <= target


class SharedPasses:
    """One pass over the genotypes for the KKT checks of several penalty paths run in
    lockstep (the inner folds of a CV, each in its own thread).

    A path's ``correlations(f, v, u)`` waits until every path still running has
    asked for its pass; the last to ask computes them all in one pass
    (:func:`sparselmm._kernels.correlations_many`: each SNP read or decoded once,
    ``F`` dot products) and wakes the others. A path that ends calls ``leave(f)``.
    Each path's answer is the one :func:`_correlations` gives it, up to the order
    of the floating-point sums. ``n_jobs`` paths at most compute at a time outside
    the shared pass (a semaphore), so the threads use the cores a sequential run
    of ``n_jobs`` paths would; the shared pass, which every path waits for, is
    split between ``n_jobs`` threads. ``cache_bytes`` is each path's share of
    ``CACHE_BYTES``: ``n_jobs`` paths compute at a time, but every path keeps its
    cache while it waits.
    """

    def __init__(self, design, subs, n_jobs=1):
        self.design, self.subs = design, subs
        self.n_jobs = max(1, int(n_jobs))
        self.cache_bytes = CACHE_BYTES * min(self.n_jobs, len(subs)) // max(1, len(subs))
        self.snps = np.flatnonzero(np.logical_or.reduce([s.active for s in subs]))
        self.at = [np.searchsorted(self.snps, np.flatnonzero(s.active)) for s in subs]
        self.Cts = np.stack([s.Ct for s in subs])  # once: every pass reads it
        self.alive = set(range(len(subs)))
        self.asked = {}
        self.answers = {}
        self.cond = threading.Condition()
        self.cores = threading.Semaphore(self.n_jobs)

    def run(self, f, work):
        """``work()`` for path ``f`` in a thread, holding one of the ``n_jobs`` slots;
        the path leaves the lockstep when it returns or raises."""
        self.cores.acquire()
        try:
            return work()
        finally:
            self.leave(f)
            self.cores.release()

    def correlations(self, f, v, u):
        """``X^T r`` of path ``f`` at ``v, u`` over its SNPs (``flatnonzero(active)``)."""
        with self.cond:
            self.asked[f] = (v.copy(), u.copy())
            if len(self.asked) == len(self.alive):
                self._compute()
                return self.answers.pop(f)
        self.cores.release()  # waiting: let another path compute meanwhile
        with self.cond:
            while f not in self.answers:
                self.cond.wait()
            answer = self.answers.pop(f)
        self.cores.acquire()
        return answer

    def leave(self, f):
        with self.cond:
            self.alive.discard(f)
            if self.asked and len(self.asked) == len(self.alive):
                self._compute()

    def _compute(self):
        d = self.design
        paths = sorted(self.asked)
        Z = np.asfortranarray(np.column_stack(
            [self.subs[f].w * self.asked[f][0] for f in paths]))
        U = np.ascontiguousarray(np.vstack([self.asked[f][1] for f in paths]))
        out = np.empty((self.snps.size, len(paths)))
        which, calls = np.array(paths), d.missing_calls()

        def part(a, b):
            _kernels.correlations_many(d.G, d.mean, d.scale, self.Cts, which, self.snps[a:b],
                                       *calls, Z, U, out[a:b])

        in_chunks(self.n_jobs, self.snps.size, part)
        for col, f in enumerate(paths):
            self.answers[f] = out[self.at[f], col]
        self.asked.clear()
        self.cond.notify_all()


def start_correlations(design, sub, n_jobs=1):
    """``x_j^T P y`` over the rows of ``sub`` for its SNPs (``flatnonzero(sub.active)``):
    the first pass of a path, at ``b = 0``."""
    return _correlations(design, sub, np.flatnonzero(sub.active), sub.y_tilde,
                         np.zeros(sub.Q.shape[1]), n_jobs)


def largest_penalty(sub, start, l1_ratio=1.0):
    """The smallest penalty at which no SNP is in the model, ``max_j |x_j^T P y| /
    (n l1_ratio)`` over the rows of ``sub``, from ``start`` (:func:`start_correlations`;
    0 if no SNP varies or none correlates)."""
    if start.size == 0:
        return 0.0
    return float(np.abs(start).max()) / (sub.n * l1_ratio)


def path_end(design, *, eps=1e-2, n_alphas=30, l1_ratio=1.0, tol=1e-4, max_iter=10_000,
             n_jobs=1):
    """Standardised effects at the end of one penalty path on every training row, no
    CV: from :func:`largest_penalty` down to ``eps`` times it, ``n_alphas`` penalties on
    a geometric grid (zeros if nothing can enter). The start of SparseLMM's
    ``init="lasso"``."""
    full = _full_rows(design)
    start = start_correlations(design, full, n_jobs)
    top = largest_penalty(full, start, l1_ratio)
    b = np.zeros(design.G.shape[1])
    if not top > 0:
        return b
    for _, b, _, _, _ in enet_path(design, full, top * np.geomspace(1.0, eps, int(n_alphas)),
                                   l1_ratio=l1_ratio, tol=tol, max_iter=max_iter, start=start,
                                   n_jobs=n_jobs):
        pass
    return b.copy()


def check_path_params(l1_ratio, n_alphas, eps, tol, max_iter):
    """ValueError unless the penalty path's options are valid (the linear and logistic
    penalised regressions share them)."""
    if not 0 < l1_ratio <= 1:
        raise ValueError(f"l1_ratio must lie in (0, 1], got {l1_ratio}")
    if int(n_alphas) < 1 or not 0 < eps <= 1:
        raise ValueError(f"need n_alphas >= 1 and 0 < eps <= 1, got {n_alphas}, {eps}")
    if not tol > 0 or int(max_iter) < 1:
        raise ValueError(f"need tol > 0 and max_iter >= 1, got {tol}, {max_iter}")


def _best_penalty(mse_path):
    """The penalty with the lowest mean held-out error among those every fold reached."""
    mean = mse_path.mean(axis=0)  # NaN where a fold stopped early
    return int(np.nanargmin(mean))


class ProjectedElasticNetCV(LinearPredictor):
    """Elastic net on standardised SNPs with covariates projected out, penalty by K-fold CV.

    Parameters
    ----------
    l1_ratio : float in (0, 1]
        1 is the Lasso.
    n_alphas, eps : penalties on a geometric grid from ``alpha_max`` (the
        smallest penalty with no SNP in the model, on the whole training data)
        down to ``eps * alpha_max``.
    cv : int
        Inner folds for choosing the penalty (seeded by ``seed``).
    tol : float
        Stop a penalty when the duality gap is below ``tol * ||P y||^2`` (n-scaled).
    max_iter : int
        Coordinate passes per penalty before giving up (``converged_`` False).
    solver : "cd", "sklearn" or "celer"
        ``"cd"`` (default): coordinate descent on the int8 genotypes (module
        docstring); memory about the int8 matrix. ``"sklearn"``: scikit-learn's
        ``enet_path`` on a dense float64 copy (about 24 bytes per genotype; a
        reference for small data). ``"celer"``: the same dense route with
        celer's working-set solver (``pip install celer``; this package's
        default before the int8 solver, kept for comparison in ``bench/``).
    n_jobs : int
        Threads for the inner folds (the kernels release the GIL).
    patience : int or None
        Stop an inner fold's path once its held-out error has not improved for
        this many consecutive penalties (the early stopping of bigstatsr's
        penalised regressions, Privé, Aschard & Blum 2019); a penalty that not
        every inner fold reached is not chosen (its ``mse_path_`` entries are
        NaN). Small penalties cost the most (many SNPs, correlated by LD), and
        where nothing predicts (most genes of a transcriptome) the held-out error
        only rises along the path. None (default): the whole path, as
        scikit-learn's ``ElasticNetCV``. ``"cd"`` solver only.

    Attributes
    ----------
    coef_, intercept_, covariate_coef_, predict(...) : as in :class:`SparseLMM`
    alphas_ : the penalty grid; ``alpha_`` the chosen penalty
    mse_path_ : (cv, n_alphas) held-out mean squared error of every inner fit
    n_nonzero_ : SNPs with a non-zero effect; ``dual_gap_`` the final duality gap
    converged_ : every penalty of the final fit reached ``tol``

    Notes
    -----
    One standardisation for everything: the SNP means and SDs of the whole
    training data (missing calls imputed to that mean) standardise the inner
    fits too, so every fit shares the penalty grid's scale. Each inner fit
    projects out ``[1, Z]`` on its own rows (its intercept absorbs the shift of
    the column means), minimises the objective with ``n`` = its own number of
    rows, and predicts its held-out rows with covariate effects by least
    squares of ``y - X b`` on its rows. The penalty with the smallest mean
    held-out squared error is then refitted on the whole training data along
    the grid down to it. With ``solver="sklearn"`` the same computation runs
    on a dense copy, as this package did before the int8 solver.
    """

    def __init__(self, *, l1_ratio=0.5, n_alphas=30, eps=1e-2, cv=5, tol=1e-4, max_iter=10_000,
                 solver="cd", n_jobs=1, seed=0, patience=None):
        self.l1_ratio = l1_ratio
        self.patience = patience
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.n_jobs = n_jobs
        self.seed = seed

    def _check_params(self):
        check_path_params(self.l1_ratio, self.n_alphas, self.eps, self.tol, self.max_iter)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        if self.patience is not None and (int(self.patience) < 1 or self.solver != "cd"):
            raise ValueError(f"patience must be None or >= 1 and needs solver 'cd', got "
                             f"{self.patience} with {self.solver!r}")

    def fit(self, X, y, Z=None):
        self._check_params()
        design = build_design(X, y, Z)
        n = design.n
        full = _full_rows(design)
        if not design.active.any():
            raise ValueError("no SNP varies (every SNP is monomorphic or collinear with the "
                             "covariates): nothing for the penalised regression to fit")
        start = start_correlations(design, full, self.n_jobs)
        alpha_max = largest_penalty(full, start, self.l1_ratio)
        if not alpha_max > 0:
            raise ValueError("no SNP is correlated with y after the covariates (all X^T y = 0)")
        self.alphas_ = alpha_max * np.geomspace(1.0, self.eps, int(self.n_alphas))
        folds = assign_folds(n, int(self.cv), self.seed)
        if self.solver != "cd":
            self.mse_path_, b = self._fit_dense(design, folds)
            self.converged_, self.dual_gap_ = True, np.nan
        else:
            subs = row_subsets(design, [folds != k for k in range(int(self.cv))])
            passes = SharedPasses(design, subs, self.n_jobs)

            def errors(k):
                return passes.run(k, lambda: self._inner_errors(
                    design, subs[k], folds == k,
                    lambda v, u: passes.correlations(k, v, u), passes.cache_bytes))

            with ThreadPoolExecutor(max_workers=len(subs)) as pool:  # all at once: lockstep
                self.mse_path_ = np.array(list(pool.map(errors, range(len(subs)))))
            best = _best_penalty(self.mse_path_)
            ok = True
            for _, b, _, gap, converged in enet_path(design, full, self.alphas_[: best + 1],
                                                     start=start, n_jobs=self.n_jobs,
                                                     **self._solver_options()):
                ok &= converged
            self.converged_, self.dual_gap_ = bool(ok), float(gap)
            if not ok:
                warnings.warn(f"{type(self).__name__}: coordinate descent did not reach "
                              f"tol={self.tol} within max_iter={self.max_iter} passes",
                              stacklevel=2)
        best = _best_penalty(self.mse_path_)
        self.alpha_ = float(self.alphas_[best])
        self._finish(design, b.copy())
        self.n_nonzero_ = int(np.count_nonzero(self._b))
        return self

    def _solver_options(self):
        return dict(l1_ratio=self.l1_ratio, tol=self.tol, max_iter=int(self.max_iter))

    def _inner_errors(self, design, sub, test, full_pass=None, cache_bytes=None):
        """Held-out mean squared error of one inner fit at every penalty (NaN past an
        early stop, see ``patience``); ``full_pass``, ``cache_bytes`` as in
        :func:`enet_path`."""
        mse = np.full(self.alphas_.size, np.nan)
        best, best_at = np.inf, 0
        for k, _, v, _, _ in enet_path(design, sub, self.alphas_, full_pass=full_pass,
                                       cache_bytes=cache_bytes, **self._solver_options()):
            xb = sub.y_tilde - v
            w = np.linalg.solve(sub.R, sub.Q.T @ (design.y - xb))
            pred = design.Zfull[test] @ w + xb[test]
            mse[k] = np.mean((design.y[test] - pred) ** 2)
            if mse[k] < best:
                best, best_at = mse[k], k
            elif self.patience is not None and k - best_at >= int(self.patience):
                break
        return mse

    def _fit_dense(self, design, folds):
        """The same CV by scikit-learn's ``enet_path`` or celer's ``celer_path`` on a
        dense standardised copy (each inner split projected on its own rows)."""
        from ._design import standardised_blocks

        Xs = np.empty(design.G.shape, order="F")  # standardised, SNPs outside the model 0
        for j0, j1, blk in standardised_blocks(design.G, design.sentinel, design.mean,
                                               design.scale):
            Xs[:, j0:j1] = blk * design.active[j0:j1]
        y, Zfull = design.y, design.Zfull

        def path(Xp, yp, alphas):
            if self.solver == "celer":
                from celer import celer_path

                return celer_path(Xp, yp, "lasso", alphas=alphas, l1_ratio=self.l1_ratio,
                                  tol=self.tol)[1]
            from sklearn.linear_model import enet_path

            return enet_path(Xp, yp, l1_ratio=self.l1_ratio, alphas=alphas, tol=self.tol,
                             max_iter=int(self.max_iter))[1]

        def project(X, y, Zf):
            Q, _ = np.linalg.qr(Zf)
            return np.asfortranarray(X - Q @ (Q.T @ X)), y - Q @ (Q.T @ y)

        mse = np.zeros((int(self.cv), self.alphas_.size))
        for k in range(int(self.cv)):
            tr, te = folds != k, folds == k
            coefs = path(*project(Xs[tr], y[tr], Zfull[tr]), self.alphas_)
            w = np.linalg.lstsq(Zfull[tr], y[tr, None] - Xs[tr] @ coefs, rcond=None)[0]
            mse[k] = np.mean((y[te, None] - Zfull[te] @ w - Xs[te] @ coefs) ** 2, axis=0)
        best = int(np.argmin(mse.mean(axis=0)))
        coefs = path(*project(Xs, y, Zfull), self.alphas_[: best + 1])
        return mse, coefs[:, best]


class ProjectedLassoCV(ProjectedElasticNetCV):
    """The Lasso (``l1_ratio = 1``) of :class:`ProjectedElasticNetCV`:
    ``||P y - P X b||^2 / (2 n) + alpha ||b||_1``, penalty by inner K-fold CV."""

    def __init__(self, *, n_alphas=30, eps=1e-2, cv=5, tol=1e-4, max_iter=10_000, solver="cd",
                 n_jobs=1, seed=0, patience=None):
        super().__init__(l1_ratio=1.0, n_alphas=n_alphas, eps=eps, cv=cv, tol=tol,
                         max_iter=max_iter, solver=solver, n_jobs=n_jobs, seed=seed,
                         patience=patience)
