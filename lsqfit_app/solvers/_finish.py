"""Turn a solver's end point into a FitResult with uncertainties and statistics."""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.losses import loss_terms
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.frozen import frozen_instance
from lsqfit_app.core.result import FitResult, FitStatistics, FitStatus, ParameterResult
from lsqfit_app.core.statistics import (
    column_scale, covariance_unscaled, curvature_from_r, goodness_of_fit, has_intercept, leverage,
    p_values, r_factor, t_quantile)
from lsqfit_app.solvers._objective import Objective

AT_BOUND_RTOL = 1e-8


def _at_bound(value: float, lo: float, hi: float) -> str:
    if math.isfinite(lo) and abs(value - lo) <= AT_BOUND_RTOL * max(1.0, abs(lo)):
        return "lower"
    if math.isfinite(hi) and abs(value - hi) <= AT_BOUND_RTOL * max(1.0, abs(hi)):
        return "upper"
    return ""


def uncertainty_note(problem: FitProblem) -> str:
    if problem.weighting == "sigma":
        return ("Standard errors are absolute: they use the given sigma column as the true "
                "standard deviations and are not rescaled by the residual variance.")
    if problem.weighting == "poisson":
        return ("Standard errors are absolute: Poisson counting errors sigma = sqrt(max(y, 1)) "
                "are taken as the true standard deviations.")
    if problem.weighting == "relative":
        return ("Relative weights (sigma proportional to |y|) fix only the ratios of the errors: "
                "standard errors are scaled by the residual variance, and no chi-square is "
                "reported.")
    return ("No sigma was given: the fit is unweighted, standard errors are scaled by the "
            "residual variance (sigma estimated from the scatter), and no chi-square is "
            "reported.")


