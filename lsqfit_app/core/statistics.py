"""Uncertainties and goodness-of-fit statistics of a least-squares fit.

Notation: n used points, p free parameters, rank the numerical rank of J
(p unless the fit is rank deficient), dof = n - rank, weighted residuals
r_i = (y_i - f_i)/sigma_i, weighted Jacobian J_ij = (df_i/dp_j)/sigma_i over
the free parameters, SSE = sum r_i**2.

Covariance (Gauss-Newton / delta method)::

    C = s2 * (J^T J)^-1,  s2 = 1            when sigma is absolute
                          s2 = SSE / dof    otherwise ("scaled" errors)

computed from a QR factorisation of J with its columns scaled by powers of
two (exact, so scaling adds no rounding), and the SVD of the small R factor
to detect rank deficiency.  A rank-deficient J keeps the variances of the
estimable parameters (those whose unit vector lies in J's row space) from
the pseudo-inverse, the same for every generalised inverse; the others get
NaN and a note (:func:`svd_curvature`).  Parameters at an active bound are
held like fixed ones (their error is not defined by the curvature there).
Under a robust loss the covariance is Huber's E[psi^2] / E[psi']^2 (J^T J)^-1
at a robust scale (``core.losses``, where the formula and its references are).

Intervals and p values (:func:`interval_quantile`): with absolute sigma the
variance is known and (estimate - true) / SE is standard normal, so the
normal quantile (1.959964 at 95 %) is used; otherwise the variance is
estimated from the scatter and Student's t with dof degrees of freedom is.

R^2 = 1 - SSE/SST with SST centred about the weighted mean
sum w_i y_i / sum w_i (statsmodels WLS), whenever the model has a constant
term, free or fixed; a linear model through the origin (its columns, and its
parameter-free part, do not span the constant: :func:`has_intercept` on the
unweighted columns) gets the uncentred SST = sum w y^2, NIST's convention;
``FitStatistics.r_squared_centered`` says which.  Adjusted R^2 =
1 - (SSE/dof) / (SST/(n - 1)) (n for uncentred).  Information criteria use
the full Gaussian log-likelihood: with absolute sigma
-2 log L = chi2 + sum log(2 pi sigma_i^2) and k = rank (nothing is estimated
for the variance); otherwise the variance is estimated,
-2 log L = n log(2 pi SSE/n) + n (- sum log w_i for relative weights) and
k = rank + 1, as R's AIC(lm) and logLik.lm (Burnham & Anderson 2002).
AICc = AIC + 2k(k+1)/(n-k-1), BIC = -2 log L + k log n.

No LAPACK routine is called on an empty or non-finite matrix: their
argument checks (xerbla) print to stdout.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import special as _sp
from scipy.linalg import lapack

T_LEVEL = 0.95
_EPS = float(np.finfo(float).eps)

def column_scale(J: np.ndarray) -> np.ndarray:
    """Powers of two at or just above each column's norm (1 for zero or non-finite columns).

    Dividing by a power of two is exact, so scaling adds no rounding error.
    frexp gives the exponent directly, and maps 0, inf and NaN to exponent 0.
    """
    if not J.size:
        return np.ones(J.shape[1])
    return np.ldexp(1.0, np.frexp(np.sqrt(np.einsum("ij,ij->j", J, J)))[1])


#: rows per block of the streamed (TSQR) factorisation of tall Jacobians
QR_CHUNK = 1 << 16


def row_blocks(m: int, block: int | None = None) -> list[slice]:
    """Row slices for streaming an m-row matrix: one slice up to four blocks of
    ``block`` rows (default :data:`QR_CHUNK`), else blocks of ``block`` rows."""
    block = QR_CHUNK if block is None else max(int(block), 1)
    if m <= 4 * block:
        return [slice(0, m)]
    return [slice(start, min(m, start + block)) for start in range(0, m, block)]


def r_factor(A: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """The R of a QR factorisation of a tall A (divided by ``scale`` when given),
    streamed in row blocks (:func:`row_blocks`).

    R of [R_prev; A_block] equals R of everything so far (tall-skinny QR,
    as stable as Householder on the whole), so millions of rows never need
    a full Q or a second copy of A: only a block is scaled at a time.
    """
    R = None
    for rows in row_blocks(A.shape[0]):
        block = A[rows] if scale is None else A[rows] / scale
        R = np.linalg.qr(block if R is None else np.vstack((R, block)), mode="r")
    return R


#: a parameter is estimable when its unit vector is orthogonal to the null
#: space of J to this accuracy (the SVD's null vectors are accurate to about
#: eps / gap; sqrt(eps) leaves a wide margin either way)
ESTIMABLE_TOL = 1.5e-8


class Curvature(NamedTuple):
    """What the SVD of J says about the parameters (see :func:`svd_curvature`)."""

    covariance: np.ndarray   # p x p; NaN rows/columns for parameters not estimable
    notes: list[str]         # per parameter, "" when its variance is there
    rank: int | None         # numerical rank of J (None: J not finite)
    leverage: np.ndarray     # diagonal of the hat matrix (projection on J's column space)


def svd_curvature(J: np.ndarray, names: list[str], R: np.ndarray | None = None,
                  scale: np.ndarray | None = None) -> Curvature:
    """(J^T J)^+ over the estimable parameters, notes, rank and leverages.

    ``R``, when given, is the R factor of J with its columns scaled by
    ``column_scale(J)`` (``scale``, when given); a given R implies a finite
    J.  J = U S V^T (scaled columns); rank = number of singular values above
    s_max * max(m, p) * eps.  With full rank this is (J^T J)^-1.  Otherwise
    parameter j is estimable iff its unit vector lies in the row space of J,
    i.e. column j of the null-space basis V_0 vanishes; the variance of an
    estimable function is the same for every generalised inverse, so the
    pseudo-inverse V_r S_r^-2 V_r^T gives it.  The others get NaN and a note
    naming the parameters in the null space.  Leverages are the diagonal of
    the projection J (J^T J)^+ J^T, defined at any rank.

    No LAPACK call sees an empty or non-finite matrix: LAPACK's argument
    checks print to stdout.
    """
    m, p = J.shape
    if p == 0:
        return Curvature(np.zeros((0, 0)), [], 0, np.zeros(m))
    if R is None and not np.isfinite(J).all():
        return Curvature(np.full((p, p), np.nan),
                         ["the Jacobian is not finite at the solution"] * p, None,
                         np.full(m, np.nan))
    if m < p:
        return Curvature(np.full((p, p), np.nan),
                         ["too few points to determine the parameters"] * p, None,
                         np.full(m, np.nan))
    if scale is None:
        scale = column_scale(J)
    if R is None:
        R = r_factor(J, scale)
    if not np.isfinite(R).all():
        return Curvature(np.full((p, p), np.nan),
                         ["the Jacobian is not finite at the solution"] * p, None,
                         np.full(m, np.nan))
    _u, s, Vt, info = lapack.dgesdd(R)
    if info != 0:
        _u, s, Vt = np.linalg.svd(R)
    tol = s[0] * max(m, p) * _EPS if s.size and s[0] > 0 else 0.0
    rank = int(np.count_nonzero(s > tol)) if s.size and s[0] > 0 else 0
    # (V_r S_r^-1) with the column scale undone: cov = half half^T
    half = (Vt[:rank].T / s[:rank]) / scale[:, None]
    cov = half @ half.T
    notes = [""] * p
    if rank < p:
        null = Vt[rank:]
        loose = np.sqrt(np.sum(null * null, axis=0)) > ESTIMABLE_TOL
        involved = np.flatnonzero(loose)
        who = ", ".join(names[i] for i in involved) or "some parameters"
        for i in involved.tolist():
            notes[i] = (f"singular Jacobian: {who} cannot be determined separately "
                        "from these data")
        cov[loose, :] = np.nan
        cov[:, loose] = np.nan
    return Curvature(cov, notes, rank, row_norms2(J, half))


def row_norms2(J: np.ndarray, M: np.ndarray) -> np.ndarray:
    """|J_i M|^2 for every row i of J (leverages, with M = R^-1 or V S^-1),
    one block of rows at a time (:func:`row_blocks`): the n x p product is
    never held whole."""
    blocks = row_blocks(J.shape[0], QR_CHUNK // 4)
    if len(blocks) == 1:
        L = J @ M
        return np.einsum("ij,ij->i", L, L)
    h = np.empty(J.shape[0])
    for rows in blocks:
        L = J[rows] @ M
        h[rows] = np.einsum("ij,ij->i", L, L)
    return h


def curvature_of_r(J: np.ndarray, R: np.ndarray, names: list[str]) -> Curvature:
    """(J^T J)^+, notes, rank and leverages from an R factor with R^T R = J^T J.

    ``R`` is unscaled (p x p, upper triangular).  A well-conditioned R
    (nearly every fit) is inverted by one triangular inversion, which serves
    the covariance R^-1 R^-T and the leverages |J_i R^-1|^2 alike.  Whether
    it is well conditioned is decided as conservatively as
    :func:`svd_curvature` decides rank deficiency, on R_s = R / scale
    (scale = ``column_scale``): with D the column norms of J (and of R),
    R_s = (R / D)(D / scale) where D / scale lies in (1/2, 1], so
    cond_2(R_s) <= 2 cond_2(R / D) <= 2 |R / D|_F |D R^-1|_F
    = 2 sqrt(p) |D R^-1|_F.  When that bound is below the SVD's tolerance
    its test would pass too; otherwise :func:`svd_curvature` takes over,
    with its notes on which parameters are undetermined.
    """
    m, p = J.shape
    if p and m >= p:
        found = well_conditioned_curvature(J, R)
        if found is not None:
            return Curvature(found[0], [""] * p, p, found[1])
    scale = column_scale(R)   # R's column norms are J's
    return svd_curvature(J, names, R / scale, scale)


def well_conditioned_curvature(J: np.ndarray, R: np.ndarray):
    """(R^-1 R^-T, leverages |J_i R^-1|^2) when R is comfortably invertible
    (the bound of :func:`curvature_of_r`), else None."""
    m, p = J.shape
    r_inv, info = lapack.dtrtri(R, lower=0)
    if info != 0:
        return None
    cov = r_inv @ r_inv.T
    # |D R^-1|_F^2 = sum_i D_i^2 |row i of R^-1|^2, D_i^2 = |column i of R|^2,
    # and |row i of R^-1|^2 is the covariance's diagonal: one sum
    # over R_ij^2 cov_jj (a threshold test, not a result)
    bound = 4.0 * p * float(np.vdot(R, R * cov.diagonal()))
    if not bound * (max(m, p) * _EPS) ** 2 < 1.0:
        return None
    return cov, row_norms2(J, r_inv)


@functools.lru_cache(maxsize=256)
def t_quantile(dof: int, level: float = T_LEVEL) -> float:
    if dof <= 0:
        return math.nan
    # scipy.special.stdtrit is the t quantile without scipy.stats' import cost
    return float(_sp.stdtrit(dof, 0.5 + level / 2))


@functools.lru_cache(maxsize=16)
def z_quantile(level: float = T_LEVEL) -> float:
    """The standard normal quantile of a two-sided interval at ``level``."""
    return float(_sp.ndtri(0.5 + level / 2))


def interval_quantile(dof: int, known_variance: bool, level: float = T_LEVEL) -> float:
    """Quantile of the intervals: normal when the variance is known (absolute
    sigma: (estimate - true) / SE is N(0, 1), nothing is estimated), else
    Student's t with dof degrees of freedom (the variance is estimated)."""
    return z_quantile(level) if known_variance else t_quantile(dof, level)


