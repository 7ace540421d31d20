"""The default solver: robust enough for NIST StRD from NIST's starts, untuned.

Strategy (no per-problem settings):

1. Levenberg-Marquardt (MINPACK lmder, exact Jacobian, tolerances at machine
   precision) when the loss is linear; with bounds LM is tried first and
   kept when its minimum lies strictly inside them (most bounds are hints
   such as width > 0), otherwise TRF handles the bounds.  Robust losses
   go to TRF directly.
2. If LM did not converge, or stopped where the Jacobian is rank deficient
   (a saturated exponential, say: BoxBOD from NIST's first start), run TRF
   from the same start and keep the lower objective.
3. Polish with Gauss-Newton steps: MINPACK stops when its relative reduction
   estimates fall below eps, which on flat valleys (ENSO, Lanczos3) leaves
   the parameters correct to only 6-7 digits while the RSS is exact to 11.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from lsqfit_app.solvers._linearize import Linearization, linearize
from lsqfit_app.solvers._lm import run_lm
from lsqfit_app.solvers._objective import Objective, Outcome
from lsqfit_app.solvers._trf import run_trf

POLISH_STEPS = 100
#: relative step below which the polish stops: the parameters are then right to ~10 digits
POLISH_RTOL = 1e-10


#: a fit is rank deficient when its smallest singular value (columns scaled by
#: |theta|) is at most this fraction of the largest
RANK_RTOL = 1e-10


def _rank_limits(p: int) -> tuple[float, float]:
    """Condition bounds k of a p x p factor below which the fit has full rank,
    and above which it is rank deficient (see :func:`_rank_deficient`)."""
    return 0.5 / RANK_RTOL, 2.0 * p / RANK_RTOL


def _rank_deficient(lin: Linearization) -> bool:
    """Is the fit insensitive to some parameter at the linearised point?

    Columns are scaled by |theta_j| (sensitivity to a relative change), not by
    their own norms, so that a parameter whose column vanishes (a saturated
    exponential) shows up as a zero singular value.

    The question is whether cond_2(A) >= 1 / RANK_RTOL for the scaled R = A
    (p x p, triangular).  Most fits are far from the edge either way, and
    k = |A|_F |A^-1|_F, from one triangular inverse, settles them: cond_2(A)
    <= k <= p cond_2(A).  Only within a factor 2p of the edge (with a
    factor 2 for the rounding of the inverse) does the SVD decide.
    """
    if not lin.finite:
        return True
    if not lin.R.size:
        return False    # nothing free (LAPACK rejects a 0 x 0 matrix, on stdout)
    # Python floats for the few weights: cheaper than numpy's abs and masked store
    weights = np.array([abs(t) or 1.0 for t in lin.theta.tolist()])
    A = lin.R * weights
    inverse, info = lapack.dtrtri(A)
    if info == 0:
        k = math.sqrt(float(np.vdot(A, A)) * float(np.vdot(inverse, inverse)))
        full_rank, deficient = _rank_limits(A.shape[0])
        if k < full_rank:
            return False
        if deficient < k < math.inf:
            return True
    s = lin.singular_values(weights)
    return bool(s.size == 0 or s[0] == 0 or s[-1] <= RANK_RTOL * s[0])


def polish(obj: Objective, lin: Linearization) -> Linearization:
    """Gauss-Newton refinement with accurate linear solves (unbounded, linear loss).

    Near a minimum with a large residual Gauss-Newton converges only linearly
    and each step changes the objective below its rounding level, so steps
    are accepted while the objective stays within rounding of the best and
    the steps keep contracting; it stops at a relative step of POLISH_RTOL.
    Steps stay strictly inside the bounds.  Starts from, and returns, a
    linearisation (reused for the statistics); call it where the rank check
    has passed.  Parameters are few, so the step sizes are Python floats.
    """
    f_best = lin.objective
    if not math.isfinite(f_best):
        return lin
    noise = obj.rounding_level(lin.r, f_best)
    last_step = math.inf
    for _ in range(POLISH_STEPS):
        # a QR solve is enough: the step is small, and its relative accuracy
        # cond * eps only slows the contraction a little
        step = lin.gauss_newton_step()
        if step is None:
            break
        size = _relative_size(step.tolist(), lin.theta.tolist())
        if not size < last_step or size <= POLISH_RTOL:
            break   # not contracting (or not finite), or already far beyond the digits anyone reads
        trial = linearize(obj, lin.theta + step)
        if not trial.objective <= f_best + noise or not obj.inside(trial.theta):   # NaN: False
            break
        lin, f_best, last_step = trial, min(trial.objective, f_best), size
    return lin


def _settle(obj: Objective, theta: np.ndarray, options) -> tuple[Linearization, bool]:
    """(the fit linearised at LM's end point theta, rank deficient there?),
    polished (``options.polish``) when of full rank."""
    lin = linearize(obj, theta)
    deficient = _rank_deficient(lin)
    if options.polish and not deficient:
        lin = polish(obj, lin)
    return lin, deficient


def _relative_size(step: list[float], theta: list[float]) -> float:
    """max |step_j| / |theta_j| (inf when a step is not finite)."""
    size = 0.0
    for s, t in zip(step, theta):
        if not math.isfinite(s):
            return math.inf
        size = max(size, abs(s) / max(abs(t), 1e-300))
    return size


def lm_within_bounds(obj: Objective, options) -> tuple[Outcome, list[tuple[int, float, float]]]:
    """LM, which knows no bounds, on a bounded fit: (its outcome, the bounds
    (free index, min, max) its end point does not lie strictly inside).

    Most bounds are hints (a width > 0) that an unconstrained minimum
    respects anyway.  When LM converges strictly inside every bound, none is
    active and its minimum is the bounded fit's: auto keeps it (else fits
    with TRF), and so does an explicit LM (else it says which are active).
    """
    trial = run_lm(obj, options)
    return trial, obj.outside(trial.theta)


def run_lm_within_hints(obj: Objective, options) -> Outcome:
    """The explicit LM: ``check_method`` lets it through bounds only when they
    are the model's own hints; it keeps its minimum where they are inactive."""
    if not obj.bounds:
        return run_lm(obj, options)
    trial, active = lm_within_bounds(obj, options)
    if trial.status != "converged" or not active:
        return trial
    names = [obj.problem.params[i].name for i in obj.free_idx.tolist()]
    theta = trial.theta.tolist()
    where = []
    for k, lo, hi in active:
        side, bound = ("min", lo) if not theta[k] > lo else ("max", hi)
        relation = "at" if theta[k] == bound else ("below" if side == "min" else "above")
        where.append(f"{names[k]} = {theta[k]:.6g} is {relation} its {side} {bound:g}")
    return Outcome(trial.theta, "lm_bounds_active", "; ".join(where),
                   minpack_info=trial.minpack_info)


