"""From a table and the user's column roles to a :class:`FitProblem`.

Shared by the CLI and the GUI: the user names x column(s), a y column or an
expression of columns ("log(y)"), an optional sigma column, a model and
parameter settings; this module resolves names, builds the model with the
right predictor names, and validates everything with messages that name the
column or parameter at fault.

Names in a formula.  Library models call their predictor ``x`` (the first x
column).  A formula names columns by ``Table.identifier_names`` ("t" for the
column "t (s)"); its names split into:

- predictors: the identifiers of the x columns the user chose (``-x``;
  column 1 by default), and ``x`` for the first of them, unless the table
  has a column called ``x`` of its own (then ``x`` is that column);
- parameters: every other name that is no column of the table.

A name that is a column but not a chosen predictor is refused, never guessed:
taken as a parameter it would fit a number where the user meant the column,
taken as the column it would silently turn a parameter into data (a "b"
parameter on a table with a "b" column gave R^2 = -988).  The message lists
which names are columns and which parameters and says how to resolve it (add
the column to ``-x``, or rename the parameter).  The response column(s) and
the sigma column are refused in a formula for the same reason, and so are the
constants ``pi``/``e`` when a column has that name.
"""
from __future__ import annotations

import math
import re
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
    x_given: bool = False       # the user named x (messages then do not explain the default)


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


def predictor_names(table, x_columns: Sequence[str]) -> dict[str, str]:
    """``{formula name: column name}`` of the predictors (see the module docstring).

    ``x_columns`` are column names (already resolved); the first one is also
    ``x`` unless a column of the table has the identifier ``x`` itself.
    """
    ids = table.identifier_names()
    ident_of = {v: k for k, v in ids.items()}
    out: dict[str, str] = {}
    for name in x_columns:
        if name in ident_of:
            out[ident_of[name]] = name
    if x_columns and "x" not in out and "x" not in ids:
        out["x"] = x_columns[0]
    return out


def formula_names(table, x_columns) -> tuple[str, ...]:
    """The names a formula may use for the x columns (the keys of :func:`predictor_names`)."""
    return tuple(predictor_names(table, list(x_columns)))


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
    """The resolved data of a fit: model, arrays and labels.

    The arrays are read-only views of the table's columns where a column is
    used as it is (no copy: ``FitProblem.create`` takes the one snapshot a
    fit needs, and a million-row fit should not hold the data three times).
    """

    model: object
    x: dict
    y: np.ndarray
    sigma: np.ndarray | None
    labels: dict = field(default_factory=dict)
    excluded: np.ndarray | None = None
    #: the first x column (the plot's axis; a fit range applies to it)
    axis: np.ndarray | None = None


def _response(table, text: str):
    """(values, label, column info or None, names of the columns used) of ``-y``."""
    from lsqfit_app.core.expression_parser import compile_column_expression

    try:
        info = resolve_column(table, text)
    except InputError:
        if text in table.names or text.isdigit() or text.strip().isidentifier():
            raise
    else:
        if not info.numeric:
            raise InputError(f"column {info.name!r} holds text, not numbers; it cannot be y")
        return np.asarray(info.values, dtype=float), info.label, info, (info.name,)
    ids = table.identifier_names()
    used = compile_column_expression(text, ids.keys()).ordered_names
    if not used:
        # "-y -1" or "-y 2*3": a constant response fits exactly and means nothing
        raise InputError(
            f"the response -y {text!r} uses no column; give a column by name or 1-based "
            f"number, or an expression of columns such as 'log(y)' (columns: "
            f"{', '.join(ids) or '(none)'})")
    return table.evaluate(text), text, None, tuple(ids[n] for n in used)


def _x_column(table, key: str):
    try:
        info = resolve_column(table, key)
    except InputError as exc:
        raise InputError(f"-x {key!r}: a predictor must be a column (by name or 1-based "
                         f"number), not an expression; {exc}") from None
    if not info.numeric:
        raise InputError(f"column {info.name!r} holds text, not numbers; it cannot be x")
    return info


def x_column_names(table, keys: Sequence[str]) -> tuple[str, ...]:
    """The names of the x columns given by name, 1-based number or identifier."""
    return tuple(_x_column(table, key).name for key in keys)