def p_values(t, dof: int, known_variance: bool = False) -> list[float]:
    """Two-sided p values (NaN where t is not finite), in one call: of the normal
    distribution when the variance is known, of Student's t otherwise."""
    neg = [-abs(v) for v in t]
    if known_variance:
        return [2.0 * v for v in _sp.ndtr(neg).tolist()] if neg else []
    if dof <= 0:
        return [math.nan] * len(t)
    return [2.0 * v for v in _sp.stdtr(dof, neg).tolist()] if neg else []


def has_intercept(J: np.ndarray) -> bool:
    """Does the column space of J contain the constant vector?

    Solved on at most a few thousand rows, then checked on all of them: a
    combination that gives 1 everywhere must give 1 on any subset.
    """
    if J.size == 0 or not np.isfinite(J).all():
        return False   # no columns, or none to trust (and no LAPACK call on NaN)
    m = J.shape[0]
    scale = column_scale(J)
    rows = np.arange(m) if m <= 4096 else np.unique(np.linspace(0, m - 1, 4096).astype(int))
    try:
        coef, *_ = np.linalg.lstsq(J[rows] / scale, np.ones(rows.size), rcond=None)
    except np.linalg.LinAlgError:
        return False
    # |(J / scale) coef - 1|, one block of rows at a time (a threshold test)
    sq = 0.0
    for block in row_blocks(m):
        resid = (J[block] / scale) @ coef - 1.0
        sq += float(resid @ resid)
    return math.sqrt(sq) <= 1e-8 * math.sqrt(m)


