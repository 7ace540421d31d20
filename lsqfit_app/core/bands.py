"""Confidence and prediction bands of a fitted curve (delta method).

At a new point x0 with gradient g = df/dp (free parameters, at the estimate)
the variance of the fitted value is g^T C g, C the parameter covariance
(already scaled by s^2 when sigma is not absolute).  The bands are

    confidence:  f(x0) +- t * sqrt(g^T C g)
    prediction:  f(x0) +- t * sqrt(g^T C g + s2 * sigma0^2)

with t Student's quantile for dof degrees of freedom, s2 = 1 for absolute
sigma and SSE/dof otherwise, and sigma0 the standard deviation of a new
observation (1 for unweighted fits; for weighted fits pass it, otherwise the
median sigma of the data is used).  Parameters without a covariance (at a
bound, undetermined) give NaN bands rather than misleadingly narrow ones.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from lsqfit_app.core.statistics import t_quantile
from lsqfit_app.models.base import as_predictors


def fitted_curve(result, x) -> np.ndarray:
    """The model at x with the fitted parameters."""
    xs = as_predictors(x, result.model.independent_vars)
    with np.errstate(all="ignore"):
        return result.model.eval(result.values, xs)


def band(result, x, *, kind: str = "confidence", level: float = 0.95,
         sigma_new: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fitted, lower, upper) at x for a FitResult."""
    if kind not in ("confidence", "prediction"):
        raise ValueError(f"kind must be 'confidence' or 'prediction', not {kind!r}")
    model = result.model
    xs = as_predictors(x, model.independent_vars) if not isinstance(x, Mapping) else \
        {k: np.asarray(x[k], dtype=float) for k in model.independent_vars}
    with np.errstate(all="ignore"):
        f, J = model.eval_and_jacobian(result.values, xs)
    cov = np.asarray(result.covariance, dtype=float)
    free = np.array([not p.fixed for p in result.parameters])
    C = cov[np.ix_(free, free)]
    G = J[:, free]
    with np.errstate(all="ignore"):
        var = np.einsum("ij,jk,ik->i", G, C, G) if G.size else np.zeros(f.shape)
    s = result.statistics
    tq = t_quantile(s.dof, level)
    if kind == "prediction":
        s2 = 1.0 if s.absolute_sigma else (s.objective / s.dof if s.dof > 0 else math.nan)
        if sigma_new is None:
            sigma_new = 1.0
            if s.weighted:
                sig = np.abs(result.residuals / result.weighted_residuals)[result.used]
                sig = sig[np.isfinite(sig)]
                sigma_new = float(np.median(sig)) if sig.size else 1.0
        var = var + s2 * np.asarray(sigma_new, dtype=float) ** 2
    half = tq * np.sqrt(var)
    return f, f - half, f + half
