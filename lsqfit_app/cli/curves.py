"""The curves of ``lsqfit-app batch`` and ``global``: INPUT files to a list of curves.

Rules (DESIGN.md 4.4):

- ``-x COL``: the shared x column of every table (default: column 1).
- ``-y COL|PATTERN ...``: the curves, by header name, 1-based number,
  formula identifier or :mod:`fnmatch` pattern (``"y*"``, ``"well_[A-H]1"``),
  in the order given, each column once.  A pattern takes the numeric columns
  it matches, in table order, except the x, sigma and ``--by`` columns.  The
  default is every numeric column but those.
- ``--sigma COL|PATTERN ...``: sigma columns, paired with the y columns in
  order; a single sigma column serves every curve.
- ``--by COL``: long format; one curve per distinct value of COL (in order of
  first appearance; rows where COL is empty belong to no curve).
- Several INPUT files: the same options in each, one curve per file and
  column.  ``--sheet all``: every sheet of a workbook that holds a table
  (sheets without one are skipped with a note on stderr).  A ``.lsqfit``
  project gives its table with its masks.

Curve ids: the column name; ``FILE:COLUMN`` for several files (the file's
base name, or the path as given when two base names agree); ``SHEET:COLUMN``
for several sheets (``FILE:SHEET:COLUMN`` for both); the ``--by`` value, with
``:COLUMN`` when there are several y columns.  Every message names the file
(and sheet) and the column at fault.
"""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

from lsqfit_app.batch.curves import Curve
from lsqfit_app.core.errors import InputError

#: INPUT suffixes of image stacks (DESIGN.md 4.4); ``FILE.h5:/dataset`` too
STACK_SUFFIXES = (".tif", ".tiff", ".npy", ".zarr", ".h5", ".hdf5")
_H5_DATASET = re.compile(r"\.(h5|hdf5):", re.IGNORECASE)
_GLOB_CHARS = set("*?[")


def is_image_stack(path: str) -> bool:
    """True for an INPUT that names an image stack rather than a table."""
    text = os.fspath(path)
    return bool(_H5_DATASET.search(text)) or \
        os.path.splitext(text.rstrip("/\\"))[1].lower() in STACK_SUFFIXES


@dataclass(frozen=True)
class Source:
    """One table that curves are taken from: a file, or one sheet of a workbook."""

    path: str                 # as given on the command line
    table: object
    sheet: str | None = None

    @property
    def where(self) -> str:
        """The file (and sheet) for messages."""
        return self.path if self.sheet is None else f"{self.path}, sheet {self.sheet!r}"


@dataclass(frozen=True)
class ColumnPlan:
    """The resolved columns of one source: x, the (y, sigma) pairs, the ``--by`` column."""

    x: str
    pairs: tuple[tuple[str, str | None], ...]
    by: str | None = None


@dataclass(frozen=True)
class CurveRequest:
    """The curve options as given: ``-x``, ``-y``, ``--sigma``, ``--by`` (None: default)."""

    x: str | None = None
    y: tuple[str, ...] | None = None
    sigma: tuple[str, ...] | None = None
    by: str | None = None

    @classmethod
    def from_args(cls, args) -> "CurveRequest":
        def tokens(value):
            return None if value is None else tuple(value)

        return cls(x=args.x, y=tokens(args.y), sigma=tokens(args.sigma), by=args.by)


# ---------------------------------------------------------------------- reading
def read_sources(paths, read_options: dict) -> list[Source]:
    """Read every INPUT; ``read_options["sheet"] == "all"`` reads every sheet of a workbook."""
    from lsqfit_app.cli.project import is_project_file

    if not paths:
        raise InputError("give at least one INPUT file")
    seen: dict[str, str] = {}
    sources: list[Source] = []
    for path in paths:
        path = os.fspath(path)
        if is_image_stack(path):
            raise InputError(f"{path}: image stacks (.tif, .tiff, .npy, .zarr, FILE.h5:/dataset) "
                             "are not supported yet; give tables (csv, xlsx, ...)")
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            raise InputError(f"{path}: the file is given twice (also as {seen[key]!r}); "
                             "give each INPUT once")
        seen[key] = path
        if is_project_file(path):
            sources.append(_project_source(path, read_options))
        else:
            sources.extend(_file_sources(path, read_options))
    return sources


