"""L-BFGS-B (scipy.optimize.minimize) on the least-squares objective.

A general quasi-Newton minimiser (Byrd, Lu, Nocedal & Zhu 1995) that sees
only F(theta) = sum rho(r^2) and its gradient 2 J^T (rho' r); it ignores the
least-squares structure that LM exploits, so it needs more iterations, which
the solver race makes visible.  Variables are scaled by the Jacobian column
norms at the start so that badly scaled parameters (1e-7 next to 1e3) do not
stall it; bounds are passed through in the scaled variables.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from lsqfit_app.solvers._objective import Objective, Outcome


def variable_scale(obj: Objective, theta0: np.ndarray) -> np.ndarray:
    """theta = u / d with d the Jacobian column norms at the start (1 if unusable)."""
    J = obj.jacobian(theta0)
    d = np.sqrt(np.einsum("ij,ij->j", J, J))
    d = np.where(np.isfinite(d) & (d > 0), d, 1.0)
    return d


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
    res = minimize(fg, theta0 * d, jac=True, method="L-BFGS-B", bounds=bounds,
                   callback=callback,
                   options={"maxiter": maxiter + 1, "maxfun": options.max_evaluations or 20 * maxiter,
                            "ftol": options.ftol * 1e-2, "gtol": options.gtol_lbfgs, "maxcor": 20})
    theta = res.x / d
    if not np.isfinite(obj.value(theta)):
        return Outcome(obj.best_theta, "nonfinite", str(res.message))
    status = "converged" if res.success else ("max_evaluations" if res.status == 1 else "not_converged")
    return Outcome(theta, status, str(res.message))
