"""The base class of the built-in models: a lineshape pair with names, hints and a guess.

Each model class adds to its lineshape (:mod:`lsqfit_app.models.lineshapes`)
what a fit needs besides the function: the formula (in the formula language,
so a user can copy it and edit it), a description per parameter, bound hints
(widths > 0, fractions in [0, 1]), the set of parameters the model is affine
in, and :meth:`LibraryModel.guess`, a data-driven start so that ordinary data
fits without any start value typed.

A subclass that sets ``name`` registers itself when it is defined (see
:meth:`LibraryModel.__init_subclass__`): :mod:`lsqfit_app.models.registry`
finds it by that name, and no list needs editing.  Classes without a ``name``
of their own (:class:`~lsqfit_app.models.peaks.PeakModel`,
:class:`~lsqfit_app.models.polynomials.PolynomialModel`) are bases of a family.
"""
from __future__ import annotations

import inspect
import math
from typing import Callable, Mapping

import numpy as np

from lsqfit_app.core.model import Model, ParamHint
from lsqfit_app.models.guesses import prepare, x_of

#: lower bound hint of widths and time constants (strictly inside is enforced by guess)
POSITIVE = 0.0
# Scans work on at most this many points: start values need the shape, not every point.
_SCAN_POINTS = 2000

#: name -> class of every library model, in the order the classes were defined
REGISTERED: dict[str, type[LibraryModel]] = {}


def _floats(p) -> list[float]:
    return p.tolist() if type(p) is np.ndarray else [float(v) for v in p]


def _call(shape: Callable, x, p, **out):
    """A lineshape at parameters p, as Python floats (fast) or, on a zero
    division (a width of exactly 0), as numpy scalars, which give inf/NaN
    like any other overflow instead of raising.  ``out``: the Jacobian
    buffer, for shapes that take one."""
    xv = x_of(x)
    try:
        return shape(xv, *_floats(p), **out)
    except ZeroDivisionError:
        return shape(xv, *np.asarray(p, dtype=float), **out)


def _takes_out(shape: Callable | None) -> bool:
    return shape is not None and "out" in inspect.signature(shape).parameters


def _finite(v, default: float) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


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

    def eval_and_jacobian_batch(self, P, X, rows):
        """K curves in one call of the lineshape pair: each parameter a (K, 1)
        column of ``P``, x the (K, n) array, J written into ``rows`` (p, K, n)."""
        if not self._jac_out:
            return super().eval_and_jacobian_batch(P, X, rows)
        cols = [P[:, j:j + 1] for j in range(P.shape[1])]
        return self._shape_jac(X["x"], *cols, out=rows)[0]

    def __init_subclass__(cls, **kwargs):
        """Register every subclass that names itself (``name = "..."`` in its body)."""
        super().__init_subclass__(**kwargs)
        # Can the lineshape pair build J^T in a caller's buffer?  A class with
        # its own eval_and_jacobian (the polynomials) does not use the pair.
        cls._jac_out = (cls.eval_and_jacobian is LibraryModel.eval_and_jacobian
                        and _takes_out(cls._shape_jac))
        if "name" in cls.__dict__:
            _register(cls)

    def param_hints(self) -> dict[str, ParamHint]:
        return dict(self._hints)

    @property
    def linear_params(self) -> frozenset[str]:
        return self._linear

    def guess(self, x, y) -> dict[str, float]:
        xs, ys = prepare(x, y, self._max_points)
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


def _register(cls: type[LibraryModel]) -> None:
    name = cls.name
    # Specs are matched in lower case and split at "+": a name must survive both.
    if not (isinstance(name, str) and name.isidentifier() and name == name.lower()):
        raise ValueError(f"{cls.__qualname__}: a library model name must be a lower-case "
                         f"identifier, not {name!r}")
    old = REGISTERED.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"{cls.__module__}.{cls.__qualname__}: the library model name {name!r} "
                         f"is taken by {old.__module__}.{old.__qualname__}")
    REGISTERED[name] = cls


def unregister(name: str) -> type[LibraryModel]:
    """Remove the library model ``name`` (a model defined for a while, as in a test)."""
    return REGISTERED.pop(name)
