"""Turn a solver's end point into a FitResult with uncertainties and statistics."""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.losses import covariance_factor
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import (
    FitResult, FitStatistics, FitStatus, ParameterResult, SolverOptions)
from lsqfit_app.core.statistics import (
    Curvature, curvature_of_r, goodness_of_fit, has_intercept, interval_quantile, p_values,
    svd_curvature)
from lsqfit_app.solvers._objective import Objective, Outcome

AT_BOUND_RTOL = 1e-8


def _at_bound(value: float, lo: float, hi: float) -> str:
    if math.isfinite(lo) and abs(value - lo) <= AT_BOUND_RTOL * max(1.0, abs(lo)):
        return "lower"
    if math.isfinite(hi) and abs(value - hi) <= AT_BOUND_RTOL * max(1.0, abs(hi)):
        return "upper"
    return ""


def uncertainty_note(problem: FitProblem) -> str:
    note = _weighting_note(problem)
    if problem.loss != "linear":
        scale = ("the sigma as given (scale 1)" if problem.absolute_sigma else
                 "a robust scale of the residuals (Huber's proposal 2), not their "
                 "sum of squares")
        note += (f" Under the robust {problem.loss} loss the covariance is Huber's "
                 f"E[psi^2]/E[psi']^2 (J^T J)^-1 for normal errors at {scale}.")
    return note


def _weighting_note(problem: FitProblem) -> str:
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


