"""The default solver: robust enough for NIST StRD from NIST's starts, untuned.

Strategy (no per-problem settings):

1. Levenberg-Marquardt (MINPACK lmder, exact Jacobian, tolerances at machine
   precision) when there are no bounds and the loss is linear; otherwise TRF.
2. If LM did not converge, or stopped where the Jacobian is rank deficient
   (a saturated exponential, say: BoxBOD from NIST's first start), run TRF
   from the same start and keep the lower objective.
3. Polish with Gauss-Newton steps solved by QR with refinement (at most a
   few, each accepted only if the objective does not increase): MINPACK stops
   when its relative reduction estimates fall below eps, which can leave the
   last digit or two of the parameters on the table.
"""
from __future__ import annotations

import numpy as np

from lsqfit_app.solvers._closed_form import solve_linear
from lsqfit_app.solvers._lm import run_lm
from lsqfit_app.solvers._objective import Objective, Outcome
from lsqfit_app.solvers._trf import run_trf

POLISH_STEPS = 100


def _rank_deficient(obj: Objective, theta: np.ndarray) -> bool:
    """Is the fit insensitive to some parameter at theta?

    Columns are scaled by |theta_j| (sensitivity to a relative change), not by
    their own norms, so that a parameter whose column vanishes (a saturated
    exponential) shows up as a zero singular value.
    """
    J = obj.jacobian(theta)
    if not np.all(np.isfinite(J)):
        return True
    scale = np.where(theta != 0, np.abs(theta), 1.0)
    s = np.linalg.svd(J * scale, compute_uv=False)
    return bool(s.size == 0 or s[0] == 0 or s[-1] <= 1e-10 * s[0])


def polish(obj: Objective, theta: np.ndarray) -> np.ndarray:
    """Gauss-Newton refinement with accurate linear solves (unbounded, linear loss).

    Near a minimum with a large residual Gauss-Newton converges only linearly
    and each step changes the objective below its rounding level, so steps
    are accepted while the objective stays within rounding of the best and
    the steps keep contracting; it stops at a relative step of a few eps.
    """
    eps = np.finfo(float).eps
    best = np.asarray(theta, dtype=float)
    r = obj.residuals(best)
    if not np.all(np.isfinite(r)):
        return best
    f_best = float(r @ r)
    # rounding level of the objective: each residual y - f carries an error of
    # a few eps * |y| (cancellation when the fit is close), so sum r^2 is only
    # known to about 2 * sum |r| * eps * |y|
    noise = 16 * eps * float(np.abs(r) @ (np.abs(obj.y) * obj.inv_sigma)) + 64 * eps * f_best
    last_step = np.inf
    for _ in range(POLISH_STEPS):
        J = obj.jacobian(best)
        if not np.all(np.isfinite(J)):
            break
        step, _res, ok, _ = solve_linear(J, -r)
        if not ok or not np.all(np.isfinite(step)):
            break
        size = float(np.max(np.abs(step) / np.maximum(np.abs(best), 1e-300)))
        if size >= last_step:
            break
        trial = best + step
        r_t = obj.residuals(trial)
        f_t = float(r_t @ r_t) if np.all(np.isfinite(r_t)) else np.inf
        if not f_t <= f_best + noise:
            break
        best, r, f_best, last_step = trial, r_t, min(f_t, f_best), size
        if size <= 8 * eps:
            break
    return best


def run_auto(obj: Objective, options) -> Outcome:
    bounded = bool(np.any(np.isfinite(obj.lower)) or np.any(np.isfinite(obj.upper)))
    if bounded or obj.loss != "linear":
        out = run_trf(obj, options)
        out.extra["solver"] = "trf"
        return out
    first = run_lm(obj, options)
    first.extra["solver"] = "lm"
    if first.status != "converged" or _rank_deficient(obj, first.theta):
        f_first = obj.value(first.theta)
        # restart TRF from the original start; its own history continues the curve
        obj_theta0 = obj.theta0
        obj.full[obj.free] = obj_theta0
        second = run_trf(obj, options)
        second.extra["solver"] = "trf"
        if second.status == "converged" and obj.value(second.theta) <= f_first:
            first = second
        elif obj.value(second.theta) < f_first:
            first = second
    if options.polish and first.status == "converged":
        first.theta = polish(obj, first.theta)
    return first
