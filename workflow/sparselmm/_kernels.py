"""Compiled inner loops (numba) of the variational EM.

Every kernel works on the *raw* genotype matrix ``G`` (n x p, Fortran order,
``int8`` dosages with a missing-value sentinel, or ``float64``) and
standardises a column on the fly::

    x_ij = (g_ij - m_j) / s_j          (0 where g_ij is missing)

so that no standardised float copy of ``G`` is ever made. ``G`` may also be a
:class:`PackedBed`, the .bed's own 2-bit codes: the kernels take each SNP through
:func:`column`, which compiles to ``G[:, j]`` itself for an array and to a decode of
that SNP's bytes into a small buffer otherwise, so both give the same numbers. For float input the
sentinel is NaN, which never compares equal, so no value is treated as missing
(float input is imputed before it reaches these kernels).

The notation follows :mod:`sparselmm.model`: ``v = y~ - X b`` is the residual
against the *unprojected* standardised genotypes, ``u = Q^T X b`` its component
in the covariate space, and ``C[:, j] = Q^T x_j``.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

INT8_MISSING = -127


class PackedBed(NamedTuple):
    """Genotypes left in PLINK's 2-bit SNP-major layout (a memory-mapped .bed).

    Every kernel takes one in place of the int8 matrix ``G`` and reads the same
    dosages (:func:`column`), so the arithmetic, and the result, is the same bit for
    bit. Row ``i`` of the matrix is the .fam's sample ``rows[i]``: a fold's training
    samples are an index over the one mapped file, not a copy.
    """

    data: np.ndarray  # uint8, p x ceil(n_fam / 4): each SNP's bytes, as in the .bed
    rows: np.ndarray  # int64, the .fam row of each matrix row
    shape: tuple  # (rows.size, p)


# a 2-bit .bed code as an A1 dosage (bed-reader's count_A1): 00 = two copies of A1,
# 01 = missing, 10 = one copy, 11 = none
CODE_DOSAGE = np.array([2, INT8_MISSING, 1, 0], dtype=np.int8)


def _byte_dosages():
    """A .bed byte's 4 dosages as one little-endian uint32 (4 int8 values)."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        for k in range(4):
            table[byte] |= (int(CODE_DOSAGE[(byte >> 2 * k) & 3]) & 0xFF) << (8 * k)
    return table


BYTE_DOSAGES = _byte_dosages()


def scratch(G, width):
    """Working memory for :func:`column` (``width`` columns at a time)."""
    raise TypeError("scratch is for compiled kernels")


def column(G, j, work, slot):
    """``(X, c)`` with ``X[:, c]`` the int8 dosages of SNP ``j`` of ``G``: ``(G, j)``
    itself for an array; for a :class:`PackedBed`, SNP ``j`` decoded (a table over
    whole bytes, then the rows gathered) into column ``slot`` of ``work``."""
    raise TypeError("column is for compiled kernels")


@overload(scratch, inline="always")
def _scratch(G, width):
    if isinstance(G, types.Array):
        return lambda G, width: (np.empty(0, np.int8), np.empty((0, 0), np.int8).T)

    def packed(G, width):
        return (np.empty(4 * G.data.shape[1], np.int8),
                np.empty((width, G.rows.shape[0]), np.int8).T)
    return packed


@overload(column, inline="always")
def _column(G, j, work, slot):
    if isinstance(G, types.Array):
        return lambda G, j, work, slot: (G, j)

    def packed(G, j, work, slot):
        full, buf = work
        words = full.view(np.uint32)
        for b in range(G.data.shape[1]):
            words[b] = BYTE_DOSAGES[G.data[j, b]]
        rows = G.rows
        for i in range(rows.shape[0]):
            buf[i, slot] = full[rows[i]]
        return buf, slot
    return packed

