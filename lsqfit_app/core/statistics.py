"""Uncertainties and goodness-of-fit statistics of a least-squares fit.

Notation: n used points, p free parameters, dof = n - p, weighted residuals
r_i = (y_i - f_i)/sigma_i, weighted Jacobian J_ij = (df_i/dp_j)/sigma_i over
the free parameters, SSE = sum r_i**2.

Covariance (Gauss-Newton / delta method)::

    C = s2 * (J^T J)^-1,  s2 = 1            when sigma is absolute
                          s2 = SSE / dof    otherwise ("scaled" errors)

computed from a QR factorisation of J with its columns scaled by powers of
two (exact, so scaling adds no rounding), and the SVD of the small R factor
to detect rank deficiency.  Parameters at an active bound are held like fixed
ones (their error is not defined by the curvature there).  Under a robust
loss J and r are first multiplied by sqrt(rho'(z)) (the IRLS weights at the
solution), the usual sandwich-free approximation.

Confidence intervals use Student's t with dof degrees of freedom.  R^2 is
1 - SSE/SST with SST centred about the weighted mean; for linear models whose
column space does not contain the constant (no intercept) the uncentred
SST = sum w y^2 is used, NIST's convention.  Information criteria use the
full Gaussian log-likelihood: with absolute sigma
-2 log L = chi2 + sum log(2 pi sigma_i^2) and k = p; otherwise the variance is
estimated, -2 log L = n log(2 pi SSE/n) + n and k = p + 1 (Burnham & Anderson
2002).  AICc = AIC + 2k(k+1)/(n-k-1), BIC = -2 log L + k log n.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special as _sp
from scipy.linalg import lapack

T_LEVEL = 0.95
_EPS = float(np.finfo(float).eps)

# np.einsum without ``optimize`` only forwards to this C function; calling it
# directly skips the Python wrapper, which costs as much as the sum itself
# on a small fit's Jacobian.  Same function, so the same bits.
try:
    from numpy._core.multiarray import c_einsum as _einsum
except ImportError:   # numpy < 2
    try:
        from numpy.core.multiarray import c_einsum as _einsum
    except ImportError:
        _einsum = np.einsum


def column_scale(J: np.ndarray) -> np.ndarray:
    """Powers of two at or just above each column's norm (1 for zero or non-finite columns).

    Dividing by a power of two is exact, so scaling adds no rounding error.
    frexp gives the exponent directly, and maps 0, inf and NaN to exponent 0.
    """
    if not J.size:
        return np.ones(J.shape[1])
    return np.ldexp(1.0, np.frexp(np.sqrt(_einsum("ij,ij->j", J, J)))[1])


#: rows per block of the streamed (TSQR) factorisation of tall Jacobians
QR_CHUNK = 1 << 16


def r_factor(A: np.ndarray) -> np.ndarray:
    """The R of a QR factorisation of a tall A, streamed in row blocks.

    R of [R_prev; A_block] equals R of everything so far (tall-skinny QR),
    so millions of rows never need a full Q or a second copy of A.
    """
    m, p = A.shape
    if m <= 4 * QR_CHUNK:
        return np.linalg.qr(A, mode="r")
    R = np.zeros((0, p))
    for start in range(0, m, QR_CHUNK):
        R = np.linalg.qr(np.vstack((R, A[start:start + QR_CHUNK])), mode="r")
    return R


# LAPACK is called directly for the p x p factors below: numpy's wrappers
# cost several times the work itself on the 4 x 4 matrices of a typical fit,
# and these run once per fit.

def leverage(J: np.ndarray, R: np.ndarray | None = None,
             scale: np.ndarray | None = None) -> np.ndarray:
    """Diagonal of the hat matrix J (J^T J)^-1 J^T, via h_i = |J_i R^-1|^2.

    ``R`` (optional) is the R factor of J / ``column_scale(J)``; ``scale``
    (optional) is that column scale.  A given R implies a finite J.
    """
    m, p = J.shape
    if p == 0:
        return np.zeros(m)
    if R is None:
        if not np.isfinite(J).all():
            return np.zeros(m)
        scale = column_scale(J)
        R = r_factor(J / scale)
    elif scale is None:
        scale = column_scale(J)
    d = np.abs(R.diagonal())
    if R.shape[0] < p or d.min() <= _EPS * np.abs(R).max() * max(m, p):
        return np.full(m, np.nan)
    # R is tiny (p x p): its inverse is cheap, and one GEMM per block beats
    # a triangular solve, whose call overhead dominates small fits
    r_inv, info = lapack.dtrtri(np.ascontiguousarray(R[:p, :p]), lower=0)
    if info != 0:
        return np.full(m, np.nan)
    r_inv /= scale[:, None]
    if m <= QR_CHUNK:
        L = J @ r_inv
        return _einsum("ij,ij->i", L, L)
    h = np.empty(m)
    for start in range(0, m, QR_CHUNK):
        L = J[start:start + QR_CHUNK] @ r_inv
        h[start:start + QR_CHUNK] = _einsum("ij,ij->i", L, L)
    return h


def covariance_unscaled(J: np.ndarray, names: list[str], R: np.ndarray | None = None,
                        scale: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """(J^T J)^-1 over J's columns, and notes for undetermined parameters.

    Returns the matrix (NaN rows/columns where a parameter is not determined)
    and, per column, a note ("" when fine).  ``R``, when given, is the R
    factor of J with its columns scaled by ``column_scale(J)`` (``scale``,
    when given); a given R implies a finite J.
    """
    m, p = J.shape
    notes = [""] * p
    if p == 0:
        return np.zeros((0, 0)), notes
    if R is None and not np.isfinite(J).all():
        return np.full((p, p), np.nan), ["the Jacobian is not finite at the solution"] * p
    if m < p:
        return np.full((p, p), np.nan), ["too few points to determine the parameters"] * p
    if scale is None:
        scale = column_scale(J)
    if R is None:
        R = r_factor(J / scale)
    _u, s, Vt, info = lapack.dgesdd(R)
    if info != 0:
        _u, s, Vt = np.linalg.svd(R)
    tol = s[0] * max(m, p) * _EPS if s.size and s[0] > 0 else 0.0
    if s.size == 0 or s[0] == 0 or s[-1] <= tol:
        # Rank deficient: name the parameters involved in the null space.
        cov = np.full((p, p), np.nan)
        null = Vt[s <= max(tol, 0.0)] if s.size else np.eye(p)
        involved = np.flatnonzero(np.any(np.abs(null) > 1e-3, axis=0))
        who = ", ".join(names[i] for i in involved) or "some parameters"
        for i in range(p):
            notes[i] = (f"singular Jacobian: {who} cannot be determined separately "
                        "from these data")
        return cov, notes
    Vs = Vt / s[:, None]
    cov = (Vs.T @ Vs) / (scale[:, None] * scale[None, :])
    return cov, notes


def curvature_from_r(J: np.ndarray, R: np.ndarray, names: list[str],
                     well_conditioned=None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(J^T J)^-1, notes and leverages from an R factor with R^T R = J^T J.

    ``R`` is unscaled (p x p, upper triangular).  A well-conditioned R
    (nearly every fit) is inverted by one triangular inversion, which serves
    the covariance R^-1 R^-T and the leverages |J_i R^-1|^2 alike.  Whether
    it is well conditioned is decided as conservatively as
    :func:`covariance_unscaled` decides rank deficiency, on R_s = R / scale
    (scale = ``column_scale``):
    with D the column norms of J (and of R), R_s = (R / D)(D / scale) where
    D / scale lies in (1/2, 1], so cond_2(R_s) <= 2 cond_2(R / D)
    <= 2 |R / D|_F |D R^-1|_F = 2 sqrt(p) |D R^-1|_F.  When that bound is
    below the function's tolerance its SVD test would pass too; otherwise
    that function and :func:`leverage` take over, with their SVD and their
    notes on which parameters are undetermined.

    ``well_conditioned(J, R)`` computes the first case, (covariance,
    leverages) or None when R is singular or the bound fails:
    :func:`well_conditioned_curvature` unless compiled code does it.
    """
    m, p = J.shape
    if p and m >= p:
        found = (well_conditioned or well_conditioned_curvature)(J, R)
        if found is not None:
            return found[0], [""] * p, found[1]
    scale = column_scale(R)   # R's column norms are J's
    R_s = R / scale
    cov, notes = covariance_unscaled(J, names, R=R_s, scale=scale)
    return cov, notes, leverage(J, R_s, scale)


