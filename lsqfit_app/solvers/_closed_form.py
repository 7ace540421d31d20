"""Closed-form linear least squares with iterative refinement.

For a model affine in its free parameters, f = A p + f0, the weighted problem
min ||W (y - f0) - W A p|| is solved directly:

1. Scale the columns of B = W A by powers of two near their norms (exact).
2. Householder QR, B = Q R, and p0 = R^-1 Q^T b.
3. Refine with Björck's iteration on the augmented system
       [I  B ] [r]   [b]
       [B' 0 ] [p] = [0]
   whose residuals f = b - r - B p and g = -B' r are computed in
   double-double precision (``_precise``).  Each correction reuses the QR:
       h = R^-T g,  d = Q^T f,  dp = R^-1 (d - h),  dr = f - Q (d - h).
   This converges to the exactly-rounded solution when cond(B) * eps < 1,
   including problems with large residuals (where plain refinement stalls
   at cond^2 * eps; Björck 1967, 1968; Higham 2002, section 20.5).

NIST StRD Filip (cond ~ 1e15 unscaled) and Wampler5 reach all certified
digits this way where LAPACK's lstsq gives 0 and ~6 digits.

A rank-deficient B (a zero or relatively tiny pivot) falls back to the SVD
minimum-norm solution and is reported as singular.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from lsqfit_app.core.statistics import column_scale
from lsqfit_app.solvers._objective import Objective, Outcome, StreamedStatistics
from lsqfit_app.core.ddarith import residual_dd, transpose_dot_dd

#: refinement passes are cheap (one QR reused); stop early when converged
MAX_REFINEMENTS = 12
#: above this many matrix entries refine in float64 only (see ``solve_linear``)
DD_LIMIT = 20_000_000


def solve_linear(B: np.ndarray, b: np.ndarray, refine: bool = True,
                 B_lo: np.ndarray | None = None, overwrite_b: bool = False):
    """Least-squares solution of B p ~ b; returns (p, residual, rank_ok, passes).

    ``B_lo``, when given, is the low-order part of the exact matrix B + B_lo
    (a double-double design matrix); refinement then converges to the
    solution for that exact matrix.  ``overwrite_b``: B may be scaled in
    place (the caller's own array; on big data it saves a copy of it).
    """
    m, n = B.shape
    scale = column_scale(B)
    Bs = np.divide(B, scale, out=B if overwrite_b else None)
    Bs_lo = None if B_lo is None else B_lo / scale
    Q, R = _householder(Bs)
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag.min() <= diag.max() * max(m, n) * np.finfo(float).eps:
        p, *_ = np.linalg.lstsq(Bs, b, rcond=None)
        return p / scale, b - Bs @ p, False, 0
    z = np.linalg.solve(R, Q.T @ b) if n else np.zeros(0)
    if not refine or m * n > DD_LIMIT:
        return z / scale, b - Bs @ z, True, 0
    r = residual_dd(Bs, z, b, A_lo=Bs_lo)
    passes = 0
    for passes in range(1, MAX_REFINEMENTS + 1):
        f = residual_dd(Bs, z, b, r, A_lo=Bs_lo)
        g = -transpose_dot_dd(Bs, r, A_lo=Bs_lo)
        h = np.linalg.solve(R.T, g)
        d = Q.T @ f
        dz = np.linalg.solve(R, d - h)
        # dr = f - Q (d - h), added to r in place: the same roundings as
        # r + (f - Q (d - h)) without three more vectors of the data's size
        dr = Q @ (d - h)
        np.subtract(f, dr, out=dr)
        del f
        z = z + dz
        r += dr
        del dr
        if np.all(np.abs(dz) <= 4 * np.finfo(float).eps * np.abs(z)):
            break
    r = residual_dd(Bs, z, b, A_lo=Bs_lo)
    return z / scale, r, True, passes


def _householder(Bs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q (m x k) and R (k x n), k = min(m, n), of the reduced QR of Bs.

    LAPACK directly (dgeqrf, then dorgqr over the reflectors in place): the
    same Householder QR as ``np.linalg.qr``, whose wrappers hold about six
    copies of an m x n matrix on the way, where this holds one besides Bs.
    """
    m, n = Bs.shape
    k = min(m, n)
    if k == 0:
        return np.linalg.qr(Bs, mode="reduced")   # LAPACK prints on an empty matrix
    qr, tau, _work, info = lapack.dgeqrf(np.array(Bs, order="F"), overwrite_a=True)
    if info != 0:
        return np.linalg.qr(Bs, mode="reduced")
    R = np.triu(qr[:k])
    Q, _work, info = lapack.dorgqr(qr[:, :k], tau, overwrite_a=True)
    if info != 0:
        return np.linalg.qr(Bs, mode="reduced")
    return Q, R


#: above this many design-matrix entries a polynomial streams through normal equations
STREAM_LIMIT = 2_000_000


def _streamed_polynomial(obj: Objective):
    """(theta, weighted residuals, statistics) for big polynomial problems, or None.

    The statistics are what ``build_result`` would otherwise get from the
    full n x p Jacobian: the unscaled covariance of theta and the leverages.
    """
    powers = obj.model.polynomial_powers()
    if powers is None or not obj.all_free or obj.y.size * len(powers) <= STREAM_LIMIT:
        return None
    if sorted(powers) != list(range(len(powers))):
        return None
    from lsqfit_app.core.polynomial import fit_polynomial, polyval

    x = next(iter(obj.x.values()))
    w = obj.inv_sigma**2 if obj.weighted else None
    fit = fit_polynomial(x, obj.y, len(powers) - 1, w)
    order = list(powers)
    theta = fit.coef[order]
    fitted = polyval(x, fit.coef)
    r = obj.y - fitted
    if obj.weighted:
        r *= obj.inv_sigma
    statistics = StreamedStatistics(fitted, fit.covariance[np.ix_(order, order)],
                                    fit.leverage(x, w),
                                    centered=True)    # the powers include 0: an intercept
    return theta, r, statistics


def run_closed_form(obj: Objective, options) -> Outcome:
    """Solve an affine model in one step (plus refinement); reports start and end."""
    theta0 = obj.theta0
    zero = np.zeros_like(theta0)
    obj.check_cancel()
    try:
        streamed = _streamed_polynomial(obj)
    except np.linalg.LinAlgError:
        streamed = None
    if streamed is not None:
        theta, r, statistics = streamed
        obj.nfev += 1
        obj.best_theta, obj.best_objective = theta, float(r @ r)
        obj.history.append(float(r @ r))
        obj.iterations = 1
        return Outcome(theta, "converged", residuals=r, streamed=statistics)
    # f(theta) = A theta + f0 exactly, because the model is affine in theta.
    with np.errstate(all="ignore"):
        f0 = obj.model.eval(obj.expand(zero), obj.x)
        A = obj.model.jacobian(obj.expand(zero), obj.x)[:, obj.free_idx]
    obj.nfev += 1
    obj.njev += 1
    if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(A))):
        # f = A theta + f0 is then not finite for any theta: name the rows
        rows = np.isfinite(f0) & np.isfinite(A).all(axis=1)
        return Outcome(theta0, "nonfinite_model",
                       f"its terms are not finite in {obj.nonfinite_text(np.where(rows, 0.0, np.nan))}")
    if np.all(np.isfinite(theta0)):
        obj.report(theta0)
    B = A * obj.inv_sigma[:, None]
    b = (obj.y - f0) * obj.inv_sigma
    no_offset = not np.any(f0)
    # the model's columns and offset are not needed again: on big data each
    # is the size of the data
    del A, f0
    B_lo = None
    if no_offset and np.all(obj.inv_sigma == 1.0):
        exact = obj.model.jacobian_dd(obj.expand(zero), obj.x)
        if exact is not None:
            B, B_lo = exact[0][:, obj.free_idx], exact[1][:, obj.free_idx]
    # B is this function's own (a product, or the model's fresh double-double
    # pair indexed by the free columns): solve_linear may scale it in place
    theta, r, full_rank, passes = solve_linear(B, b, refine=options.refine, B_lo=B_lo,
                                               overwrite_b=True)
    obj.best_theta = theta
    obj.best_objective = float(r @ r)
    if not obj.history:
        obj.history.append(float(r @ r))
        obj.iterations = 1
    else:
        obj.report(theta, float(r @ r))
    status = "converged" if full_rank else "singular"
    return Outcome(theta, status, refinement_passes=passes, residuals=r)
