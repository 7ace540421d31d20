"""Sigmoids and saturation curves: four-parameter logistic, Hill, Michaelis-Menten.

Start values
------------
* logistic4: plateaus from the ends, then a straight-line fit of the logit of
  the points between 10 % and 90 % of the rise.
* hill, michaelis_menten: a variable projection scan
  (:func:`~lsqfit_app.models.guesses.scan`) over k and n (km), vmax solved in
  closed form at each grid point.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from lsqfit_app.core.model import ParamHint
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.models.guesses import poly_fit, scan, smooth, x_span
from lsqfit_app.models.library import POSITIVE, LibraryModel


def _levels(y: np.ndarray) -> tuple[float, float]:
    """Mean of the first and of the last ~10 % of sorted data (the plateaus)."""
    k = max(1, y.size // 10)
    return float(y[:k].mean()), float(y[-k:].mean())


class Logistic4Model(LibraryModel):
    """Four-parameter logistic ``bottom + (top-bottom)/(1 + exp(-slope*(x-x50)))``."""

    name = "logistic4"
    formula = "bottom + (top-bottom)/(1 + exp(-slope*(x-x50)))"
    param_names = ("bottom", "top", "x50", "slope")
    description = ("four-parameter logistic (4PL) sigmoid in x; for dose-response data use "
                   "x = log10(dose), then x50 = log10(EC50)")
    _hints = {"bottom": ParamHint(description="plateau for slope*x -> -infinity"),
              "top": ParamHint(description="plateau for slope*x -> +infinity"),
              "x50": ParamHint(description="midpoint: y is half-way between bottom and top"),
              "slope": ParamHint(
                  description="steepness; y rises with x when slope*(top-bottom) > 0")}
    _linear = frozenset({"bottom", "top"})
    _defaults = {"bottom": 0.0, "top": 1.0, "x50": 0.0, "slope": 1.0}
    _shape = staticmethod(ls.logistic4)
    _shape_jac = staticmethod(ls.logistic4_and_jacobian)

    def _guess(self, x, y):
        span = x_span(x)
        left, right = _levels(smooth(y))
        rising = right >= left
        bottom, top = (left, right) if rising else (right, left)
        slope_sign = 1.0 if rising else -1.0
        if top - bottom <= 0:
            return {"bottom": bottom, "top": bottom + 1.0, "x50": float(np.median(x)),
                    "slope": 4.0 / span}
        frac = (y - bottom) / (top - bottom)
        if not rising:
            frac = 1.0 - frac
        mid = (frac > 0.1) & (frac < 0.9)
        if np.count_nonzero(mid) >= 2 and np.ptp(x[mid]) > 0:
            b, k = poly_fit(x[mid], np.log(frac[mid] / (1.0 - frac[mid])), 1)
            if k > 0:
                return {"bottom": bottom, "top": top, "x50": -b / k, "slope": slope_sign * k}
        # Too few points on the rise: the midpoint crossing and a rise over ~1/4 of the range.
        i = int(np.argmin(np.abs(frac - 0.5)))
        return {"bottom": bottom, "top": top, "x50": float(x[i]), "slope": slope_sign * 16.0 / span}


class HillModel(LibraryModel):
    """Hill equation ``vmax*x**n/(k**n + x**n)`` (x >= 0)."""

    name = "hill"
    formula = "vmax*x**n/(k**n + x**n)"
    param_names = ("vmax", "k", "n")
    description = ("Hill equation (cooperative binding); vmax is the plateau, k the x of "
                   "half-maximal response, n the Hill coefficient; x >= 0")
    _hints = {"vmax": ParamHint(description="maximal response (plateau for large x)"),
              "k": ParamHint(min=POSITIVE, description="x at half-maximal response"),
              "n": ParamHint(description="Hill coefficient (steepness; > 1 cooperative)")}
    _linear = frozenset({"vmax"})
    _defaults = {"vmax": 1.0, "k": 1.0, "n": 1.0}
    _shape = staticmethod(ls.hill)
    _shape_jac = staticmethod(ls.hill_and_jacobian)

    def _guess(self, x, y):
        pos = x > 0
        if np.count_nonzero(pos) < 2:
            return {"vmax": float(np.max(np.abs(y))) or 1.0, "k": x_span(x) / 2, "n": 1.0}
        xp = x[pos]
        ks = np.geomspace(xp[0] / 3.0, xp[-1] * 3.0, 28)
        ns = np.array([-4.0, -2.0, -1.0, -0.5, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
        with np.errstate(divide="ignore"):
            lx = np.log(x)
        t = ns[:, None, None] * (lx[None, None, :] - np.log(ks)[None, :, None])
        h = expit(t).reshape(-1, 1, x.size)
        best, (vmax,), _ = scan(h, y)
        return {"vmax": vmax, "k": float(ks[best % ks.size]), "n": float(ns[best // ks.size])}


class MichaelisMentenModel(LibraryModel):
    """Michaelis-Menten ``vmax*x/(km + x)``."""

    name = "michaelis_menten"
    formula = "vmax*x/(km + x)"
    param_names = ("vmax", "km")
    description = "Michaelis-Menten kinetics; vmax the limiting rate, km the half-saturation x"
    _hints = {"vmax": ParamHint(description="limiting rate for large x"),
              "km": ParamHint(min=POSITIVE, description="Michaelis constant: x at vmax/2")}
    _linear = frozenset({"vmax"})
    _defaults = {"vmax": 1.0, "km": 1.0}
    _shape = staticmethod(ls.michaelis_menten)
    _shape_jac = staticmethod(ls.michaelis_menten_and_jacobian)

    def _guess(self, x, y):
        pos = x[x > 0]
        lo = pos[0] / 10.0 if pos.size else x_span(x) / 100.0
        hi = max(float(x[-1]), lo) * 10.0
        kms = np.geomspace(lo, hi, 40)
        h = (x / np.add.outer(kms, x)).reshape(-1, 1, x.size)
        best, (vmax,), _ = scan(h, y)
        return {"vmax": vmax, "km": float(kms[best])}
