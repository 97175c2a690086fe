"""Input checking, on-the-fly standardisation and the covariate projection.

Covariates ``Z`` (with an intercept always added) are integrated out exactly,
as in varbvs (Carbonetto & Stephens 2012): ``y`` and every genotype column are
projected onto the orthogonal complement of ``span([1, Z])``. With ``Q`` an
orthonormal basis of that span, ``P = I - Q Q^T``. ``P x_j`` is never formed:
only ``C = Q^T X`` (k x p) and ``d_j = ||P x_j||^2 = ||x_j||^2 - ||C_j||^2``
are stored, which is what the coordinate updates need.
"""

from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._kernels import PackedBed

BLOCK = 2048
# the most float64 values of one block (128 MB): fewer columns per block at biobank
# sample sizes
BLOCK_VALUES = 2**24


def polymorphic(mean, sd):
    """SNPs that vary: ``sd > 1e-8 max(1, |mean|)`` (relative to the dosage scale,
    so rounding noise in the moments of a constant column never counts)."""
    return sd > 1e-8 * np.maximum(1.0, np.abs(mean))


def inverse_sd(mean, sd):
    """``1 / sd`` for polymorphic SNPs, 0 for (numerically) monomorphic ones."""
    return np.divide(1.0, sd, out=np.zeros_like(sd, dtype=float), where=polymorphic(mean, sd))


def check_genotypes(X, name="X", fill=None):
    """Return ``(G, sentinel)``: a Fortran-ordered int8 or float64 matrix.

    Missing floats (NaN) are replaced by ``fill[j]`` (default: the column mean). A
    :class:`PackedBed` is returned as it is (its missing code reads as the int8
    sentinel).
    """
    if isinstance(X, PackedBed):
        return X, np.int8(_kernels.INT8_MISSING)
    if not hasattr(X, "dtype"):
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from None
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x SNPs), got shape {X.shape}")
    if X.dtype == np.int8:
        return np.asfortranarray(X), np.int8(_kernels.INT8_MISSING)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric (int8 dosages or floats), got dtype {X.dtype}")
    G = np.array(X, dtype=np.float64, order="F", copy=True)
    bad = np.isinf(G)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains an infinite value (row {i}, column {j})")
    nan = np.isnan(G)
    if nan.any():  # mean-impute missing floats, column by column
        cols = np.flatnonzero(nan.any(axis=0))
        for j in cols:
            obs = ~nan[:, j]
            if fill is not None:
                G[~obs, j] = fill[j]
            else:
                G[~obs, j] = G[obs, j].mean() if obs.any() else 0.0
    return G, np.float64(np.nan)


def take_columns(G, cols):
    """The int8 (or float) dosages of the SNPs ``cols`` of ``G`` as a Fortran array;
    decoded from a :class:`PackedBed`."""
    cols = np.asarray(cols, dtype=np.int64)
    if not isinstance(G, PackedBed):
        return np.asfortranarray(G[:, cols])
    out = np.empty((G.shape[0], cols.size), dtype=np.int8, order="F")
    _kernels.decode_columns(G, cols, out)
    return out


def take_snps(G, cols):
    """The SNPs ``cols`` of ``G`` kept in their form: for a :class:`PackedBed` a view of
    the mapped file where ``cols`` is one run of consecutive SNPs (a copy of the
    packed bytes, 2 bits per genotype, otherwise); for an array a Fortran copy."""
    cols = np.asarray(cols, dtype=np.int64)
    if not isinstance(G, PackedBed):
        return np.asfortranarray(G[:, cols])
    run = cols.size > 0 and np.array_equal(cols, np.arange(cols[0], cols[0] + cols.size))
    data = G.data[cols[0]:cols[0] + cols.size] if run else np.ascontiguousarray(G.data[cols])
    return PackedBed(data, G.rows, (G.shape[0], cols.size))


