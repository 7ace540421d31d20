"""The fit linearised at a point: residuals, Jacobian and one QR factorisation.

The end of a nonlinear fit needs the same factorisation three times: the
Gauss-Newton polish solves with it, the rank check reads its singular
values, and the covariance and leverage come from its R.  ``linearize``
computes it once, from one fused model call, and ``build_result`` reuses it
at the final point.

The QR is of the augmented matrix [J/S | r] (S: powers of two near the
column norms, exact scaling): its R holds R_J in the leading block and Q^T r
in the last column, so the Gauss-Newton step needs no Q.  LAPACK is called
directly: for a 100 x 5 matrix numpy's ``qr`` wrapper costs ten times the
factorisation itself, and this runs once or twice per fit.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from lsqfit_app.core.statistics import column_scale
from lsqfit_app.solvers._objective import Objective


@dataclass
class Linearization:
    """Everything at free parameters ``theta`` (used rows, weighted)."""

    theta: np.ndarray
    f: np.ndarray          # model values (unweighted)
    r: np.ndarray          # weighted residuals (y - f)/sigma
    J: np.ndarray          # weighted Jacobian (df/dtheta)/sigma, free columns
    scale: np.ndarray      # column_scale(J)
    R: np.ndarray | None   # R of J/scale; None when J is not finite or too short
    qtr: np.ndarray | None  # Q^T r (first p entries)

    @property
    def finite(self) -> bool:
        return self.R is not None

    def singular_values(self, column_weights: np.ndarray | None = None) -> np.ndarray:
        """Singular values of J * column_weights (of J/scale when none are given)."""
        A = self.R if column_weights is None else self.R * (column_weights * self.scale)
        s, info = lapack.dgesdd(A, compute_uv=0)[1::2]   # LAPACK directly: a p x p matrix
        return s if info == 0 else np.linalg.svd(A, compute_uv=False)

    def gauss_newton_step(self) -> np.ndarray | None:
        """The step minimising |r - J step|, or None when R is singular."""
        if self.R is None:
            return None
        d = np.abs(self.R.diagonal())
        if d.size == 0 or not d.min() > 1e-14 * d.max():
            return None
        z, info = lapack.dtrtrs(self.R, self.qtr)
        if info != 0:
            return None
        return z / self.scale


def linearize(obj: Objective, theta: np.ndarray) -> Linearization:
    """Evaluate and factorise the fit at free parameters theta (linear loss)."""
    theta = np.array(theta, dtype=float)
    # the fused evaluation, from the Objective's cache when the solver stopped
    # at its last evaluation or its last accepted point (Objective.keep)
    evaluation = obj.fused_evaluation(theta)
    r, f = evaluation.r, evaluation.f
    J = -evaluation.Jr                       # d f/d theta, weighted
    m, p = J.shape
    scale = column_scale(J)
    R = qtr = None
    if m >= p:
        A = np.empty((m, p + 1), order="F")
        np.divide(J, scale, out=A[:, :p])
        A[:, p] = r
        if np.isfinite(A).all():
            qr, _tau, _work, info = lapack.dgeqrf(A, overwrite_a=True)
            if info == 0:
                R = qr[:p, :p].copy()
                R[_strictly_lower(p)] = 0.0   # np.triu, without its mask-building overhead
                qtr = qr[:p, p].copy()
    return Linearization(theta, f, r, J, scale, R, qtr)


@functools.lru_cache(maxsize=64)
def _strictly_lower(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(p, -1)
