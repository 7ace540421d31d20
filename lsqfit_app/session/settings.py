"""Fit settings of the document: per-parameter starts and bounds, solver options.

Both are frozen values: the document swaps a whole tuple of
:class:`ParameterSetting` (or a :class:`SolverSettings`) on each change, so an
undo command keeps the one before and puts it back, and a value handed to a
worker can never change under it.

The rules of a parameter edit (a start inside the bounds, min not above max,
fixing needs a start, a new bound pulls the start inside) live in
:func:`edit_parameter`; the window's parameter table and the command line's
``--param`` overrides both call it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Iterable, Mapping

from lsqfit_app.core.errors import ParameterError
from lsqfit_app.core.parameters import Parameter


@dataclass(frozen=True)
class ParameterSetting:
    """What the user set for one parameter (``value`` None: the engine finds a start)."""

    name: str
    value: float | None = None
    fixed: bool = False
    min: float = -math.inf
    max: float = math.inf

    def to_parameter(self) -> Parameter:
        """The engine's parameter (a fixed parameter needs a value, else it is free)."""
        return Parameter(self.name, self.value, self.fixed and self.value is not None,
                         self.min, self.max)

    def to_dict(self) -> dict:
        """The project file's form (``name, value, fixed, min, max``)."""
        return {"name": self.name, "value": self.value, "fixed": self.fixed,
                "min": self.min, "max": self.max}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ParameterSetting":
        """From a project file's dict; missing or null entries take their defaults."""
        value = d.get("value")
        value = None if value is None or not math.isfinite(float(value)) else float(value)
        lo = -math.inf if d.get("min") is None else float(d["min"])
        hi = math.inf if d.get("max") is None else float(d["max"])
        # a NaN bound (a damaged or hand-edited file) bounds nothing
        lo = -math.inf if math.isnan(lo) else lo
        hi = math.inf if math.isnan(hi) else hi
        return cls(str(d.get("name")), value, bool(d.get("fixed", False)) and value is not None,
                   lo, hi)


def settings_for_model(current: Iterable[ParameterSetting], set_aside: dict,
                       names: Iterable[str], hints: Mapping | None = None
                       ) -> tuple[ParameterSetting, ...]:
    """The settings of a new model's parameters, keeping what was typed for a name before.

    Names in ``current`` keep their settings; names that an earlier model
    change put in ``set_aside`` get theirs back (switching models and back
    loses nothing); new names start from the model's bound hints.  Settings
    of names the new model lacks go into ``set_aside`` (mutated).
    """
    old = {s.name: s for s in current}
    names = list(names)
    for name, s in old.items():
        if name not in names:
            set_aside[name] = s
    hints = hints or {}
    out = []
    for name in names:
        if name in old:
            out.append(old[name])
        elif name in set_aside:
            out.append(set_aside.pop(name))
        else:
            hint = hints.get(name)
            out.append(ParameterSetting(name, None, False, hint.min if hint else -math.inf,
                                        hint.max if hint else math.inf))
    return tuple(out)


_UNSET = object()


def edit_parameter(setting: ParameterSetting, *, value=_UNSET, fixed=None, min=None,
                   max=None) -> ParameterSetting:
    """``setting`` with one user edit applied, or ParameterError saying why not.

    ``value`` None clears the start (and unfixes); a start must be finite and
    inside the bounds; ``fixed`` needs a start; a new bound that leaves the
    start outside pulls the start to it.
    """
    name = setting.name
    s = setting
    if min is not None or max is not None:
        lo = s.min if min is None else float(min)
        hi = s.max if max is None else float(max)
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ParameterError(f"parameter {name}: min must not exceed max")
        start = s.value
        if start is not None and not (lo <= start <= hi):
            start = _clip(start, lo, hi)
        s = replace(s, min=lo, max=hi, value=start)
    if value is not _UNSET:
        if value is None:
            s = replace(s, value=None, fixed=False)
        else:
            v = float(value)
            if not math.isfinite(v):
                raise ParameterError(f"parameter {name}: a start value must be a finite number")
            if not (s.min <= v <= s.max):
                raise ParameterError(f"parameter {name}: start {v:g} is outside "
                                     f"[{s.min:g}, {s.max:g}]")
            s = replace(s, value=v)
    if fixed is not None:
        if fixed and s.value is None:
            raise ParameterError(f"parameter {name}: give a start value before fixing it")
        s = replace(s, fixed=bool(fixed))
    return s