def take_rows(G, rows):
    """The samples ``rows`` of ``G``: for a :class:`PackedBed` an index into the same
    mapped file (nothing is copied), for an array a Fortran copy."""
    rows = np.asarray(rows, dtype=np.int64)
    if not isinstance(G, PackedBed):
        return np.asfortranarray(G[rows])
    return PackedBed(G.data, G.rows[rows], (rows.size, G.shape[1]))


def check_vector(y, n, name):
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} entries but X has {n} rows")
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"{name} contains NaN or inf (first at row {i})")
    return y


def covariate_matrix(Z, n):
    """``[1, Z]`` as float64, checked; ``Z`` may be None."""
    if Z is None:
        return np.ones((n, 1))
    try:
        Z = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Z must be numeric: {exc}") from None
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2:
        raise ValueError(f"Z must be 2-D (samples x covariates), got shape {Z.shape}")
    if Z.shape[0] != n:
        raise ValueError(f"Z has {Z.shape[0]} rows but X has {n} rows")
    if not np.all(np.isfinite(Z)):
        i, j = np.argwhere(~np.isfinite(Z))[0]
        raise ValueError(f"Z contains NaN or inf (row {i}, column {j})")
    return np.column_stack([np.ones(n), Z])


def orthonormal_basis(Zfull):
    """Q of the thin QR of ``[1, Z]``; ValueError when the columns are collinear."""
    Q, R = np.linalg.qr(Zfull)
    diag = np.abs(np.diag(R))
    tol = max(Zfull.shape) * np.finfo(float).eps * max(diag.max(), 1.0) * 1e3
    if np.any(diag <= tol):
        bad = int(np.flatnonzero(diag <= tol)[0])
        what = "the intercept" if bad == 0 else f"covariate column {bad - 1}"
        raise ValueError(
            f"Z is rank-deficient: {what} is a linear combination of the columns "
            "before it (an intercept is always added; do not pass a constant column)"
        )
    return Q, R


class PreparedGenotypes:
    """Genotypes and covariates of one set of samples, prepared once for many fits.

    Fitting many phenotypes on the same samples (a transcriptome, one CV fold)
    repeats the work that does not depend on the phenotype: checking the
    genotypes, the column moments, the covariate projection ``C = Q^T X``, and for
    some models an ``n x n`` kernel and its eigendecomposition. Pass an instance
    as ``X`` to any estimator's ``fit`` (with ``Z=None``: the covariates are
    given here) and that work is done on the first fit and reused after; the fits
    are the same as with ``fit(X, y, Z)``. ``predict`` still takes plain arrays.
    """

    def __init__(self, X, Z=None):
        self.G, self.sentinel = check_genotypes(X)
        self.Zfull = covariate_matrix(Z, self.G.shape[0])
        self._shared = {}

    @property
    def shape(self):
        return self.G.shape

    @property
    def Z(self):
        """The covariates without the intercept column (None when there are none)."""
        return self.Zfull[:, 1:] if self.Zfull.shape[1] > 1 else None

    def shared(self, standardize):
        """The cache of fits with this standardisation (one dict per setting)."""
        return self._shared.setdefault(bool(standardize), {})


def unprepared(X, Z):
    """``(X, Z)`` as arrays: a :class:`PreparedGenotypes` gives its own genotypes and
    covariates (``Z`` must then be None)."""
    if not isinstance(X, PreparedGenotypes):
        return X, Z
    if Z is not None:
        raise ValueError("X is a PreparedGenotypes: give the covariates to it, not to fit")
    return X.G, X.Z


