"""Trust-region reflective (scipy.optimize.least_squares, method='trf').

Branch, Coleman & Li (1999): handles bounds by reflecting steps and scaling
variables near the bounds, and supports the robust losses.  scipy >= 1.16
calls ``callback(intermediate_result)`` once per iteration; raising
StopIteration there stops it cleanly, and cancel raised from the residual
function unwinds it at once.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from lsqfit_app.solvers._objective import Objective, Outcome

_STATUS = {
    -2: "stopped", -1: "nonfinite", 0: "max_evaluations",
    1: "converged", 2: "converged", 3: "converged", 4: "converged",
}
#: scipy's status -> our words (its messages name its own arguments)
_WORDS = {
    -2: "TRF was stopped from its iteration callback",
    -1: "TRF could not make progress from the values it was given",
    0: "TRF reached its limit on function evaluations",
    1: "the gradient fell below its tolerance",
    2: "the relative reduction of the objective fell below its tolerance",
    3: "the relative step fell below its tolerance",
    4: "the relative reduction of the objective and the relative step fell below their tolerances",
}


def interior_start(theta0: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Move a start that sits on a bound slightly inside (TRF needs a strictly feasible start)."""
    theta = np.clip(theta0, lower, upper)
    width = upper - lower
    step = np.where(np.isfinite(width), 1e-10 * np.maximum(width, 1.0),
                    1e-10 * np.maximum(np.abs(theta), 1.0))
    theta = np.where(theta <= lower, lower + step, theta)
    theta = np.where(theta >= upper, upper - step, theta)
    return theta


def run_trf(obj: Objective, options) -> Outcome:
    lower, upper = obj.lower, obj.upper
    theta0 = interior_start(obj.theta0, lower, upper)
    obj.report(theta0)   # reuses the residuals already computed at the start

    def callback(intermediate_result):
        x = intermediate_result.x
        cost = float(intermediate_result.cost) * 2.0   # scipy's cost is half our objective
        obj.report(x, cost)

    n = max(obj.n_free, 1)
    max_nfev = options.max_evaluations or 200 * (n + 1) * 10
    res = least_squares(
        obj.residuals, theta0, jac=obj.jacobian, bounds=(lower, upper), method="trf",
        ftol=options.ftol, xtol=options.xtol, gtol=options.gtol, x_scale="jac",
        loss=obj.loss, f_scale=obj.f_scale, max_nfev=max_nfev, callback=callback)
    status = _STATUS.get(res.status, "not_converged")
    words = _WORDS.get(res.status, f"TRF stopped with status {res.status}")
    if not np.all(np.isfinite(res.fun)):
        return Outcome(obj.best_theta, "nonfinite", "TRF ended where the model is not finite")
    return Outcome(np.asarray(res.x, dtype=float), status, words,
                   scipy_status=int(res.status))