# Reassociation lets LLVM vectorise the float reductions (measured 5x faster
# per genotype); no flag that assumes away NaN or inf, so the NaN sentinel of
# float input keeps comparing unequal. Inner loops are written with selects,
# not branches, for the same reason.
FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True)
def column_moments(G, sentinel):
    """Per-column mean over observed entries, sd (population), missing count.

    One pass, with sums of ``x - x_first`` (the first observed value) rather
    than of ``x``: no cancellation in the variance of a column that is
    constant up to rounding, so such a column reads as monomorphic.
    """
    n, p = G.shape
    mean = np.zeros(p)
    sd = np.zeros(p)
    n_miss = np.zeros(p, dtype=np.int64)
    work = scratch(G, 1)
    for j in range(p):
        X, c = column(G, j, work, 0)
        s1 = 0.0
        s2 = 0.0
        cnt = 0
        shift = 0.0
        for i in range(n):
            g = X[i, c]
            if g != sentinel:
                if cnt == 0:
                    shift = float(g)
                x = float(g) - shift
                s1 += x
                s2 += x * x
                cnt += 1
        n_miss[j] = n - cnt
        if cnt > 0:
            mean[j] = (shift * cnt + s1) / cnt  # exact for integer dosages
            # variance of the mean-imputed column over all n rows
            var = (s2 - s1 * s1 / cnt) / n
            sd[j] = math.sqrt(var) if var > 0.0 else 0.0
    return mean, sd, n_miss


@njit(cache=True, nogil=True)
def decode_columns(G, cols, out):
    """``out[:, t] = G[:, cols[t]]``: the raw dosages of some SNPs, as stored."""
    work = scratch(G, 1)
    for t in range(cols.shape[0]):
        X, c = column(G, cols[t], work, 0)
        for i in range(out.shape[0]):
            out[i, t] = X[i, c]


@njit(cache=True, nogil=True)
def decode_block(G, sentinel, mean, scale, j0, j1, out):
    """Write standardised columns ``j0:j1`` of ``G`` into ``out[:, :j1-j0]``."""
    n = G.shape[0]
    work = scratch(G, 1)
    for j in range(j0, j1):
        X, c = column(G, j, work, 0)
        mj = mean[j]
        sj = scale[j]
        o = j - j0
        for i in range(n):
            g = X[i, c]
            out[i, o] = 0.0 if g == sentinel else (float(g) - mj) * sj


@njit(cache=True, nogil=True)
def matvec(G, sentinel, mean, scale, b, out):
    """``out += X b`` for the standardised X; columns with ``b_j == 0`` skipped."""
    n, p = G.shape
    work = scratch(G, 1)
    for j in range(p):
        bj = b[j] * scale[j]
        if bj == 0.0:
            continue
        X, c = column(G, j, work, 0)
        mj = mean[j]
        for i in range(n):
            g = X[i, c]
            if g != sentinel:
                out[i] += (float(g) - mj) * bj


# The helpers below take a column ``X[:, c]`` (from :func:`column`) and the SNP ``j``
# it holds, whose moments and projections they use.


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def column_dot(X, c, sentinel, mj, v):
    """``sum_i (g_i - m_j) v_i`` over the observed entries of ``X[:, c]``."""
    acc = 0.0
    for i in range(X.shape[0]):
        g = X[i, c]
        acc += (float(g) - mj) * v[i] if g != sentinel else 0.0
    return acc


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def column_axpy(X, c, sentinel, mj, a, v):
    """``v_i += a (g_i - m_j)`` over the observed entries of ``X[:, c]``."""
    for i in range(X.shape[0]):
        g = X[i, c]
        v[i] += a * (float(g) - mj) if g != sentinel else 0.0


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def residual_dot(X, c, j, sentinel, mean, scale, C, u, v):
    """``(P x_j)^T r`` for the projected residual ``r = v + Q u``."""
    xr = column_dot(X, c, sentinel, mean[j], v) * scale[j]
    for k in range(C.shape[0]):
        xr += C[k, j] * u[k]
    return xr


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def move_residual(X, c, j, sentinel, mean, scale, C, u, v, delta):
    """Account for ``b_j += delta`` in ``v = y~ - X b`` and ``u = Q^T X b``."""
    if delta != 0.0:
        column_axpy(X, c, sentinel, mean[j], -delta * scale[j], v)
        for k in range(C.shape[0]):
            u[k] += delta * C[k, j]


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def spike_slab_update(j, xr, d, alpha, mu, s2, sigma2, sa, logodds):
    """SNP ``j``'s coordinate update of ``alpha, mu, s2`` (:class:`sparselmm.SparseLMM`'s
    Notes) from ``xr = (P x_j)^T r``, ``r`` the residual with SNP ``j``'s current
    effect in it; returns ``(|change in alpha_j|, change in alpha_j mu_j)``."""
    b_old = alpha[j] * mu[j]
    dj = d[j]
    s2j = sigma2 * sa / (sa * dj + 1.0)
    muj = s2j / sigma2 * (xr + dj * b_old)
    z = logodds + 0.5 * (math.log(s2j / (sa * sigma2)) + muj * muj / s2j)
    if z >= 0.0:
        aj = 1.0 / (1.0 + math.exp(-z))
    else:
        ez = math.exp(z)
        aj = ez / (1.0 + ez)
    change = abs(aj - alpha[j])
    alpha[j] = aj
    mu[j] = muj
    s2[j] = s2j
    return change, aj * muj - b_old