def build_result(problem: FitProblem, obj: Objective, theta: np.ndarray, status: FitStatus,
                 message: str, solver: str, start_full: np.ndarray, elapsed: float,
                 extra: dict | None = None) -> FitResult:
    """Uncertainties and statistics at free parameters theta.

    Called inside the fit's ``np.errstate(all="ignore")`` (``fit`` and
    ``restore_result``): a singular covariance or a zero standard error gives
    NaN or inf here, with a note, not a warning.

    ``extra`` may carry what the solver already computed at theta: the
    closed form's refined residuals ("closed_form_residuals"), the streamed
    closed form's covariance and leverages ("closed_form_statistics"), or a
    :class:`Linearization` ("linearization"), whose Jacobian and R factor
    are then reused instead of evaluated and factorised again.

    This runs once per fit and small fits are dominated by per-call costs,
    so it is written to make few numpy calls: whole-vector operations, and
    Python floats for the per-parameter table.  The result's dataclasses are
    built by :func:`frozen_instance`, which skips their per-field setattr.
    """
    extra = dict(extra or {})
    closed = extra.pop("closed_form_residuals", None)
    lin = extra.pop("linearization", None)
    streamed = extra.pop("closed_form_statistics", None)
    model = problem.model
    settings = problem.params
    theta = np.asarray(theta, dtype=float)
    full = obj.expand(theta)
    values = full.tolist()
    names = list(model.param_names)
    p = len(names)
    y_u = obj.y

    free_idx = obj.free_idx
    bound_side = [""] * p
    for i in free_idx.tolist():
        p_i = settings[i]
        if p_i.bounded:
            bound_side[i] = _at_bound(values[i], p_i.min, p_i.max)
    any_at_bound = any(bound_side)
    # the streamed closed form's covariance and leverages stand in for the
    # n x p Jacobian (millions of rows) when every free parameter is active
    if streamed is not None and (any_at_bound or problem.loss != "linear"):
        streamed = None

    if lin is not None and lin.theta is not theta and lin.theta.tobytes() != theta.tobytes():
        lin = None
    if lin is not None:
        f_u, Jf, r_w = lin.f, lin.Jr, lin.r     # the sign of J is immaterial below
    elif streamed is not None:
        f_u, Jf = streamed["fitted"], None
        r_w = (y_u - f_u) / obj.sigma if obj.weighted else y_u - f_u
    else:
        f_u, J = model.eval_and_jacobian(full, obj.x)
        r_w = (y_u - f_u) / obj.sigma if obj.weighted else y_u - f_u
        Jw = J * obj.inv_sigma[:, None] if obj.weighted else J
        Jf = Jw if obj.all_free else Jw[:, obj.free_idx]
        if not obj.free_idx.size:
            Jf = Jw   # nothing free: the intercept test below looks at every column
    if closed is not None:
        r_w = closed

    # active: free and not held at a bound; columns of Jf that enter the covariance
    if any_at_bound:
        active_cols = [k for k, i in enumerate(free_idx.tolist()) if not bound_side[i]]
        act_idx = free_idx[active_cols]
    else:
        active_cols, act_idx = None, free_idx
    n_used = y_u.size
    n_free = int(free_idx.size)
    dof = n_used - n_free

    act_list = act_idx.tolist()
    act_names = [names[i] for i in act_list]
    if streamed is not None:
        cov_a, notes_a = streamed["covariance"], [""] * n_free
        lev, centered = streamed["leverage"], streamed["centered"]
    else:
        cov_a, notes_a, lev, centered = _curvature(problem, Jf, r_w, active_cols, act_names, lin)

    weighted = problem.weighting != "none"
    w = obj.inv_sigma * obj.inv_sigma if obj.weighted else None
    gof = goodness_of_fit(y_u, w, r_w, n_free, problem.absolute_sigma, weighted, centered,
                          obj.sigma)
    objective = gof["sse"] if problem.loss == "linear" else obj.objective_of(r_w)

    s2 = 1.0
    if not problem.absolute_sigma:
        s2 = (objective / dof) if dof > 0 else math.nan
    if act_idx.size == p:
        cov = cov_a * s2
    else:
        cov = np.zeros((p, p))
        cov[np.ix_(act_idx, act_idx)] = cov_a * s2
        for i in free_idx.tolist():
            if bound_side[i]:
                cov[i, :] = cov[:, i] = np.nan
    diagonal = cov.diagonal()
    variances = diagonal.tolist()
    # t and p values as Python floats; stdtr once for every parameter
    t_all = [v / math.sqrt(var) if var > 0 else math.nan for v, var in zip(values, variances)]
    p_all = p_values(t_all, dof)
    tq = t_quantile(dof)
    note_of = dict(zip(act_list, notes_a))
    params = []
    for i, name in enumerate(names):
        setting = settings[i]
        val = values[i]
        tv = pv = math.nan
        ci = (math.nan, math.nan)
        if setting.fixed:
            se = 0.0
            note = "fixed"
            ci = (val, val)
        elif bound_side[i]:
            se = math.nan
            note = (f"at its {bound_side[i]} bound: the bound is active, so the curvature "
                    "gives no standard error")
        else:
            var = variances[i]
            se = math.sqrt(var) if var >= 0 else math.nan
            note = note_of[i]
            if dof <= 0:
                se = math.nan
                note = (f"too few points: {n_used} points for {n_free} free parameters "
                        "leave no degrees of freedom")
            elif not math.isfinite(se) and not note:
                note = "the standard error is not finite"
            if math.isfinite(se) and se > 0:
                ci = (val - tq * se, val + tq * se)
                tv, pv = t_all[i], p_all[i]
        params.append(frozen_instance(
            ParameterResult,
            name=name, value=val, stderr=float(se), ci95=ci, t_value=tv, p_value=pv,
            fixed=setting.fixed, at_bound=bool(bound_side[i]), start=float(start_full[i]),
            min=setting.min, max=setting.max, stderr_note=note))

    sd = np.sqrt(np.abs(diagonal))
    corr = cov / (sd[:, None] * sd)
    # 1 on the diagonal where defined; p is small, and a few item stores beat
    # isfinite plus a masked copyto on a strided view
    for i, c in enumerate(corr.diagonal().tolist()):
        if math.isfinite(c):
            corr[i, i] = 1.0
    if not obj.all_free:
        for i in range(p):
            if settings[i].fixed:
                corr[i, :] = corr[:, i] = np.nan

    used = problem.used
    all_used = n_used == problem.n
    fitted = f_u if all_used else model.eval(full, problem.x)
    residuals = problem.y - fitted
    if problem.weighting == "none":
        weighted_res = residuals.copy()
    else:
        weighted_res = residuals / problem.point_sigma()
    scale = math.sqrt(s2) if math.isfinite(s2) and s2 > 0 else math.nan
    # standardized by the leverage too: r_i / (s sqrt(1 - h_ii)) over used rows
    std_used = r_w / (scale * np.sqrt(np.maximum(1 - lev, 1e-12)))
    if all_used:
        std_res = std_used
    else:
        std_res = np.full(residuals.shape, np.nan)
        std_res[used] = std_used

    stats = frozen_instance(
        FitStatistics, n=problem.n, n_used=n_used, n_missing=0 if all_used else problem.n_missing,
        n_excluded=0 if all_used else int(np.count_nonzero(problem.excluded)), n_free=n_free,
        r_squared_centered=centered, weighted=weighted, absolute_sigma=problem.absolute_sigma,
        objective=objective, **gof)
    return frozen_instance(
        FitResult, model_name=model.name, formula=model.formula, param_names=tuple(names),
        parameters=tuple(params), status=status, message=message, solver=solver,
        loss=problem.loss, iterations=obj.iterations, evaluations=obj.nfev, elapsed=elapsed,
        history=tuple(obj.history), statistics=stats, covariance=cov, correlation=corr,
        fitted=fitted, residuals=residuals, weighted_residuals=weighted_res,
        standardized_residuals=std_res, used=used, uncertainty_note=uncertainty_note(problem),
        weighting=problem.weighting, model=model, extra=extra)