def run_auto(obj: Objective, options) -> Outcome:
    bounded = bool(obj.bounds)
    if obj.loss != "linear":
        out = run_trf(obj, options)
        out.solver = "trf"
        return out
    if bounded:
        # Most bounds are hints (a width > 0) that an unconstrained minimum
        # respects anyway; MINPACK LM is much cheaper than TRF, so try it first
        # and keep its answer when it lands strictly inside the box.
        if obj.inside(obj.theta0):
            history, iterations = list(obj.history), obj.iterations
            try:
                trial, active = lm_within_bounds(obj, options)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                trial, active = None, True
            if trial is not None and trial.status == "converged" and not active:
                lin, deficient = _settle(obj, trial.theta, options)
                if not deficient:
                    trial.solver = "lm"
                    trial.theta = lin.theta
                    trial.linearization = lin
                    return trial
            obj.history[:], obj.iterations = history, iterations
        out = run_trf(obj, options)
        out.solver = "trf"
        return out
    first = run_lm(obj, options)
    first.solver = "lm"
    lin, deficient = (_settle(obj, first.theta, options) if first.status == "converged"
                      else (None, True))
    if deficient:
        lin = None
        f_first = obj.value(first.theta)
        # restart TRF from the original start; its own history continues the curve
        obj_theta0 = obj.theta0
        obj.full[obj.free] = obj_theta0
        second = run_trf(obj, options)
        second.solver = "trf"
        if second.status == "converged" and obj.value(second.theta) <= f_first:
            first = second
        elif obj.value(second.theta) < f_first:
            first = second
    if first.status == "converged":
        if lin is None:
            lin = _settle(obj, first.theta, options)[0]
        first.theta = lin.theta
        first.linearization = lin
    return first
