"""Vector approximate message passing (VAMP) with EM for the mixture prior.

The E-step alternative to mean field used by ``HybridLMM(inference="vamp")``.
The model is the one of :mod:`sparselmm.hybrid` with the covariates integrated
out: ``y~ = A beta + e``, ``A = P X`` (``m = n - q`` effective rows),
``e ~ N(0, sigma_e^2 I)`` and ``beta_j ~ sum_k pi_k N(0, sigma_e^2 v_k)``
(``v_0 = 0``: the point mass).

VAMP (Rangan, Schniter & Fletcher 2019) splits the posterior into two
factors that exchange Gaussian messages ``N(beta; r, 1/gamma)``:

1. *denoiser*: the separable prior times ``N(beta; r1, 1/gamma1)``. Its exact
   posterior mean ``x1`` and average variance ``c1`` give the extrinsic
   message ``gamma2 = 1/c1 - gamma1``, ``r2 = (x1/c1 - gamma1 r1) / gamma2``;
2. *LMMSE*: the likelihood times ``N(beta; r2, 1/gamma2)``, a Gaussian with
   mean ``x2 = r2 + A^T U diag(1/(s_i^2 + sigma_e^2 gamma2)) (U^T y~ - U^T A r2)``
   and average variance ``c2 = (sum_i 1/(s_i^2/sigma_e^2 + gamma2) + (N - R)/gamma2) / N``
   (``A = U S V^T``, rank ``R``); ``gamma1 = 1/c2 - gamma2``,
   ``r1 = (x2/c2 - gamma2 r2) / gamma1``.

Its fixed points are those of the expectation-consistent approximation of the
posterior (Opper & Winther 2005). Unlike mean field, the extrinsic messages
carry the Onsager correction, so for designs with weakly correlated columns
the posterior means approach the exact (Bayes-optimal) ones; mean field
misses that correction and shrinks too hard when many weak effects are
present. The hyperparameters follow the EM-VAMP M-steps (Fletcher, Sahraee-Ardakan,
Rangan & Schniter 2017): ``pi_k`` the mean responsibility of component ``k``
in the denoiser, ``sigma_e^2`` maximising the expected complete-data
likelihood with the LMMSE moments for the residual and the denoiser moments
for the prior term.

How a run proceeds (each rule answers a failure seen on genotype data):

* **Start**: ``r1 = 0`` with an uninformative precision ``gamma1 = 1/var(y~)``
  (an effect may be as large as the phenotype's SD), so the first LMMSE step
  is close to the ridge posterior. Starting from ``gamma1 = 1 / prior
  variance`` instead claims a precision the data cannot support when the
  prior is sparse, and the first steps blow up under LD.
* **Two phases**: the messages first settle with the hyperparameters fixed
  (``max(agreement, step) < SETTLE``); only then do the M-steps run. An
  M-step on unsettled messages trusts a miscalibrated ``gamma1`` and can move
  most SNPs into the slab in one step.
* **Convergence** is measured in units of the prediction: the step of the
  fit ``A x2`` (root mean square over the samples, free in the SVD basis) is
  compared with ``sd(y~)``. The run stops when the two factors agree
  (``||x1 - x2|| / sd(y~)``, zero at a fixed point) and that step and the
  relative step of ``sigma_e^2``, both divided by the damping, are below
  ``tol``. Under LD the effects can drift for hundreds of iterations along
  directions that correlated SNPs leave unseen (``A d ~ 0``: effects traded
  between SNPs in LD) while the fit, and any prediction on genotypes with
  the same LD, no longer moves; a step measured on the effects (``||d||``,
  the prediction change only for unlinked SNPs) never settled there
  (measured on coalescent genotypes: 9 of 45 Fig 1 fits ran into
  ``max_iter`` at the smallest damping). A relative change of the effects
  would never settle on a phenotype without signal either, where they are
  all near zero.
* **Divergence**: a message or ``sigma_e^2`` not finite, ``sigma_e^2`` outside
  ``(1e-6, 1.2) var(y~)`` (at any EM fixed point ``sigma_e^2 <= var(y~)`` up to
  the posterior variance term) or ``||x1|| / sd(y~) > 10`` (a genetic SD ten
  times the phenotype's: the messages have exploded; in ``p >> n`` such an
  explosion can hide in the null space of ``A`` where neither the residual
  nor ``sigma_e^2`` sees it). A run that diverges, or *oscillates* (its
  change has not fallen below 0.9 times its smallest earlier value for
  ``STALL`` iterations, and in at least half of them the fit stepped back
  against its previous step), restarts from the start with half the damping.
  A run whose change falls that slowly without stepping back is the slow
  drift of EM on the mixture weights (common under LD): it goes on at the same
  damping, since halving it would only halve the drift's speed (measured on
  coalescent genotypes, where restarts for such drift took fits down to the
  smallest damping without converging).
  While the messages settle, a run caught in a *two-step cycle* (for ``CYCLE``
  iterations in a row the fit stepped back and the change repeated the one two
  iterations before to ``CYCLE_TOL``) restarts at once instead of after
  ``STALL`` iterations: such a cycle never left (measured on 180 fits: GEUVADIS
  genes, semi-synthetic and simulated sets with and without LD; 31 cycles found,
  none of the 208 runs that settled was taken for one, and a cycle test ten or
  thirty times looser still took none). The restart is the one the stall would
  have made, so the fit is the same, sooner.
* **Acceleration** (:class:`_Accelerator`): once the messages have settled, EM
  can move ``sigma_e^2`` and ``pi`` by a fraction of a percent per iteration for
  hundreds or thousands of iterations (GEUVADIS genes with strong cis-eQTLs on
  the whole chromosome: 2,134 iterations, 42 s, for one fit). A run restarted
  with less damping tries the damping it was configured with again, and every
  ``JUMP_EVERY`` iterations a SQUAREM extrapolation (Varadhan & Roland 2008)
  jumps along the drift; each is undone if the run then diverges or its change
  grows. Such a jump can land on a plateau where one iteration changes little,
  so an accelerated run stops only after ``CONFIRM`` iterations in a row below
  ``tol``. Same fixed points, fewer iterations (``bench/sparselmm_under_ld.py
  --hybrid``).
* **One denoiser pass per iteration**: the M-steps of ``pi`` and ``sigma_e^2``
  both use the E-step of that iteration; the new weights enter the next
  denoiser call (the fixed points are the same).

EM-VAMP can have two fixed points when the effects are many and weak: "no
signal" (``pve`` ~ 0), reached from the sparse start, and the signal, reached
from a more diffuse one. :class:`sparselmm.HybridLMM` therefore runs both
starts (``multi_start``) and keeps the converged one with the higher
:func:`log_evidence`, leaving the sparse start only for a margin
(``start_margin``).

Only ``X r`` and ``X^T z`` on the int8 genotypes are used per iteration
(:mod:`sparselmm._kernels`); the left singular vectors come from one
eigendecomposition of the n x n matrix ``A A^T``, so nothing p-sized and
dense is ever stored beyond a few vectors.
"""

