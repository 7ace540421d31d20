"""Gradient descent with a backtracking (Armijo) line search.

The algorithm people learn first: step along -grad F, shrinking the step
until the objective decreases enough (Armijo condition with c = 1e-4) and
growing it again after a success.  It converges linearly at a rate set by the
condition number of J^T J, which is why it crawls where LM finishes in a
dozen iterations; variables are scaled by the Jacobian column norms at the
start so that at least differences in parameter units do not matter.  Bounds
are handled by projecting each trial point onto the box.

Stops when the relative decrease of F over an iteration falls below
``ftol`` twice in a row, when the projected gradient vanishes, at the
iteration limit (default 10,000), or when the line search finds no lower
objective: converged if the point is a minimum to rounding level
(``Objective.at_rounding_level``), else not.  A stop on ``ftol`` is a
first-order method's stop, looser than Gauss-Newton's: the result then says
how far one Gauss-Newton step from there would still move the parameters
and lower the objective (:func:`distance_to_minimum`), so nobody reads it as
the minimum to every digit shown.
"""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.solvers._lbfgs import variable_scale
from lsqfit_app.solvers._linearize import linearize
from lsqfit_app.solvers._objective import Objective, Outcome

ARMIJO_C = 1e-4


def run_gradient_descent(obj: Objective, options) -> Outcome:
    lower, upper = obj.lower, obj.upper
    theta = np.clip(obj.theta0, lower, upper)
    d = variable_scale(obj, theta)
    lo_u, hi_u = lower * d, upper * d
    u = theta * d
    f, g = obj.value_and_gradient(u / d)
    if not math.isfinite(f):
        return Outcome(theta, "nonfinite")
    g = g / d
    obj.report(u / d, f)
    step = 1.0 / max(np.linalg.norm(g), 1e-300) * max(np.linalg.norm(u), 1.0) * 1e-3
    max_iter = options.max_iterations or 10000
    small = 0
    status = "max_iterations"
    for _ in range(max_iter):
        gnorm = np.linalg.norm(g)
        if gnorm == 0 or not math.isfinite(gnorm):
            status = "converged" if gnorm == 0 else "nonfinite"
            break
        # backtracking line search along the projected steepest-descent path
        accepted = False
        for _ls in range(60):
            u_new = np.clip(u - step * g, lo_u, hi_u)
            f_new = obj.value(u_new / d)
            if math.isfinite(f_new) and f_new <= f - ARMIJO_C * float(g @ (u - u_new)):
                accepted = True
                break
            step *= 0.5
        if not accepted or np.array_equal(u_new, u):
            # no step lowers F: a minimum only if that is rounding (else stuck)
            status = "converged_rounding" if obj.at_rounding_level(u / d) else "line_search"
            break
        decrease = f - f_new
        u = u_new
        f, g = obj.value_and_gradient(u / d)
        g = g / d
        obj.report(u / d, f)
        step *= 2.0
        if decrease <= options.ftol * max(abs(f), 1e-300) or f == 0:
            small += 1
            if small >= 2:
                status = "converged" if f == 0 else "converged_first_order"
                break
        else:
            small = 0
    theta = u / d
    if status == "converged_first_order":
        return Outcome(theta, status, distance_to_minimum(obj, theta))
    return Outcome(theta, status)


def distance_to_minimum(obj: Objective, theta: np.ndarray) -> str:
    """How far a first-order stop may be from the minimum, in words.

    One Gauss-Newton step from theta (linear loss) estimates the rest of the
    way: its largest relative parameter change, and the decrease of the
    objective it predicts, |Q^T r|^2, relative to the objective.
    """
    names = [obj.problem.params[i].name for i in obj.free_idx.tolist()]
    lin = linearize(obj, theta) if obj.loss == "linear" else None
    step = lin.gauss_newton_step() if lin is not None else None
    if step is None or not step.size or not np.isfinite(step).all():
        return ("a first-order method stops on a looser test than LM or TRF, so the "
                "parameters may differ from the minimum in their last digits; refit with "
                "auto or LM for the minimum to full precision")
    rel = np.abs(step) / np.maximum(np.abs(theta), 1e-300)
    k = int(np.argmax(rel))
    gain = float(lin.qtr @ lin.qtr) / lin.objective if lin.objective > 0 else 0.0
    return (f"gradient descent is a first-order method with a looser stop than LM or TRF: a "
            f"Gauss-Newton step from here would still change {names[k]} by "
            f"{float(rel[k]):.1e} of its value and lower the objective by {gain:.1e} of it; "
            "refit with auto or LM for the minimum to full precision")