@dataclass
class Design:
    """Everything the coordinate updates need, computed once per fit."""

    G: np.ndarray
    sentinel: object
    mean: np.ndarray
    scale: np.ndarray  # 1/sd (or 1), 0 for excluded SNPs
    n_missing: np.ndarray
    Zfull: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    C: np.ndarray  # Q^T X, k x p
    d: np.ndarray  # ||P x_j||^2
    active: np.ndarray  # bool, SNPs that enter the model
    y: np.ndarray
    y_tilde: np.ndarray  # P y
    # rows of the missing calls per SNP (_kernels.missing_calls), filled on first use
    missing: tuple = None
    # y-independent results that fits on the same PreparedGenotypes share (kernels,
    # eigendecompositions): a dict, or None for a one-off design
    shared: dict = None

    @property
    def n(self):
        return self.G.shape[0]

    def missing_calls(self):
        if self.missing is None:
            self.missing = self.cached("missing", lambda: _kernels.missing_calls(
                self.G, self.sentinel, self.n_missing))
        return self.missing

    @property
    def n_eff(self):
        return self.G.shape[0] - self.Q.shape[1]

    def cached(self, key, compute):
        """``compute()``, once per PreparedGenotypes (every call for a one-off design)."""
        if self.shared is None:
            return compute()
        if key not in self.shared:
            self.shared[key] = compute()
        return self.shared[key]


def _genotype_part(G, sentinel, Zfull, standardize):
    """The y-independent part of a :class:`Design` (a dict of its fields)."""
    n = G.shape[0]
    if Zfull.shape[1] >= n:
        raise ValueError(
            f"{Zfull.shape[1]} covariates (intercept included) leave no degrees of "
            f"freedom with {n} samples"
        )
    Q, R = orthonormal_basis(Zfull)
    mean, sd, n_missing = _kernels.column_moments(G, sentinel)
    poly = polymorphic(mean, sd)
    scale = inverse_sd(mean, sd) if standardize else poly.astype(float)
    C, d = project_columns(G, sentinel, mean, scale, Q)
    # a SNP collinear with the covariates carries no information
    column_ss = n * (1.0 if standardize else sd**2)  # ||x_j||^2 before projection
    active = poly & (d > 1e-8 * column_ss)
    return dict(G=G, sentinel=sentinel, mean=mean, scale=scale, n_missing=n_missing,
                Zfull=Zfull, Q=Q, R=R, C=C, d=d, active=active)


def build_design(X, y, Z, *, standardize=True):
    if isinstance(X, PreparedGenotypes):
        unprepared(X, Z)  # refuses covariates given to fit as well
        G, sentinel, Zfull, shared = X.G, X.sentinel, X.Zfull, X.shared(standardize)
    else:
        G, sentinel = check_genotypes(X)
        shared = None
    n, p = G.shape
    if n < 2:
        raise ValueError(f"need at least 2 samples, got {n}")
    if p < 1:
        raise ValueError("X has no columns (SNPs)")
    y = check_vector(y, n, "y")
    if shared is None:
        part = _genotype_part(G, sentinel, covariate_matrix(Z, n), standardize)
    else:
        if "design" not in shared:
            shared["design"] = _genotype_part(G, sentinel, Zfull, standardize)
        part = shared["design"]
    Q = part["Q"]
    y_tilde = y - Q @ (Q.T @ y)
    if not np.any(np.abs(y_tilde) > 1e-12 * max(1.0, np.abs(y).max())):
        raise ValueError("y is constant (or fully explained by the covariates)")
    return Design(**part, y=y, y_tilde=y_tilde, shared=shared)


