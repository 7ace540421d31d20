"""Global fits: one model, K curves, parameters shared by all curves or one per curve.

``fit_global`` builds one joint least-squares problem: the residuals of every
curve's used points stacked, weighted as in a single fit (sigma, poisson,
relative or none; ``core.problem``), and as unknowns the free shared
parameters plus K copies of the free per-curve ones.  Fixed parameters take
their one value on every curve and are not unknowns.  It is solved by a
Levenberg-Marquardt that exploits the block-arrow structure (``joint_lm``),
and its covariance comes in exact blocks (``joint_covariance``).

Start values: each curve's from the same data-driven guesses as a single fit
(``solvers.resolve_starts``); a shared parameter with no start given starts
at the median of the curves' guesses.

Statistics are those of a single fit applied to the stacked residuals
(``core.statistics.goodness_of_fit``): s2 = SSE/dof scales the covariance
unless sigma is absolute, intervals use t(dof) or the normal quantile.  Per
curve: SSE, points used, R^2, and dof/AICc counting the curve's own and the
shared parameters.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Callable

import numpy as np

from lsqfit_app.batch.curves import CurveSet
from lsqfit_app.batch.evaluate import batch_eval_and_jacobian
from lsqfit_app.batch.joint_covariance import joint_curvature
from lsqfit_app.batch.joint_lm import JointProblem, run_joint_lm
from lsqfit_app.batch.joint_result import FULL_COVARIANCE_LIMIT, GlobalParameter, GlobalResult
from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.model import Model
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.core.result import FitStatistics, FitStatus, SolverOptions
from lsqfit_app.core.statistics import (
    goodness_of_fit, has_intercept, interval_quantile, p_values)
from lsqfit_app.solvers import MESSAGES, resolve_starts
from lsqfit_app.solvers._finish import _at_bound, uncertainty_note

SOLVER = "global-lm"


def evaluate_curves(model: Model, X: dict) -> Callable[[np.ndarray], tuple]:
    """``evaluate(P (K, p)) -> (F (K, n), J (K, n, p))`` over the curves' predictors,
    all curves in one vectorised call of the model's own code."""

    def evaluate(P):
        return batch_eval_and_jacobian(model, P, X)

    return evaluate


def fit_global(model: Model, curves: CurveSet, shared: Iterable[str], params=None, *,
               weights: str = "none", options: SolverOptions | None = None,
               on_progress: Callable[[IterationState], None] | None = None,
               cancel: CancelToken | None = None) -> GlobalResult:
    """Fit ``model`` jointly to ``curves`` with the parameters ``shared`` common to all.

    ``params``: name -> Parameter or start value, settings for every curve (a
    start given for a per-curve parameter is every curve's start).  The
    progress snapshots' ``values`` are the parameter entries in the result's
    order (shared, then each curve's).  Bad input raises InputError /
    ParameterError; a fit that fails is a status of the result.
    """
    options = options or SolverOptions()
    names = model.param_names
    shared = list(dict.fromkeys([shared] if isinstance(shared, str) else shared))
    for name in shared:
        if name not in names:
            raise ParameterError(f"shared parameter {name!r} is not a parameter of the model "
                                 f"{model.name!r} ({', '.join(names)})")
    with np.errstate(all="ignore"):
        return _fit_global(model, curves, shared, params, weights, options, on_progress, cancel)


def _stacked_problem(model, curves: CurveSet, params, weights) -> FitProblem:
    """The concatenated used points as one FitProblem: it validates the settings
    and weights and gives each point's sigma exactly as a single fit would."""
    K = curves.n_curves
    empty = [curves.ids[k] for k in range(K) if not curves.used[k].any()]
    if empty:
        raise InputError(f"curve {empty[0]!r} has no usable points")
    used = curves.used
    if curves.sigma is None and weights == "relative":
        k, j = np.nonzero(used & (curves.y == 0))
        if k.size:
            raise InputError(f"relative weights need y != 0; curve {curves.ids[k[0]]!r} has "
                             f"y = 0 in row {j[0] + 1}")
    x = {name: v[used] for name, v in curves.x.items()}
    sigma = None if curves.sigma is None else curves.sigma[used]
    return FitProblem.create(model, x, curves.y[used], params, sigma=sigma, weights=weights)


