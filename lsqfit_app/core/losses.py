"""Robust loss functions rho(z) of the squared residual z = (r / f_scale)**2.

The objective is ``f_scale**2 * sum(rho(r_i**2 / f_scale**2))``; with the
linear loss this is the ordinary sum of squares.  The definitions match
scipy.optimize.least_squares so every solver (ours and scipy's TRF) minimises
the same function:

    linear   rho(z) = z
    huber    rho(z) = z                        if z <= 1, else 2*sqrt(z) - 1
    soft_l1  rho(z) = 2*(sqrt(1 + z) - 1)
    cauchy   rho(z) = log(1 + z)
    arctan   rho(z) = arctan(z)

Each entry also gives rho'(z), used for gradients.  In terms of one
residual r the estimating equation is sum psi(r_i) dr_i/dtheta = 0 with

    psi(r) = rho'(z) * r,     z = (r / f_scale)**2

(Huber: psi(r) = r inside |r| <= f_scale, f_scale * sign(r) outside; f_scale
is the tuning constant in the units of the weighted residuals).

Covariance under a robust loss (:func:`covariance_factor`).  The asymptotic
covariance of an M-estimator (Huber 1981, *Robust Statistics*, sections 6.2
and 7.6; Huber & Ronchetti 2009, eq. 7.81) is the sandwich

    C = (J^T D J)^-1 (J^T Psi^2 J) (J^T D J)^-1,  D = psi'(r), Psi = psi(r),

which, with the expectations of psi'(r) and psi(r)^2 taken over the error
distribution rather than per point, reduces to Huber's form

    C = E[psi^2] / E[psi']^2 * (J^T J)^-1

(statsmodels RLM's covariance "H1" without its small-sample factor K^2).
The expectations are taken under the Gaussian error model at a robust scale
s: r ~ N(0, s^2), s = 1 when sigma is absolute, otherwise Huber's proposal 2
scale of the residuals (:func:`robust_scale`, with the same degrees-of-
freedom correction as the residual variance; statsmodels' HuberScale).  E[psi'] is computed as E[r psi(r)] / s^2 (Stein's
identity: no derivative of psi, so Huber's kink needs no special case).

Why not the per-point averages (sum psi^2 / (n - p), sum psi' / n): each
gross outlier then adds its saturated psi^2 = f_scale^2 to the "noise" as if
it were scatter, although it moves the estimate by a fixed amount and adds
no sampling variance.  Measured on a line of 50 points with 3 gross
outliers (200 seeded replicates), the averages give 2.4-5x the Monte Carlo
SD of the slope when f_scale is 10-20x the scatter (scipy's default
f_scale = 1 on data with scatter 0.05-0.1); the model expectations give
0.9-1.35x (median over replicates) for every loss and f_scale from 0.1x
to 20x the scatter (the 1.35 where f_scale is 10x the scatter: the
outliers then pull the line, and the residuals' scatter includes that).  (Below
f_scale ~ 0.5x the scatter the redescending cauchy and arctan estimators
are themselves unstable, and no formula describes them well.)
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from lsqfit_app.core.errors import InputError


def _linear(z):
    return z, np.ones_like(z)


def _huber(z):
    small = z <= 1
    sq = np.sqrt(np.where(small, 1.0, z))
    rho = np.where(small, z, 2 * sq - 1)
    drho = np.where(small, 1.0, 1.0 / sq)
    return rho, drho


def _soft_l1(z):
    t = np.sqrt(1 + z)
    return 2 * (t - 1), 1.0 / t


def _cauchy(z):
    return np.log1p(z), 1.0 / (1 + z)


def _arctan(z):
    return np.arctan(z), 1.0 / (1 + z * z)


LOSSES = {
    "linear": _linear,
    "huber": _huber,
    "soft_l1": _soft_l1,
    "cauchy": _cauchy,
    "arctan": _arctan,
}


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return name


def loss_objective(residuals: np.ndarray, loss: str = "linear", f_scale: float = 1.0) -> float:
    """The objective value for weighted residuals under a loss."""
    if loss == "linear":
        return float(np.dot(residuals, residuals))   # BLAS: raises no floating-point warnings
    z = (residuals / f_scale) ** 2
    rho, _ = LOSSES[loss](z)
    return float(f_scale**2 * np.sum(rho))


def loss_terms(residuals: np.ndarray, loss: str, f_scale: float = 1.0):
    """rho and rho' at z = (r/f_scale)**2 (rho' needed by gradients)."""
    z = (residuals / f_scale) ** 2
    return LOSSES[loss](z)


def psi(residuals: np.ndarray, loss: str, f_scale: float = 1.0) -> np.ndarray:
    """The influence function psi(r) = rho'(z) r of each residual."""
    return loss_terms(residuals, loss, f_scale)[1] * residuals


