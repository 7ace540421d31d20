"""One entry point for every solver: :func:`fit`.

``fit(problem, method, on_iteration=..., cancel=..., options=...)`` validates,
finds start values where none were given, dispatches to a private algorithm
module, and assembles a :class:`FitResult`.  It never raises for a fit that
merely fails: cancel, the iteration limit, overflow/NaN and singular
Jacobians are statuses with a message, and so is a model that is not
finite at the start (the message names the rows and the parameter).  It
never mutates its inputs.

Methods
-------
closed-form       QR + double-double iterative refinement (affine models)
gradient-descent  steepest descent with Armijo backtracking (instructive, slow)
lbfgs             L-BFGS-B on the objective (bounds)
lm                Levenberg-Marquardt, MINPACK lmder (linear loss; no bounds but the
                  model's own hints, which must be inactive at its minimum)
trf               trust-region reflective, scipy (bounds, robust losses)
auto              closed form when the model is affine in its free parameters,
                  otherwise LM (TRF with bounds or a robust loss), checked and
                  polished; see ``_auto``.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import fields
from typing import Callable

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import FitProblem, default_params
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.core.result import FitResult, FitStatus, SolverOptions
from lsqfit_app.solvers._finish import build_result
from lsqfit_app.solvers._objective import Cancelled, IterationLimit, Objective, Outcome

METHODS = ("auto", "closed-form", "gradient-descent", "lbfgs", "lm", "trf")
#: the methods a solver race runs (closed form only where it applies)
RACE_METHODS = ("closed-form", "gradient-descent", "lbfgs", "lm", "trf")

#: status key from an algorithm -> (FitStatus, message for the user)
MESSAGES = {
    "converged": (FitStatus.CONVERGED, "Converged: the relative change of the objective and "
                  "parameters fell below the tolerance."),
    "converged_first_order": (FitStatus.CONVERGED, "Converged to the solver's tolerance: the "
                              "objective fell by less than ftol over two iterations"),
    "converged_rounding": (FitStatus.CONVERGED, "Converged: no step can improve the fit "
                           "measurably (a Gauss-Newton step would change the objective by less "
                           "than its rounding error, or the parameters by less than 1e-10)."),
    "all_fixed": (FitStatus.CONVERGED, "Nothing to fit: every parameter is fixed; the curve and "
                  "statistics are those of the fixed values."),
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
    "stalled": (FitStatus.NOT_CONVERGED, "The solver's own tests were met, but the objective "
                "can still be lowered measurably: the result is not a minimum. Try other start "
                "values or another solver (auto)."),
    "line_search": (FitStatus.NOT_CONVERGED, "The line search found no lower objective, but the "
                    "gradient is not at rounding level: the result may not be a minimum. Try "
                    "other start values or another solver."),
    "bad_start": (FitStatus.FAILED, "The model cannot be evaluated at the start values (NaN or "
                  "infinite); give other start values or bounds, or exclude those rows."),
    "nonfinite_model": (FitStatus.FAILED, "The model gives NaN or infinite values whatever the "
                        "parameter values (it is linear in them and one of its terms is not "
                        "finite); check the formula and the data there."),
    "lm_bounds_active": (FitStatus.NOT_CONVERGED, "Levenberg-Marquardt ignores bounds, and its "
                         "minimum lies outside the model's own bounds (hints such as a width "
                         "> 0): it is not a solution of the bounded fit. Remove those bounds "
                         "to accept it, or use trf or auto, which fit within them."),
}


_DEFAULT_OPTIONS = SolverOptions()


@functools.lru_cache(maxsize=None)
def _runner(method: str):
    """The algorithm for ``method``, imported on first use (cached: fits ask every time)."""
    if method == "closed-form":
        from lsqfit_app.solvers._closed_form import run_closed_form
        return run_closed_form
    if method == "lm":
        from lsqfit_app.solvers._auto import run_lm_within_hints
        return run_lm_within_hints
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
        given = given_bounds(problem)
        if given:
            raise InputError("Levenberg-Marquardt (lm) does not support bounds: "
                             + "; ".join(given) + ". Remove those bounds, or use trf (or "
                             "auto), which fits within them")


def given_bounds(problem: FitProblem) -> list[str]:
    """The bounds on free parameters other than the model's own hints, described.

    The hints (a width > 0) come with every library model, as the bounds of
    its default parameters (``problem.default_params``); explicit LM runs
    within them and reports where they are active (``_auto.run_lm_within_hints``),
    but a bound the user set is a constraint LM cannot honour.
    """
    defaults = default_params(problem.model)[0]
    out = []
    for p in problem.params:
        if p.fixed or not p.bounded:
            continue
        own = defaults[p.name]
        sides = [f"{side} {value:g}" for side, value, hint in
                 (("min", p.min, own.min), ("max", p.max, own.max))
                 if math.isfinite(value) and value != hint]
        if sides:
            out.append(f"parameter {p.name!r} has {' and '.join(sides)}")
    return out


def resolve_starts(problem: FitProblem, cancel: CancelToken | None = None) -> np.ndarray:
    """Start values for every parameter: the given ones, guesses for the rest.

    Guesses and the start search try points where the model may overflow or
    take log(<0): that is expected there, so its floating-point warnings are
    silenced here, for every caller (fit, the race, the window's Guess).
    """
    with np.errstate(all="ignore"):
        return _resolve_starts(problem, cancel)


def _resolve_starts(problem: FitProblem, cancel: CancelToken | None) -> np.ndarray:
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
        # the search evaluates the model at many trial points: on big data it
        # runs on evenly spaced rows (start values need the curve's shape, not
        # every point; the library guesses scan even fewer), where all rows
        # would cost seconds and several copies of the data
        rows = _start_rows(y.size)
        if rows is not None:
            x, y, sigma = {k: v[rows] for k, v in x.items()}, y[rows], sigma[rows]
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


#: the start search of a formula model runs on at most this many rows
START_SEARCH_ROWS = 1 << 15


def _start_rows(n: int) -> np.ndarray | None:
    """Indices of START_SEARCH_ROWS evenly spaced rows of n, or None (use all)."""
    if n <= START_SEARCH_ROWS:
        return None
    return np.unique(np.linspace(0, n - 1, START_SEARCH_ROWS).astype(np.intp))


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
    chosen = method
    if method == "auto":
        chosen = "closed-form" if closed_form_applies(problem) and not _bounds_active(problem) else "auto"
    # the algorithm's module is imported on first use (scipy's L-BFGS-B takes
    # ~0.1 s): before the clock starts, so a result's time is the fit's own
    runner = _runner(chosen)
    t0 = time.perf_counter()
    start = _resolve_starts(problem, cancel)   # (fit's errstate silences the guesses too)
    obj = Objective(problem, start, solver=chosen if chosen != "auto" else "auto",
                    on_iteration=on_iteration, cancel=cancel,
                    max_iterations=options.max_iterations)
    try:
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        why = None if chosen == "closed-form" else _bad_start(obj, problem)
        if why is not None:
            outcome = Outcome(obj.theta0, "bad_start", why)
        elif obj.n_free == 0:
            outcome = Outcome(obj.theta0, "all_fixed")
        else:
            outcome = runner(obj, options)
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
        outcome = Outcome(obj.best_theta, "nonfinite",
                          f"evaluation stopped on {type(exc).__name__}: {exc}")
    if outcome.status in ("cancelled", "max_iterations", "nonfinite", "bad_start"):
        # keep the best finite point seen (the last point may be worse)
        if not np.isfinite(obj.best_objective):
            outcome.theta = obj.theta0
    status, message = MESSAGES.get(outcome.status, MESSAGES["not_converged"])
    if outcome.detail and (status is not FitStatus.CONVERGED
                           or outcome.status == "converged_first_order"):
        # details are in our words (each solver module translates its library's)
        message = f"{message} ({outcome.detail})"
    return build_result(problem, obj, outcome, status, message, outcome.solver or chosen, start,
                        time.perf_counter() - t0, options)


def _bad_start(obj: Objective, problem: FitProblem) -> str | None:
    """Why the fit cannot start (the model or a derivative is not finite at the
    start, naming the rows and the parameter), or None.  The check is the fused
    evaluation every solver needs first anyway, and stays cached for it."""
    evaluation = obj.fused_evaluation(obj.theta0)
    if evaluation.finite and np.isfinite(evaluation.Jr).all():
        return None
    at = ", ".join(f"{p.name} = {v:.6g}" for p, v in zip(problem.params, obj.full.tolist()))
    if not evaluation.finite:
        return f"at {at} the model is NaN or infinite in {obj.nonfinite_text(evaluation.r)}"
    names = [problem.params[i].name for i in obj.free_idx.tolist()]
    column = int(np.flatnonzero(~np.isfinite(evaluation.Jr).all(axis=0))[0])
    return (f"at {at} the derivative with respect to {names[column]} is NaN or infinite in "
            f"{obj.nonfinite_text(evaluation.Jr[:, column])}")


def _bounds_active(problem: FitProblem) -> bool:
    return any(p.bounded and not p.fixed for p in problem.params)


def _violates_bounds(obj: Objective, theta: np.ndarray) -> bool:
    return bool(np.any(theta < obj.lower) or np.any(theta > obj.upper))


def restore_result(problem: FitProblem, saved: dict) -> FitResult:
    """Rebuild a FitResult from its saved JSON (``FitResult.to_dict``) without refitting.

    The parameter values, status, message, solver, counts, history, options
    and the solver's codes come from ``saved``; everything derived from the
    data (uncertainties, statistics, residuals, bands) is recomputed at those
    values, exactly as ``fit`` computes it, so a reopened project shows what
    was saved.
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
        outcome = Outcome(values[obj.free], status.value,
                          **{key: _saved_int(saved, key) for key in _SAVED_CODES})
        result = build_result(problem, obj, outcome, status, str(saved.get("message", "")),
                              str(saved.get("solver", "")), starts,
                              float(saved.get("elapsed_seconds", 0.0)), _saved_options(saved),
                              restored=True)
    return result


#: the solver's codes a saved result keeps (FitResult fields of the same names)
_SAVED_CODES = ("minpack_info", "scipy_status", "refinement_passes")


def _saved_int(saved: dict, key: str) -> int | None:
    value = saved.get(key)
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _saved_options(saved: dict) -> SolverOptions:
    """The options of a saved result; defaults for any not saved (older files) or not valid."""
    given = saved.get("options")
    if not isinstance(given, dict):
        return _DEFAULT_OPTIONS
    kinds = {f.name: f.type for f in fields(SolverOptions)}
    values = {}
    for name, value in given.items():
        kind = kinds.get(name)
        if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = float(value)
        elif kind == "bool" and isinstance(value, bool):
            values[name] = value
        elif kind == "int | None" and (value is None or (isinstance(value, int)
                                                         and not isinstance(value, bool))):
            values[name] = value
    return SolverOptions(**values)
