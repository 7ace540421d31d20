"""One entry point for every solver: :func:`fit`.

``fit(problem, method, on_iteration=..., cancel=..., options=...)`` validates,
finds start values where none were given, dispatches to a private algorithm
module, and assembles a :class:`FitResult`.  It never raises for a fit that
merely fails: cancel, the iteration limit, overflow/NaN and singular
Jacobians are statuses with a message.  It never mutates its inputs.

Methods
-------
closed-form       QR + double-double iterative refinement (affine models)
gradient-descent  steepest descent with Armijo backtracking (instructive, slow)
lbfgs             L-BFGS-B on the objective (bounds)
lm                Levenberg-Marquardt, MINPACK lmder (no bounds, linear loss)
trf               trust-region reflective, scipy (bounds, robust losses)
auto              closed form when the model is affine in its free parameters,
                  otherwise LM (TRF with bounds or a robust loss), checked and
                  polished; see ``_auto``.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.core.result import FitResult, FitStatus
from lsqfit_app.models import kernels
from lsqfit_app.solvers._finish import build_result
from lsqfit_app.solvers._objective import Cancelled, IterationLimit, Objective, Outcome

METHODS = ("auto", "closed-form", "gradient-descent", "lbfgs", "lm", "trf")
#: the methods a solver race runs (closed form only where it applies)
RACE_METHODS = ("closed-form", "gradient-descent", "lbfgs", "lm", "trf")

#: status key from an algorithm -> (FitStatus, message for the user)
MESSAGES = {
    "converged": (FitStatus.CONVERGED, "Converged: the relative change of the objective and "
                  "parameters fell below the tolerance."),
    "closed_form": (FitStatus.CONVERGED, "Solved exactly (linear least squares, QR with "
                    "iterative refinement)."),
    "max_iterations": (FitStatus.MAX_ITERATIONS, "Stopped at the iteration limit before "
                       "converging; the best point so far is shown. Raise the limit or "
                       "improve the start values."),
    "max_evaluations": (FitStatus.MAX_ITERATIONS, "Stopped at the limit on function "
                        "evaluations before converging; the best point so far is shown."),
    "cancelled": (FitStatus.CANCELLED, "Cancelled by the user; the best point so far is shown."),
    "nonfinite": (FitStatus.FAILED, "The model produced NaN or infinite values (overflow, log "
                  "or sqrt of a negative number, division by zero) at the start or along the "
                  "way; the best finite point is shown. Try other start values or bounds."),
    "singular": (FitStatus.CONVERGED, "Solved, but the design matrix is rank deficient: some "
                 "parameters cannot be determined separately (see the standard errors)."),
    "stopped": (FitStatus.NOT_CONVERGED, "The solver stopped early."),
    "not_converged": (FitStatus.NOT_CONVERGED, "The solver stopped without meeting its "
                      "convergence criteria; the result may not be a minimum."),
    "bad_start": (FitStatus.FAILED, "The model cannot be evaluated at the start values (NaN or "
                  "infinite); give other start values or bounds."),
}


@dataclass(frozen=True)
class SolverOptions:
    """Tolerances and limits.  Defaults are tight: they meet the NIST StRD targets."""

    ftol: float = 1e-15
    xtol: float = 1e-15
    gtol: float = 1e-15
    gtol_lbfgs: float = 1e-12
    ftol_gd: float = 1e-12
    max_iterations: int | None = None
    max_evaluations: int | None = None
    refine: bool = True
    polish: bool = True


_DEFAULT_OPTIONS = SolverOptions()


def _load_compiled_loops(loaded_kernels: dict) -> None:
    from lsqfit_app.solvers._compiled import load_all
    load_all(loaded_kernels)


# the compiled LM, polish and statistics (solvers/_compiled.py) load with the kernels
kernels.load_with_kernels(_load_compiled_loops)


@functools.lru_cache(maxsize=None)
def _runner(method: str):
    """The algorithm for ``method``, imported on first use (cached: fits ask every time)."""
    if method == "closed-form":
        from lsqfit_app.solvers._closed_form import run_closed_form
        return run_closed_form
    if method == "lm":
        from lsqfit_app.solvers._lm import run_lm
        return run_lm
    if method == "trf":
        from lsqfit_app.solvers._trf import run_trf
        return run_trf
    if method == "lbfgs":
        from lsqfit_app.solvers._lbfgs import run_lbfgs
        return run_lbfgs
    if method == "gradient-descent":
        from lsqfit_app.solvers._gradient_descent import run_gradient_descent

        def run_gd(obj, options):
            from dataclasses import replace
            return run_gradient_descent(obj, replace(options, ftol=options.ftol_gd))
        return run_gd
    if method == "auto":
        from lsqfit_app.solvers._auto import run_auto
        return run_auto
    raise InputError(f"unknown solver {method!r}; choose one of {', '.join(METHODS)}")


def closed_form_applies(problem: FitProblem) -> bool:
    """Affine in the free parameters, linear loss."""
    free = {p.name for p in problem.params if not p.fixed}
    return problem.loss == "linear" and bool(free) and free <= problem.model.linear_params


def check_method(problem: FitProblem, method: str) -> None:
    if method not in METHODS:
        raise InputError(f"unknown solver {method!r}; choose one of {', '.join(METHODS)}")
    if method == "closed-form" and not closed_form_applies(problem):
        why = ("a robust loss needs an iterative solver" if problem.loss != "linear"
               else f"the model {problem.model.name!r} is not linear in its free parameters")
        raise InputError(f"the closed-form solver does not apply: {why}")
    if method == "lm":
        if problem.loss != "linear":
            raise InputError("Levenberg-Marquardt (lm) supports only the linear loss; "
                             "use trf for robust losses")
        if any(p.bounded and not p.fixed for p in problem.params):
            raise InputError("Levenberg-Marquardt (lm) does not support bounds; use trf or lbfgs")


def resolve_starts(problem: FitProblem, cancel: CancelToken | None = None) -> np.ndarray:
    """Start values for every parameter: the given ones, guesses for the rest."""
    values = [p.value for p in problem.params]
    if all(v is not None for v in values):
        return np.array(values, dtype=float)
    from lsqfit_app.models.starts import find_starts
    x, y, sigma = problem.used_data()
    given = {p.name: p.value for p in problem.params if p.value is not None and not p.fixed}
    fixed = {p.name: p.value for p in problem.params if p.fixed}
    bounds = {p.name: (p.min, p.max) for p in problem.params}
    guess: dict[str, float] = {}
    if closed_form_applies(problem):
        guess = {p.name: 0.0 for p in problem.params}   # any start works for an affine model
    elif _guess_is_search(problem.model):
        guess = find_starts(problem.model, x, y,
                            sigma=sigma if problem.weighting != "none" else None,
                            fixed=fixed, given=given, bounds=bounds, cancel=cancel)
    else:
        try:
            guess = dict(problem.model.guess(x, y))
        except Exception:  # a failed guess must never stop a fit: search instead
            guess = find_starts(problem.model, x, y, bounds=bounds, cancel=cancel)
    out = []
    for p in problem.params:
        v = p.value if p.value is not None else guess.get(p.name, 1.0)
        if not math.isfinite(v):
            v = 1.0
        out.append(min(max(v, p.min), p.max))
    return np.array(out, dtype=float)


def _guess_is_search(model) -> bool:
    """Formula models guess by searching; that search can hold fixed values."""
    from lsqfit_app.models.formula import FormulaModel
    return isinstance(model, FormulaModel)


def fit(problem: FitProblem, method: str = "auto", *,
        on_iteration: Callable[[IterationState], None] | None = None,
        cancel: CancelToken | None = None,
        options: SolverOptions | None = None) -> FitResult:
    """Fit ``problem`` with ``method``; see the module docstring."""
    options = options or _DEFAULT_OPTIONS
    check_method(problem, method)
    # One errstate for the whole fit: models may overflow or take log(<0) on a
    # trial step, which solvers handle; the warnings would only be noise.
    with np.errstate(all="ignore"):
        return _fit(problem, method, on_iteration, cancel, options)


def _fit(problem, method, on_iteration, cancel, options) -> FitResult:
    t0 = time.perf_counter()
    start = resolve_starts(problem, cancel)
    chosen = method
    if method == "auto":
        chosen = "closed-form" if closed_form_applies(problem) and not _bounds_active(problem) else "auto"
    obj = Objective(problem, start, solver=chosen if chosen != "auto" else "auto",
                    on_iteration=on_iteration, cancel=cancel,
                    max_iterations=options.max_iterations)
    extra: dict = {}
    try:
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        if chosen != "closed-form" and not _start_is_finite(obj, chosen):
            outcome = Outcome(obj.theta0, "bad_start")
        else:
            outcome = _runner(chosen)(obj, options)
        if chosen == "closed-form" and outcome.status == "converged":
            outcome.status = "closed_form"
            # closed form ignores bounds: fall back when its answer violates one
            if _violates_bounds(obj, outcome.theta):
                from lsqfit_app.solvers._trf import run_trf
                outcome = run_trf(obj, options)
                chosen = "trf"
    except Cancelled:
        outcome = Outcome(obj.best_theta, "cancelled")
    except IterationLimit:
        outcome = Outcome(obj.best_theta, "max_iterations")
    except (ArithmeticError, np.linalg.LinAlgError, ValueError) as exc:
        outcome = Outcome(obj.best_theta, "nonfinite", str(exc))
    if outcome.status in ("cancelled", "max_iterations", "nonfinite", "bad_start"):
        # keep the best finite point seen (the last point may be worse)
        if not np.isfinite(obj.best_objective):
            outcome.theta = obj.theta0
    status, message = MESSAGES.get(outcome.status, MESSAGES["not_converged"])
    if outcome.detail and status is not FitStatus.CONVERGED:
        message = f"{message} (solver said: {outcome.detail})"
    extra.update(outcome.extra)
    extra["options"] = {"ftol": options.ftol, "xtol": options.xtol, "gtol": options.gtol,
                        "max_iterations": options.max_iterations or "default"}
    solver_name = outcome.extra.get("solver", chosen)
    return build_result(problem, obj, outcome.theta, status, message, solver_name, start,
                        time.perf_counter() - t0, extra)


def _start_is_finite(obj: Objective, chosen: str) -> bool:
    """Can the model be evaluated at the start?  For LM (and auto, which tries LM
    first) the check is the fused evaluation LM needs first anyway, cached."""
    if chosen in ("auto", "lm") and obj.loss == "linear":
        return obj.fused_evaluation(obj.theta0).finite
    return bool(np.isfinite(obj.value(obj.theta0)))


def _bounds_active(problem: FitProblem) -> bool:
    return any(p.bounded and not p.fixed for p in problem.params)


def _violates_bounds(obj: Objective, theta: np.ndarray) -> bool:
    return bool(np.any(theta < obj.lower) or np.any(theta > obj.upper))


def restore_result(problem: FitProblem, saved: dict) -> FitResult:
    """Rebuild a FitResult from its saved JSON (``FitResult.to_dict``) without refitting.

    The parameter values, status, message, solver, counts and history come
    from ``saved``; everything derived from the data (uncertainties,
    statistics, residuals, bands) is recomputed at those values, exactly as
    ``fit`` computes it, so a reopened project shows what was saved.
    """
    by_name = {p["name"]: p for p in saved.get("parameters", [])}
    missing = [n for n in problem.param_names if n not in by_name or by_name[n].get("value") is None]
    if missing:
        raise InputError(f"the saved result has no value for parameter {missing[0]!r}")
    values = np.array([float(by_name[n]["value"]) for n in problem.param_names])
    starts = np.array([float(by_name[n]["start"]) if by_name[n].get("start") is not None
                       else values[i] for i, n in enumerate(problem.param_names)])
    status_key = saved.get("status", "converged" if saved.get("converged") else "not_converged")
    try:
        status = FitStatus(status_key)
    except ValueError:
        status = FitStatus.NOT_CONVERGED
    with np.errstate(all="ignore"):
        obj = Objective(problem, values, solver=str(saved.get("solver", "")))
        obj.history = [float(h) if h is not None else math.nan for h in saved.get("history", [])]
        obj.iterations = int(saved.get("iterations", 0))
        obj.nfev = int(saved.get("evaluations", 0))
        result = build_result(problem, obj, values[obj.free], status, str(saved.get("message", "")),
                              str(saved.get("solver", "")), starts,
                              float(saved.get("elapsed_seconds", 0.0)), {"restored": True})
    return result