def well_conditioned_curvature(J: np.ndarray, R: np.ndarray):
    """(R^-1 R^-T, leverages |J_i R^-1|^2) when R is comfortably invertible
    (the bound of :func:`curvature_from_r`), else None."""
    m, p = J.shape
    r_inv, info = lapack.dtrtri(R, lower=0)
    if info != 0:
        return None
    # ndarray.dot makes the same BLAS call as @ on these contiguous
    # operands (r_inv is LAPACK's fresh output), without the matmul
    # ufunc's dispatch, which costs about as much as a 4 x 4 product
    cov = r_inv.dot(r_inv.T)
    # |D R^-1|_F^2 = sum_i D_i^2 |row i of R^-1|^2, D_i^2 = |column i of R|^2,
    # and |row i of R^-1|^2 is the covariance's diagonal: one sum
    # over R_ij^2 cov_jj (a threshold test, not a result)
    bound = 4.0 * p * float(_einsum("ij,ij,j->", R, R, cov.diagonal()))
    if not bound * (max(m, p) * _EPS) ** 2 < 1.0:
        return None
    # a non-contiguous J keeps @: .dot would copy it for BLAS where
    # @ may take its own loop, a different sum
    L = J.dot(r_inv) if J.flags.f_contiguous or J.flags.c_contiguous else J @ r_inv
    return cov, _einsum("ij,ij->i", L, L)