@njit(cache=True, nogil=True, fastmath=FAST)
def sweep(G, sentinel, mean, scale, C, d, order, v, u, alpha, mu, s2,
          sigma2, sa, logodds):
    """One coordinate-ascent pass over the SNPs ``order`` (an index array), in
    that order.

    Updates ``alpha, mu, s2`` (variational parameters), ``v`` and ``u`` in
    place. Returns the largest absolute change in ``alpha``.
    """
    max_change = 0.0
    work = scratch(G, 1)
    for t in range(order.shape[0]):
        j = order[t]
        X, c = column(G, j, work, 0)
        xr = residual_dot(X, c, j, sentinel, mean, scale, C, u, v)
        change, delta = spike_slab_update(j, xr, d, alpha, mu, s2, sigma2, sa, logodds)
        if change > max_change:
            max_change = change
        move_residual(X, c, j, sentinel, mean, scale, C, u, v, delta)
    return max_change


@njit(cache=True, nogil=True, fastmath=FAST)
def sweep_mix(G, sentinel, mean, scale, C, d, active, v, u, phi, mu, s2, b, sigma2,
              prior_var, log_pi):
    """One coordinate pass for the mixture-of-normals prior (hybrid model).

    ``beta_j ~ pi_0 delta_0 + sum_k pi_k N(0, sigma2 * prior_var[k])``; component 0
    is the point mass (``prior_var[0]`` is ignored). ``phi`` (p x K) are the
    responsibilities, ``mu``/``s2`` (p x K) the component posteriors, ``b`` the
    posterior means. Updates everything in place; returns the largest change
    in any ``phi``.
    """
    K = prior_var.shape[0]
    logw = np.empty(K)
    max_change = 0.0
    work = scratch(G, 1)
    for j in range(G.shape[1]):
        if not active[j]:
            continue
        X, c = column(G, j, work, 0)
        xr = residual_dot(X, c, j, sentinel, mean, scale, C, u, v)
        b_old = b[j]
        dj = d[j]
        xr += dj * b_old
        logw[0] = log_pi[0]
        mu[j, 0] = 0.0
        s2[j, 0] = 0.0
        for k in range(1, K):
            sk = prior_var[k]
            s2jk = sigma2 * sk / (sk * dj + 1.0)
            mujk = s2jk / sigma2 * xr
            mu[j, k] = mujk
            s2[j, k] = s2jk
            logw[k] = log_pi[k] + 0.5 * (math.log(s2jk / (sigma2 * sk)) + mujk * mujk / s2jk)
        top = logw.max()
        total = 0.0
        for k in range(K):
            logw[k] = math.exp(logw[k] - top)
            total += logw[k]
        bj = 0.0
        for k in range(K):
            w = logw[k] / total
            change = abs(w - phi[j, k])
            if change > max_change:
                max_change = change
            phi[j, k] = w
            bj += w * mu[j, k]
        b[j] = bj
        move_residual(X, c, j, sentinel, mean, scale, C, u, v, bj - b_old)
    return max_change


@njit(cache=True, nogil=True, fastmath=FAST)
def rmatvec(G, sentinel, mean, scale, active, z, out):
    """``out = X^T z`` for the standardised X; 0 for SNPs outside ``active``."""
    work = scratch(G, 1)
    for j in range(G.shape[1]):
        if active[j]:
            X, c = column(G, j, work, 0)
            out[j] = column_dot(X, c, sentinel, mean[j], z) * scale[j]
        else:
            out[j] = 0.0