def select(table, roles: Roles, model_spec: str) -> Selection:
    """Resolve columns and build the model (names in a formula: see the module docstring)."""
    from lsqfit_app.models import make_model
    from lsqfit_app.models.formula import FormulaModel

    x_infos = [_x_column(table, key) for key in roles.x]
    x_names = [info.name for info in x_infos]
    for i, name in enumerate(x_names):
        if name in x_names[:i]:
            raise InputError(f"column {name!r} is given twice as a predictor (-x)")
    y, y_label, y_info, y_columns = _response(table, roles.y)
    if y_info is not None and y_info.name in x_names:
        raise InputError(f"column {y_info.name!r} is both a predictor (-x) and the response "
                         f"(-y {roles.y}); choose another column for one of them")
    sigma = None
    sigma_label = None
    if roles.sigma:
        s_info = resolve_column(table, roles.sigma)
        if not s_info.numeric:
            raise InputError(f"column {s_info.name!r} holds text, not numbers; it cannot be "
                             "sigma")
        for role, names in (("a predictor (-x)", x_names), ("the response (-y)", y_columns)):
            if s_info.name in names:
                raise InputError(f"the sigma column {s_info.name!r} is also {role}; choose "
                                 "the column of standard deviations for --sigma")
        sigma = np.asarray(s_info.values, dtype=float)
        sigma_label = s_info.name

    source = predictor_names(table, x_names)
    context = _NameContext(table, roles, x_names, source, y_columns, y_info is None, sigma_label)
    try:
        model = make_model(model_spec, tuple(source))
    except InputError:
        # "a*2 + b" with a column "a" fails as "uses none of the columns": the
        # real cause is the name taken for a parameter, so say that instead
        expr = _parsed_or_none(model_spec)
        if expr is not None:
            context.check(expr, model_spec)
        raise
    if isinstance(model, FormulaModel):
        context.check(model.expression, model.formula)
        x = {var: np.asarray(table.column(source[var]).values, dtype=float)
             for var in model.independent_vars}
    else:
        # library models take the first x column as their predictor "x"
        x = {var: np.asarray(x_infos[0].values, dtype=float) for var in model.independent_vars}
    labels = {"x": x_infos[0].label, "y": y_label}
    if sigma_label:
        labels["sigma"] = sigma_label
    excluded = np.array(table.mask, dtype=bool)
    axis = np.asarray(x_infos[0].values, dtype=float) if x_infos else None
    return Selection(model, x, y, sigma, labels, excluded, axis)


def _parsed_or_none(text: str):
    from lsqfit_app.core.errors import FormulaError
    from lsqfit_app.core.expression_parser import parse_expression

    try:
        return parse_expression(text)
    except FormulaError:
        return None


@dataclass
class _NameContext:
    """What the names of a formula can refer to in one fit, for its checks and messages."""

    table: object
    roles: Roles
    x_names: list
    source: dict          # formula name -> predictor column
    y_columns: tuple      # the columns the response uses
    y_expression: bool    # -y is an expression of columns, not one column
    sigma: str | None

    def _role(self, column: str) -> str:
        if column in self.y_columns:
            return ("used by the response -y " + repr(self.roles.y)) if self.y_expression \
                else "the response (-y)"
        return "the sigma column (--sigma)"

    def _ident(self, column: str) -> str:
        return {v: k for k, v in self.table.identifier_names().items()}.get(column, column)

    def check(self, expr, formula: str) -> None:
        """Refuse a formula whose names or constants are ambiguous here (see below)."""
        self.check_names(expr.ordered_names, formula)
        self.check_constants(expr.constants, formula)

    def check_names(self, names, formula: str) -> None:
        ids = self.table.identifier_names()
        clash = [n for n in names if n not in self.source and n in ids]
        if not clash:
            return
        predictors = [n for n in names if n in self.source]
        params = [n for n in names if n not in self.source and n not in ids]
        response = [n for n in clash if ids[n] in self.y_columns or ids[n] == self.sigma]
        listing = (f"columns: {', '.join(predictors) or '(none)'}; "
                   f"parameters: {', '.join(params) or '(none)'}")
        rename = ", ".join(f"'{n}' -> '{n}_0'" for n in clash)
        default = "" if self.roles.x_given else \
            f" (-x is column 1, {self.x_names[0]!r}, by default)"
        if response:
            n = response[0]
            raise InputError(
                f"the formula {formula!r} uses {n!r}, which is column {ids[n]!r}, "
                f"{self._role(ids[n])}{default}; a formula cannot use the response or sigma "
                f"column as a predictor or a parameter ({listing}). If {n!r} is meant as a "
                f"predictor, choose the columns with -x and -y; if it is a parameter, rename it "
                f"(e.g. {rename})")
        what = ", ".join(f"{n!r}" + (f" (column {ids[n]!r})" if ids[n] != n else "")
                         for n in clash)
        wanted = [self._ident(c) for c in self.x_names] + clash
        raise InputError(
            f"the formula {formula!r} uses {what}: a column of the table that is not a "
            f"predictor{default}, so it is neither taken as data nor as a parameter "
            f"({listing}). To use the column, name it as a predictor: -x {' '.join(wanted)}; "
            f"to fit a parameter, give it a name that is not a column (e.g. {rename})")

    def check_constants(self, constants, formula: str) -> None:
        ids = self.table.identifier_names()
        for name in sorted(constants):
            if name in ids:
                literal = "exp(u) for e**u" if name == "e" else "3.141592653589793"
                raise InputError(
                    f"the formula {formula!r} uses {name!r}, which in a formula is the constant "
                    f"{name}, but the table also has a column {ids[name]!r} of that name; to "
                    f"use the column rename it" + (
                        " (or call it x, the first predictor)"
                        if self.source.get("x") == ids[name] else "")
                    + f", to use the constant write {literal}")


