"""The fit linearised at a point: residuals, Jacobian and one QR factorisation.

The end of a nonlinear fit needs the same factorisation three times: the
Gauss-Newton polish solves with it, the rank check reads its singular
values, and the covariance and leverage come from its R.  ``linearize``
computes it once, from one fused model call, and ``build_result`` reuses it
at the final point.

The QR is of the augmented matrix [Jr | r], Jr = dr/dtheta as the Objective
holds it (no negation): its R holds R_J in the leading block (up to row
signs, which J^T J = R^T R and the leverages do not see) and Q^T r in the
last column, so the Gauss-Newton step needs no Q.  The columns are not
scaled first: Householder QR commutes exactly with scaling a column by a
power of two, so the powers-of-two ``scale`` is applied to the small R
afterwards, where a test needs it.  LAPACK is called directly: for a
100 x 5 matrix numpy's ``qr`` wrapper costs ten times the factorisation
itself, and this runs once or twice per fit.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from lsqfit_app.core.statistics import row_blocks
from lsqfit_app.solvers._objective import Objective


@dataclass
class Linearization:
    """Everything at free parameters ``theta`` (used rows, weighted)."""

    theta: np.ndarray
    f: np.ndarray          # model values (unweighted)
    r: np.ndarray          # weighted residuals (y - f)/sigma
    Jr: np.ndarray         # dr/dtheta = -(df/dtheta)/sigma, free columns
    R: np.ndarray | None   # R factor of Jr (p x p); None when not finite or too few rows
    qtr: np.ndarray | None  # Q^T r (first p entries)
    objective: float       # r @ r (NaN or inf when r is not finite)

    @property
    def finite(self) -> bool:
        return self.R is not None

    def singular_values(self, column_weights: np.ndarray) -> np.ndarray:
        """Singular values of J * column_weights (from R: J and R share them)."""
        A = self.R * column_weights
        if not A.size or not np.isfinite(A).all():
            # LAPACK's argument checks print to stdout on an empty matrix
            return np.zeros(0) if not A.size else np.full(A.shape[0], np.nan)
        s, info = lapack.dgesdd(A, compute_uv=0)[1::2]   # LAPACK directly: a p x p matrix
        return s if info == 0 else np.linalg.svd(A, compute_uv=False)

    def gauss_newton_step(self) -> np.ndarray | None:
        """The step minimising |r + Jr step|, or None when R is exactly singular.

        No test of conditioning here: callers polish only after the rank
        check (``_auto._rank_deficient``) has passed at this point or one a
        rounding-level step away.
        """
        if self.R is None:
            return None
        if not self.R.size:
            return np.zeros(0)   # nothing free; and LAPACK prints on an empty matrix
        z, info = lapack.dtrtrs(self.R, self.qtr)
        return -z if info == 0 else None


def linearize(obj: Objective, theta: np.ndarray) -> Linearization:
    """Evaluate and factorise the fit at free parameters theta (linear loss)."""
    theta = np.array(theta, dtype=float)
    # the fused evaluation, from the Objective's cache when the solver stopped
    # at its last evaluation or its last accepted point (Objective.cached)
    evaluation = obj.fused_evaluation(theta)
    r, Jr = evaluation.r, evaluation.Jr
    m, p = Jr.shape
    R = qtr = None
    if m >= p:
        R, qtr = _factor_augmented(Jr, r)
    return Linearization(theta, evaluation.f, r, Jr, R, qtr, evaluation.objective)


def _factor_augmented(Jr: np.ndarray, r: np.ndarray):
    """(R, Q^T r) of the Householder QR of [Jr | r], or (None, None) when it
    is not finite (or LAPACK fails).

    Streamed over row blocks (``statistics.row_blocks``: one block but for
    big data) as a tall-skinny QR: each block is factorised below the R of
    the blocks before it, so only one block of [Jr | r] is ever copied, and
    the R that comes out is that of the whole matrix up to row signs (which
    the Gauss-Newton step R^-1 Q^T r, J^T J = R^T R and the leverages do not
    see).  TSQR is as stable as Householder on the whole matrix.
    """
    m, p = Jr.shape
    k = p + 1
    qr = None
    for rows in row_blocks(m):
        top = 0
        if qr is not None:
            # the R so far (k x k), on top of this block
            top = min(qr.shape[0], k)
            previous = qr[:top, :k] * _upper(k)[:top]
        A = np.empty((top + rows.stop - rows.start, k), order="F")
        if top:
            A[:top] = previous
        A[top:, :p] = Jr[rows]
        A[top:, p] = r[rows]
        qr, _tau, _work, info = lapack.dgeqrf(A, overwrite_a=True)
        if info != 0:
            return None, None
    # Householder QR carries a NaN or inf anywhere in a column into that
    # column's part of the factor (a reflection keeps a non-finite entry
    # non-finite, and the next diagonal entry is the norm of what remains), so
    # the small factor tells whether [Jr | r] was finite without a pass over it
    if not np.isfinite(qr[:k, :k]).all():
        return None, None
    # np.triu, without its mask-building overhead: one product with a cached mask
    return qr[:p, :p] * _upper(p), qr[:p, p]


@functools.lru_cache(maxsize=64)
def _upper(p: int) -> np.ndarray:
    """Ones on and above the diagonal, zeros below (read-only: it is shared)."""
    mask = np.triu(np.ones((p, p)))
    mask.flags.writeable = False
    return mask
