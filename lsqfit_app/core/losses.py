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

Each entry also gives rho'(z), used for gradients and for the IRLS weights
of the covariance under a robust loss.
"""
from __future__ import annotations

import numpy as np

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
