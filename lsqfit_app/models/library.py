"""Built-in models: the lineshapes of :mod:`lineshapes` with names, hints and start values.

Each model class adds to its lineshape what a fit needs besides the function:
the formula (in the formula language of the design, so a user can copy it and
edit it), a description per parameter, bound hints (widths > 0, fractions in
[0, 1]), the set of parameters the model is affine in, and :meth:`guess`, a
data-driven start so that ordinary data fits without any start value typed.

How the start values are found
------------------------------
* polynomials, line, logarithmic: linear least squares (x mapped to [-1, 1]
  as ``numpy.polynomial`` does; log(x) as the regressor), which is the solution.
* peaks: the extreme point of the lightly smoothed data is the height, the
  centroid of the points above half height the centre, the half-maximum
  crossings the width.
* exponentials, Michaelis-Menten, Hill, damped sine: a *variable projection
  scan*.  For each value on a log-spaced grid of the nonlinear parameters
  (time constants, km, k and n, the decay rate) the linear ones (amplitudes,
  offset, vmax) follow in closed form; the grid point of least squared error
  wins.  Unlike a log-linear fit this needs no offset estimate and survives
  noise, negative values and data that never reach their asymptote.
* sines: a floating-mean least-squares periodogram (generalised Lomb-Scargle,
  Zechmeister & Kuerster 2009), which handles unsorted, unevenly spaced x.
* logistic4: plateaus from the ends, then a straight-line fit of the logit of
  the points between 10 % and 90 % of the rise.
* power_law: a straight line in log|y| against log x.

Registry
--------
``LIBRARY`` maps each name to its class; :func:`get_library_model`,
:func:`list_library_models`, :func:`is_library_spec` and
:func:`library_model_from_spec` (which builds a :class:`SumModel` for
"gaussian+gaussian+line") are the entry points.

References
----------
M. Zechmeister, M. Kuerster, "The generalised Lomb-Scargle periodogram",
A&A 496, 577 (2009).
G. H. Golub, V. Pereyra, "Separable nonlinear least squares: the variable
projection method and its applications", Inverse Problems 19, R1 (2003).
"""
from __future__ import annotations

import difflib
import math
from typing import Callable, Mapping

import numpy as np
from scipy.special import expit

from lsqfit_app.core.ddarith import mul_dd
from lsqfit_app.core.errors import InputError
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.core.model import Model, ParamHint, as_predictors

#: lower bound hint of widths and time constants (strictly inside is enforced by guess)
_POSITIVE = 0.0
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
# Scans work on at most this many points: start values need the shape, not every point.
_SCAN_POINTS = 2000
# Above this many points a polynomial guess streams (see _poly_fit).
_STREAM_GUESS_POINTS = 1 << 16


# ------------------------------------------------------------------ helpers
def _x_of(x) -> np.ndarray:
    """The 'x' array of predictors; a plain dict of arrays is the hot path of solvers."""
    if type(x) is dict:
        v = x["x"]
        if type(v) is np.ndarray and v.dtype == np.float64:
            return v
    return as_predictors(x, ("x",))["x"]


def _floats(p) -> list[float]:
    return p.tolist() if type(p) is np.ndarray else [float(v) for v in p]


def _call(shape: Callable, x, p, **out):
    """A lineshape at parameters p, as Python floats (fast) or, on a zero
    division (a width of exactly 0), as numpy scalars, which give inf/NaN
    like any other overflow instead of raising.  ``out``: the Jacobian
    buffer, for shapes that take one."""
    xv = _x_of(x)
    try:
        return shape(xv, *_floats(p), **out)
    except ZeroDivisionError:
        return shape(xv, *np.asarray(p, dtype=float), **out)


def _takes_out(shape: Callable | None) -> bool:
    import inspect
    return shape is not None and "out" in inspect.signature(shape).parameters


