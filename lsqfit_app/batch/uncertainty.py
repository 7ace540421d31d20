"""Per-curve uncertainties and statistics of a batch fit, defined as a single fit's.

For the curves that end normally (converged or stopped by a limit or a
cancel, every free parameter strictly inside its bounds, a well conditioned
J) everything follows from what the solver keeps per curve, the sum of
squares S and the normal matrix A = J^T J at the accepted point, with no
further model evaluation:

* covariance s2 (J^T J)^-1, s2 = 1 for absolute sigma, else S/dof, from a
  Cholesky factor of A with its columns scaled by powers of two (as
  :func:`~lsqfit_app.core.statistics.column_scale`); the inverse is used
  when the conditioning bound of :func:`~lsqfit_app.core.statistics.curvature_of_r`
  shows the normal equations lose no digits that matter (bound * eps < 1e-8,
  so the errors are right to better than 1e-8 relative);
* intervals with the normal quantile for absolute sigma, Student's t with
  dof degrees of freedom otherwise (:func:`~lsqfit_app.core.statistics.interval_quantile`);
* SSE, RMSE, R^2, AIC, AICc, BIC, chi^2 from
  :func:`~lsqfit_app.core.statistics.fit_criteria` on arrays of curves.

Every other curve (a parameter at a bound, a singular or ill-conditioned J,
a non-finite model) is handed to the single fit's own code at its values
(``engine.single_result``), which gives its notes, ranks and NaNs exactly
as a single fit would.
"""
from __future__ import annotations

import functools

import numpy as np

from lsqfit_app.batch.evaluate import batch_rows
from lsqfit_app.batch.linalg import cholesky, cholesky_inverse
from lsqfit_app.core.result import FitStatus
from lsqfit_app.core.statistics import curve_sums, fit_criteria, has_intercept, \
    interval_quantile

_EPS = float(np.finfo(float).eps)
_AT_BOUND_RTOL = 1e-8
#: bound * eps below this: the normal equations give the covariance to ~1e-8
_NORMAL_EQUATIONS_LIMIT = 1e-8


def _at_bound(values, lo, hi):
    near_lo = np.isfinite(lo) & (np.abs(values - lo) <= _AT_BOUND_RTOL * np.maximum(1.0, np.abs(lo)))
    near_hi = np.isfinite(hi) & (np.abs(values - hi) <= _AT_BOUND_RTOL * np.maximum(1.0, np.abs(hi)))
    return near_lo | near_hi


def _centered(setup, P, rows):
    """R^2 centred?  As the single fit decides: always for a model that is not
    affine; otherwise when its unweighted columns (and f(0)) span the constant."""
    out = np.ones(P.shape[0], dtype=bool)
    model, cs = setup.model, setup.curves
    if not model.is_linear:
        return out
    for i in rows.tolist():
        n = int(cs.lengths[i])
        X = {k: v[i:i + 1, :n] for k, v in cs.x.items()}
        used = cs.used[i, :n]
        _, J = batch_rows(model, P[i:i + 1], X)
        g0, _ = batch_rows(model, np.zeros((1, P.shape[1])), X)
        cols = J[:, 0, used].T
        if np.any(g0[0, used]):
            cols = np.column_stack([cols, g0[0, used]])
        out[i] = has_intercept(cols) if np.isfinite(cols).all() else True
    return out


@functools.lru_cache(maxsize=256)
def _message(key, detail=""):
    from lsqfit_app.solvers import MESSAGES

    status, text = MESSAGES.get(key, MESSAGES["not_converged"])
    if detail and status is not FitStatus.CONVERGED:
        text = f"{text} ({detail})"
    return status, text


