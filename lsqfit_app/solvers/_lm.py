"""Levenberg-Marquardt through MINPACK's lmder.

MINPACK (Moré 1978) is the reference implementation: a trust-region LM with
column scaling from the Jacobian norms.  It has no iteration callback, but
with an analytic Jacobian lmder asks for the Jacobian exactly once per outer
iteration, at the point it has just evaluated and accepted; we report
progress there.  Cancel and the iteration limit unwind it by raising from
the callbacks (lmfit's way); the best point seen is kept.  No bounds and no
robust loss: auto sends those problems to TRF, and an explicit LM runs only
within the model's own bound hints (``_auto.run_lm_within_hints``).

lmder runs through ``scipy.optimize.leastsq``, scipy's public MINPACK
wrapper.  Its shape check evaluates the start once more, which the
Objective's cache answers without a model call; the covariance it returns
is not used (``build_result`` derives the statistics from its own
factorisation at the final point).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import leastsq

from lsqfit_app.solvers._objective import Objective, Outcome

# MINPACK info codes -> our status keys
_INFO = {
    1: "converged", 2: "converged", 3: "converged", 4: "converged",
    5: "max_evaluations", 6: "ftol_too_small", 7: "xtol_too_small", 8: "gtol_too_small",
}
_MESSAGES = {
    0: "improper input parameters",
    1: "the relative reductions in the sum of squares are at most ftol",
    2: "the relative change of the parameters is at most xtol",
    3: "the relative reductions in the sum of squares are at most ftol and the relative "
       "change of the parameters is at most xtol",
    4: "the residuals are orthogonal to the Jacobian columns within gtol",
    5: "the number of function evaluations reached its limit",
    6: "ftol is too small: no further reduction in the sum of squares is possible",
    7: "xtol is too small: no further improvement of the parameters is possible",
    8: "gtol is too small: the residuals are orthogonal to the Jacobian to machine precision",
}
#: MINPACK's initial step bound factor (its default)
_FACTOR = 100.0


def lmder(fun, jac_rows, theta0: np.ndarray, ftol: float, xtol: float, gtol: float,
          maxfev: int) -> tuple[np.ndarray, int]:
    """MINPACK lmder: (solution, info).

    ``jac_rows(theta)`` returns the Jacobian transposed, (parameters x
    points), C-contiguous: MINPACK's column-major layout, handed over
    without a copy.  ``full_output`` keeps leastsq from turning infos 5-8
    into warnings: they are statuses here.  Fewer rows than free parameters
    (which leastsq refuses) never get here: ``FitProblem.create`` refuses them.
    """
    theta, _cov, _info, _mesg, info = leastsq(
        fun, theta0, Dfun=jac_rows, col_deriv=1, full_output=True, ftol=ftol, xtol=xtol,
        gtol=gtol, maxfev=maxfev, factor=_FACTOR)
    return theta, int(info)


def run_lm(obj: Objective, options) -> Outcome:
    theta0 = obj.theta0
    start = obj.fused_evaluation(theta0)
    obj.report(theta0, start.objective)
    n = max(obj.n_free, 1)
    maxfev = options.max_evaluations or 200 * (n + 1) * 10
    # the start stays cached on the Objective for lmder's first calls;
    # this frame need not hold its Jacobian through the whole fit
    del start
    fun, jac_rows = obj.minpack_callbacks()
    theta, info = lmder(fun, jac_rows, theta0, options.ftol, options.xtol, options.gtol, maxfev)
    status = _INFO.get(info, "not_converged")
    # 6/7/8: the tolerance is below machine precision; MINPACK stopped because
    # no further improvement is possible - at these tolerances that is convergence.
    if status in ("ftol_too_small", "xtol_too_small", "gtol_too_small"):
        status = "converged"
    hit = obj.cached(theta)
    if hit is None:
        obj.residuals(theta)
        hit = obj.cached(theta)
    mesg = _MESSAGES.get(info, f"MINPACK stopped with info {info}")
    if not hit.finite:
        return Outcome(obj.best_theta, "nonfinite",
                       "Levenberg-Marquardt ended where the model is not finite")
    return Outcome(np.asarray(theta, dtype=float), status, mesg, minpack_info=info)