def goodness_of_fit(y: np.ndarray, w: np.ndarray | None, r_w: np.ndarray, n_free: int,
                    absolute_sigma: bool, weighted: bool, centered: bool,
                    sigma: np.ndarray) -> dict:
    """SSE, RMSE, residual SD, R^2, chi^2, AIC, AICc, BIC from weighted residuals.

    ``n_free`` is the number of parameters the data determine (the rank of
    J: free parameters less any rank deficiency).  The sums over the points
    are taken here; the formulas are :func:`fit_criteria`'s, which serve
    many curves too.
    """
    n = int(y.size)
    sse = float(r_w @ r_w)
    # w None: unweighted (all weights 1), skipping the multiplications
    if centered:
        if w is None:
            d = y - float(y.sum()) / n if n else y
            sst = float(d @ d)
        else:
            ybar = float(np.sum(w * y) / np.sum(w))
            sst = float(np.sum(w * (y - ybar) ** 2))
    else:
        sst = float(y @ y) if w is None else float(np.sum(w * y * y))
    log_sigma2 = float(np.sum(np.log(2 * math.pi * sigma**2))) if absolute_sigma else 0.0
    log_w = float(np.sum(np.log(w))) if (weighted and not absolute_sigma and w is not None) \
        else 0.0
    return fit_criteria(n, n_free, sse, sst, centered, absolute_sigma, weighted,
                        log_sigma2, log_w)