def standardised_blocks(G, sentinel, mean, scale):
    """Yield ``(j0, j1, X[:, j0:j1])``: standardised float64 column blocks.

    The block buffer is reused: copy a block that must outlive the next step.
    """
    n, p = G.shape
    width = int(min(BLOCK, max(16, BLOCK_VALUES // max(n, 1))))
    buf = np.empty((n, min(width, p)), order="F")
    for j0 in range(0, p, width):
        j1 = min(p, j0 + width)
        blk = buf[:, : j1 - j0]
        _kernels.decode_block(G, sentinel, mean, scale, j0, j1, blk)
        yield j0, j1, blk


def projected_blocks(design):
    """Yield ``(j0, j1, P X[:, j0:j1])`` as dense float64 blocks, 0 outside ``active``."""
    for j0, j1, blk in standardised_blocks(design.G, design.sentinel, design.mean, design.scale):
        blk -= design.Q @ design.C[:, j0:j1]
        blk[:, ~design.active[j0:j1]] = 0.0
        yield j0, j1, blk


def project_columns(G, sentinel, mean, scale, Q):
    """``C = Q^T X`` and ``d_j = ||x_j||^2 - ||C_j||^2``, blockwise (BLAS)."""
    p = G.shape[1]
    C = np.empty((Q.shape[1], p))
    d = np.empty(p)
    for j0, j1, blk in standardised_blocks(G, sentinel, mean, scale):
        Cb = Q.T @ blk
        C[:, j0:j1] = Cb
        d[j0:j1] = np.einsum("ij,ij->j", blk, blk) - np.einsum("ij,ij->j", Cb, Cb)
    np.maximum(d, 0.0, out=d)
    return C, d


def standardized_matvec(G, sentinel, mean, scale, b):
    """``X b`` for the standardised (mean-imputed) genotypes."""
    out = np.zeros(G.shape[0])
    _kernels.matvec(G, sentinel, mean, scale, np.ascontiguousarray(b, dtype=np.float64), out)
    return out


def residuals(design, b):
    """``(y~ - X b, Q^T X b)`` for standardised effects ``b``: the residual of the
    projected phenotype and the covariate-space part of the fit."""
    xb = standardized_matvec(design.G, design.sentinel, design.mean, design.scale, b)
    u = design.Q.T @ xb
    return design.y_tilde - xb, u


@dataclass
class RowSubset:
    """The projected design restricted to some rows (an inner CV training split).

    Arrays keep all ``n`` rows: ``w`` is 1 on the rows in the subset and 0
    elsewhere, ``Q`` (an orthonormal basis of ``[1, Z]`` on the subset) and
    ``y_tilde`` are 0 outside it; ``C``, ``d`` and ``active`` are as in
    :class:`Design`, computed over the subset's rows only.
    """

    w: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Ct: np.ndarray  # C^T (p x k): each SNP's projections contiguous
    d: np.ndarray
    active: np.ndarray
    y_tilde: np.ndarray

    @property
    def C(self):
        return self.Ct.T

    @property
    def n(self):
        return int(self.w.sum())


def row_subsets(design, masks):
    """:class:`RowSubset` of ``design`` for each boolean row mask, in one pass.

    The standardisation (means, scales) stays the design's: a subset's columns
    are not re-centred or re-scaled, the subset's own intercept absorbs the
    shift. Raises ValueError when ``[1, Z]`` is rank-deficient on a subset.
    The genotype part is shared by designs on the same PreparedGenotypes.
    """
    masks = [np.asarray(m, dtype=bool) for m in masks]
    key = ("row_subsets", tuple(m.tobytes() for m in masks))
    parts = design.cached(key, lambda: _subset_parts(design, masks))
    out = []
    for w, Q, R, Ct, d, active in parts:
        y = w * design.y
        out.append(RowSubset(w, Q, R, Ct, d, active, y - Q @ (Q.T @ y)))
    return out


def _subset_parts(design, masks):
    n, p = design.G.shape
    parts = []
    for mask in masks:
        Qs, Rs = orthonormal_basis(design.Zfull[mask])
        Q = np.zeros((n, Qs.shape[1]))
        Q[mask] = Qs
        parts.append((mask.astype(np.float64), Q, Rs))
    k = design.Zfull.shape[1]
    Q_all = np.hstack([Q for _, Q, _ in parts])
    W = np.column_stack([w for w, _, _ in parts])
    C_all = np.empty((Q_all.shape[1], p))
    ss = np.empty((len(parts), p))  # ||x_j||^2 over each subset's rows
    for j0, j1, blk in standardised_blocks(design.G, design.sentinel, design.mean,
                                           design.scale):
        C_all[:, j0:j1] = Q_all.T @ blk
        ss[:, j0:j1] = W.T @ (blk * blk)
    out = []
    for s, (w, Q, R) in enumerate(parts):
        Ct = np.ascontiguousarray(C_all[s * k:(s + 1) * k].T)
        d = np.maximum(ss[s] - np.einsum("ij,ij->i", Ct, Ct), 0.0)
        active = design.active & (d > 1e-8 * ss[s])
        out.append((w, Q, R, Ct, d, active))
    return out