def _project_source(path: str, read_options: dict) -> Source:
    from lsqfit_app.io.project import load_project

    if read_options:
        given = ", ".join("--" + k.replace("_", "-") for k in read_options)
        raise InputError(f"{path} is a project: its table is stored in it, so the import "
                         f"options ({given}) do not apply")
    return Source(path, load_project(path).table)


def _file_sources(path: str, read_options: dict) -> list[Source]:
    from lsqfit_app.io import read_table

    options = dict(read_options)
    if str(options.get("sheet", "")).strip().casefold() != "all":
        read = read_table(path, **options)
        return [Source(path, read.table, read.sheet if read.sheets else None)]
    del options["sheet"]
    first = read_table(path, **options)
    if not first.sheets:
        return [Source(path, first.table)]       # a text file is one table
    sources = []
    for name in first.sheets:
        if name == first.sheet:
            sources.append(Source(path, first.table, name))
            continue
        try:
            read = read_table(path, sheet=name, **options)
        except InputError as exc:
            # a sheet of notes or a chart holds no table: not a curve, not an error
            print(f"lsqfit-app: note: {path}, sheet {name!r} skipped: {exc}", file=sys.stderr)
            continue
        sources.append(Source(path, read.table, name))
    return sources


# ---------------------------------------------------------------------- columns
def _is_pattern(token: str) -> bool:
    return any(c in _GLOB_CHARS for c in token)


def _column(source: Source, option: str, token: str, numeric: bool = True) -> str:
    from lsqfit_app.session.roles import resolve_column

    try:
        info = resolve_column(source.table, token)
    except InputError as exc:
        raise InputError(f"{source.where}: {option} {token!r}: {exc}") from None
    if numeric and not info.numeric:
        if info.text is None or not np.char.strip(np.asarray(info.text, dtype=str)).any():
            raise InputError(f"{source.where}: {option} {token!r}: column {info.name!r} is "
                             "empty (no row holds a number)")
        raise InputError(f"{source.where}: {option} {token!r}: column {info.name!r} holds text, "
                         "not numbers")
    return info.name


def _columns(source: Source, option: str, tokens, excluded: set[str]) -> list[str]:
    """The numeric columns named by ``tokens`` (names, numbers or patterns), each once."""
    table = source.table
    out: list[str] = []
    for token in tokens:
        if _is_pattern(token) and token not in table.names:
            matched = [c.name for c in table.columns()
                       if c.numeric and c.name not in excluded
                       and fnmatch.fnmatchcase(c.name, token)]
            if not matched:
                raise InputError(
                    f"{source.where}: {option} {token!r} matches no numeric column "
                    f"(besides x, sigma and --by); columns: {', '.join(table.names) or '(none)'}")
        else:
            matched = [_column(source, option, token)]
        out.extend(name for name in matched if name not in out)
    return out