#: points of each half of the quadrature grid of :func:`psi_moments`
_GRID = 2001
#: numpy >= 2 name of the trapezoid rule (``trapz`` before)
_trapezoid = getattr(np, "trapezoid", None) or np.trapz


def psi_moments(loss: str, f_scale: float, scale: float) -> tuple[float, float]:
    """(E[psi(r)^2], E[psi'(r)]) for r ~ N(0, scale^2).

    By the trapezoid rule on r >= 0 (both integrands are even), on the union
    of a grid over 12 standard deviations and one over 40 f_scale, so that
    both the Gaussian and the loss's own features (of width f_scale) are
    resolved whatever their ratio; E[psi'] = E[r psi(r)] / scale^2.
    """
    if not (math.isfinite(scale) and scale > 0):
        return math.nan, math.nan
    if loss == "linear":
        return scale * scale, 1.0
    r = np.union1d(np.linspace(0.0, min(12.0 * scale, 40.0 * f_scale), _GRID),
                   np.linspace(0.0, 12.0 * scale, _GRID))
    density = np.exp(-0.5 * (r / scale) ** 2) * (2.0 / (scale * math.sqrt(2.0 * math.pi)))
    ps = psi(r, loss, f_scale)
    e_psi2 = float(_trapezoid(density * ps * ps, r))
    e_dpsi = float(_trapezoid(density * ps * r, r)) / (scale * scale)
    return e_psi2, e_dpsi


#: Huber's proposal 2 clips standardised residuals at this c (Huber 1981, 6.4)
SCALE_C = 1.5
#: E[min(u^2, c^2)] for u ~ N(0, 1) at c = SCALE_C: the scale's consistency constant
_SCALE_BETA = float((2 * ndtr(SCALE_C) - 1) - 2 * SCALE_C * math.exp(-SCALE_C**2 / 2)
                    / math.sqrt(2 * math.pi) + SCALE_C**2 * 2 * ndtr(-SCALE_C))


def robust_scale(residuals: np.ndarray, n_params: int) -> float:
    """Huber's proposal 2 scale of residuals (normal-consistent, dof-corrected).

    s solves sum min((r_i/s)^2, c^2) = (n - p) E[min(u^2, c^2)], c = 1.5,
    by its fixed-point iteration from the MAD scale 1.4826 median|r|
    sqrt(n/(n-p)) (about zero: a fit's residuals are centred by the model).
    Outliers count at most c^2 each; the scale is about twice as efficient as
    the MAD (a line with 3 outliers in 50 points: the errors it gives range
    0.7-1.7x the Monte Carlo SD over replicates, the MAD's 0.5-1.8x).  When
    more than half the residuals are exactly zero the mean absolute residual
    starts it; 0 only for an exact fit.
    """
    r = np.asarray(residuals, dtype=float)
    n = r.size
    dof = n - n_params
    if n == 0 or dof <= 0 or not np.isfinite(r).all():
        return math.nan
    a = np.abs(r)
    s = 1.482602218505602 * float(np.median(a))
    if s == 0.0:
        s = math.sqrt(math.pi / 2.0) * float(np.mean(a))
    s *= math.sqrt(n / dof)
    if s == 0.0:
        return 0.0
    target = dof * _SCALE_BETA
    for _ in range(100):
        u = np.clip(r / s, -SCALE_C, SCALE_C)
        s_new = s * math.sqrt(float(u @ u) / target)
        done = abs(s_new - s) <= 1e-12 * s
        s = s_new
        if done:
            break
    return s


def covariance_factor(residuals: np.ndarray, loss: str, f_scale: float, n_params: int,
                      absolute_sigma: bool) -> tuple[float, float, str]:
    """(factor on (J^T J)^-1, scale s, note) for the covariance under ``loss``.

    factor = E[psi^2] / E[psi']^2 at r ~ N(0, s^2) (module docstring); the
    note is empty, or says why there is no factor (NaN).
    """
    s = 1.0 if absolute_sigma else robust_scale(residuals, n_params)
    if not math.isfinite(s):
        return math.nan, s, "the robust scale of the residuals is not defined"
    if s == 0.0:
        return 0.0, 0.0, ""     # an exact fit: no scatter, as with the linear loss
    e_psi2, e_dpsi = psi_moments(loss, f_scale, s)
    if not (e_dpsi > 0 and math.isfinite(e_psi2)):
        return math.nan, s, f"the {loss} loss gives no curvature at this residual scale"
    return e_psi2 / (e_dpsi * e_dpsi), s, ""