def _curve_starts(model, curves: CurveSet, stacked: FitProblem) -> np.ndarray:
    """(K, p) start values: each curve's as a single fit would find them."""
    K, p = curves.n_curves, len(model.param_names)
    out = np.empty((K, p))
    weights = stacked.weighting if stacked.weighting != "sigma" else "none"
    for k in range(K):
        u = curves.used[k]
        x = {name: v[k, u] for name, v in curves.x.items()}
        sigma = None if curves.sigma is None else curves.sigma[k, u]
        try:
            problem = FitProblem.create(model, x, curves.y[k, u], stacked.params,
                                        sigma=sigma, weights=weights)
        except InputError:
            # fewer points than the model's parameters: only the global fit can
            # determine them; the model's guess is still a start
            try:
                guess = model.guess(x, curves.y[k, u])
            except Exception:
                guess = {}
            for i, s in enumerate(stacked.params):
                v = s.value if s.value is not None else guess.get(s.name, 1.0)
                out[k, i] = min(max(v if math.isfinite(v) else 1.0, s.min), s.max)
            continue
        out[k] = resolve_starts(problem)
    return out


def _fit_global(model, curves, shared, params, weights, options, on_progress, cancel):
    t0 = time.perf_counter()
    stacked = _stacked_problem(model, curves, params, weights)
    settings = stacked.params
    names = list(model.param_names)
    K = curves.n_curves
    fixed = _fixed_mask(settings)
    is_shared = np.array([n in shared for n in names]) | fixed
    shared_idx = np.flatnonzero(is_shared & ~fixed)
    local_idx = np.flatnonzero(~is_shared)
    n_unknowns = shared_idx.size + K * local_idx.size
    n_used = int(curves.used.sum())
    if n_used < max(n_unknowns, 1):
        raise InputError(f"too few points: {n_used} usable points for {n_unknowns} free "
                         "parameters of the global fit")
    starts = _curve_starts(model, curves, stacked)
    template = np.array([s.value if s.fixed else 0.0 for s in settings], dtype=float)
    s0 = np.array([settings[i].value if settings[i].value is not None
                   else float(np.median(starts[:, i])) for i in shared_idx.tolist()])
    starts[:, shared_idx] = s0
    lower = np.array([s.min for s in settings])
    upper = np.array([s.max for s in settings])
    sig = np.ones_like(curves.y)
    sig[curves.used] = stacked.point_sigma()
    inv_sigma = np.where(curves.used, 1.0 / sig, 0.0)
    problem = JointProblem(evaluate_curves(model, curves.x), curves.y, curves.used, inv_sigma,
                           template, shared_idx, local_idx, lower[shared_idx],
                           upper[shared_idx], lower[local_idx], upper[local_idx])
    entries = _entries(names, curves.ids, is_shared, shared_idx, local_idx)

    def report(iteration, objective, s, L, nfev):
        if on_progress is not None:
            joint = _joint_values(problem.full(s, L), entries)
            on_progress(IterationState(iteration=iteration, objective=float(objective),
                                       values=tuple(joint.tolist()), evaluations=nfev,
                                       solver=SOLVER))

    if cancel is not None and cancel.cancelled:
        s_end, L_end = s0, starts[:, local_idx]
        outcome = None
        key = "cancelled"
    else:
        outcome = run_joint_lm(problem, s0, starts[:, local_idx], options, report, cancel)
        s_end, L_end, key = outcome.s, outcome.L, outcome.status
    lin = outcome.linearization if outcome is not None else None
    if lin is None:
        lin = problem.linearize(np.clip(s_end, problem.lower_s, problem.upper_s),
                                np.clip(L_end, problem.lower_l, problem.upper_l))
    status, message = MESSAGES.get(key, MESSAGES["not_converged"])
    return _build(model, curves, stacked, problem, entries, lin, s_end, L_end, starts, status,
                  message, outcome, shared, options, time.perf_counter() - t0)


def _entries(names, ids, is_shared, shared_idx, local_idx):
    """(model index, curve index or None) of every parameter entry, in the result's order."""
    out = [(i, None) for i in range(len(names)) if is_shared[i]]
    for k in range(len(ids)):
        out += [(i, k) for i in local_idx.tolist()]
    return out


def _joint_values(P: np.ndarray, entries) -> np.ndarray:
    return np.array([P[0 if k is None else k, i] for i, k in entries])


def _centered(model, curves: CurveSet, P) -> bool:
    """Centred R^2 unless an affine model has no constant term (as a single fit decides)."""
    if not model.is_linear:
        return True
    for k in range(curves.n_curves):
        u = curves.used[k]
        x = {name: v[k, u] for name, v in curves.x.items()}
        J = model.jacobian(P[k], x)
        g0 = model.eval(np.zeros_like(P[k]), x)
        if not has_intercept(np.column_stack([J, g0]) if np.any(g0) else J):
            return False
    return True