import math
import sys
import time

import numpy as np

from . import _kernels
from ._design import projected_blocks

STALL = 100  # iterations without progress after which a run counts as oscillating
CYCLE = 20  # settling: iterations of a two-step cycle after which a run restarts
CYCLE_TOL = 1e-3  # ... the change equal to the one two iterations before to this
SETTLE = 1e-2  # messages count as settled (M-steps start) below this change
MAX_NORM = 10.0  # ||x|| / sd(y~) above this: the messages have exploded
MAX_SIGMA2 = 1.2  # sigma_e^2 / var(y~) above this: diverged
# acceleration of EM's slow drift (``em_vamp(accelerate=True)``; module docstring)
RAISE_AFTER = 20  # iterations of steady drift after which a damped run tries twice the damping
JUMP_EVERY = 10  # iterations between two extrapolations
JUMP_TRIAL = 4  # an extrapolation is kept if the change this many iterations later ...
JUMP_WORSE = 2.0  # ... is at most this many times the change before it
MAX_STEP = 256.0  # the largest extrapolation step (SQUAREM's alpha), in iterations
CONFIRM = 10  # iterations in a row below tol that make a run converged


def spectrum(design):
    """``(U, s2)``: left singular vectors and squared singular values of ``P X_active``."""
    n = design.n
    K = np.zeros((n, n))
    for _, _, blk in projected_blocks(design):
        K += blk @ blk.T
    lam, U = np.linalg.eigh(K)
    keep = lam > max(lam.max(), 0.0) * n * np.finfo(float).eps * 10
    return U[:, keep], lam[keep]