def _clip(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def with_starts(settings: Iterable[ParameterSetting], values: Mapping[str, float]
                ) -> tuple[ParameterSetting, ...]:
    """Start values by name, clipped into each parameter's bounds; fixed ones keep theirs."""
    out = []
    for s in settings:
        v = values.get(s.name)
        if v is not None and not s.fixed and math.isfinite(float(v)):
            s = replace(s, value=_clip(float(v), s.min, s.max))
        out.append(s)
    return tuple(out)


def merged(settings: Iterable[ParameterSetting], saved: Iterable[Mapping | ParameterSetting]
           ) -> tuple[ParameterSetting, ...]:
    """``settings`` with the saved ones (by name) put in; names not in ``settings`` are dropped."""
    by_name = {}
    for s in saved:
        s = s if isinstance(s, ParameterSetting) else ParameterSetting.from_dict(s)
        by_name[s.name] = s
    return tuple(by_name.get(s.name, s) for s in settings)


@dataclass(frozen=True)
class SolverSettings:
    """How a fit runs.

    Attributes
    ----------
    method : str
        ``auto``, ``closed-form``, ``gradient-descent``, ``lbfgs``, ``lm`` or ``trf``.
    loss : str
        ``linear`` or a robust loss (``huber``, ``soft_l1``, ``cauchy``, ``arctan``).
    f_scale : float
        Residual scale of a robust loss.
    weights : str
        ``none``, ``poisson`` or ``relative`` when there is no sigma column.
    max_iterations : int or None
        None: the solver's default.
    ftol, xtol, gtol : float or None
        Tolerances; None keeps the engine's defaults (tight: NIST StRD digits).
    """

    method: str = "auto"
    loss: str = "linear"
    f_scale: float = 1.0
    weights: str = "none"
    max_iterations: int | None = None
    ftol: float | None = None
    xtol: float | None = None
    gtol: float | None = None

    def options(self):
        """The engine's :class:`~lsqfit_app.solvers.SolverOptions`."""
        from lsqfit_app.solvers import SolverOptions

        given = {k: getattr(self, k) for k in ("ftol", "xtol", "gtol")
                 if getattr(self, k) is not None}
        return SolverOptions(max_iterations=self.max_iterations, **given)

    def to_dict(self) -> dict:
        """The project file's ``solver`` object (defaults of tolerances left out)."""
        out = {"method": self.method, "loss": self.loss, "max_iterations": self.max_iterations,
               "f_scale": self.f_scale, "weights": self.weights}
        for k in ("ftol", "xtol", "gtol"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> "SolverSettings":
        """From a project file (older files hold method, loss and max_iterations only)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known and v is not None}
        if "max_iterations" in kwargs:
            kwargs["max_iterations"] = int(kwargs["max_iterations"]) or None
        for k in ("f_scale", "ftol", "xtol", "gtol"):
            if k in kwargs:
                kwargs[k] = float(kwargs[k])
        for k in ("method", "loss", "weights"):
            if k in kwargs:
                kwargs[k] = str(kwargs[k])
        return cls(**kwargs)


def apply_specs(settings: Iterable[ParameterSetting], specs, model_name: str = ""
                ) -> tuple[ParameterSetting, ...]:
    """Settings with the command line's ``--param``/``--fix`` specs put over them.

    ``--param NAME=VALUE`` sets a free start, ``--fix`` a fixed value, and
    ``:MIN:MAX`` the bounds; what a spec leaves out (an empty VALUE, no
    bounds) keeps the setting it overrides.  A start outside the bounds it
    would keep is refused rather than widened: the bounds may be the user's.
    """
    from lsqfit_app.session.roles import specs_by_name

    settings = tuple(settings)
    chosen = specs_by_name(specs, [s.name for s in settings], model_name)
    out = []
    for s in settings:
        spec = chosen.get(s.name)
        if spec is None:
            out.append(s)
            continue
        if spec.bounds_given:
            s = edit_parameter(s, min=spec.min, max=spec.max)
        if spec.value is not None:
            if not spec.bounds_given and not (s.min <= spec.value <= s.max):
                raise ParameterError(
                    f"parameter {s.name}: start {spec.value:g} is outside the bounds "
                    f"[{s.min:g}, {s.max:g}] it has here; give bounds with it: "
                    f"--param {s.name}={spec.value:g}:MIN:MAX")
            s = edit_parameter(s, value=spec.value)
        s = edit_parameter(s, fixed=spec.fixed and s.value is not None)
        out.append(s)
    return tuple(out)