def statistics(setup, P, S, A, status, iterations, evaluations, P0, refused) -> dict:
    from lsqfit_app.batch import engine as e

    cs, free = setup.curves, setup.free_idx
    K, p = P.shape
    q = free.size
    n_used = cs.n_used
    theta = P[:, free]
    at_bound = _at_bound(theta, np.where(np.isfinite(setup.lower), setup.lower, setup.hint_lo),
                         np.where(np.isfinite(setup.upper), setup.upper, setup.hint_hi))
    normal = np.isin(status, (e.CONVERGED, e.MAX_IT, e.MAX_EV, e.CANCELLED, e.HINTS))
    normal &= np.isfinite(S) & np.isfinite(A).all(axis=(1, 2)) & ~at_bound.any(axis=1)

    # covariance (J^T J)^-1 of the regular curves from the scaled normal matrix
    cov = np.full((K, q, q), np.nan)
    if q and normal.any():
        An = A[normal]
        scale = np.ldexp(1.0, np.frexp(np.sqrt(np.einsum("kii->ki", An)))[1])
        As = An / (scale[:, :, None] * scale[:, None, :])
        L, ok = cholesky(As)
        covs = cholesky_inverse(np.where(ok[:, None, None], L, np.eye(q)))
        bound = 4.0 * q * np.einsum("kii,kii->k", As, covs)
        ok &= np.isfinite(bound) & (bound * _EPS < _NORMAL_EQUATIONS_LIMIT)
        rows = np.flatnonzero(normal)
        cov[rows[ok]] = (covs / (scale[:, :, None] * scale[:, None, :]))[ok]
        normal[rows[~ok]] = False
    dof = n_used - q
    sse = S.copy()
    centered = _centered(setup, P, np.flatnonzero(normal))
    sums = curve_sums(cs.y, None if not _weighted(setup) else setup.W ** 2, cs.used,
                      _sigma(setup), setup.absolute, setup.weighting != "none")
    sst = np.where(centered, sums["sst_centered"], sums["sst_uncentered"])
    gof = fit_criteria(n_used, np.full(K, q), sse, sst, centered, setup.absolute,
                       setup.weighting != "none", sums["log_sigma2"], sums["log_w"])
    s2 = np.ones(K) if setup.absolute else np.where(dof > 0, sse / np.maximum(dof, 1), np.nan)
    var = np.einsum("kii->ki", cov) * s2[:, None]
    se_free = np.where(var >= 0, np.sqrt(np.abs(var)), np.nan)
    if not setup.absolute:
        se_free[dof <= 0] = np.nan
    tq = _quantiles(dof, setup.absolute)
    values = P.copy()
    stderrs = np.zeros((K, p))
    stderrs[:, free] = se_free
    ci_low = values.copy()
    ci_high = values.copy()
    good = np.isfinite(se_free) & (se_free > 0)
    half = tq[:, None] * se_free
    ci_low[:, free] = np.where(good, theta - half, np.nan)
    ci_high[:, free] = np.where(good, theta + half, np.nan)

    out = {key: np.asarray(gof[key], dtype=float) for key in
           ("sse", "rmse", "r_squared", "adj_r_squared", "aic", "aicc", "bic",
            "chi_squared", "reduced_chi_squared")}
    out_dof = dof.astype(np.int64)
    statuses, messages = [], []
    details = _details(setup, theta, status)
    keys = [e.KEYS[c] for c in status.tolist()]
    regular = normal.tolist()
    for i in range(K):
        key = keys[i]
        if key == "refused":
            statuses.append(FitStatus.FAILED)
            messages.append(refused.get(i, "the curve could not be fitted"))
            stderrs[i] = ci_low[i] = ci_high[i] = np.nan
            for name in out:
                out[name][i] = np.nan
            continue
        st, msg = _message(key, details.get(i, ""))
        statuses.append(st)
        messages.append(msg)
        if regular[i]:
            continue
        try:
            res = e.single_result(setup.model, cs, i, setup.settings, setup.weighting, P[i],
                                  P0[i], key, msg, int(iterations[i]), int(evaluations[i]),
                                  setup.options)
        except Exception:   # the curve keeps NaN statistics; its status says why
            stderrs[i, free] = ci_low[i, free] = ci_high[i, free] = np.nan
            continue
        stderrs[i] = res.stderrs
        ci_low[i] = [c[0] for c in (pp.ci95 for pp in res.parameters)]
        ci_high[i] = [c[1] for c in (pp.ci95 for pp in res.parameters)]
        st_ = res.statistics
        out_dof[i] = st_.dof
        for name in out:
            v = getattr(st_, name)
            out[name][i] = np.nan if v is None else v
    conv = np.array([s is FitStatus.CONVERGED for s in statuses], dtype=bool)
    return dict(values=values, stderrs=stderrs, ci_low=ci_low, ci_high=ci_high,
                status=tuple(statuses), messages=tuple(messages), n_used=n_used,
                dof=out_dof, converged=conv, **out)


def _quantiles(dof, absolute):
    uniq, inv = np.unique(dof, return_inverse=True)
    return np.array([interval_quantile(int(d), absolute) for d in uniq.tolist()])[inv]


def _weighted(setup):
    return setup.weighting != "none"


def _sigma(setup):
    if not setup.absolute:
        return None
    with np.errstate(divide="ignore"):
        return np.where(setup.curves.used, 1.0 / np.where(setup.W > 0, setup.W, 1.0), 1.0)


def _details(setup, theta, status) -> dict[int, str]:
    """Words for the curves that did not converge, as the single LM gives them."""
    from lsqfit_app.batch import engine as e

    names = [setup.settings[i].name for i in setup.free_idx.tolist()]
    out = {}
    for i in np.flatnonzero(status == e.HINTS).tolist():
        where = []
        for k, name in enumerate(names):
            v, lo, hi = float(theta[i, k]), float(setup.hint_lo[k]), float(setup.hint_hi[k])
            if lo < v < hi:
                continue
            side, bound = ("min", lo) if not v > lo else ("max", hi)
            relation = "at" if v == bound else ("below" if side == "min" else "above")
            where.append(f"{name} = {v:.6g} is {relation} its {side} {bound:g}")
        out[i] = "; ".join(where)
    for i in np.flatnonzero(status == e.MAX_EV).tolist():
        out[i] = "the number of function evaluations reached its limit"
    for i in np.flatnonzero(status == e.BAD_START).tolist():
        out[i] = "the model or its derivatives are NaN or infinite at the start values"
    return out