# -- penalised regression (Lasso / elastic net) ------------------------------------
# A fit on a subset of the rows (an inner cross-validation split) uses row weights
# ``w`` (1 in the fit, 0 outside) in every dot product, so the int8 matrix is never
# copied. ``v`` then holds ``y~ - X b`` on the rows in the fit and ``-X b`` outside
# (``y~`` is 0 there): the held-out part of ``X b`` comes for free.


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def weighted_residual_dot(X, c, j, sentinel, mean, scale, C, u, v, w):
    """``(P x_j)^T r`` with ``r = w * v + Q u`` (``Q`` is 0 outside the fit)."""
    mj = mean[j]
    acc = 0.0
    for i in range(X.shape[0]):
        g = X[i, c]
        acc += (float(g) - mj) * v[i] * w[i] if g != sentinel else 0.0
    acc *= scale[j]
    for k in range(C.shape[0]):
        acc += C[k, j] * u[k]
    return acc


@njit(cache=True, nogil=True, fastmath=FAST)
def sweep_weighted(G, sentinel, mean, scale, C, d, order, w, v, u, alpha, mu, s2, sa,
                   logodds):
    """:func:`sweep` of a weighted regression (the logistic model's Jaakkola-Jordan
    bound, :mod:`sparselmm.logistic`): residual variance 1, dot products
    ``sum_i w_i x_ij v_i`` (``w`` the row precisions), ``C = Q_w^T W X`` and ``d_j =
    x_j^T P_W x_j`` of the weighted projection. Returns the largest change in alpha.
    """
    max_change = 0.0
    work = scratch(G, 1)
    for t in range(order.shape[0]):
        j = order[t]
        X, c = column(G, j, work, 0)
        xr = weighted_residual_dot(X, c, j, sentinel, mean, scale, C, u, v, w)
        change, delta = spike_slab_update(j, xr, d, alpha, mu, s2, 1.0, sa, logodds)
        if change > max_change:
            max_change = change
        move_residual(X, c, j, sentinel, mean, scale, C, u, v, delta)
    return max_change


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _standardised(X, c, sentinel, mj, sj, x):
    """``x = `` SNP column ``X[:, c]`` standardised (0 where missing)."""
    for i in range(x.shape[0]):
        g = X[i, c]
        x[i] = (float(g) - mj) * sj if g != sentinel else 0.0


@njit(cache=True, nogil=True, fastmath=FAST)
def weighted_moments(G, sentinel, mean, scale, w, QwT, idx, C, d):
    """For the row weights ``w`` and ``QwT = (diag(w) Q)^T`` (k x n), over the SNPs
    ``j`` of ``idx``: ``C[:, j] = QwT x_j`` and ``d_j = sum_i w_i x_ij^2 - ||C[:, j]||^2``
    (a weighted projection: the logistic models, :mod:`sparselmm.logistic`)."""
    n = G.shape[0]
    k = QwT.shape[0]
    x = np.empty(n)
    work = scratch(G, 1)
    for t in range(idx.shape[0]):
        j = idx[t]
        X, c = column(G, j, work, 0)
        _standardised(X, c, sentinel, mean[j], scale[j], x)
        dd = 0.0
        for i in range(n):
            dd += w[i] * x[i] * x[i]
        for q in range(k):
            acc = 0.0
            for i in range(n):
                acc += QwT[q, i] * x[i]
            C[q, j] = acc
            dd -= acc * acc
        d[j] = max(dd, 0.0)


@njit(cache=True, nogil=True, fastmath=FAST)
def variance_sums(G, sentinel, mean, scale, var, C, s, M):
    """``s_i += sum_j var_j x_ij^2`` and ``M[:, i] += sum_j var_j x_ij C[:, j]`` (``M``
    k x n) over the SNPs with ``var_j > 0``: the variance of the linear predictors
    under the logistic model's posterior (:func:`sparselmm.logistic.update_eta`), one
    pass."""
    n, p = G.shape
    k = C.shape[0]
    x = np.empty(n)
    work = scratch(G, 1)
    for j in range(p):
        vj = var[j]
        if vj <= 0.0:
            continue
        X, c = column(G, j, work, 0)
        _standardised(X, c, sentinel, mean[j], scale[j], x)
        for i in range(n):
            s[i] += vj * x[i] * x[i]
        for q in range(k):
            a = vj * C[q, j]
            for i in range(n):
                M[q, i] += a * x[i]


