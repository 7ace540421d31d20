"""L-BFGS-B (scipy.optimize.minimize) on the least-squares objective.

A general quasi-Newton minimiser (Byrd, Lu, Nocedal & Zhu 1995) that sees
only F(theta) = sum rho(r^2) and its gradient 2 J^T (rho' r); it ignores the
least-squares structure that LM exploits, so it needs more iterations, which
the solver race makes visible.  Variables are scaled by the Jacobian column
norms at the start so that badly scaled parameters (1e-7 next to 1e3) do not
stall it; bounds are passed through in the scaled variables.

The tolerances are tighter than rounding allows, so L-BFGS-B usually ends
with a failed line search ("ABNORMAL") at the minimum rather than with its
own convergence test.  Either stop counts as converged only when no step can
improve the fit measurably: the Gauss-Newton step from the projected
gradient would lower the objective by no more than its rounding error, or
move the parameters by at most 1e-10 relative (zero-residual fits;
``Objective.at_rounding_level``).  Its own tests also pass on plateaus far
from any minimum; the check tells those apart (at NIST's minima the decrease
is below 1e-2 of the rounding level, on the plateaus above 1e4 of it).  Every scipy stop is put in our words (its own message is
often just "ABNORMAL: ").
"""
from __future__ import annotations

import re

import numpy as np
from scipy.optimize import minimize

from lsqfit_app.solvers._objective import Objective, Outcome


def variable_scale(obj: Objective, theta0: np.ndarray) -> np.ndarray:
    """theta = u / d with d the Jacobian column norms at the start (1 if unusable)."""
    J = obj.jacobian(theta0)
    d = np.sqrt(np.einsum("ij,ij->j", J, J))
    d = np.where(np.isfinite(d) & (d > 0), d, 1.0)
    return d


#: L-BFGS-B's stop (scipy's message, "KIND: WHAT", up to the colon) -> our status and words
_STOPS = {
    "CONVERGENCE": ("converged", ""),
    "STOP": ("max_evaluations", "L-BFGS-B reached its limit on evaluations"),
    "ABNORMAL": ("line_search", "the line search found no lower objective along its direction"),
    "WARNING": ("line_search", "rounding errors prevented the line search from making progress"),
    "ERROR": ("not_converged", "L-BFGS-B rejected its input"),
}


def translate(message: str, limit_reached: bool, iterations_reached: bool) -> tuple[str, str]:
    """(our status key, our words) for L-BFGS-B's ``res.message``.

    scipy gives "KIND: WHAT", and WHAT is often empty (a failed line search is
    just "ABNORMAL: "), so the user never sees it; only its kind matters, and
    the limits, which scipy's status tells apart.
    """
    # "ABNORMAL: " now, "ABNORMAL_TERMINATION_IN_LNSRCH" in scipy's Fortran days
    kind = re.split(r"[:_\s]", str(message).strip().upper(), maxsplit=1)[0]
    if iterations_reached:
        return "max_iterations", "L-BFGS-B reached its limit on iterations"
    if limit_reached:
        return _STOPS["STOP"]
    return _STOPS.get(kind, ("not_converged", "L-BFGS-B stopped for a reason it did not give"))


def run_lbfgs(obj: Objective, options) -> Outcome:
    theta0 = np.clip(obj.theta0, obj.lower, obj.upper)
    d = variable_scale(obj, theta0)
    obj.report(theta0)   # reuses the residuals already computed at the start

    def fg(u):
        f, g = obj.value_and_gradient(u / d)
        if not np.isfinite(f):
            return 1e300, np.zeros_like(u)
        return f, g / d

    def callback(intermediate_result):
        obj.report(intermediate_result.x / d, float(intermediate_result.fun))

    bounds = list(zip(obj.lower * d, obj.upper * d))
    bounds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
              for lo, hi in bounds]
    maxiter = options.max_iterations or 15000
    maxfun = options.max_evaluations or 20 * maxiter
    res = minimize(fg, theta0 * d, jac=True, method="L-BFGS-B", bounds=bounds,
                   callback=callback,
                   options={"maxiter": maxiter + 1, "maxfun": maxfun,
                            "ftol": options.ftol * 1e-2, "gtol": options.gtol_lbfgs, "maxcor": 20})
    theta = res.x / d
    f = obj.value(theta)
    if not np.isfinite(f):
        return Outcome(obj.best_theta, "nonfinite",
                       "L-BFGS-B ended where the model is not finite; the best finite point is shown")
    if obj.best_objective < f:
        # a line search that failed can end on a worse trial point than one it saw
        theta, f = obj.best_theta, obj.best_objective
    status, words = translate(res.message, res.status == 1, res.status == 1 and res.nit > maxiter)
    if status in ("converged", "line_search"):
        stationarity = obj.predicted_decrease(theta)
        if stationarity.at_rounding_level:
            # the tolerances are far below what rounding allows (they meet
            # NIST's digits elsewhere): a stop where no step can improve the
            # fit measurably is convergence, as MINPACK's info 6-8 are for LM
            status = "converged" if status == "converged" else "converged_rounding"
        else:
            # L-BFGS-B's own tests also pass on plateaus far from a minimum
            # (NIST MGH10, BoxBOD from their first starts)
            if status == "converged":
                status, words = "stalled", "L-BFGS-B's own tests were met"
            decrease = stationarity.decrease
            words += (f"; a Gauss-Newton step would still lower the objective by "
                      f"{decrease / f if f > 0 else decrease:.2g} of its value")
    return Outcome(theta, status, words)
