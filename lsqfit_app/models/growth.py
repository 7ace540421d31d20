"""Growth and decay: exponentials, a power law and a logarithm.

Start values
------------
* exp_decay, exp_growth, double_exp_decay: a variable projection scan
  (:func:`~lsqfit_app.models.guesses.scan`) over a log-spaced grid of time
  constants (pairs of them for the double decay), the amplitudes and the
  offset solved in closed form at each grid point.
* power_law: a straight line in log|y| against log x.
* logarithmic: linear least squares with log(x) as the regressor, which is the
  solution.
"""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.model import ParamHint
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.models.guesses import poly_fit, safe_exp, scan, x_span
from lsqfit_app.models.library import POSITIVE, LibraryModel


def _tau_grid(span: float, count: int = 32) -> np.ndarray:
    return span * np.logspace(-2.0, 1.3, count)


def _exp_scan(x: np.ndarray, y: np.ndarray, sign: float) -> tuple[float, float, float]:
    """Best (amplitude, tau, offset) of amplitude*exp(sign*x/tau) + offset on a tau grid.

    x is shifted to the end where the exponential is 1 at the reference point
    (the start for a decay, the end for a growth) so the columns stay O(1).
    """
    span = x_span(x)
    if x.size < 3:
        return (float(y[0] - y[-1]) if x.size > 1 else 0.0), span, float(y[-1])
    taus = _tau_grid(span)
    x_ref = float(x[0] if sign < 0 else x[-1])
    e = np.exp(sign * np.outer(1.0 / taus, x - x_ref))
    bases = np.stack([e, np.ones_like(e)], axis=1)
    best, (a, offset), _ = scan(bases, y)
    tau = float(taus[best])
    return a * safe_exp(-sign * x_ref / tau), tau, float(offset)


class ExpDecayModel(LibraryModel):
    """Exponential decay ``amplitude*exp(-x/tau) + offset``."""

    name = "exp_decay"
    formula = "amplitude*exp(-x/tau) + offset"
    param_names = ("amplitude", "tau", "offset")
    description = "exponential decay to an offset; amplitude is the value above offset at x = 0"
    kind = "baseline"
    _hints = {"amplitude": ParamHint(description="y - offset at x = 0"),
              "tau": ParamHint(min=POSITIVE, description="decay time (1/e time), in x units"),
              "offset": ParamHint(description="limit of y for large x")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "tau": 1.0, "offset": 0.0}
    _shape = staticmethod(ls.exp_decay)
    _shape_jac = staticmethod(ls.exp_decay_and_jacobian)

    def _guess(self, x, y):
        a, tau, c = _exp_scan(x, y, -1.0)
        return {"amplitude": a, "tau": tau, "offset": c}


class ExpGrowthModel(LibraryModel):
    """Exponential growth ``amplitude*exp(x/tau) + offset``."""

    name = "exp_growth"
    formula = "amplitude*exp(x/tau) + offset"
    param_names = ("amplitude", "tau", "offset")
    description = "exponential growth from an offset; amplitude is the value above offset at x = 0"
    _hints = {"amplitude": ParamHint(description="y - offset at x = 0"),
              "tau": ParamHint(min=POSITIVE, description="e-folding (growth) time, in x units"),
              "offset": ParamHint(description="limit of y for x -> -infinity")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "tau": 1.0, "offset": 0.0}
    _shape = staticmethod(ls.exp_growth)
    _shape_jac = staticmethod(ls.exp_growth_and_jacobian)

    def _guess(self, x, y):
        a, tau, c = _exp_scan(x, y, 1.0)
        return {"amplitude": a, "tau": tau, "offset": c}


