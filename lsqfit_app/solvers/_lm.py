"""Levenberg-Marquardt through MINPACK's lmder (scipy.optimize.leastsq).

MINPACK (Moré 1978) is the reference implementation: a trust-region LM with
column scaling from the Jacobian norms.  It has no iteration callback, but
with an analytic Jacobian lmder calls the Jacobian exactly once per outer
iteration, at the new accepted point; we report progress there.  Cancel and
the iteration limit unwind it by raising from the callbacks (lmfit's way);
the best point seen is kept.  No bounds and no robust loss: ``fit`` sends
those problems to TRF.
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


def run_lm(obj: Objective, options) -> Outcome:
    theta0 = obj.theta0
    obj.residuals_and_cached_jacobian(theta0)   # fused: MINPACK's first calls hit the cache
    obj.report(theta0)
    reported = {"key": theta0.tobytes()}
    fun = obj.residuals_and_cached_jacobian

    def jac(theta):
        obj.keep(theta)          # an accepted point: MINPACK usually returns one of these
        hit = obj.cached(theta)
        J = hit.Jr if hit is not None and hit.Jr is not None else obj.jacobian(theta)
        # scipy checks Dfun once at x0 and lmder's first Jacobian is at x0 too:
        # only a new point is a new iteration
        key = theta.tobytes()
        if key != reported["key"]:
            reported["key"] = key
            obj.report(theta, hit.objective if hit is not None else None)
        return J

    n = max(obj.n_free, 1)
    maxfev = options.max_evaluations or 200 * (n + 1) * 10
    theta, _cov, infodict, mesg, info = leastsq(
        fun, theta0, Dfun=jac, full_output=True, ftol=options.ftol, xtol=options.xtol,
        gtol=options.gtol, maxfev=maxfev)
    status = _INFO.get(info, "not_converged")
    # 6/7/8: the tolerance is below machine precision; MINPACK stopped because
    # no further improvement is possible - at these tolerances that is convergence.
    if status in ("ftol_too_small", "xtol_too_small", "gtol_too_small"):
        status = "converged"
    hit = obj.cached(theta)
    r = hit.r if hit is not None else obj.residuals(theta)
    if not np.isfinite(r).all():
        return Outcome(obj.best_theta, "nonfinite", mesg)
    return Outcome(np.asarray(theta, dtype=float), status, mesg, extra={"minpack_info": info})