def _build(model, curves, stacked, problem, entries, lin, s, L, starts, status, message,
           outcome, shared, options, elapsed) -> GlobalResult:
    r, Jr, _obj, F = lin
    settings = stacked.params
    names = list(model.param_names)
    K, p = curves.n_curves, len(names)
    ps, pl = problem.shared_idx.size, problem.local_idx.size
    P = problem.full(s, L)
    used = curves.used
    side_s = [_at_bound(v, lo, hi) for v, lo, hi in
              zip(s.tolist(), problem.lower_s.tolist(), problem.upper_s.tolist())]
    side_l = [[_at_bound(v, lo, hi) for v, lo, hi in
               zip(row, problem.lower_l.tolist(), problem.upper_l.tolist())]
              for row in L.tolist()]
    active_s = np.array([not side for side in side_s], dtype=bool)
    active_l = np.array([[not side for side in row] for row in side_l],
                        dtype=bool).reshape(K, pl)
    n_used_k = used.sum(axis=1)
    shared_names = [names[i] for i in problem.shared_idx.tolist()]
    finite = bool(np.isfinite(Jr).all())
    curv = joint_curvature(Jr if finite else np.nan_to_num(Jr), ps, active_s, active_l,
                           n_used_k, shared_names)
    if not finite:
        status, message = FitStatus.FAILED, MESSAGES["nonfinite"][1]
    n_free = ps + K * pl
    n_est = n_free - curv.deficiency
    n_used = int(n_used_k.sum())
    dof = n_used - n_est
    absolute = stacked.absolute_sigma
    weighted = stacked.weighting != "none"
    # residuals y - f over used points, weighted
    r_w = -r[used]
    y_u = curves.y[used]
    sigma_u = 1.0 / problem.inv_sigma[used]
    w = problem.inv_sigma[used] ** 2 if weighted else None
    centered = _centered(model, curves, P)
    gof = goodness_of_fit(y_u, w, r_w, n_est, absolute, weighted, centered, sigma_u)
    s2 = 1.0 if absolute else (gof["sse"] / dof if dof > 0 else math.nan)
    tq = interval_quantile(dof, absolute)

    # standard errors per unknown, scaled
    var_s = curv.shared.diagonal() * s2
    var_l = np.diagonal(curv.local, axis1=1, axis2=2) * s2
    entry_params = []
    values = P.copy()
    stderr = np.zeros((K, p))
    pos_s = {i: j for j, i in enumerate(problem.shared_idx.tolist())}
    pos_l = {i: j for j, i in enumerate(problem.local_idx.tolist())}
    start_vals = _joint_values(starts, entries)
    for i, k in entries:
        setting = settings[i]
        val = float(P[0 if k is None else k, i])
        se, note, side = math.nan, "", ""
        if setting.fixed:
            se, note = 0.0, "fixed"
        else:
            if k is None:
                j = pos_s[i]
                side, var, note = side_s[j], var_s[j], curv.shared_notes[j]
            else:
                j = pos_l[i]
                side, var = side_l[k][j], var_l[k, j]
                if not curv.local_ok[k, j] and not side:
                    note = (f"singular Jacobian: {names[i]} of curve {curves.ids[k]!r} cannot "
                            "be determined from these data")
            if side:
                note = (f"at its {side} bound: the bound is active, so the curvature "
                        "gives no standard error")
            else:
                se = math.sqrt(var) if var >= 0 else math.nan
                if dof <= 0 and not absolute:
                    se, note = math.nan, (f"too few points: {n_used} points for {n_est} "
                                          "determined parameters leave no degrees of freedom")
                elif not math.isfinite(se) and not note:
                    note = "the standard error is not finite"
        entry_params.append((i, k, val, se, note, bool(side)))
    t_all = [v / se if se > 0 and math.isfinite(se) else math.nan
             for _i, _k, v, se, _n, _b in entry_params]
    p_all = p_values(t_all, dof, absolute)
    parameters = []
    for e, ((i, k, val, se, note, at_b), tv, pv) in enumerate(zip(entry_params, t_all, p_all)):
        setting = settings[i]
        if setting.fixed:
            ci = (val, val)
        elif math.isfinite(se) and se > 0:
            ci = (val - tq * se, val + tq * se)
        else:
            ci, tv, pv = (math.nan, math.nan), math.nan, math.nan
        parameters.append(GlobalParameter(
            name=names[i], curve=None if k is None else curves.ids[k], value=val,
            stderr=float(se), ci95=ci, fixed=setting.fixed, at_bound=at_b, t_value=tv,
            p_value=pv, start=float(start_vals[e]), min=setting.min, max=setting.max,
            stderr_note=note))
        rows = range(K) if k is None else [k]
        for kk in rows:
            stderr[kk, i] = se
    # the intervals of the per-curve matrices, as the entries' (fixed: the value itself)
    half = np.where(np.isfinite(stderr) & (stderr > 0), tq * stderr, np.nan)
    fixed = _fixed_mask(settings)
    ci_low = np.where(fixed, values, values - half)
    ci_high = np.where(fixed, values, values + half)

    cov_full, cov_shared, cov_local = _covariances(curv, entries, problem, settings, s2, K)

    # per-curve statistics: the curve's own and the shared parameters
    n_k_params = ps + pl
    sse_k, dof_k, r2_k, aicc_k = (np.empty(K) for _ in range(4))
    for k in range(K):
        u = used[k]
        inv = problem.inv_sigma[k, u]
        g = goodness_of_fit(curves.y[k, u], inv ** 2 if weighted else None, -r[k, u],
                            n_k_params, absolute, weighted, centered, 1.0 / inv)
        sse_k[k], dof_k[k], r2_k[k], aicc_k[k] = g["sse"], g["dof"], g["r_squared"], g["aicc"]
    n_total = int(curves.lengths.sum())
    stats = FitStatistics(
        n=n_total, n_used=n_used, n_missing=0, n_excluded=n_total - n_used, n_free=n_free,
        r_squared_centered=centered, weighted=weighted, absolute_sigma=absolute,
        objective=gof["sse"], rank=n_est, variance_factor=s2, **gof)
    residuals = np.where(used, curves.y - F, np.nan)
    return GlobalResult(
        model_name=model.name, formula=model.formula, param_names=tuple(names),
        shared_names=tuple(n for n in names if n in shared), ids=curves.ids,
        sources=curves.sources, parameters=tuple(parameters), values=values, stderrs=stderr,
        ci_low=ci_low, ci_high=ci_high, fixed=fixed,
        shared=np.array([n in shared for n in names]) | fixed,
        status=status, message=message,
        iterations=outcome.iterations if outcome is not None else 0,
        evaluations=outcome.evaluations if outcome is not None else 1,
        elapsed=elapsed, history=tuple(outcome.history) if outcome is not None else (),
        statistics=stats, covariance=cov_full, covariance_shared=cov_shared,
        covariance_local=cov_local, curve_sse=sse_k, curve_n_used=n_used_k,
        curve_dof=dof_k.astype(int), curve_r_squared=r2_k, curve_aicc=aicc_k, fitted=F,
        residuals=residuals, used=used,
        row_sigma=None if not weighted else np.where(used, 1.0 / np.where(
            problem.inv_sigma > 0, problem.inv_sigma, 1.0), np.nan),
        uncertainty_note=uncertainty_note(stacked), weighting=stacked.weighting,
        options=options)