@functools.lru_cache(maxsize=256)
def t_quantile(dof: int, level: float = T_LEVEL) -> float:
    if dof <= 0:
        return math.nan
    # scipy.special.stdtrit is the t quantile without scipy.stats' import cost
    return float(_sp.stdtrit(dof, 0.5 + level / 2))


def p_value(t: float, dof: int) -> float:
    if dof <= 0 or not math.isfinite(t):
        return math.nan
    return float(2 * _sp.stdtr(dof, -abs(t)))


def p_values(t, dof: int) -> list[float]:
    """Two-sided p values of t statistics (NaN where t is not finite), in one call."""
    if dof <= 0:
        return [math.nan] * len(t)
    return [2.0 * v for v in _sp.stdtr(dof, [-abs(v) for v in t]).tolist()]


def has_intercept(J: np.ndarray) -> bool:
    """Does the column space of J contain the constant vector?

    Solved on at most a few thousand rows, then checked on all of them: a
    combination that gives 1 everywhere must give 1 on any subset.
    """
    if J.size == 0:
        return False
    m = J.shape[0]
    scale = column_scale(J)
    rows = np.arange(m) if m <= 4096 else np.unique(np.linspace(0, m - 1, 4096).astype(int))
    coef, *_ = np.linalg.lstsq(J[rows] / scale, np.ones(rows.size), rcond=None)
    resid = (J / scale) @ coef - 1.0
    return float(np.linalg.norm(resid)) <= 1e-8 * math.sqrt(m)


def goodness_of_fit(y: np.ndarray, w: np.ndarray | None, r_w: np.ndarray, n_free: int,
                    absolute_sigma: bool, weighted: bool, centered: bool,
                    sigma: np.ndarray) -> dict:
    """SSE, RMSE, residual SD, R^2, chi^2, AIC, AICc, BIC from weighted residuals."""
    n = int(y.size)
    dof = n - n_free
    # a BLAS dot: no floating-point warnings to silence.  The ndarray method
    # makes the same ddot call as np.dot or @ without their dispatch.
    sse = float(r_w.dot(r_w))
    rmse = math.sqrt(sse / n) if n else math.nan
    residual_sd = math.sqrt(sse / dof) if dof > 0 else math.nan
    # w None: unweighted (all weights 1), skipping the multiplications
    if centered:
        if w is None:
            # the add ufunc's reduce is y.sum() without its Python-level wrapper
            d = y - float(np.add.reduce(y)) / n if n else y
            sst = float(d.dot(d))
        else:
            ybar = float(np.sum(w * y) / np.sum(w))
            sst = float(np.sum(w * (y - ybar) ** 2))
        dof_t = n - 1
    else:
        sst = float(y.dot(y)) if w is None else float(np.sum(w * y * y))
        dof_t = n
    r2 = 1.0 - sse / sst if sst > 0 else math.nan
    adj = 1.0 - (sse / dof) / (sst / dof_t) if (sst > 0 and dof > 0 and dof_t > 0) else math.nan
    if absolute_sigma:
        chi2 = sse
        red = sse / dof if dof > 0 else math.nan
        m2ll = chi2 + float(np.sum(np.log(2 * math.pi * sigma**2)))
        k = n_free
    else:
        chi2 = red = None
        if weighted:
            # relative weights: the scale is estimated, like an unweighted fit,
            # with the Jacobian of the weights' normalisation (sum log w) kept.
            log_w = float(np.sum(np.log(w))) if w is not None else 0.0
            m2ll = n * math.log(2 * math.pi * sse / n) + n - log_w \
                if sse > 0 else -math.inf
        else:
            m2ll = n * math.log(2 * math.pi * sse / n) + n if sse > 0 else -math.inf
        k = n_free + 1
    aic = m2ll + 2 * k
    aicc = aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf)
    bic = m2ll + k * math.log(n) if n > 0 else math.nan
    return dict(dof=dof, sse=sse, rmse=rmse, residual_sd=residual_sd, r_squared=r2,
                adj_r_squared=adj, chi_squared=chi2, reduced_chi_squared=red,
                aic=aic, aicc=aicc, bic=bic, log_likelihood=-0.5 * m2ll)