def _prepare(x, y, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Finite (x, y) pairs sorted by x, optionally thinned evenly to ``max_points``."""
    xv = np.asarray(_x_of(x), dtype=float).ravel()
    yv = np.asarray(y, dtype=float).ravel()
    if xv.size != yv.size:
        raise InputError(f"x has {xv.size} values but y has {yv.size}")
    # x + y is finite exactly when both are (barring overflow, which is harmless here).
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.isfinite(xv + yv)
    if not ok.all():
        xv, yv = xv[ok], yv[ok]
    # Sorting unconditionally is cheaper than testing whether it is needed.
    order = np.argsort(xv, kind="stable")
    xv, yv = xv[order], yv[order]
    if max_points is not None and xv.size > max_points:
        idx = np.linspace(0, xv.size - 1, max_points).astype(int)
        xv, yv = xv[idx], yv[idx]
    return xv, yv


def _span(x: np.ndarray) -> float:
    span = float(x[-1] - x[0]) if x.size > 1 else 0.0
    if not span > 0:
        span = max(abs(float(x[0])) if x.size else 0.0, 1.0)
    return span


def _smooth(y: np.ndarray) -> np.ndarray:
    """A [1, 2, 1]/4 filter: enough to stop single noisy points from being the peak."""
    if y.size < 7:
        return y
    out = y.copy()
    out[1:-1] = 0.25 * (y[:-2] + y[2:]) + 0.5 * y[1:-1]
    return out


def _solve_batched(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve stacked small normal equations; singular ones get a tiny ridge."""
    m = gram.shape[-1]
    scale = np.einsum("kii->ki", gram).mean(axis=1)
    ridge = 1e-12 * np.where(scale > 0, scale, 1.0)
    gram = gram + ridge[:, None, None] * np.eye(m)
    try:
        return np.linalg.solve(gram, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("kij,kj->ki", np.linalg.pinv(gram), rhs)


def _scan(bases: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Least squares of y on each stack of columns ``bases[k]`` (shape (K, m, n)).

    Returns the index of the best stack, its coefficients and all K squared errors.
    """
    gram = np.einsum("kmn,kpn->kmp", bases, bases)
    rhs = bases @ y
    coef = _solve_batched(gram, rhs)
    sse = float(y @ y) - np.einsum("km,km->k", coef, rhs)
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = int(np.argmin(sse))
    return best, coef[best], sse


def _safe_exp(v: float) -> float:
    return math.exp(min(max(v, -700.0), 700.0))


def _finite(v, default: float) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _peak_features(x: np.ndarray, y: np.ndarray,
                   sign: float | None = None) -> tuple[float, float, float]:
    """(height, center, half width at half maximum) of the dominant peak of sorted data.

    The peak may point up or down: unless ``sign`` says which, the extreme
    further from the level at the two ends wins.  The centre is the midpoint
    of the half-maximum crossings (less noisy than the arg-max), the height
    the smoothed extreme.  Written for speed: a handful of numpy calls.
    """
    n = x.size
    if n == 0:
        return 1.0, 0.0, 1.0
    if n == 1:
        return float(y[0]), float(x[0]), 1.0
    ys = _smooth(y)
    i_max = int(ys.argmax())
    i_min = int(ys.argmin())
    if sign is None:
        ref = 0.5 * float(ys[0] + ys[-1])
        sign = 1.0 if float(ys[i_max]) - ref >= ref - float(ys[i_min]) else -1.0
    ip = i_max if sign > 0 else i_min
    height = float(ys[ip])
    half = 0.5 * height
    below = ys < half if sign > 0 else ys > half
    left = np.flatnonzero(below[:ip])
    right = np.flatnonzero(below[ip + 1:])
    xp = float(x[ip])
    x_left = x_right = None
    if left.size:
        i = int(left[-1])
        x_left = float(x[i] + (half - ys[i]) * (x[i + 1] - x[i]) / (ys[i + 1] - ys[i]))
    if right.size:
        j = ip + 1 + int(right[0])
        x_right = float(x[j - 1] + (half - ys[j - 1]) * (x[j] - x[j - 1]) / (ys[j] - ys[j - 1]))
    span = _span(x)
    center = xp
    if x_left is not None and x_right is not None:
        hwhm = 0.5 * (x_right - x_left)
        center = 0.5 * (x_right + x_left)
    elif x_left is not None:
        hwhm = xp - x_left
    elif x_right is not None:
        hwhm = x_right - xp
    else:
        hwhm = 0.25 * span
    min_width = span / (4.0 * n)
    if not hwhm > min_width:
        hwhm = min_width
    return height, center, hwhm


def _tau_grid(span: float, count: int = 32) -> np.ndarray:
    return span * np.logspace(-2.0, 1.3, count)


def _levels(y: np.ndarray) -> tuple[float, float]:
    """Mean of the first and of the last ~10 % of sorted data (the plateaus)."""
    k = max(1, y.size // 10)
    return float(y[:k].mean()), float(y[-k:].mean())


# ----------------------------------------------------------- the base class
class LibraryModel(Model):
    """A model made of a lineshape pair (value, value-and-Jacobian) plus metadata.

    Subclasses set the class attributes and implement :meth:`_guess`, which gets
    finite data sorted by x and returns a dict of start values; :meth:`guess`
    then replaces anything non-finite by a default and moves values inside the
    bound hints.
    """

    #: one-line description for model lists
    description: str = ""
    #: False when ``formula`` describes the function but cannot be evaluated
    formula_is_exact: bool = True
    #: "peak", "baseline" or "other": how a sum of models seeds its components
    kind: str = "other"
    _hints: dict[str, ParamHint] = {}
    _linear: frozenset[str] = frozenset()
    _defaults: dict[str, float] = {}
    _max_points: int | None = _SCAN_POINTS

    # The lineshape pair; staticmethod() in subclasses.
    _shape: Callable = None
    _shape_jac: Callable = None
    _jac_out: bool = False

    # Parameters go to the lineshapes as Python floats: arithmetic of numpy
    # scalars with arrays is measurably slower on the 100-point hot path.
    def eval(self, p, x):
        return _call(self._shape, x, p)

    def jacobian(self, p, x):
        return _call(self._shape_jac, x, p)[1]

    def eval_and_jacobian(self, p, x):
        return _call(self._shape_jac, x, p)

    def eval_and_jacobian_rows(self, p, x, rows):
        if self._jac_out:
            return _call(self._shape_jac, x, p, out=rows)[0]
        return super().eval_and_jacobian_rows(p, x, rows)

    def _make_kernel_plan(self):
        # the kernel of the lineshape's name, when it has one (not voigt: numba has no wofz)
        from lsqfit_app.models.kernels import KERNEL_NAMES, Plan
        name = getattr(self._shape, "__name__", None)
        if name not in KERNEL_NAMES or self.independent_vars != ("x",):
            return None
        return Plan(((name, 0, len(self.param_names)),), ())

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Can the lineshape pair build J^T in a caller's buffer?  A class with
        # its own eval_and_jacobian (the polynomials) does not use the pair.
        cls._jac_out = (cls.eval_and_jacobian is LibraryModel.eval_and_jacobian
                        and _takes_out(cls._shape_jac))

    def param_hints(self) -> dict[str, ParamHint]:
        return dict(self._hints)

    @property
    def linear_params(self) -> frozenset[str]:
        return self._linear

    def guess(self, x, y) -> dict[str, float]:
        xs, ys = _prepare(x, y, self._max_points)
        if xs.size == 0:
            values = {}
        else:
            with np.errstate(all="ignore"):
                values = self._guess(xs, ys)
        return self._finish(values)

    def _guess(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        raise NotImplementedError

    def _finish(self, values: Mapping[str, float]) -> dict[str, float]:
        """Finite floats inside the hints, in ``param_names`` order."""
        out = {}
        for name in self.param_names:
            v = _finite(values.get(name), self._defaults.get(name, 1.0))
            hint = self._hints.get(name)
            if hint is not None:
                lo, hi = hint.min, hint.max
                # Strictly inside: a width of exactly 0 is a division by zero.
                if v <= lo:
                    v = lo + (0.5 * (hi - lo) if math.isfinite(hi) else max(abs(lo) * 1e-3, 1e-8))
                elif v >= hi:
                    v = hi - (0.5 * (hi - lo) if math.isfinite(lo) else max(abs(hi) * 1e-3, 1e-8))
            out[name] = float(v)
        return out


# --------------------------------------------------------------- polynomials
class PolynomialModel(LibraryModel):
    """``c0 + c1*x + ... + cN*x**N``; use the registered classes poly0 ... poly10."""

    degree: int = 0
    kind = "baseline"
    _max_points = None

    def eval(self, p, x):
        xv = _x_of(x)
        if self.degree == 0:
            return np.full(xv.shape, float(p[0]))
        return np.polynomial.polynomial.polyval(xv, np.asarray(p, dtype=float))

    def jacobian(self, p, x):
        xv = _x_of(x)
        if self.degree == 0:
            return np.ones((xv.size, 1))
        return np.vander(xv, self.degree + 1, increasing=True)

    def eval_and_jacobian(self, p, x):
        xv = _x_of(x)
        if self.degree == 0:
            # An offset is the commonest sum component: skip vander and a matrix product.
            return np.full(xv.shape, float(p[0])), np.ones((xv.size, 1))
        jac = np.vander(xv, self.degree + 1, increasing=True)
        return jac @ np.asarray(p, dtype=float), jac

    def polynomial_powers(self):
        return tuple(range(self.degree + 1))

    def _make_kernel_plan(self):
        from lsqfit_app.models.kernels import Plan
        if self.degree == 0:
            return Plan((), (0,))   # a constant offset: value p, derivative 1
        return Plan((("polynomial", 0, self.degree + 1),), ())

    def jacobian_dd(self, p, x):
        """The powers x**k as exact double-double pairs (hi, lo), hi + lo = x**k.

        x**10 rounded to double loses digits the NIST Filip problem needs;
        each power is formed from the previous pair by an error-free product.
        """
        xv = np.asarray(_x_of(x), dtype=float)
        hi = np.empty((self.degree + 1, xv.size))
        lo = np.zeros_like(hi)
        hi[0] = 1.0
        for k in range(1, self.degree + 1):
            hi[k], lo[k] = mul_dd(hi[k - 1], lo[k - 1], xv, 0.0)
        return hi.T, lo.T

    def _guess(self, x, y):
        c = _poly_fit(x, y, self.degree)
        return {f"c{i}": c[i] for i in range(self.degree + 1)}


def _poly_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomial coefficients in powers of x (length degree + 1).

    Solved in t = (x - mid)/half in [-1, 1], which keeps the Vandermonde
    matrix well conditioned for x far from 0 or high degree (what
    ``numpy.polynomial.Polynomial.fit`` does, at a fraction of its overhead),
    then expanded back to powers of x by Horner's rule on coefficient arrays.
    """
    coef = np.zeros(degree + 1)
    if x.size == 0:
        return coef
    if x.size == 1 or x[-1] == x[0] or degree == 0:
        coef[0] = float(np.mean(y))
        return coef
    deg = min(degree, x.size - 1)
    if x.size > _STREAM_GUESS_POINTS:
        # millions of points (a polynomial scans them all): the solver's
        # chunked normal equations in the same scaled basis, instead of an
        # n x (d+1) Vandermonde matrix and lstsq's copies of it
        from lsqfit_app.solvers._polynomial import solve_polynomial
        try:
            coef[: deg + 1] = solve_polynomial(x, y, deg)[0]
            return coef
        except np.linalg.LinAlgError:
            pass   # repeated x: lstsq's minimum-norm solution below
    mid = 0.5 * float(x[0] + x[-1])
    half = 0.5 * float(x[-1] - x[0])
    vander = np.vander((x - mid) / half, deg + 1, increasing=True)
    # lstsq gives the minimum-norm solution when repeated x make it rank deficient
    c_t = np.linalg.lstsq(vander, y, rcond=None)[0]
    # p(x) = sum c_k t**k with t = -mid/half + x/half
    out = np.array([c_t[-1]])
    step = np.array([-mid / half, 1.0 / half])
    for c in c_t[-2::-1]:
        out = np.convolve(out, step)
        out[0] += c
    coef[: out.size] = out
    return coef


def _make_poly(degree: int) -> type[PolynomialModel]:
    names = tuple(f"c{i}" for i in range(degree + 1))
    terms = ["c0"] + ["c1*x"] * (degree >= 1) + [f"c{i}*x**{i}" for i in range(2, degree + 1)]
    return type(f"Poly{degree}Model", (PolynomialModel,), {
        "__doc__": f"Polynomial of degree {degree}: {' + '.join(terms)}.",
        "name": f"poly{degree}",
        "degree": degree,
        "formula": " + ".join(terms),
        "param_names": names,
        "description": (f"polynomial of degree {degree}" if degree else "constant")
        + "; linear least squares gives the exact solution",
        "_hints": {n: ParamHint(description=f"coefficient of x**{i}") for i, n in enumerate(names)},
        "_linear": frozenset(names),
        "_defaults": {n: 0.0 for n in names},
    })


class LineModel(LibraryModel):
    """Straight line ``slope*x + intercept``."""

    name = "line"
    formula = "slope*x + intercept"
    param_names = ("slope", "intercept")
    description = "straight line"
    kind = "baseline"
    _hints = {"slope": ParamHint(description="change of y per unit x"),
              "intercept": ParamHint(description="y at x = 0")}
    _linear = frozenset(param_names)
    _defaults = {"slope": 0.0, "intercept": 0.0}
    _max_points = None
    _shape = staticmethod(ls.line)
    _shape_jac = staticmethod(ls.line_and_jacobian)

    def polynomial_powers(self):
        return (1, 0)

    def jacobian_dd(self, p, x):
        """[x, 1] is exact in double precision: the low part is zero."""
        jac = self.jacobian(p, x)
        return jac, np.zeros_like(jac)

    def _guess(self, x, y):
        c = _poly_fit(x, y, 1)
        return {"slope": c[1], "intercept": c[0]}


# -------------------------------------------------------------- exponentials
def _exp_scan(x: np.ndarray, y: np.ndarray, sign: float) -> tuple[float, float, float]:
    """Best (amplitude, tau, offset) of amplitude*exp(sign*x/tau) + offset on a tau grid.

    x is shifted to the end where the exponential is 1 at the reference point
    (the start for a decay, the end for a growth) so the columns stay O(1).
    """
    span = _span(x)
    if x.size < 3:
        return (float(y[0] - y[-1]) if x.size > 1 else 0.0), span, float(y[-1])
    taus = _tau_grid(span)
    x_ref = float(x[0] if sign < 0 else x[-1])
    e = np.exp(sign * np.outer(1.0 / taus, x - x_ref))
    bases = np.stack([e, np.ones_like(e)], axis=1)
    best, (a, offset), _ = _scan(bases, y)
    tau = float(taus[best])
    return a * _safe_exp(-sign * x_ref / tau), tau, float(offset)


class ExpDecayModel(LibraryModel):
    """Exponential decay ``amplitude*exp(-x/tau) + offset``."""

    name = "exp_decay"
    formula = "amplitude*exp(-x/tau) + offset"
    param_names = ("amplitude", "tau", "offset")
    description = "exponential decay to an offset; amplitude is the value above offset at x = 0"
    kind = "baseline"
    _hints = {"amplitude": ParamHint(description="y - offset at x = 0"),
              "tau": ParamHint(min=_POSITIVE, description="decay time (1/e time), in x units"),
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
              "tau": ParamHint(min=_POSITIVE, description="e-folding (growth) time, in x units"),
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
              "tau1": ParamHint(min=_POSITIVE, description="first (fast) decay time"),
              "amplitude2": ParamHint(description="amplitude of the second (slow) decay at x = 0"),
              "tau2": ParamHint(min=_POSITIVE, description="second (slow) decay time"),
              "offset": ParamHint(description="limit of y for large x")}
    _linear = frozenset({"amplitude1", "amplitude2", "offset"})
    _defaults = {"amplitude1": 1.0, "tau1": 1.0, "amplitude2": 1.0, "tau2": 10.0, "offset": 0.0}
    _shape = staticmethod(ls.double_exp_decay)
    _shape_jac = staticmethod(ls.double_exp_decay_and_jacobian)

    def _guess(self, x, y):
        span = _span(x)
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
        best, (a1, a2, c), _ = _scan(bases, y)
        t1, t2 = float(taus[i[best]]), float(taus[j[best]])
        return {"amplitude1": a1 * _safe_exp(x0 / t1), "tau1": t1,
                "amplitude2": a2 * _safe_exp(x0 / t2), "tau2": t2, "offset": c}


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
            log_a, b = _poly_fit(np.log(x[ok]), np.log(sign * y[ok]), 1)
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
        c = _poly_fit(np.log(x[ok]), y[ok], 1) if ok.any() else (float(np.mean(y)), 1.0)
        return {"slope": c[1], "intercept": c[0]}


# ---------------------------------------------------------------------- peaks
class PeakModel(LibraryModel):
    """A peak: start values come from its height, centre and half width."""

    kind = "peak"
    _max_points = None

    def _guess(self, x, y):
        return self.from_peak(*_peak_features(x, y))

    def from_peak(self, height: float, center: float, hwhm: float) -> dict[str, float]:
        """Parameters of a peak of this shape with the given height, centre and HWHM."""
        raise NotImplementedError


class GaussianModel(PeakModel):
    """Gaussian peak ``amplitude*exp(-(x-center)**2/(2*sigma**2))``."""

    name = "gaussian"
    formula = "amplitude*exp(-(x-center)**2/(2*sigma**2))"
    param_names = ("amplitude", "center", "sigma")
    description = "Gaussian peak; amplitude is the peak height, FWHM = 2.3548*sigma"
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "sigma": ParamHint(min=_POSITIVE,
                                 description="standard deviation width (FWHM = 2.3548*sigma)")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "sigma": 1.0}
    _shape = staticmethod(ls.gaussian)
    _shape_jac = staticmethod(ls.gaussian_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "sigma": 2.0 * hwhm / _FWHM_PER_SIGMA}


class LorentzianModel(PeakModel):
    """Lorentzian peak ``amplitude*gamma**2/((x-center)**2 + gamma**2)``."""

    name = "lorentzian"
    formula = "amplitude*gamma**2/((x-center)**2 + gamma**2)"
    param_names = ("amplitude", "center", "gamma")
    description = "Lorentzian (Cauchy) peak; amplitude is the peak height, gamma the HWHM"
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "gamma": ParamHint(min=_POSITIVE, description="half width at half maximum")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "gamma": 1.0}
    _shape = staticmethod(ls.lorentzian)
    _shape_jac = staticmethod(ls.lorentzian_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "gamma": hwhm}


class VoigtModel(PeakModel):
    """Voigt peak (Gaussian convolved with Lorentzian) scaled to peak height ``amplitude``."""

    name = "voigt"
    formula = "amplitude*voigt(x-center; sigma, gamma)/voigt(0; sigma, gamma)"
    formula_is_exact = False
    param_names = ("amplitude", "center", "sigma", "gamma")
    description = ("Voigt peak (Gaussian sigma convolved with Lorentzian HWHM gamma, via the "
                   "Faddeeva function); amplitude is the peak height")
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "sigma": ParamHint(min=_POSITIVE, description="Gaussian standard deviation"),
              "gamma": ParamHint(min=_POSITIVE,
                                 description="Lorentzian half width at half maximum")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "sigma": 1.0, "gamma": 1.0}
    _shape = staticmethod(ls.voigt)
    _shape_jac = staticmethod(ls.voigt_and_jacobian)

    def from_peak(self, height, center, hwhm):
        # Equal Gaussian and Lorentzian FWHM f give a Voigt FWHM of about 1.6376*f
        # (Olivero & Longbothum 1977: 0.5346*fL + sqrt(0.2166*fL**2 + fG**2)).
        f = 2.0 * hwhm / 1.6376
        return {"amplitude": height, "center": center, "sigma": f / _FWHM_PER_SIGMA,
                "gamma": 0.5 * f}


