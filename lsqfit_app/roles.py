"""From a table and the user's column roles to a :class:`FitProblem`.

Shared by the CLI and the GUI: the user names x column(s), a y column or an
expression of columns ("log(y)"), an optional sigma column, a model and
parameter settings; this module resolves names, builds the model with the
right predictor names, and validates everything with messages that name the
column or parameter at fault.

Predictor names.  Library models call their predictor ``x``.  A formula
names columns by ``Table.identifier_names`` ("t" for the column "t (s)"),
and ``x`` always means the first x column (so "a*exp(-x/tau)" works
whatever the header says).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem


@dataclass(frozen=True)
class Roles:
    """Which columns play which part in a fit (names or 1-based numbers)."""

    x: tuple[str, ...] = ("1",)
    y: str = "2"
    sigma: str | None = None
    x_given: bool = False       # the user named x explicitly


@dataclass(frozen=True)
class ParamSpec:
    """A parameter setting as typed: ``NAME=VALUE[:MIN:MAX]`` or ``--fix NAME=VALUE``."""

    name: str
    value: float | None = None
    min: float = -math.inf
    max: float = math.inf
    fixed: bool = False
    bounds_given: bool = False


def _number(text: str, what: str, default: float | None) -> float | None:
    text = text.strip()
    if text == "":
        return default
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"{what}: {text!r} is not a number") from None


def parse_param(text: str, fixed: bool = False) -> ParamSpec:
    """Parse ``NAME=VALUE[:MIN:MAX]`` (VALUE, MIN, MAX may be empty)."""
    if "=" not in text:
        raise ParameterError(f"parameter setting {text!r}: expected NAME=VALUE[:MIN:MAX]")
    name, _, rest = text.partition("=")
    name = name.strip()
    if not name.isidentifier():
        raise ParameterError(f"parameter setting {text!r}: {name!r} is not a parameter name")
    parts = rest.split(":")
    if len(parts) not in (1, 3) or (fixed and len(parts) != 1):
        form = "NAME=VALUE" if fixed else "NAME=VALUE or NAME=VALUE:MIN:MAX"
        raise ParameterError(f"parameter setting {text!r}: expected {form}")
    value = _number(parts[0], f"parameter {name}", None)
    if fixed and value is None:
        raise ParameterError(f"--fix {text!r}: a fixed parameter needs a value")
    lo = hi = None
    if len(parts) == 3:
        lo = _number(parts[1], f"parameter {name} min", -math.inf)
        hi = _number(parts[2], f"parameter {name} max", math.inf)
    return ParamSpec(name, value, -math.inf if lo is None else lo, math.inf if hi is None else hi,
                     fixed, len(parts) == 3)


def formula_names(table, x_columns) -> tuple[str, ...]:
    """The names a formula may use for the x columns: identifiers, plus "x" for the first."""
    ident_of = {v: k for k, v in table.identifier_names().items()}
    names = [ident_of[c] for c in x_columns if c in ident_of]
    if "x" not in names:
        names.append("x")
    return tuple(names)


def resolve_column(table, key: str):
    """A column by header, 1-based number or formula identifier (InputError otherwise)."""
    try:
        return table.column(key)
    except InputError:
        name = table.identifier_names().get(str(key).strip())
        if name is None:
            raise
        return table.column(name)


@dataclass
class Selection:
    """The resolved data of a fit: model, arrays and labels."""

    model: object
    x: dict
    y: np.ndarray
    sigma: np.ndarray | None
    labels: dict = field(default_factory=dict)
    excluded: np.ndarray | None = None


def select(table, roles: Roles, model_spec: str) -> Selection:
    """Resolve columns and build the model."""
    from lsqfit_app.models import make_model

    x_infos = [resolve_column(table, key) for key in roles.x]
    for info in x_infos:
        if not info.numeric:
            raise InputError(f"column {info.name!r} holds text, not numbers; it cannot be x")
    names = table.names
    # y: a column (name, number or alias) or an expression of columns
    try:
        y_info = resolve_column(table, roles.y)
        y = np.array(y_info.values, dtype=float)
        y_label = y_info.label
        if not y_info.numeric:
            raise InputError(f"column {y_info.name!r} holds text, not numbers; it cannot be y")
    except InputError:
        if roles.y in names or roles.y.isdigit() or roles.y.strip().isidentifier():
            raise
        y = table.evaluate(roles.y)
        y_label = roles.y
        y_info = None
    sigma = None
    sigma_label = None
    if roles.sigma:
        s_info = resolve_column(table, roles.sigma)
        sigma = np.array(s_info.values, dtype=float)
        sigma_label = s_info.name

    # the formula's predictor names: the x columns (by identifier), plus "x"
    # for the first one; without an explicit -x every other numeric column too
    ident_of = {v: k for k, v in table.identifier_names().items()}
    source: dict[str, str] = {}
    for info in x_infos:
        if info.name in ident_of:
            source[ident_of[info.name]] = info.name
    if "x" not in source:
        source["x"] = x_infos[0].name
    if not roles.x_given:
        used = {y_info.name if y_info else None, sigma_label}
        for name in table.numeric_names():
            if name in ident_of and name not in used and ident_of[name] not in source:
                source[ident_of[name]] = name
    model = make_model(model_spec, tuple(source))
    x = {var: np.array(table.column(source[var]).values, dtype=float)
         for var in model.independent_vars}
    labels = {"x": x_infos[0].label, "y": y_label}
    if sigma_label:
        labels["sigma"] = sigma_label
    excluded = np.array(table.mask, dtype=bool)
    return Selection(model, x, y, sigma, labels, excluded)


def build_parameters(model, specs: Sequence[ParamSpec]) -> list[Parameter]:
    """Merge the user's settings with the model's bound hints."""
    hints = model.param_hints()
    by_name: dict[str, ParamSpec] = {}
    for spec in specs:
        if spec.name not in model.param_names:
            raise ParameterError(
                f"unknown parameter {spec.name!r}; the model {model.name!r} has "
                f"{', '.join(model.param_names)}")
        prev = by_name.get(spec.name)
        if prev is not None and prev.fixed != spec.fixed:
            raise ParameterError(f"parameter {spec.name!r} is both set and fixed")
        by_name[spec.name] = spec
    params = []
    for name in model.param_names:
        hint = hints.get(name)
        lo = hint.min if hint else -math.inf
        hi = hint.max if hint else math.inf
        spec = by_name.get(name)
        if spec is None:
            params.append(Parameter(name, None, False, lo, hi))
            continue
        if spec.bounds_given:
            lo, hi = spec.min, spec.max
        elif spec.value is not None and not (lo <= spec.value <= hi):
            # an explicit start outside a mere hint: the user knows better
            lo, hi = -math.inf, math.inf
        p = Parameter(name, spec.value, spec.fixed, lo, hi)
        p.validate()
        params.append(p)
    return params


def make_problem(table, roles: Roles, model_spec: str, specs: Sequence[ParamSpec] = (),
                 weights: str = "none", loss: str = "linear", f_scale: float = 1.0) -> FitProblem:
    sel = select(table, roles, model_spec)
    params = build_parameters(sel.model, specs)
    if sel.sigma is not None and weights != "none":
        raise InputError("give either a sigma column or --weights, not both")
    return FitProblem.create(sel.model, sel.x, sel.y, params, sigma=sel.sigma, weights=weights,
                             excluded=sel.excluded, loss=loss, f_scale=f_scale, labels=sel.labels)