def curve_sums(y: np.ndarray, w: np.ndarray | None, used: np.ndarray, sigma: np.ndarray | None,
               absolute_sigma: bool, weighted: bool) -> dict:
    """The sums of :func:`goodness_of_fit` for K curves at once, along the last
    axis of (K, n) arrays, over the points where ``used`` is True: n, the
    centred and uncentred SST, sum log(2 pi sigma^2) and sum log w.  ``w``
    (the weights 1/sigma^2) None: unweighted."""
    u = used.astype(float)
    n = np.count_nonzero(used, axis=-1)
    wu = u if w is None else np.where(used, w, 0.0)
    yu = np.where(used, y, 0.0)
    sw = wu.sum(axis=-1)
    with np.errstate(all="ignore"):
        ybar = np.einsum("...i,...i->...", wu, yu) / sw
    d = (yu - ybar[..., None]) * (used if w is None else 1.0)
    sst_c = np.einsum("...i,...i,...i->...", wu, d, d)
    sst_u = np.einsum("...i,...i,...i->...", wu, yu, yu)
    out = dict(n=n, sst_centered=sst_c, sst_uncentered=sst_u,
               log_sigma2=np.zeros(n.shape), log_w=np.zeros(n.shape))
    with np.errstate(all="ignore"):
        if absolute_sigma and sigma is not None:
            out["log_sigma2"] = np.where(used, np.log(2 * math.pi * sigma**2), 0.0).sum(axis=-1)
        if weighted and not absolute_sigma and w is not None:
            out["log_w"] = np.where(used, np.log(np.where(used, w, 1.0)), 0.0).sum(axis=-1)
    return out