def denoise(r, gamma, pi, var):
    """Posterior of ``beta_j ~ sum_k pi_k N(0, var_k)`` given ``r_j ~ N(beta_j, 1/gamma)``.

    Returns ``(mean, variance, responsibilities w (p x K), component means,
    component variances)``; ``var[0] = 0`` is the point mass.
    """
    tau = 1.0 / gamma
    total = var[None, :] + tau
    with np.errstate(divide="ignore"):
        logw = np.log(pi)[None, :] - 0.5 * np.log(total) - 0.5 * r[:, None] ** 2 / total
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(axis=1, keepdims=True)
    shrink = var / (var + tau)
    m = r[:, None] * shrink[None, :]
    c = np.broadcast_to((shrink * tau)[None, :], m.shape)
    x = np.sum(w * m, axis=1)
    v = np.sum(w * (c + m * m), axis=1) - x * x
    return x, np.maximum(v, 0.0), w, m, c


def denoise_moments(r, gamma, pi, var, block=4096):
    """``(mean, variance, wsum, msum)`` of :func:`denoise` by the compiled kernels
    (:func:`sparselmm._kernels.mixture_logits` and ``mixture_sums``, ``block`` SNPs
    at a time): the responsibilities and second moments summed over SNPs instead
    of the p x K arrays."""
    r = np.ascontiguousarray(r, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    tau = 1.0 / gamma
    total = var + tau
    shrink = var / total
    with np.errstate(divide="ignore"):
        a = np.log(pi) - 0.5 * np.log(total)
    inv_total = 1.0 / total
    K, p = var.size, r.size
    x, v = np.empty(p), np.empty(p)
    wsum, msum = np.zeros(K), np.zeros(K)
    buf, work = np.empty((K, min(block, p))), np.empty((3, min(block, p)))
    for lo in range(0, p, block):
        hi = min(lo + block, p)
        b, w = buf[:, :hi - lo], work[:, :hi - lo]
        _kernels.mixture_logits(r[lo:hi], a, inv_total, b, w[0])
        np.exp(b, out=b)
        _kernels.mixture_sums(r[lo:hi], tau, shrink, b, w, x[lo:hi], v[lo:hi], wsum, msum)
    return x, v, wsum, msum


class Lmmse:
    """The likelihood factor: Gaussian posterior of ``beta`` given ``y~`` and
    the prior message ``N(r2, 1/gamma2)``, in the basis of the SVD of ``A``."""

    def __init__(self, design):
        self.design = design
        self.U, self.s2 = design.cached("spectrum", lambda: spectrum(design))
        y = design.y_tilde
        self.Uy = self.U.T @ y
        # the part of y~ no SNP combination can reach
        self.outside = max(float(y @ y - self.Uy @ self.Uy), 0.0)
        self.n_active = max(int(design.active.sum()), 1)
        self.active = np.flatnonzero(design.active)
        # U lies in the range of P, so A^T z = X^T z: no covariate term in correlations
        self.no_covariates, self.no_u = np.zeros((design.G.shape[1], 0)), np.zeros(0)

    def X_times(self, b):
        """``X b``; with :meth:`Xt_times` on the raw dosages, missing calls taken out
        afterwards (:func:`sparselmm._kernels.matvec_raw`, ``correlations``): the two
        passes over the genotypes are most of an iteration's time."""
        d = self.design
        out = np.zeros(d.n)
        _kernels.matvec_raw(d.G, d.mean, d.scale, np.ascontiguousarray(b, dtype=np.float64),
                            *d.missing_calls(), out)
        return out

    def Xt_times(self, z):
        """``X^T z`` on the active SNPs, 0 elsewhere."""
        d = self.design
        part = np.empty(self.active.size)
        _kernels.correlations(d.G, d.mean, d.scale, self.no_covariates, self.active,
                              *d.missing_calls(), np.ascontiguousarray(z, dtype=np.float64),
                              self.no_u, part)
        out = np.zeros(d.G.shape[1])
        out[self.active] = part
        return out

    def __call__(self, r2, gamma2, sigma2):
        """Posterior mean ``x2``, average variance ``c2``, ``U^T A x2`` and ``tr(A Cov A^T)``."""
        # U^T A = U^T X since U lies in the range of P
        UAr2 = self.U.T @ self.X_times(r2)
        h = 1.0 / (self.s2 + sigma2 * gamma2)
        coef = h * (self.Uy - UAr2)
        x2 = r2 + self.Xt_times(self.U @ coef)
        c2 = (float(np.sum(sigma2 * h)) + (self.n_active - self.s2.size) / gamma2) / self.n_active
        fitted = UAr2 + self.s2 * coef
        trace = float(np.sum(sigma2 * self.s2 * h))
        return x2, c2, fitted, trace


def extrinsic(x, c, r, gamma):
    """Extrinsic message ``(r_out, gamma_out)`` of a factor whose belief has mean
    ``x`` and average variance ``c`` given its incoming message ``N(r, 1/gamma)``:
    ``gamma_out = 1/c - gamma``, ``r_out = (x/c - gamma r) / gamma_out``."""
    gamma_out = max(1.0 / c - gamma, 1e-12)
    return (x / c - gamma * r) / gamma_out, gamma_out


def log_evidence(lmmse, r1, gamma1, pi, var, sigma2):
    """Expectation-consistent approximation of ``log p(y~ | pi, sigma_e^2)`` at the
    messages ``(r1, gamma1)`` (Opper & Winther 2005), up to ``-log|Z^T Z| / 2``
    like the mean-field ELBO.

    With ``t2(beta) = exp(-gamma1 |beta|^2 / 2 + gamma1 r1^T beta)`` standing in
    for the likelihood and ``t1`` (from the extrinsic ``r2, gamma2`` of the
    denoiser) for the prior::

        log Z = log int prior t2 + log int likelihood t1 - log int t1 t2

    Exact for a Gaussian prior and for orthogonal standardised SNPs.
    """
    N = r1.size
    tau = 1.0 / gamma1
    total = var[None, :] + tau
    with np.errstate(divide="ignore"):
        logc = np.log(pi)[None, :] - 0.5 * np.log(2 * math.pi * total) \
            - 0.5 * r1[:, None] ** 2 / total
    top = logc.max(axis=1)
    log_mix = top + np.log(np.exp(logc - top[:, None]).sum(axis=1))
    prior_t2 = float(np.sum(0.5 * gamma1 * r1**2 + log_mix)) \
        + 0.5 * N * math.log(2 * math.pi / gamma1)
    x1, v1, _, _, _ = denoise(r1, gamma1, pi, var)
    r2, gamma2 = extrinsic(x1, max(float(v1.mean()), 1e-300), r1, gamma1)
    design = lmmse.design
    full = np.zeros(design.G.shape[1])
    full[design.active] = r2
    z = lmmse.Uy - lmmse.U.T @ lmmse.X_times(full)
    d = sigma2 + lmmse.s2 / gamma2
    rest = design.n_eff - lmmse.s2.size  # dimensions of y~ outside the range of A
    loglik = -0.5 * float(np.sum(np.log(2 * math.pi * d) + z**2 / d)) \
        - 0.5 * rest * math.log(2 * math.pi * sigma2) - lmmse.outside / (2 * sigma2)
    lik_t1 = 0.5 * gamma2 * float(r2 @ r2) + 0.5 * N * math.log(2 * math.pi / gamma2) + loglik
    G = gamma1 + gamma2
    h = gamma1 * r1 + gamma2 * r2
    t1_t2 = 0.5 * N * math.log(2 * math.pi / G) + float(h @ h) / (2 * G)
    return prior_t2 + lik_t1 - t1_t2


def gaussian_evidence(lmmse, v):
    """Exact ``log p(y~ | beta ~ N(0, sigma_e^2 v I))`` at the ``sigma_e^2`` that
    maximises it, for each variance in ``v``; returns ``(log evidence, sigma_e^2)``
    arrays (up to ``-log|Z^T Z| / 2``, like :func:`log_evidence`).

    ``y~ ~ N(0, sigma_e^2 (I + v A A^T))``: in the eigenbasis of ``A A^T`` the
    quadratic form is ``Q(v) = sum_i (U^T y~)_i^2 / (1 + v s_i^2) + |y~ outside
    range(A)|^2``, so ``sigma_e^2 = Q(v) / m`` and
    ``log p = -(m log(2 pi Q(v) / m) + m + sum_i log(1 + v s_i^2)) / 2``.
    """
    v = np.atleast_1d(np.asarray(v, dtype=float))
    m = lmmse.design.n_eff
    d = 1.0 + v[:, None] * lmmse.s2[None, :]
    Q = np.sum(lmmse.Uy[None, :] ** 2 / d, axis=1) + lmmse.outside
    sigma2 = Q / m
    return -0.5 * (m * np.log(2 * math.pi * sigma2) + m + np.log(d).sum(axis=1)), sigma2


class VampState:
    def __init__(self, damping):
        self.damping = damping
        self.n_iter = 0
        self.converged = False
        self.diverged = False
        self.stalled = False


def em_vamp(lmmse, grid, pi, sigma2, *, estimate_sigma2_e, estimate_weights, damping,
            max_iter, tol, min_damping=0.05, accelerate=True, verbose=False):
    """Run EM-VAMP with the likelihood factor ``lmmse`` (an :class:`Lmmse`, built
    once per design and shared by every start and restart); returns a :class:`VampState`
    (``x``, ``w``, ``pi``, ``sigma2``, ``genetic`` = E||A beta||^2 / m, ``damping``,
    ``n_iter``, ``converged``, ``diverged``, ``stalled``).

    A run that diverges or stalls restarts with half the damping, down to
    ``min_damping``; a run at the smallest damping is never stopped for
    stalling, and ``diverged`` is set only when it diverges. With ``accelerate``
    the EM phase's slow drift is sped up (:class:`_Accelerator`); the fixed points
    are the same.
    """
    ceiling = damping
    while True:
        last = damping / 2 < min_damping
        st = _iterate(lmmse, grid, pi, sigma2, estimate_sigma2_e=estimate_sigma2_e,
                      estimate_weights=estimate_weights, damping=damping,
                      max_iter=max_iter, tol=tol, stop_on_stall=not last, verbose=verbose,
                      accelerator=_Accelerator(ceiling) if accelerate else None)
        if not (st.diverged or st.stalled) or last:
            return st
        damping /= 2
        if verbose:
            what = "diverged" if st.diverged else "stalled"
            print(f"[hybrid/vamp] {what} at iteration {st.n_iter}; restarting with "
                  f"damping {damping:g}", file=sys.stderr, flush=True)


def _copy(state):
    r1, gamma1, pi, sigma2 = state
    return r1.copy(), gamma1, pi.copy(), sigma2


class _Accelerator:
    """Speeds up the EM phase's slow drift of ``(sigma_e^2, pi)`` and the messages.

    Under LD the messages settle within tens of iterations, but EM then moves the
    hyperparameters by a fraction of a percent per iteration for hundreds more (on
    GEUVADIS whole-chromosome folds, ``sigma_e^2`` from 0.54 to 0.42 over 2,000
    iterations). Two remedies, each tried and undone if it fails, so that only the
    path changes and never the fixed point:

    * **damping back up**: a run restarted with less damping (a divergence while
      the messages settled) tries twice the damping, up to the configured one,
      after ``RAISE_AFTER`` iterations without the fit stepping back; a step back or
      a divergence within the next ``RAISE_AFTER`` iterations restores the state
      and the damping before the raise, for the rest of the run, and an
      oscillation later on (a stall, module docstring) returns to the run's own
      damping instead of restarting it;
    * **extrapolation** (SQUAREM, Varadhan & Roland 2008): every ``JUMP_EVERY``
      iterations, from the last three states ``s0, s1, s2`` (messages ``r1``,
      ``log gamma1``, ``log pi``, ``log sigma_e^2``), jump to ``s0 - 2 a (s1 - s0) +
      a^2 (s2 - 2 s1 + s0)`` with ``a = -|r| / |v|`` measured on the hyperparameters
      and bounded by a step that doubles after each kept jump (up to ``MAX_STEP``)
      and quarters after a rejected one. A jump is rejected, and ``s2`` restored,
      if the run diverges or if ``JUMP_TRIAL`` iterations later its change is above
      ``JUMP_WORSE`` times the change before the jump.

    A jump can land where one iteration changes little without being near a fixed
    point (EM-VAMP has plateaus it leaves slowly): a run counts as converged only
    after ``CONFIRM`` iterations in a row below ``tol``, with no jump among them.
    """

    def __init__(self, ceiling):
        self.ceiling = ceiling
        self.forward = 0  # iterations in a row without a step back
        self.trial = None  # (state, damping, last iteration of the trial) of a raise
        self.history = []  # the last states of plain iterations, for a jump
        self.jump = None  # (state before, iteration of the check, change before)
        self.last_jump = 0
        self.max_step = 4.0

    def after(self, it, state, *, damping, change, back, blown, calm):
        """What to do after iteration ``it`` ended in ``state``: None (go on), or
        ``(what, state, damping)`` with ``what`` "restore", "raise" or "jump"."""
        if self.jump is not None:
            before, check_at, change_before = self.jump
            if blown or (it == check_at and change > JUMP_WORSE * change_before):
                self.jump, self.history, self.last_jump = None, [], it
                self.max_step = max(1.0, self.max_step / 4)
                return "restore", _copy(before), damping
            if it >= check_at:
                self.jump = None
                self.max_step = min(2 * self.max_step, MAX_STEP)
        if self.trial is not None:
            before, old_damping, until = self.trial
            if blown or back:
                self.trial, self.ceiling, self.forward = None, old_damping, 0
                return "restore", _copy(before), old_damping
            if it >= until:
                self.trial = None
        if blown:
            return None
        if damping < self.ceiling and self.jump is None:  # one trial at a time
            self.forward = 0 if back else self.forward + 1
            if self.forward >= RAISE_AFTER:
                self.forward = 0
                self.trial = (_copy(state), damping, it + RAISE_AFTER)
                return "raise", state, min(2 * damping, self.ceiling)
        if self.trial is not None or calm or back:
            self.history = []
            return None
        self.history = self.history[-2:] + [_copy(state)]
        if len(self.history) < 3 or it - self.last_jump < JUMP_EVERY:
            return None
        return self._extrapolate(it, change, damping)

    def _extrapolate(self, it, change, damping):
        s0, s1, s2 = self.history
        h = [np.concatenate([[math.log(s[3])], np.log(s[2])]) for s in self.history]
        r, v = h[1] - h[0], h[2] - 2 * h[1] + h[0]
        nv = float(np.linalg.norm(v))
        alpha = max(min(-float(np.linalg.norm(r)) / nv if nv > 0 else -1.0, -1.0),
                    -self.max_step)
        if alpha == -1.0:  # the plain step: nothing to gain
            return None

        def ex(x0, x1, x2):
            return x0 - 2 * alpha * (x1 - x0) + alpha**2 * (x2 - 2 * x1 + x0)

        r1 = ex(s0[0], s1[0], s2[0])
        gamma1 = math.exp(ex(*(math.log(s[1]) for s in self.history)))
        sigma2 = math.exp(ex(*(math.log(s[3]) for s in self.history)))
        log_pi = ex(*(np.log(s[2]) for s in self.history))
        pi = np.maximum(np.exp(log_pi - log_pi.max()), 1e-300)
        self.jump = (s2, it + JUMP_TRIAL, change)
        self.history, self.last_jump = [], it
        return "jump", (r1, gamma1, pi / pi.sum(), sigma2), damping


def _iterate(lmmse, grid, pi, sigma2, *, estimate_sigma2_e, estimate_weights, damping,
             max_iter, tol, stop_on_stall, verbose, accelerator=None):
    design = lmmse.design
    a = design.active
    m_eff = design.n_eff
    y = design.y_tilde
    total_var = float(y @ y) / m_eff
    sd_y = math.sqrt(total_var)
    st = VampState(damping)
    pi = np.asarray(pi, dtype=float).copy()
    r1 = np.zeros(int(a.sum()))
    gamma1 = 1.0 / total_var  # uninformative first message
    learning = not (estimate_weights or estimate_sigma2_e)  # nothing to learn: no phase 1
    fitted_old = delta_old = None
    turns = 0
    best, best_at = math.inf, 0
    calm = 0  # iterations in a row below tol
    cycle, changes = 0, (math.inf, math.inf)  # settling: a two-step cycle (CYCLE)
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for it in range(1, int(max_iter) + 1):
            var = sigma2 * grid
            x1, v1, wsum, msum = denoise_moments(r1, gamma1, pi, var)
            used = (r1, gamma1, pi, var)  # the messages behind x1 (for st.w below)
            r2 = np.zeros(design.G.shape[1])
            r2[a], gamma2 = extrinsic(x1, max(float(v1.mean()), 1e-300), r1, gamma1)
            x2, c2, fitted, trace = lmmse(r2, gamma2, sigma2)
            sigma2_old = sigma2
            if learning and estimate_sigma2_e:
                rss = lmmse.outside + float(np.sum((lmmse.Uy - fitted) ** 2))
                prior_term = float(np.sum(msum[1:] / var[1:])) * sigma2
                sigma2 = (rss + trace + prior_term) / (m_eff + float(wsum[1:].sum()))
            if learning and estimate_weights:
                # from the same E-step as sigma_e^2 (one denoiser pass per
                # iteration); the new weights enter the next denoiser call
                pi = np.maximum(wsum / r1.size, 1e-300)
                pi /= pi.sum()
            r1_new, gamma1_new = extrinsic(x2[a], c2, r2[a], gamma2)
            r1 = damping * r1_new + (1.0 - damping) * r1
            gamma1 = damping * gamma1_new + (1.0 - damping) * gamma1
            st.n_iter = it
            agree = float(np.linalg.norm(x1 - x2[a])) / sd_y
            # the step of the fit U^T A x2, per sample, in units of sd(y~)
            delta = None if fitted_old is None else fitted - fitted_old
            step = math.inf if delta is None else \
                float(np.linalg.norm(delta)) / math.sqrt(m_eff) / sd_y / damping
            change = max(agree, step, abs(sigma2 - sigma2_old) / sigma2 / damping)
            back = delta is not None and delta_old is not None and float(delta @ delta_old) < 0
            if back:
                turns += 1  # the fit stepped back: an oscillation
            fitted_old, delta_old = fitted, delta
            norm = float(np.linalg.norm(x1)) / sd_y
            blown = not (math.isfinite(sigma2) and math.isfinite(gamma1)
                         and np.isfinite(r1).all()
                         and 1e-6 * total_var < sigma2 < MAX_SIGMA2 * total_var
                         and norm < MAX_NORM)
            action = None if not (learning and accelerator) else accelerator.after(
                it, (r1, gamma1, pi, sigma2), damping=damping, change=change, back=back,
                blown=blown, calm=calm)
            if action is not None:
                what, (r1, gamma1, pi, sigma2), damping = action
                if verbose:
                    print(f"[hybrid/vamp] iter {it:4d} {what}: damping {damping:g}, sigma2_e "
                          f"{sigma2:.4g}", file=sys.stderr, flush=True)
                if what != "raise":  # a new state: the fit's steps start again
                    fitted_old = delta_old = None
                best, best_at, turns, calm = math.inf, it, 0, 0
                continue
            if verbose:
                phase = "EM" if learning else "settle"
                print(f"[hybrid/vamp] iter {it:4d} {phase:6s} change {change:.2e}  "
                      f"|x|/sd(y) {norm:.3g}  sigma2_e {sigma2:.4g}  pi_0 {pi[0]:.6g}  "
                      f"gamma1 {gamma1:.3g}  {time.perf_counter() - t0:.1f}s",
                      file=sys.stderr, flush=True)
            if blown:
                st.diverged = True
                return st
            if not learning:
                change = max(agree, step)  # phase 1: the messages only
                if change < SETTLE:
                    learning = True
                    best, best_at = math.inf, it
                    continue
                repeat = abs(change - changes[0]) <= CYCLE_TOL * change
                cycle = cycle + 1 if back and repeat else 0
                changes = (changes[1], change)
                if cycle >= CYCLE and stop_on_stall:
                    st.stalled = True
                    return st
            elif change < tol:
                calm += 1
                if calm >= (CONFIRM if accelerator else 1):
                    st.converged = True
                    break
                continue
            else:
                calm = 0
            if change < 0.9 * best:
                best, best_at, turns = change, it, 0
            elif it - best_at >= STALL and (stop_on_stall or damping > st.damping):
                if learning and turns < 0.5 * (it - best_at):
                    # no oscillation, a slow drift of the EM: less damping would
                    # only slow it down further
                    best_at, turns = it, 0
                    continue
                if damping > st.damping:
                    # oscillating at a damping raised by the accelerator: back to
                    # the run's own, which did not oscillate
                    damping = accelerator.ceiling = st.damping
                    best, best_at, turns = math.inf, it, 0
                    continue
                st.stalled = True
                return st
    p = design.G.shape[1]
    st.x = np.zeros(p)
    st.x[a] = x1
    st.w = np.zeros((p, grid.size))
    st.w[:, 0] = 1.0
    st.w[a] = denoise(*used)[2]
    st.pi, st.sigma2 = pi, sigma2
    st.log_evidence = log_evidence(lmmse, r1, gamma1, pi, sigma2 * grid, sigma2)
    st.genetic = (float(fitted @ fitted) + trace) / m_eff
    return st