def build_result(problem: FitProblem, obj: Objective, outcome: Outcome, status: FitStatus,
                 message: str, solver: str, start_full: np.ndarray, elapsed: float,
                 options: SolverOptions, restored: bool = False) -> FitResult:
    """Uncertainties and statistics at the outcome's free parameters theta.

    Called inside the fit's ``np.errstate(all="ignore")`` (``fit`` and
    ``restore_result``): a singular covariance or a zero standard error gives
    NaN or inf here, with a note, not a warning.

    The outcome may carry what the solver already computed at theta: the
    closed form's refined residuals, the streamed closed form's covariance
    and leverages, or a :class:`Linearization`, whose Jacobian and R factor
    are then reused instead of evaluated and factorised again.  The codes
    its library reported, ``options`` and ``restored`` go into the result.

    This runs once per fit and small fits are dominated by per-call costs,
    so it is written to make few numpy calls: whole-vector operations, and
    Python floats for the per-parameter table.
    """
    closed, lin, streamed = outcome.residuals, outcome.linearization, outcome.streamed
    model = problem.model
    settings = problem.params
    theta = np.asarray(outcome.theta, dtype=float)
    full = obj.expand(theta)
    values = full.tolist()
    names = list(model.param_names)
    p = len(names)
    y_u = obj.y

    free_idx = obj.free_idx
    free_list = free_idx.tolist()
    bound_side = [""] * p
    for k, lo, hi in obj.bounds:   # the free parameters with a finite bound
        i = free_list[k]
        bound_side[i] = _at_bound(values[i], lo, hi)
    any_at_bound = any(bound_side)
    # the streamed closed form's covariance and leverages stand in for the
    # n x p Jacobian (millions of rows) when every free parameter is active
    if streamed is not None and (any_at_bound or problem.loss != "linear"):
        streamed = None

    if lin is not None and lin.theta is not theta and lin.theta.tobytes() != theta.tobytes():
        lin = None
    J = None   # the unweighted Jacobian of every parameter, when evaluated here
    if lin is not None:
        f_u, Jf, r_w = lin.f, lin.Jr, lin.r     # the sign of J is immaterial below
    elif streamed is not None:
        f_u, Jf = streamed.fitted, None
        r_w = (y_u - f_u) / obj.sigma if obj.weighted else y_u - f_u
    else:
        f_u, J = model.eval_and_jacobian(full, obj.x)
        if closed is None:
            r_w = (y_u - f_u) / obj.sigma if obj.weighted else y_u - f_u
        Jf = J * obj.inv_sigma[:, None] if obj.weighted else J
        if not obj.all_free:
            Jf = Jf[:, obj.free_idx]
    if closed is not None:
        r_w = closed
    centered = streamed.centered if streamed is not None else \
        _has_constant_term(model, obj, full, J)

    # active: free and not held at a bound; columns of Jf that enter the covariance
    if any_at_bound:
        active_cols = [k for k, i in enumerate(free_list) if not bound_side[i]]
        act_idx = free_idx[active_cols]
    else:
        active_cols, act_idx = None, free_idx
    n_used = y_u.size
    n_free = int(free_idx.size)

    act_list = act_idx.tolist()
    act_names = [names[i] for i in act_list]
    if streamed is not None:
        cov_a, notes_a = streamed.covariance, [""] * n_free
        lev, rank_a = streamed.leverage, n_free
    else:
        cov_a, notes_a, rank_a, lev = _curvature(Jf, active_cols, act_names, lin)
    # the Jacobians are done with: on big data each is several vectors of the
    # data's size, and the result's own arrays come next.  The solver's (in
    # ``lin``, the outcome and the Objective's cache) go too; f_u and r_w stay.
    J = Jf = lin = None
    outcome.linearization = None
    obj.forget_evaluations()
    # parameters the data determine: the free ones less J's rank deficiency
    # (an unknown rank, J not finite, counts every free parameter)
    n_est = n_free - (len(act_list) - rank_a if rank_a is not None else 0)
    dof = n_used - n_est
    absolute = problem.absolute_sigma

    weighted = problem.weighting != "none"
    w = obj.inv_sigma * obj.inv_sigma if obj.weighted else None
    gof = goodness_of_fit(y_u, w, r_w, n_est, absolute, weighted, centered, obj.sigma)
    w = None
    objective = gof["sse"] if problem.loss == "linear" else obj.objective_of(r_w)

    # s2: the variance of one observation in units of its sigma^2; the
    # covariance is s2 (J^T J)^-1, or under a robust loss Huber's factor
    # E[psi^2] / E[psi']^2 at the robust scale s times (J^T J)^-1, s2 = s^2
    # (core/losses.py)
    robust_note = ""
    if problem.loss != "linear":
        factor, scale_r, robust_note = covariance_factor(r_w, problem.loss, problem.f_scale,
                                                         n_est, absolute)
        s2 = scale_r * scale_r
    else:
        s2 = 1.0 if absolute else ((objective / dof) if dof > 0 else math.nan)
        factor = s2
    if robust_note:
        notes_a = [note or robust_note for note in notes_a]
    cov_a = cov_a * factor
    if act_idx.size == p:
        cov = cov_a
    else:
        cov = np.zeros((p, p))
        cov[np.ix_(act_idx, act_idx)] = cov_a
        for i in free_list:
            if bound_side[i]:
                cov[i, :] = cov[:, i] = np.nan
    diagonal = cov.diagonal()
    variances = diagonal.tolist()
    # t and p values as Python floats; stdtr once for every parameter
    t_all = [v / math.sqrt(var) if var > 0 else math.nan for v, var in zip(values, variances)]
    p_all = p_values(t_all, dof, absolute)
    tq = interval_quantile(dof, absolute)
    note_of = dict(zip(act_list, notes_a))
    starts = np.asarray(start_full, dtype=float).tolist()
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
            if dof <= 0 and not absolute:
                # (with absolute sigma nothing is estimated from the scatter: the
                # error needs no degrees of freedom)
                se = math.nan
                note = (f"too few points: {n_used} points for {n_est} determined parameters "
                        "leave no degrees of freedom to estimate the scatter")
            elif not math.isfinite(se) and not note:
                note = "the standard error is not finite"
            if math.isfinite(se) and se > 0:
                ci = (val - tq * se, val + tq * se)
                tv, pv = t_all[i], p_all[i]
        params.append(ParameterResult(
            name=name, value=val, stderr=float(se), ci95=ci, t_value=tv, p_value=pv,
            fixed=setting.fixed, at_bound=bool(bound_side[i]), start=starts[i],
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
    # unweighted, r_w is y - f already (the closed form's are refined instead)
    residuals = r_w if all_used and closed is None and not obj.weighted else problem.y - fitted
    # each row's sigma (computed for poisson/relative weights), kept for bands
    # and the weighted residuals (FitResult.weighted_residuals)
    row_sigma = None if problem.weighting == "none" else problem.point_sigma()
    scale = math.sqrt(s2) if math.isfinite(s2) and s2 > 0 else math.nan
    # standardized by the leverage too: r_i / (s sqrt(1 - h_ii)) over used rows,
    # in one buffer (the same operations as the expression, without four
    # temporaries of the data's size)
    std_used = np.subtract(1.0, lev)
    np.maximum(std_used, 1e-12, out=std_used)
    np.sqrt(std_used, out=std_used)
    np.multiply(scale, std_used, out=std_used)
    np.divide(r_w, std_used, out=std_used)
    if all_used:
        std_res = std_used
    else:
        std_res = np.full(residuals.shape, np.nan)
        std_res[used] = std_used

    stats = FitStatistics(
        n=problem.n, n_used=n_used, n_missing=0 if all_used else problem.n_missing,
        n_excluded=0 if all_used else int(np.count_nonzero(problem.excluded)), n_free=n_free,
        r_squared_centered=centered, weighted=weighted, absolute_sigma=absolute,
        objective=objective, rank=n_est, variance_factor=s2, **gof)
    return FitResult(
        model_name=model.name, formula=model.formula, param_names=tuple(names),
        parameters=tuple(params), status=status, message=message, solver=solver,
        loss=problem.loss, iterations=obj.iterations, evaluations=obj.nfev, elapsed=elapsed,
        history=tuple(obj.history), statistics=stats, covariance=cov, correlation=corr,
        fitted=fitted, residuals=residuals,
        standardized_residuals=std_res, used=used, uncertainty_note=uncertainty_note(problem),
        weighting=problem.weighting, model=model, options=options,
        minpack_info=outcome.minpack_info, scipy_status=outcome.scipy_status,
        refinement_passes=outcome.refinement_passes, streamed=streamed is not None,
        restored=restored, row_sigma=row_sigma, data_x=problem.x)


def _has_constant_term(model, obj: Objective, full: np.ndarray, J: np.ndarray | None) -> bool:
    """Does the model contain a constant term (R^2 centred) or pass through the origin?

    Asked of the model's own, unweighted columns, fixed parameters included
    (a fixed intercept is still an intercept), and of its parameter-free
    part g_0 = f(0) (``b*x + 3``): for a weighted fit the weighted columns
    J_ij / sigma_i would hide the constant.  Models that are not affine in
    every parameter always get the centred R^2, the usual convention.
    ``J`` is the unweighted Jacobian at ``full`` when already evaluated.
    """
    if not model.is_linear:
        return True
    if J is None:
        J = model.jacobian(full, obj.x)
    g0 = model.eval(np.zeros_like(full), obj.x)   # exact: every affine term vanishes
    columns = np.column_stack([J, g0]) if np.any(g0) else J
    if not np.isfinite(columns).all():
        return True   # nothing to decide on (the fit failed); the default convention
    return has_intercept(columns)


def _curvature(Jf: np.ndarray, active_cols: list[int] | None, act_names: list[str],
               lin) -> Curvature:
    """(J^T J)^+ of the active parameters, notes, rank and leverages (weighted J).

    ``active_cols`` None: every free parameter is active.  From the solver's
    factorisation when it has one at this point (linear loss, no parameter
    at a bound), else from a fresh QR of the Jacobian.  Under a robust loss
    the caller multiplies by the loss's covariance factor.
    """
    Ja = Jf if active_cols is None else Jf[:, active_cols]
    if lin is not None and active_cols is None and lin.R is not None:
        return curvature_of_r(Ja, lin.R, act_names)
    return svd_curvature(Ja, act_names)   # no LAPACK call on an empty or non-finite J
