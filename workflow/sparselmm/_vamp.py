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
for the prior term. Messages are damped (``r1``, ``gamma1``) for stability
on correlated (LD) designs.

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


class VampState:
    def __init__(self):
        self.n_iter = 0
        self.converged = False
        self.diverged = False
        self.stalled = False


def em_vamp(design, grid, pi, sigma2, *, estimate_sigma2_e, estimate_weights, damping,
            max_iter, tol, min_damping=0.05, verbose=False):
    """Run EM-VAMP; returns a :class:`VampState` (``x``, ``var``, ``w``, ``pi``, ``sigma2``,
    ``damping``, ``n_iter``, ``converged``, ``diverged``).

    A run *diverges* when a message or ``sigma2_e`` stops being finite or
    ``sigma2_e`` leaves ``[1e-6, 10]`` times the variance of ``y~``, and *stalls*
    when the relative change of the posterior means has not fallen below 0.9
    times its smallest earlier value for ``STALL`` iterations (it oscillates).
    Strong LD does both. Either way the run restarts from the prior with half
    the damping, down to ``min_damping``; a run at the smallest damping is
    never stopped for stalling, and ``diverged`` is set only when it diverges.
    """
    U, s2 = spectrum(design)
    while True:
        last = damping / 2 < min_damping
        st = _iterate(design, U, s2, grid, pi, sigma2, estimate_sigma2_e=estimate_sigma2_e,
                      estimate_weights=estimate_weights, damping=damping,
                      max_iter=max_iter, tol=tol, stop_on_stall=not last, verbose=verbose)
        if not (st.diverged or st.stalled) or last:
            return st
        damping /= 2
        if verbose:
            what = "diverged" if st.diverged else "stalled"
            print(f"[hybrid/vamp] {what} at iteration {st.n_iter}; restarting with "
                  f"damping {damping:g}", file=sys.stderr, flush=True)


def _iterate(design, U, s2, grid, pi, sigma2, *, estimate_sigma2_e, estimate_weights,
             damping, max_iter, tol, stop_on_stall, verbose):
    a = design.active
    N = max(int(a.sum()), 1)
    m_eff = design.n_eff
    y = design.y_tilde
    Uy = U.T @ y
    outside = max(float(y @ y - Uy @ Uy), 0.0)  # part of y~ no SNP combination can reach
    total_var = float(y @ y) / m_eff
    G, sent, mean, scale = design.G, design.sentinel, design.mean, design.scale

    def X_times(b):
        out = np.zeros(design.n)
        _kernels.matvec(G, sent, mean, scale, b, out)
        return out

    def Xt_times(z):
        out = np.zeros(G.shape[1])
        _kernels.rmatvec(G, sent, mean, scale, a, np.ascontiguousarray(z), out)
        return out

    st = VampState()
    st.damping = damping
    pi = np.asarray(pi, dtype=float).copy()
    r1 = np.zeros(G.shape[1])
    # start from the prior: gamma1 = 1 / prior variance of an effect
    gamma1 = 1.0 / max(sigma2 * float(pi @ grid), 1e-12)
    x_old = None
    best, best_at = math.inf, 0
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for it in range(1, int(max_iter) + 1):
            var = sigma2 * grid
            x1, v1, w, mk, ck = denoise(r1[a], gamma1, pi, var)
            if estimate_weights:
                pi = np.maximum(w.mean(axis=0), 1e-300)
                pi /= pi.sum()
                x1, v1, w, mk, ck = denoise(r1[a], gamma1, pi, var)
            c1 = max(float(v1.mean()), 1e-300)
            gamma2 = max(1.0 / c1 - gamma1, 1e-12)
            r2 = np.zeros(G.shape[1])
            r2[a] = (x1 / c1 - gamma1 * r1[a]) / gamma2
            # LMMSE with A = P X: U^T A = U^T X since U lies in the range of P
            UAr2 = U.T @ X_times(r2)
            h = 1.0 / (s2 + sigma2 * gamma2)
            coef = h * (Uy - UAr2)
            x2 = r2 + Xt_times(U @ coef)
            c2 = (float(np.sum(sigma2 * h)) + (N - s2.size) / gamma2) / N
            if estimate_sigma2_e:
                fitted = UAr2 + s2 * coef  # U^T A x2
                rss = outside + float(np.sum((Uy - fitted) ** 2))
                trace = float(np.sum(sigma2 * s2 * h))  # tr(A Cov2 A^T)
                slab = w[:, 1:]
                prior_term = float(np.sum(slab * (mk[:, 1:] ** 2 + ck[:, 1:]) / var[1:])) \
                    * sigma2
                sigma2 = (rss + trace + prior_term) / (m_eff + float(slab.sum()))
            gamma1_new = max(1.0 / c2 - gamma2, 1e-12)
            r1_new = (x2[a] / c2 - gamma2 * r2[a]) / gamma1_new
            r1[a] = damping * r1_new + (1.0 - damping) * r1[a]
            gamma1 = damping * gamma1_new + (1.0 - damping) * gamma1
            st.n_iter = it
            change = math.inf if x_old is None else float(
                np.linalg.norm(x1 - x_old) / max(np.linalg.norm(x1), 1e-300))
            x_old = x1
            if verbose:
                print(f"[hybrid/vamp] iter {it:4d}  rel. change {change:.2e}  "
                      f"sigma2_e {sigma2:.4g}  pi_0 {pi[0]:.4g}  gamma1 {gamma1:.3g}  "
                      f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
            if not (math.isfinite(sigma2) and math.isfinite(gamma1) and np.isfinite(r1).all()
                    and 1e-6 * total_var < sigma2 < 10 * total_var):
                st.diverged = True
                return st
            if change < tol:
                st.converged = True
                break
            if change < 0.9 * best:
                best, best_at = change, it
            elif stop_on_stall and it - best_at >= STALL:
                st.stalled = True
                return st
    p = G.shape[1]
    st.x = np.zeros(p)
    st.x[a] = x1
    st.var = np.zeros(p)
    st.var[a] = v1
    st.w = np.zeros((p, grid.size))
    st.w[:, 0] = 1.0
    st.w[a] = w
    st.pi, st.sigma2 = pi, sigma2
    return st