class PseudoVoigtModel(PeakModel):
    """Pseudo-Voigt: a mix of a Lorentzian and a Gaussian of the same height and FWHM."""

    name = "pseudo_voigt"
    formula = ("amplitude*(fraction/(1 + 4*(x-center)**2/fwhm**2)"
               " + (1-fraction)*exp(-4*log(2)*(x-center)**2/fwhm**2))")
    param_names = ("amplitude", "center", "fwhm", "fraction")
    description = ("pseudo-Voigt peak: fraction*Lorentzian + (1-fraction)*Gaussian of equal "
                   "FWHM; amplitude is the peak height")
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "fwhm": ParamHint(min=_POSITIVE, description="full width at half maximum"),
              "fraction": ParamHint(min=0.0, max=1.0,
                                    description="Lorentzian fraction (0 Gaussian, 1 Lorentzian)")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "fwhm": 1.0, "fraction": 0.5}
    _shape = staticmethod(ls.pseudo_voigt)
    _shape_jac = staticmethod(ls.pseudo_voigt_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "fwhm": 2.0 * hwhm, "fraction": 0.5}


# ------------------------------------------------------------------- sigmoids
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
        span = _span(x)
        left, right = _levels(_smooth(y))
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
            b, k = _poly_fit(x[mid], np.log(frac[mid] / (1.0 - frac[mid])), 1)
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
              "k": ParamHint(min=_POSITIVE, description="x at half-maximal response"),
              "n": ParamHint(description="Hill coefficient (steepness; > 1 cooperative)")}
    _linear = frozenset({"vmax"})
    _defaults = {"vmax": 1.0, "k": 1.0, "n": 1.0}
    _shape = staticmethod(ls.hill)
    _shape_jac = staticmethod(ls.hill_and_jacobian)

    def _guess(self, x, y):
        pos = x > 0
        if np.count_nonzero(pos) < 2:
            return {"vmax": float(np.max(np.abs(y))) or 1.0, "k": _span(x) / 2, "n": 1.0}
        xp = x[pos]
        ks = np.geomspace(xp[0] / 3.0, xp[-1] * 3.0, 28)
        ns = np.array([-4.0, -2.0, -1.0, -0.5, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
        with np.errstate(divide="ignore"):
            lx = np.log(x)
        t = ns[:, None, None] * (lx[None, None, :] - np.log(ks)[None, :, None])
        h = expit(t).reshape(-1, 1, x.size)
        best, (vmax,), _ = _scan(h, y)
        return {"vmax": vmax, "k": float(ks[best % ks.size]), "n": float(ns[best // ks.size])}


class MichaelisMentenModel(LibraryModel):
    """Michaelis-Menten ``vmax*x/(km + x)``."""

    name = "michaelis_menten"
    formula = "vmax*x/(km + x)"
    param_names = ("vmax", "km")
    description = "Michaelis-Menten kinetics; vmax the limiting rate, km the half-saturation x"
    _hints = {"vmax": ParamHint(description="limiting rate for large x"),
              "km": ParamHint(min=_POSITIVE, description="Michaelis constant: x at vmax/2")}
    _linear = frozenset({"vmax"})
    _defaults = {"vmax": 1.0, "km": 1.0}
    _shape = staticmethod(ls.michaelis_menten)
    _shape_jac = staticmethod(ls.michaelis_menten_and_jacobian)

    def _guess(self, x, y):
        pos = x[x > 0]
        lo = pos[0] / 10.0 if pos.size else _span(x) / 100.0
        hi = max(float(x[-1]), lo) * 10.0
        kms = np.geomspace(lo, hi, 40)
        h = (x / np.add.outer(kms, x)).reshape(-1, 1, x.size)
        best, (vmax,), _ = _scan(h, y)
        return {"vmax": vmax, "km": float(kms[best])}


# ------------------------------------------------------------------ periodics
def _periodogram_peak(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Frequency (cycles per x unit) of the strongest sinusoid with a floating mean.

    For each trial frequency the reduction of the squared error by fitting
    a*sin + b*cos + c is computed in closed form (generalised Lomb-Scargle),
    first on a grid ~5 times finer than 1/span, then on a fine grid around
    the best value.  ``weights`` (an envelope) multiplies the sin/cos columns.
    """
    span = _span(x)
    dx = np.diff(x)
    dx = dx[dx > 0]
    step = float(np.median(dx)) if dx.size else span
    f_max = 0.5 / step
    f_min = 0.25 / span
    n_freq = int(min(max(5.0 * span * (f_max - f_min), 16), 3000))
    freqs = np.linspace(f_min, f_max, n_freq)
    power = _ls_power(x, y, freqs, weights)
    best = int(np.argmax(power))
    df = freqs[1] - freqs[0]
    fine = np.linspace(max(freqs[best] - df, 1e-3 * f_min), freqs[best] + df, 21)
    power_fine = _ls_power(x, y, fine, weights)
    return float(fine[int(np.argmax(power_fine))])


def _ls_power(x, y, freqs, weights=None) -> np.ndarray:
    arg = (2.0 * math.pi) * np.outer(freqs, x)
    s, c = np.sin(arg), np.cos(arg)
    if weights is not None:
        s *= weights
        c *= weights
    # Centring the columns is what fits the mean jointly with the sinusoid.
    s -= s.mean(axis=1, keepdims=True)
    c -= c.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    ss, cc, sc = (s * s).sum(1), (c * c).sum(1), (s * c).sum(1)
    ys, ycos = s @ yc, c @ yc
    det = ss * cc - sc * sc
    with np.errstate(divide="ignore", invalid="ignore"):
        power = (cc * ys * ys - 2.0 * sc * ys * ycos + ss * ycos * ycos) / det
    return np.where((det > 1e-9 * (ss * cc + 1e-300)) & np.isfinite(power), power, 0.0)


def _sine_coefficients(x, y, frequency, envelope=None):
    """(amplitude >= 0, phase, offset) of the least-squares sinusoid at a frequency."""
    arg = (2.0 * math.pi * frequency) * x
    s, c = np.sin(arg), np.cos(arg)
    if envelope is not None:
        s, c = s * envelope, c * envelope
    bases = np.stack([s, c, np.ones_like(x)])[None]
    _, (a, b, offset), _ = _scan(bases, y)
    # amplitude*sin(arg + phase) = amplitude*cos(phase)*sin(arg) + amplitude*sin(phase)*cos(arg)
    return math.hypot(a, b), math.atan2(b, a), float(offset)


class SineModel(LibraryModel):
    """Sinusoid ``amplitude*sin(2*pi*frequency*x + phase) + offset``."""

    name = "sine"
    formula = "amplitude*sin(2*pi*frequency*x + phase) + offset"
    param_names = ("amplitude", "frequency", "phase", "offset")
    description = "sinusoid; frequency in cycles per unit of x, phase in radians"
    _hints = {"amplitude": ParamHint(description="half the peak-to-peak height"),
              "frequency": ParamHint(min=_POSITIVE, description="cycles per unit of x"),
              "phase": ParamHint(description="phase at x = 0, radians"),
              "offset": ParamHint(description="mean level")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "offset": 0.0}
    _shape = staticmethod(ls.sine)
    _shape_jac = staticmethod(ls.sine_and_jacobian)

    def _guess(self, x, y):
        if x.size < 4:
            return {"amplitude": 0.5 * float(np.ptp(y)), "frequency": 1.0 / _span(x),
                    "phase": 0.0, "offset": float(np.mean(y))}
        f = _periodogram_peak(x, y)
        a, phase, offset = _sine_coefficients(x, y, f)
        return {"amplitude": a, "frequency": f, "phase": phase, "offset": offset}


class DampedSineModel(LibraryModel):
    """Damped sinusoid ``amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset``."""

    name = "damped_sine"
    formula = "amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset"
    param_names = ("amplitude", "frequency", "phase", "decay", "offset")
    description = ("exponentially damped sinusoid; decay is a rate (1/x units, 0 = undamped), "
                   "amplitude the envelope at x = 0")
    _hints = {"amplitude": ParamHint(description="envelope height at x = 0"),
              "frequency": ParamHint(min=_POSITIVE, description="cycles per unit of x"),
              "phase": ParamHint(description="phase at x = 0, radians"),
              "decay": ParamHint(description="damping rate, 1/x units (1/decay is the 1/e time)"),
              "offset": ParamHint(description="level the oscillation decays to")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "decay": 0.0, "offset": 0.0}
    _shape = staticmethod(ls.damped_sine)
    _shape_jac = staticmethod(ls.damped_sine_and_jacobian)

    def _guess(self, x, y):
        span = _span(x)
        if x.size < 5:
            return {"amplitude": 0.5 * float(np.ptp(y)), "frequency": 1.0 / span, "phase": 0.0,
                    "decay": 0.0, "offset": float(np.mean(y))}
        x0 = float(x[0])
        xr = x - x0
        decays = np.concatenate([[0.0], np.geomspace(0.1, 30.0, 20), -np.geomspace(0.1, 3.0, 6)])
        decays /= span
        f = _periodogram_peak(x, y)
        decay = 0.0
        # Alternate: frequency with the envelope fixed, envelope with the frequency fixed.
        for _ in range(2):
            arg = (2.0 * math.pi * f) * x
            env = np.exp(-np.outer(decays, xr))
            bases = np.stack([env * np.sin(arg), env * np.cos(arg),
                              np.broadcast_to(1.0, env.shape)], axis=1)
            best, _, _ = _scan(bases, y)
            decay = float(decays[best])
            f = _periodogram_peak(x, y, np.exp(-decay * xr))
        a, phase, offset = _sine_coefficients(x, y, f, np.exp(-decay * xr))
        return {"amplitude": a * _safe_exp(decay * x0), "frequency": f, "phase": phase,
                "decay": decay, "offset": offset}


# ------------------------------------------------------------------- registry
_POLY = {f"poly{d}": _make_poly(d) for d in range(11)}

#: name -> model class (call it to get a model), in the order of the design document
LIBRARY: dict[str, type[LibraryModel]] = {
    "line": LineModel,
    **_POLY,
    "exp_decay": ExpDecayModel,
    "exp_growth": ExpGrowthModel,
    "double_exp_decay": DoubleExpDecayModel,
    "power_law": PowerLawModel,
    "logarithmic": LogarithmicModel,
    "gaussian": GaussianModel,
    "lorentzian": LorentzianModel,
    "voigt": VoigtModel,
    "pseudo_voigt": PseudoVoigtModel,
    "logistic4": Logistic4Model,
    "hill": HillModel,
    "michaelis_menten": MichaelisMentenModel,
    "sine": SineModel,
    "damped_sine": DampedSineModel,
}


class UnknownModelError(InputError, KeyError):
    """No library model has this name.  A KeyError for lookups, an InputError for users."""

    # KeyError would print the message with quotes around it.
    __str__ = Exception.__str__


def _unknown(name: str) -> UnknownModelError:
    close = difflib.get_close_matches(name.lower(), list(LIBRARY), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UnknownModelError(
        f"unknown model {name!r}.{hint} Library models: {', '.join(LIBRARY)}; "
        "sums such as 'gaussian+line' are allowed")


def get_library_model(name: str) -> LibraryModel:
    """The library model called ``name`` (case and surrounding spaces ignored).

    Raises
    ------
    UnknownModelError
        (an InputError and a KeyError) naming the library models and the closest one.
    """
    key = name.strip().lower()
    try:
        cls = LIBRARY[key]
    except KeyError:
        raise _unknown(name.strip()) from None
    return cls()


def list_library_models() -> list[LibraryModel]:
    """One instance of every library model, in registry order."""
    return [cls() for cls in LIBRARY.values()]


def _spec_parts(text: str) -> list[str]:
    return [part.strip().lower() for part in text.split("+")]


def is_library_spec(text: str) -> bool:
    """True for a library model name or a '+'-sum of names ("gaussian + line")."""
    if not isinstance(text, str) or not text.strip():
        return False
    return all(part in LIBRARY for part in _spec_parts(text))


def library_model_from_spec(text: str) -> Model:
    """The model for a name ("gaussian") or a sum of names ("gaussian+gaussian+line").

    Raises
    ------
    InputError
        for an empty component; UnknownModelError for an unknown name.
    """
    parts = _spec_parts(text)
    if any(not part for part in parts):
        raise InputError(f"model {text!r}: empty name in a sum of models "
                         "(write names joined by '+', e.g. 'gaussian+line')")
    models = [get_library_model(part) for part in parts]
    if len(models) == 1:
        return models[0]
    from lsqfit_app.models.composite import SumModel
    return SumModel(models)