@njit(cache=True, nogil=True, fastmath=FAST)
def enet_epoch(G, sentinel, mean, scale, C, d, ws, w, v, u, b, l1, l2):
    """One cyclic coordinate-descent pass over the SNPs ``ws`` (an index array).

    Minimises ``||r||^2 / 2 + l1 ||b||_1 + l2 ||b||^2 / 2`` in ``b_j``, one SNP at a
    time, with ``r`` the projected residual of the rows in the fit:
    ``b_j <- S(x_j^T r + d_j b_j, l1) / (d_j + l2)`` (``S`` soft thresholding).
    Updates ``b``, ``v`` (every row) and ``u`` in place. Returns the largest
    decrease scale ``d_j (delta b_j)^2`` of the pass.
    """
    largest = 0.0
    work = scratch(G, 1)
    for t in range(ws.shape[0]):
        j = ws[t]
        X, c = column(G, j, work, 0)
        bj = b[j]
        z = weighted_residual_dot(X, c, j, sentinel, mean, scale, C, u, v, w) + d[j] * bj
        if z > l1:
            new = (z - l1) / (d[j] + l2)
        elif z < -l1:
            new = (z + l1) / (d[j] + l2)
        else:
            new = 0.0
        delta = new - bj
        if delta != 0.0:
            b[j] = new
            move_residual(X, c, j, sentinel, mean, scale, C, u, v, delta)
            step = d[j] * delta * delta
            if step > largest:
                largest = step
    return largest


@njit(cache=True, nogil=True)
def missing_calls(G, sentinel, n_missing):
    """Rows of the missing calls, column by column (compressed: column ``j``'s
    rows are ``rows[ptr[j]:ptr[j + 1]]``)."""
    p = G.shape[1]
    ptr = np.zeros(p + 1, dtype=np.int64)
    for j in range(p):
        ptr[j + 1] = ptr[j] + n_missing[j]
    rows = np.empty(ptr[p], dtype=np.int32)  # n < 2**31: half the memory of int64
    work = scratch(G, 1)
    for j in range(p):
        q = ptr[j]
        if n_missing[j] > 0:
            X, c = column(G, j, work, 0)
            for i in range(G.shape[0]):
                if X[i, c] == sentinel:
                    rows[q] = i
                    q += 1
    return ptr, rows


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _finish_correlation(X, c, j, acc, total, mean, scale, Ct, ptr, rows, z, u):
    """``x_j^T z + C_j^T u`` from ``acc = sum_i g_ij z_i`` over every row."""
    mj = mean[j]
    acc -= mj * total
    for q in range(ptr[j], ptr[j + 1]):  # a missing call counts as the mean: 0
        acc -= (float(X[rows[q], c]) - mj) * z[rows[q]]
    acc *= scale[j]
    for k in range(Ct.shape[1]):
        acc += Ct[j, k] * u[k]
    return acc


@njit(cache=True, nogil=True, fastmath=FAST)
def correlations(G, mean, scale, Ct, idx, ptr, rows, z, u, out):
    """``out[t] = x_j^T z + C_j^T u`` for the SNPs ``j = idx[t]`` (``Ct = C^T``,
    p x k, so that ``C_j`` is contiguous).

    With ``z = w * v`` this is ``(P x_j)^T r`` for ``r = w * v + Q u``. The loop
    over rows runs on the raw dosages, ``sum_i g_ij z_i - m_j sum_i z_i``, and
    the missing calls (listed by :func:`missing_calls`) are taken back out
    afterwards: no test or subtraction per genotype, so it vectorises fully;
    two columns share each load of ``z``.
    """
    n = G.shape[0]
    total = 0.0
    for i in range(n):
        total += z[i]
    T = idx.shape[0]
    work = scratch(G, 2)
    t = 0
    while t + 1 < T:
        j0 = idx[t]
        j1 = idx[t + 1]
        X0, c0 = column(G, j0, work, 0)
        X1, c1 = column(G, j1, work, 1)
        a0 = 0.0
        a1 = 0.0
        for i in range(n):
            zi = z[i]
            a0 += float(X0[i, c0]) * zi
            a1 += float(X1[i, c1]) * zi
        out[t] = _finish_correlation(X0, c0, j0, a0, total, mean, scale, Ct, ptr, rows, z, u)
        out[t + 1] = _finish_correlation(X1, c1, j1, a1, total, mean, scale, Ct, ptr, rows, z,
                                         u)
        t += 2
    if t < T:
        j0 = idx[t]
        X0, c0 = column(G, j0, work, 0)
        a0 = 0.0
        for i in range(n):
            a0 += float(X0[i, c0]) * z[i]
        out[t] = _finish_correlation(X0, c0, j0, a0, total, mean, scale, Ct, ptr, rows, z, u)