def specs_by_name(specs: Sequence[ParamSpec], names: Sequence[str], model_name: str
                  ) -> dict[str, ParamSpec]:
    """The settings by parameter name (the last one wins); ParameterError for a name the
    model lacks or a parameter both set and fixed."""
    by_name: dict[str, ParamSpec] = {}
    for spec in specs:
        if spec.name not in names:
            raise ParameterError(
                f"unknown parameter {spec.name!r}; the model {model_name!r} has "
                f"{', '.join(names) or 'no parameters'}")
        prev = by_name.get(spec.name)
        if prev is not None and prev.fixed != spec.fixed:
            raise ParameterError(f"parameter {spec.name!r} is both set and fixed")
        by_name[spec.name] = spec
    return by_name


def build_parameters(model, specs: Sequence[ParamSpec]) -> list[Parameter]:
    """Merge the user's settings with the model's bound hints."""
    hints = model.param_hints()
    by_name = specs_by_name(specs, model.param_names, model.name)
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
    """The FitProblem of a table, roles, a model and the command line's parameter settings."""
    sel = select(table, roles, model_spec)
    params = build_parameters(sel.model, specs)
    return problem_from_selection(sel, params, weights=weights, loss=loss, f_scale=f_scale)


def problem_from_selection(sel: Selection, params: Sequence[Parameter], *, weights: str = "none",
                           loss: str = "linear", f_scale: float = 1.0,
                           fit_range: tuple[float, float] | None = None) -> FitProblem:
    """The FitProblem of resolved data and parameters; points outside ``fit_range`` are left out."""
    if sel.sigma is not None and weights != "none":
        raise InputError("give either a sigma column or --weights, not both")
    excluded = sel.excluded
    if fit_range is not None and sel.axis is not None:
        excluded = excluded | outside_range(sel.axis, fit_range)
    return FitProblem.create(sel.model, sel.x, sel.y, list(params), sigma=sel.sigma,
                             weights=weights, excluded=excluded, loss=loss, f_scale=f_scale,
                             labels=sel.labels)


def outside_range(x: np.ndarray, fit_range: tuple[float, float] | None) -> np.ndarray:
    """Which points lie outside the fit x-range (none without a range)."""
    if fit_range is None:
        return np.zeros(len(x), dtype=bool)
    lo, hi = fit_range
    with np.errstate(invalid="ignore"):
        return (x < lo) | (x > hi)


_SIGMA_NAMES = re.compile(r"^(sigma|sd|std|err|error|unc|uncertainty|dy|s_?y|u)\b", re.I)


def default_roles(table) -> tuple[str | None, str | None, str | None]:
    """(x, y, sigma) for a freshly opened table: the first two numeric columns,
    and a third whose name says it is an uncertainty ("sigma", "err", "dy"...)."""
    names = table.numeric_names()
    x = names[0] if names else None
    y = names[1] if len(names) > 1 else None
    sigma = None
    for name in names[2:]:
        if _SIGMA_NAMES.match(name.strip()):
            sigma = name
            break
    return x, y, sigma
