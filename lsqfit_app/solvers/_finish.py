"""Turn a solver's end point into a FitResult with uncertainties and statistics."""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.losses import loss_terms
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitResult, FitStatistics, FitStatus, ParameterResult
from lsqfit_app.core.statistics import (
    column_scale, covariance_unscaled, goodness_of_fit, has_intercept, leverage, p_value,
    r_factor, t_quantile)
from lsqfit_app.solvers._objective import Objective

AT_BOUND_RTOL = 1e-8


def _at_bound(value: float, lo: float, hi: float) -> str:
    for bound, word in ((lo, "lower"), (hi, "upper")):
        if math.isfinite(bound) and abs(value - bound) <= AT_BOUND_RTOL * max(1.0, abs(bound)):
            return word
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
    model = problem.model
    full = obj.expand(np.asarray(theta, dtype=float))
    names = list(model.param_names)
    x_u, y_u, sig_u = obj.x, obj.y, obj.sigma
    with np.errstate(all="ignore"):
        f_u, J = model.eval_and_jacobian(full, x_u)
    closed = (extra or {}).get("closed_form_residuals")
    if closed is not None:
        r_w = closed
    else:
        r_w = (y_u - f_u) / sig_u if obj.weighted else y_u - f_u
    Jw = J * obj.inv_sigma[:, None] if obj.weighted else J

    free = obj.free.copy()
    bound_side = [""] * len(names)
    for i, p in enumerate(problem.params):
        if free[i]:
            bound_side[i] = _at_bound(full[i], p.min, p.max)
    active = free & np.array([s == "" for s in bound_side])
    act_idx = np.flatnonzero(active)
    n_used = y_u.size
    n_free = int(free.sum())
    dof = n_used - n_free

    Ja = Jw if act_idx.size == Jw.shape[1] else Jw[:, act_idx]
    if problem.loss != "linear":
        _, drho = loss_terms(r_w, problem.loss, problem.f_scale)
        Ja = Ja * np.sqrt(np.maximum(drho, 0.0))[:, None]
    R = r_factor(Ja / column_scale(Ja)) if Ja.size and np.all(np.isfinite(Ja)) else None
    cov_a, notes_a = covariance_unscaled(Ja, [names[i] for i in act_idx], R=R)

    w = 1.0 / sig_u**2
    weighted = problem.weighting != "none"
    centered = True
    if model.is_linear and problem.loss == "linear":
        centered = has_intercept(Jw[:, free] if free.any() else Jw)
    gof = goodness_of_fit(y_u, w, r_w, n_free, problem.absolute_sigma, weighted, centered, sig_u)
    objective = obj.objective_of(r_w)

    s2 = 1.0
    if not problem.absolute_sigma:
        s2 = (objective / dof) if dof > 0 else math.nan
    p = len(names)
    cov = np.zeros((p, p))
    cov[np.ix_(act_idx, act_idx)] = cov_a * s2
    for i in np.flatnonzero(free & ~active):
        cov[i, :] = cov[:, i] = np.nan
    tq = t_quantile(dof)
    params = []
    for i, name in enumerate(names):
        setting = problem.params[i]
        note = ""
        if setting.fixed:
            se = 0.0
            note = "fixed"
        elif bound_side[i]:
            se = math.nan
            note = (f"at its {bound_side[i]} bound: the bound is active, so the curvature "
                    "gives no standard error")
        else:
            k = int(np.flatnonzero(act_idx == i)[0])
            se = math.sqrt(cov[i, i]) if cov[i, i] >= 0 else math.nan
            note = notes_a[k]
            if dof <= 0:
                se = math.nan
                note = f"too few points: {n_used} points for {n_free} free parameters leave no degrees of freedom"
            elif not math.isfinite(se) and not note:
                note = "the standard error is not finite"
        val = float(full[i])
        if setting.fixed:
            ci = (val, val)
            tv = pv = math.nan
        elif math.isfinite(se) and se > 0:
            ci = (val - tq * se, val + tq * se)
            tv = val / se
            pv = p_value(tv, dof)
        else:
            ci = (math.nan, math.nan)
            tv = pv = math.nan
        params.append(ParameterResult(
            name=name, value=val, stderr=float(se), ci95=ci, t_value=tv, p_value=pv,
            fixed=setting.fixed, at_bound=bool(bound_side[i]), start=float(start_full[i]),
            min=setting.min, max=setting.max, stderr_note=note))

    sd = np.sqrt(np.abs(np.diag(cov)))
    with np.errstate(all="ignore"):
        corr = cov / np.outer(sd, sd)
    for i in range(p):
        if problem.params[i].fixed:
            corr[i, :] = corr[:, i] = np.nan
        elif math.isfinite(corr[i, i]):
            corr[i, i] = 1.0

    used = problem.used
    if used.all():
        fitted = f_u
    else:
        with np.errstate(all="ignore"):
            fitted = model.eval(full, problem.x)
    residuals = problem.y - fitted
    sigma_all = problem.point_sigma()
    with np.errstate(all="ignore"):
        weighted_res = residuals / sigma_all
        scale = math.sqrt(s2) if math.isfinite(s2) and s2 > 0 else math.nan
        # standardized by the leverage too: r_i / (s sqrt(1 - h_ii)) over used rows
        std_res = np.full_like(residuals, np.nan)
        lev = leverage(Ja, R)
        std_res[used] = r_w / (scale * np.sqrt(np.maximum(1 - lev, 1e-12)))

    stats = FitStatistics(
        n=problem.n, n_used=n_used, n_missing=problem.n_missing,
        n_excluded=int(np.count_nonzero(problem.excluded)), n_free=n_free,
        r_squared_centered=centered, weighted=weighted, absolute_sigma=problem.absolute_sigma,
        objective=objective, **gof)
    return FitResult(
        model_name=model.name, formula=model.formula, param_names=tuple(names),
        parameters=tuple(params), status=status, message=message, solver=solver,
        loss=problem.loss, iterations=obj.iterations, evaluations=obj.nfev, elapsed=elapsed,
        history=tuple(obj.history), statistics=stats, covariance=cov, correlation=corr,
        fitted=fitted, residuals=residuals, weighted_residuals=weighted_res,
        standardized_residuals=std_res, used=used, uncertainty_note=uncertainty_note(problem),
        weighting=problem.weighting, model=model,
        extra={k: v for k, v in (extra or {}).items() if k != "closed_form_residuals"})