@njit(cache=True, nogil=True, fastmath=FAST)
def matvec_raw(G, mean, scale, b, ptr, rows, out):
    """``out += X b`` for the standardised X, like :func:`matvec`, on the raw dosages:
    ``sum_j g_ij b'_j - sum_j m_j b'_j`` (``b'_j = s_j b_j``), the missing calls
    (listed by :func:`missing_calls`) taken back out afterwards, so the loop over
    rows has no test or subtraction and vectorises; four columns share each load
    and store of ``out``. For a dense ``b`` (EM-VAMP's LMMSE step) 1.5x faster than
    :func:`matvec` on a GEUVADIS fold (``bench/vamp_kernels.py``); the same up to
    rounding."""
    n, p = G.shape
    cols, w = np.empty(p, np.int64), np.empty(p)  # the SNPs with b'_j != 0, and b'_j
    m = 0
    offset = 0.0
    for j in range(p):
        bj = b[j] * scale[j]
        if bj != 0.0:
            cols[m], w[m] = j, bj
            m += 1
            offset += mean[j] * bj
    work = scratch(G, 4)
    q = 0
    while q + 4 <= m:
        X0, c0 = column(G, cols[q], work, 0)
        X1, c1 = column(G, cols[q + 1], work, 1)
        X2, c2 = column(G, cols[q + 2], work, 2)
        X3, c3 = column(G, cols[q + 3], work, 3)
        b0, b1, b2, b3 = w[q], w[q + 1], w[q + 2], w[q + 3]
        for i in range(n):
            out[i] += (float(X0[i, c0]) * b0 + float(X1[i, c1]) * b1) \
                + (float(X2[i, c2]) * b2 + float(X3[i, c3]) * b3)
        q += 4
    for t in range(q, m):
        X, c = column(G, cols[t], work, 0)
        for i in range(n):
            out[i] += float(X[i, c]) * w[t]
    for i in range(n):
        out[i] -= offset
    for t in range(m):  # a missing call counts as the mean: 0
        j = cols[t]
        if ptr[j + 1] > ptr[j]:
            X, c = column(G, j, work, 0)
            for s in range(ptr[j], ptr[j + 1]):
                i = rows[s]
                out[i] -= (float(X[i, c]) - mean[j]) * w[t]


@njit(cache=True, nogil=True, fastmath=FAST)
def correlations_many(G, mean, scale, Cts, which, idx, ptr, rows, Z, U, out):
    """:func:`correlations` of several fits in one pass over the genotypes:
    ``out[t, f] = x_j^T Z[:, f] + Cts[which[f], j]^T U[f]`` for the SNPs ``j = idx[t]``
    (``Cts`` stacks every fit's ``C^T``; ``which`` picks those asked for).

    Each SNP is read (for a :class:`PackedBed`, decoded) once for all ``F`` fits,
    then its ``F`` dot products run over the column while it is in cache; ``Z`` is
    Fortran-ordered (n x F), each fit's vector contiguous. The inner CV of the
    penalised regressions runs its folds' KKT checks this way
    (:mod:`sparselmm.penalised`).
    """
    n = G.shape[0]
    F = Z.shape[1]
    total = np.zeros(F)
    for f in range(F):
        for i in range(n):
            total[f] += Z[i, f]
    work = scratch(G, 1)
    for t in range(idx.shape[0]):
        j = idx[t]
        X, c = column(G, j, work, 0)
        mj = mean[j]
        for f in range(F):
            a = 0.0
            for i in range(n):
                a += float(X[i, c]) * Z[i, f]
            a -= mj * total[f]
            for q in range(ptr[j], ptr[j + 1]):  # a missing call counts as the mean: 0
                a -= (float(X[rows[q], c]) - mj) * Z[rows[q], f]
            a *= scale[j]
            h = which[f]
            for k in range(Cts.shape[2]):
                a += Cts[h, j, k] * U[f, k]
            out[t, f] = a