def plan_columns(source: Source, request: CurveRequest) -> ColumnPlan:
    """Resolve the request's columns in one table (InputError naming file and column)."""
    table = source.table
    x = _column(source, "-x", request.x or "1")
    by = None
    if request.by is not None:
        by = _column(source, "--by", request.by, numeric=False)
        if by == x:
            raise InputError(f"{source.where}: column {x!r} is both x (-x) and --by")
    reserved = {x} | ({by} if by else set())
    sigmas = _columns(source, "--sigma", request.sigma, reserved) if request.sigma else []
    for name in sigmas:
        if name in reserved:
            raise InputError(f"{source.where}: column {name!r} cannot be sigma: it is "
                             f"{'x (-x)' if name == x else 'the --by column'}")
    reserved |= set(sigmas)
    if request.y is None:
        ys = [n for n in table.numeric_names() if n not in reserved]
        if not ys:
            raise InputError(f"{source.where}: no column is left for y (x is {x!r}"
                             + (f", sigma {', '.join(map(repr, sigmas))}" if sigmas else "")
                             + "); name the curves with -y")
    else:
        ys = _columns(source, "-y", request.y, reserved)
    for name in ys:
        if name in reserved:
            role = ("x (-x)" if name == x else "the --by column" if name == by
                    else "a sigma column (--sigma)")
            raise InputError(f"{source.where}: column {name!r} cannot be a curve (-y): it is "
                             f"{role}")
    if sigmas and len(sigmas) not in (1, len(ys)):
        raise InputError(
            f"{source.where}: {len(ys)} y columns ({', '.join(ys)}) but {len(sigmas)} sigma "
            f"columns ({', '.join(sigmas)}); give one sigma column per y column, in order, "
            "or one for all")
    pairs = tuple((y, sigmas[0] if len(sigmas) == 1 else sigmas[i] if sigmas else None)
                  for i, y in enumerate(ys))
    return ColumnPlan(x, pairs, by)


