"""Confidence and prediction bands of a fitted curve (delta method).

At a point x0 with gradient g = df/dp (free parameters, at the estimate)
the variance of the fitted value is g^T C g, C the parameter covariance
(already scaled when sigma is not absolute).  The bands are

    confidence:  f(x0) +- q * sqrt(g^T C g)
    prediction:  f(x0) +- q * sqrt(g^T C g + s2 * sigma0^2)

with q the quantile the parameter intervals use (normal for absolute sigma,
Student's t with dof degrees of freedom otherwise:
``statistics.interval_quantile``), s2 the variance of one observation in
units of its sigma^2 (``FitStatistics.variance_factor``: 1 for absolute
sigma, SSE/dof when scaled, the robust scale^2 under a robust loss), and
sigma0 the sigma of a new observation at x0 (:func:`new_sigma`):

- unweighted fits: 1, so the added variance is the residual variance s^2;
- at the fit's own rows: each row's own sigma_i (the sigma column, the
  Poisson sqrt(max(y_i, 1)) or the relative |y_i| the fit weighted it by);
- elsewhere: Poisson sqrt(max(f(x0), 1)) (a count's variance is its mean),
  relative |f(x0)|, and for a sigma column the rows' sigma interpolated
  linearly in x (one predictor; the median sigma with several).

:func:`prediction_variance` names which of these a band adds, in words, for
exports and reports.  Parameters without a covariance (at a bound,
undetermined) give NaN bands rather than misleadingly narrow ones.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lsqfit_app.core.statistics import interval_quantile
from lsqfit_app.core.model import as_predictors


def fitted_curve(result, x) -> np.ndarray:
    """The model at x with the fitted parameters."""
    xs = as_predictors(x, result.model.independent_vars)
    with np.errstate(all="ignore"):
        return result.model.eval(result.values, xs)


def _predictors(result, x) -> dict[str, np.ndarray]:
    model = result.model
    if isinstance(x, Mapping):
        return {k: np.asarray(x[k], dtype=float) for k in model.independent_vars}
    return as_predictors(x, model.independent_vars)


def at_data_rows(result, x) -> bool:
    """Are the predictors ``x`` the fit's own rows (so each row's sigma applies)?"""
    data = getattr(result, "data_x", None)
    if data is None:
        return False
    xs = _predictors(result, x)
    for name in result.model.independent_vars:
        a, b = xs.get(name), data.get(name)
        if b is None or a is None:
            return False
        if a is not b and (a.shape != b.shape or not np.array_equal(a, b, equal_nan=True)):
            return False
    return True


def new_sigma(result, x, fitted: np.ndarray | None = None) -> np.ndarray | float:
    """sigma0 of a new observation at x (module docstring); 1 when unweighted."""
    if not result.statistics.weighted or result.row_sigma is None:
        return 1.0
    if at_data_rows(result, x):
        return np.asarray(result.row_sigma, dtype=float)
    if fitted is None:
        fitted = fitted_curve(result, x)
    if result.weighting == "poisson":
        return np.sqrt(np.maximum(fitted, 1.0))
    if result.weighting == "relative":
        return np.abs(fitted)
    used = np.asarray(result.used, dtype=bool)
    everything = bool(used.all())    # the usual case: no copy of every row for the mask
    sig = np.asarray(result.row_sigma, dtype=float)
    if not everything:
        sig = sig[used]
    names = result.model.independent_vars
    if len(names) == 1 and result.data_x is not None:
        xd = np.asarray(result.data_x[names[0]], dtype=float)
        if not everything:
            xd = xd[used]
        x0 = _predictors(result, x)[names[0]]
        if xd.size > 1 and not bool(np.all(xd[1:] >= xd[:-1])):
            # np.interp needs increasing x; data as measured is often sorted already,
            # and a sort of a million rows copies both columns
            order = np.argsort(xd, kind="stable")
            xd, sig = xd[order], sig[order]
        return np.interp(x0, xd, sig)
    return float(np.median(sig)) if sig.size else 1.0


def prediction_variance(result, x=None) -> str:
    """What a prediction band at x adds to the fitted value's variance, in words.

    ``x`` None: at the fit's own rows.  One of "residual variance s²",
    "each row's own sigma²", "s² × each row's own sigma²", "Poisson variance
    max(f, 1)", "s² × f² (relative weights)", "sigma² interpolated between
    the rows", "median sigma² of the rows", each with " (robust s²)" under a
    robust loss where s² enters.
    """
    s = result.statistics
    robust = " (robust s²)" if result.loss != "linear" else ""
    if not s.weighted or result.row_sigma is None:
        return "residual variance s²" + robust
    rows = x is None or at_data_rows(result, x)
    scaled = not s.absolute_sigma
    if rows:
        return ("s² × each row's own sigma²" + robust) if scaled else "each row's own sigma²"
    if result.weighting == "poisson":
        return "Poisson variance max(f, 1)"
    if result.weighting == "relative":
        return "s² × f² (relative weights)" + robust
    if len(result.model.independent_vars) == 1 and result.data_x is not None:
        return "sigma² interpolated between the rows"
    return "median sigma² of the rows"


def band(result, x, *, kind: str = "confidence", level: float = 0.95,
         sigma_new: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fitted, lower, upper) at x for a FitResult.

    ``sigma_new`` overrides sigma0 of the prediction band (:func:`new_sigma`).
    """
    if kind not in ("confidence", "prediction"):
        raise ValueError(f"kind must be 'confidence' or 'prediction', not {kind!r}")
    model = result.model
    xs = _predictors(result, x)
    with np.errstate(all="ignore"):
        f, J = model.eval_and_jacobian(result.values, xs)
    cov = np.asarray(result.covariance, dtype=float)
    free = np.array([not p.fixed for p in result.parameters])
    C = cov[np.ix_(free, free)]
    G = J[:, free]
    with np.errstate(all="ignore"):
        var = np.einsum("ij,jk,ik->i", G, C, G) if G.size else np.zeros(f.shape)
    s = result.statistics
    tq = interval_quantile(s.dof, s.absolute_sigma, level)
    if kind == "prediction":
        s2 = s.variance_factor
        if sigma_new is None:
            sigma_new = new_sigma(result, xs, f)
        with np.errstate(all="ignore"):
            var = var + s2 * np.asarray(sigma_new, dtype=float) ** 2
    with np.errstate(all="ignore"):
        half = tq * np.sqrt(var)
    return f, f - half, f + half