class DoubleExpDecayModel(LibraryModel):
    """Sum of two decays ``amplitude1*exp(-x/tau1) + amplitude2*exp(-x/tau2) + offset``."""

    name = "double_exp_decay"
    formula = "amplitude1*exp(-x/tau1) + amplitude2*exp(-x/tau2) + offset"
    param_names = ("amplitude1", "tau1", "amplitude2", "tau2", "offset")
    description = "two exponential decays and an offset; the guess puts the faster one first"
    _hints = {"amplitude1": ParamHint(description="amplitude of the first (fast) decay at x = 0"),
              "tau1": ParamHint(min=POSITIVE, description="first (fast) decay time"),
              "amplitude2": ParamHint(description="amplitude of the second (slow) decay at x = 0"),
              "tau2": ParamHint(min=POSITIVE, description="second (slow) decay time"),
              "offset": ParamHint(description="limit of y for large x")}
    _linear = frozenset({"amplitude1", "amplitude2", "offset"})
    _defaults = {"amplitude1": 1.0, "tau1": 1.0, "amplitude2": 1.0, "tau2": 10.0, "offset": 0.0}
    _shape = staticmethod(ls.double_exp_decay)
    _shape_jac = staticmethod(ls.double_exp_decay_and_jacobian)

    def _guess(self, x, y):
        span = x_span(x)
        if x.size < 5:
            a, tau, c = _exp_scan(x, y, -1.0)
            return {"amplitude1": 0.5 * a, "tau1": 0.5 * tau, "amplitude2": 0.5 * a,
                    "tau2": 2.0 * tau, "offset": c}
        taus = _tau_grid(span, 24)
        x0 = float(x[0])
        e = np.exp(-np.outer(1.0 / taus, x - x0))
        i, j = np.triu_indices(taus.size, k=1)
        # Pairs share the exponentials: only the (K, 3, n) stack of views is new.
        bases = np.stack([e[i], e[j], np.broadcast_to(1.0, (i.size, x.size))], axis=1)
        best, (a1, a2, c), _ = scan(bases, y)
        t1, t2 = float(taus[i[best]]), float(taus[j[best]])
        return {"amplitude1": a1 * safe_exp(x0 / t1), "tau1": t1,
                "amplitude2": a2 * safe_exp(x0 / t2), "tau2": t2, "offset": c}


class PowerLawModel(LibraryModel):
    """Power law ``amplitude*x**exponent`` (x > 0)."""

    name = "power_law"
    formula = "amplitude*x**exponent"
    param_names = ("amplitude", "exponent")
    description = "power law; defined for x > 0"
    _hints = {"amplitude": ParamHint(description="y at x = 1"),
              "exponent": ParamHint(description="power of x (slope in a log-log plot)")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "exponent": 1.0}
    _shape = staticmethod(ls.power_law)
    _shape_jac = staticmethod(ls.power_law_and_jacobian)

    def _guess(self, x, y):
        sign = 1.0 if np.sum(y > 0) >= np.sum(y < 0) else -1.0
        ok = (x > 0) & (sign * y > 0)
        if np.count_nonzero(ok) >= 2 and np.ptp(x[ok]) > 0:
            log_a, b = poly_fit(np.log(x[ok]), np.log(sign * y[ok]), 1)
            return {"amplitude": sign * math.exp(min(log_a, 700.0)), "exponent": b}
        return {"amplitude": float(np.mean(y)) or 1.0, "exponent": 1.0}


class LogarithmicModel(LibraryModel):
    """Logarithm ``slope*log(x) + intercept`` (natural log, x > 0)."""

    name = "logarithmic"
    formula = "slope*log(x) + intercept"
    param_names = ("slope", "intercept")
    description = "natural logarithm; slope is the change of y per factor e in x"
    _hints = {"slope": ParamHint(description="change of y per factor e in x"),
              "intercept": ParamHint(description="y at x = 1")}
    _linear = frozenset(param_names)
    _defaults = {"slope": 1.0, "intercept": 0.0}
    _max_points = None
    _shape = staticmethod(ls.logarithmic)
    _shape_jac = staticmethod(ls.logarithmic_and_jacobian)

    def _guess(self, x, y):
        ok = x > 0
        c = poly_fit(np.log(x[ok]), y[ok], 1) if ok.any() else (float(np.mean(y)), 1.0)
        return {"slope": c[1], "intercept": c[0]}