# ---------------------------------------------------------------------- curves
def group_label(value: float) -> str:
    """A numeric ``--by`` value as text: ``25`` for 25.0, ``0.5``, ``1e-07``."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _groups(source: Source, by: str) -> list[tuple[str, np.ndarray]]:
    """(label, row indices) of each distinct value of ``by``, in order of first appearance."""
    info = source.table.column(by)
    if info.numeric:
        values = np.asarray(info.values, dtype=float)
        present = np.flatnonzero(np.isfinite(values))
        keys = values[present]
        labels = None
    else:
        text = np.char.strip(np.asarray(info.text, dtype=str))
        present = np.flatnonzero(text != "")
        keys = text[present]
        labels = True
    if present.size == 0:
        raise InputError(f"{source.where}: the --by column {by!r} has no values")
    uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True,
                                             return_counts=True)
    # rows of every group at once (a stable sort keeps file order within a group)
    rows = np.split(present[np.argsort(inverse.ravel(), kind="stable")], np.cumsum(counts)[:-1])
    out = []
    for g in np.argsort(first, kind="stable").tolist():
        label = str(uniq[g]) if labels else group_label(float(uniq[g]))
        out.append((label, rows[g]))
    return out


def _prefixes(sources: list[Source]) -> list[str]:
    """The id prefix of each source: file and/or sheet, when there are several of them."""
    paths = list(dict.fromkeys(s.path for s in sources))
    bases = [os.path.basename(p) or p for p in paths]
    name_of = dict(zip(paths, bases if len(set(bases)) == len(bases) else paths))
    several_files = len(paths) > 1
    sheets_per_file = {p: sum(1 for s in sources if s.path == p) for p in paths}
    several_sheets = any(n > 1 for n in sheets_per_file.values())
    out = []
    for s in sources:
        parts = [name_of[s.path]] if several_files else []
        if several_sheets and s.sheet is not None:
            parts.append(s.sheet)
        out.append(":".join(parts))
    return out


class _Arrays:
    """The columns of one source as float arrays, each read once (a --by table of 20,000
    groups would otherwise copy its mask and columns once per curve)."""

    def __init__(self, table):
        self.table = table
        self.cache: dict[str, np.ndarray] = {}
        self.excluded = np.asarray(table.mask, dtype=bool)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            self.cache[name] = np.asarray(self.table.column(name).values, dtype=float)
        return self.cache[name]


def _curve(source: Source, plan: ColumnPlan, arrays: _Arrays, pair, rows, group: str | None,
           curve_id: str, predictors: tuple[str, ...]) -> Curve:
    y_name, sigma_name = pair
    x, y, excluded = arrays[plan.x], arrays[y_name], arrays.excluded
    sigma = None if sigma_name is None else arrays[sigma_name]
    # fancy indexing copies; the whole-column case copies below
    if rows is not None:
        x, y, excluded = x[rows], y[rows], excluded[rows]
        sigma = None if sigma is None else sigma[rows]
    else:
        x, y, excluded = x.copy(), y.copy(), excluded.copy()
        sigma = None if sigma is None else sigma.copy()
    usable = ~excluded & np.isfinite(x) & np.isfinite(y)
    if sigma is not None:
        usable &= np.isfinite(sigma)
    if not usable.any():
        what = f"column {y_name!r}" + (f", {plan.by} = {group!r}" if plan.by else "")
        raise InputError(f"{source.where}: curve {curve_id!r} ({what}) is empty: no row has "
                         f"numbers in both x ({plan.x!r}) and y"
                         + (" and sigma" if sigma is not None else "")
                         + (" outside the masked rows" if excluded.any() else ""))
    xs = x if len(predictors) <= 1 else {name: x for name in predictors}
    return Curve(id=curve_id, x=xs, y=y, sigma=sigma, excluded=excluded, source=source.path)


def build_curves(sources: list[Source], plans: list[ColumnPlan],
                 predictors: tuple[str, ...] = ("x",)) -> list[Curve]:
    """One curve per source and y column (per group with ``--by``), with the ids above.

    ``predictors`` are the model's predictor names: a curve's x is one array
    for one predictor, else a mapping of each name to the x column.
    """
    curves: list[Curve] = []
    for source, plan, prefix in zip(sources, plans, _prefixes(sources)):
        several_y = len(plan.pairs) > 1
        if plan.by is None:
            units = [(pair, None, None, pair[0]) for pair in plan.pairs]
        else:
            units = [(pair, rows, label, label + (f":{pair[0]}" if several_y else ""))
                     for label, rows in _groups(source, plan.by) for pair in plan.pairs]
        arrays = _Arrays(source.table)
        for pair, rows, group, name in units:
            curve_id = f"{prefix}:{name}" if prefix else name
            curves.append(_curve(source, plan, arrays, pair, rows, group, curve_id, predictors))
    seen: dict[str, int] = {}
    for i, c in enumerate(curves):
        if c.id in seen:
            raise InputError(f"two curves have the id {c.id!r} ({curves[seen[c.id]].source} and "
                             f"{c.source}); give each curve its own column or file name")
        seen[c.id] = i
    return curves


# ---------------------------------------------------------------------- all at once
@dataclass
class CurveInput:
    """What ``batch`` and ``global`` fit: the model and the curves."""

    model: object
    curves: list[Curve]
    sources: list[Source]
    plans: list[ColumnPlan]


def load_curves(args, model_spec: str) -> CurveInput:
    """Read INPUT..., resolve the curve options and build the model (see the module docstring).

    The model is built per table through :func:`lsqfit_app.session.roles.select`,
    so a formula's names are checked against each table as in ``fit``.
    """
    from lsqfit_app.io.options import read_options_from_args
    from lsqfit_app.session.roles import Roles, select

    request = CurveRequest.from_args(args)
    sources = read_sources(args.inputs, read_options_from_args(args))
    plans = [plan_columns(s, request) for s in sources]
    model = None
    for source, plan in zip(sources, plans):
        y, sigma = plan.pairs[0]
        roles = Roles(x=(plan.x,), y=y, sigma=sigma, x_given=request.x is not None)
        try:
            this = select(source.table, roles, model_spec).model
        except InputError as exc:
            raise InputError(f"{source.where}: {exc}") from None
        if model is None:
            model = this
        elif (this.independent_vars, this.param_names) != (model.independent_vars,
                                                           model.param_names):
            raise InputError(
                f"{source.where}: the model {model_spec!r} reads differently here "
                f"(predictors {', '.join(this.independent_vars)}; parameters "
                f"{', '.join(this.param_names)}) than in {sources[0].where} (predictors "
                f"{', '.join(model.independent_vars)}; parameters {', '.join(model.param_names)})"
                "; give the x columns one name in every file")
    curves = build_curves(sources, plans, tuple(model.independent_vars))
    return CurveInput(model, curves, sources, plans)