@njit(cache=True, nogil=True, fastmath=FAST)
def gram_epoch(A, m, S, grad, b, l1, l2):
    """One coordinate-descent pass over the positions ``S`` of a cached set of SNPs,
    from their Gram matrix ``A[:m, :m]`` (of the projected columns) alone; ``A``
    is passed whole (C-contiguous, its capacity may exceed ``m``) so that its
    rows are unit-stride and the update vectorises.

    ``grad = X^T r`` on the whole cache is kept exact: a change ``delta`` in
    ``b_j`` moves it by ``-delta A[j, :]`` (``A`` is symmetric; rows are
    contiguous). Same update and return value as :func:`enet_epoch`; a coordinate
    costs ``m`` operations if it changes, one if not (instead of ``n``).
    """
    largest = 0.0
    for t in range(S.shape[0]):
        j = S[t]
        ajj = A[j, j]
        z = grad[j] + ajj * b[j]
        if z > l1:
            new = (z - l1) / (ajj + l2)
        elif z < -l1:
            new = (z + l1) / (ajj + l2)
        else:
            new = 0.0
        delta = new - b[j]
        if delta != 0.0:
            b[j] = new
            for k in range(m):
                grad[k] -= delta * A[j, k]
            step = ajj * delta * delta
            if step > largest:
                largest = step
    return largest


# The EM-VAMP denoiser, over a block of SNPs in two passes around numpy's exp, which
# is vectorised (numba's math.exp is one call per value: a one-pass kernel with it in
# the loop was 2.7x slower on 85,485 SNPs x 20 components; bench/vamp_kernels.py times
# this against the numpy denoiser). The block ``b`` is K x n (component-major), so
# every inner loop runs over SNPs and vectorises; tests/test_hybrid.py checks the
# moments against the numpy denoiser. No flag assumes away inf, which log(pi_k) = -inf
# needs.
@njit(cache=True, nogil=True, fastmath=FAST)
def mixture_logits(r, a, inv_total, b, top):
    """``b[k, j] = a_k - r_j^2 inv_total_k / 2 - max_k(...)``: the log-responsibilities
    of the SNPs ``r`` (up to the row's normaliser), each SNP's largest at 0, with
    ``a_k = log pi_k - log(var_k + tau) / 2`` and ``inv_total_k = 1 / (var_k + tau)``."""
    K, n = b.shape
    for j in range(n):
        top[j] = -np.inf
    for k in range(K):
        ak = a[k]
        ik = inv_total[k]
        for j in range(n):
            t = ak - ik * (0.5 * r[j] * r[j])
            b[k, j] = t
            top[j] = max(top[j], t)
    for k in range(K):
        for j in range(n):
            b[k, j] -= top[j]


@njit(cache=True, nogil=True, fastmath=FAST)
def mixture_sums(r, tau, shrink, b, work, x, v, wsum, msum):
    """Posterior moments from the unnormalised responsibilities ``b`` (K x n, the
    exp of :func:`mixture_logits`) of ``beta_j ~ sum_k pi_k N(0, var_k)`` given
    ``r_j ~ N(beta_j, tau)``: the mean ``x_j`` and variance ``v_j``, and *added* to
    ``wsum_k`` and ``msum_k`` the responsibilities and second moments ``w_jk (m_jk^2 +
    c_k)`` summed over the block (component ``k``'s mean ``m_jk = shrink_k r_j`` and
    variance ``c_k = shrink_k tau``). ``work`` is 3 x n scratch."""
    K, n = b.shape
    norm, s1, s2 = work[0], work[1], work[2]
    for j in range(n):
        norm[j] = 0.0
        s1[j] = 0.0
        s2[j] = 0.0
    for k in range(K):
        sk = shrink[k]
        sk2 = sk * sk
        for j in range(n):
            e = b[k, j]
            norm[j] += e
            s1[j] += sk * e
            s2[j] += sk2 * e
    for j in range(n):
        inv = 1.0 / norm[j]
        norm[j] = inv
        rj = r[j]
        xj = rj * s1[j] * inv
        x[j] = xj
        v[j] = max((tau * s1[j] + rj * rj * s2[j]) * inv - xj * xj, 0.0)
    for k in range(K):
        ws = 0.0
        wr = 0.0
        for j in range(n):
            w = b[k, j] * norm[j]
            ws += w
            wr += w * (r[j] * r[j])
        sk = shrink[k]
        wsum[k] += ws
        msum[k] += sk * tau * ws + sk * sk * wr