class _ScalarOps:
    """fit_criteria's operations on Python numbers: ``pick`` evaluates only the
    branch taken (a callable), as an ``if`` would."""

    sqrt = staticmethod(math.sqrt)
    log = staticmethod(math.log)
    isfinite = staticmethod(math.isfinite)

    @staticmethod
    def pick(cond, then, other):
        return then() if cond else other


class _ArrayOps:
    """fit_criteria's operations on arrays of K curves: both branches are
    computed (warnings silenced) and ``pick`` selects per curve."""

    sqrt = staticmethod(np.sqrt)
    log = staticmethod(np.log)
    isfinite = staticmethod(np.isfinite)

    @staticmethod
    def pick(cond, then, other):
        with np.errstate(all="ignore"):
            return np.where(cond, then(), other)


def fit_criteria(n, n_free, sse, sst, centered, absolute_sigma: bool, weighted: bool,
                 log_sigma2=0.0, log_w=0.0) -> dict:
    """The goodness-of-fit formulas (module docstring) from the sums over the points.

    Python numbers for one fit, or arrays of K curves (n, n_free, sse, sst,
    centered and the log sums each a number or a (K,) array): the same
    expressions serve both, through :class:`_ScalarOps` or :class:`_ArrayOps`.
    ``log_sigma2`` = sum log(2 pi sigma_i^2) (absolute sigma), ``log_w`` =
    sum log w_i (relative weights).  Without absolute sigma chi^2 is None
    for one fit and NaN for many.
    """
    batch = isinstance(sse, np.ndarray)
    o = _ArrayOps if batch else _ScalarOps
    nan, inf = math.nan, math.inf
    dof = n - n_free
    rmse = o.pick(n > 0, lambda: o.sqrt(sse / n), nan)
    residual_sd = o.pick(dof > 0, lambda: o.sqrt(sse / dof), nan)
    dof_t = np.where(centered, n - 1, n) if batch else (n - 1 if centered else n)
    r2 = o.pick(sst > 0, lambda: 1.0 - sse / sst, nan)
    adj = o.pick((sst > 0) & (dof > 0) & (dof_t > 0),
                 lambda: 1.0 - (sse / dof) / (sst / dof_t), nan)
    if absolute_sigma:
        chi2 = sse
        red = o.pick(dof > 0, lambda: sse / dof, nan)
        m2ll = chi2 + log_sigma2
        k = n_free
    else:
        chi2 = red = (np.full(np.shape(sse), nan) if batch else None)
        # relative weights: the scale is estimated, like an unweighted fit,
        # with the Jacobian of the weights' normalisation (sum log w) kept.
        if weighted:
            m2ll = o.pick(sse > 0, lambda: n * o.log(2 * math.pi * sse / n) + n - log_w, -inf)
        else:
            m2ll = o.pick(sse > 0, lambda: n * o.log(2 * math.pi * sse / n) + n, -inf)
        k = n_free + 1
    # a model that gave NaN or inf: no likelihood, not -inf
    m2ll = o.pick(o.isfinite(sse), lambda: m2ll, nan)
    aic = m2ll + 2 * k
    aicc = aic + o.pick(n - k - 1 > 0, lambda: 2 * k * (k + 1) / (n - k - 1), inf)
    bic = o.pick(n > 0, lambda: m2ll + k * o.log(n), nan)
    return dict(dof=dof, sse=sse, rmse=rmse, residual_sd=residual_sd, r_squared=r2,
                adj_r_squared=adj, chi_squared=chi2, reduced_chi_squared=red,
                aic=aic, aicc=aicc, bic=bic, log_likelihood=-0.5 * m2ll)