def _curvature(problem: FitProblem, Jf: np.ndarray, r_w: np.ndarray,
               active_cols: list[int] | None, act_names: list[str], lin):
    """(unscaled covariance of the active parameters, their notes, leverages, centred R²?).

    ``active_cols`` None: every free parameter is active.  From the solver's
    factorisation when it has one at this point (linear loss, no parameter
    at a bound), else from a fresh QR of the Jacobian; under a robust loss
    the rows are weighted by sqrt(rho') first.
    """
    Ja = Jf if active_cols is None else Jf[:, active_cols]
    centered = True
    if problem.model.is_linear and problem.loss == "linear":
        centered = has_intercept(Jf)
    if lin is not None and active_cols is None and problem.loss == "linear":
        if lin.R is None:   # J not finite: covariance_unscaled says so
            cov, notes = covariance_unscaled(Ja, act_names)
            return cov, notes, leverage(Ja), centered
        well_conditioned = None
        if lin.compiled:   # a fit through the compiled kernels: its statistics too
            from lsqfit_app.solvers._compiled import well_conditioned_curvature as well_conditioned
        cov, notes, lev = curvature_from_r(Ja, lin.R, act_names, well_conditioned)
        return cov, notes, lev, centered
    if problem.loss != "linear":
        _, drho = loss_terms(r_w, problem.loss, problem.f_scale)
        Ja = Ja * np.sqrt(np.maximum(drho, 0.0))[:, None]
    R = scale = None
    if Ja.size and np.isfinite(Ja).all():
        scale = column_scale(Ja)
        R = r_factor(Ja / scale)
    cov, notes = covariance_unscaled(Ja, act_names, R=R, scale=scale)
    lev = leverage(Ja, R, scale) if R is not None else leverage(Ja)
    return cov, notes, lev, centered