def _fixed_mask(settings) -> np.ndarray:
    return np.array([s.fixed for s in settings], dtype=bool)


def _covariances(curv, entries, problem, settings, s2, K):
    """(full or None, shared block, per-curve local blocks), scaled by s2, over
    the entries (fixed: zero rows, as in a single fit)."""
    ps, pl = problem.shared_idx.size, problem.local_idx.size
    pos_s = {i: j for j, i in enumerate(problem.shared_idx.tolist())}
    shared_entries = [i for i, k in entries if k is None]
    m = len(shared_entries)
    cov_shared = np.zeros((m, m))
    sel = [a for a, i in enumerate(shared_entries) if i in pos_s]
    idx = [pos_s[shared_entries[a]] for a in sel]
    cov_shared[np.ix_(sel, sel)] = curv.shared[np.ix_(idx, idx)] * s2
    cov_local = curv.local * s2
    if len(entries) > FULL_COVARIANCE_LIMIT:
        return None, cov_shared, cov_local
    joint = curv.full() * s2    # over (free shared, then each curve's free locals)
    order = []
    for i, k in entries:
        if k is None:
            order.append(pos_s.get(i, -1))
        else:
            order.append(ps + k * pl + list(problem.local_idx).index(i))
    order = np.array(order)
    cov = np.zeros((len(entries), len(entries)))
    free = order >= 0
    cov[np.ix_(free, free)] = joint[np.ix_(order[free], order[free])]
    return cov, cov_shared, cov_local
