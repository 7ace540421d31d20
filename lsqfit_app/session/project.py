"""A document to and from a ``.lsqfit`` project (the file format is :mod:`lsqfit_app.io.project`).

What goes where in the file (format version 1, unchanged, so every earlier
project opens and earlier versions open these):

- ``table``: the table with its masks and their reasons;
- ``roles``: ``{"x": [names], "y": name or expression, "sigma": name or null}``;
- ``model``: the spec string; ``parameters``: ``[{name, value, fixed, min, max}]``;
- ``solver``: ``method``, ``loss``, ``max_iterations``, and (newer files)
  ``f_scale``, ``weights`` and tolerances; absent keys take their defaults;
- ``result``: the last result (``FitResult.to_dict``);
- ``metadata``: ``fit_range`` ([low, high] or null), ``source`` (path, sheet,
  import options of the data file), ``result_current`` (false when the setup
  changed after the fit) and, in an autosave, ``recovered_from``.
"""
from __future__ import annotations

import math
import os

from lsqfit_app.core.errors import InputError
from lsqfit_app.session.state import Source
from lsqfit_app.session.settings import ParameterSetting, SolverSettings


def document_to_project(doc, fit: int | None = None):
    """The fit ``fit`` (the current one by default) and its dataset as a Project."""
    from lsqfit_app.io.project import Project

    f = doc.fit_of(fit)
    ds = doc.dataset_of(fit)
    x, y, sigma = ds.roles.x, ds.roles.y, ds.roles.sigma
    metadata = {"fit_range": list(f.fit_range) if f.fit_range else None}
    if ds.source.path:
        metadata["source"] = {"path": ds.source.path, "sheet": ds.source.sheet,
                              "options": dict(ds.source.options)}
    if f.result is not None:
        metadata["result_current"] = bool(f.result_current)
    return Project(
        table=ds.table.snapshot(),
        roles={"x": list(x), "y": y or None, "sigma": sigma},
        model=f.model_spec or None,
        parameters=[s.to_dict() for s in f.parameters],
        solver=f.solver.to_dict(),
        result=f.result.to_dict() if f.result is not None else None,
        metadata=metadata)


def _text(value, what: str, source: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{source}: the project file is damaged ({what} must be text)")
    return value


def _solver(raw: dict, source: str) -> SolverSettings:
    from lsqfit_app.core.losses import LOSSES
    from lsqfit_app.solvers import METHODS

    try:
        s = SolverSettings.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: the project file is damaged (solver settings: {exc})") \
            from None
    for what, value, allowed in (("solver method", s.method, METHODS),
                                 ("loss", s.loss, LOSSES),
                                 ("weights", s.weights, ("none", "poisson", "relative"))):
        if value not in allowed:
            raise InputError(f"{source}: unknown {what} {value!r} in the project "
                             f"(choose one of {', '.join(allowed)})")
    if s.max_iterations is not None and s.max_iterations < 0:
        raise InputError(f"{source}: the project's max_iterations must not be negative")
    return s


def _fit_range(raw, source: str):
    if raw is None:
        return None
    try:
        lo, hi = (float(v) for v in raw)
    except (TypeError, ValueError):
        raise InputError(f"{source}: the project file is damaged (fit_range must be two "
                         "numbers)") from None
    if math.isnan(lo) or math.isnan(hi):
        raise InputError(f"{source}: the project file is damaged (fit_range is not a number)")
    return lo, hi


def apply_project(doc, project, path: str | None = None, restore: bool = True) -> bool:
    """Show ``project`` in ``doc`` (its current fit and dataset).

    The saved result is restored without a refit when it still fits the
    setup; returns False when there was a result that could not be rebuilt
    (the caller then refits).  Raises InputError naming ``path`` for settings
    a valid project cannot hold (an unknown solver, a bad range).
    """
    source = os.fspath(path) if path is not None else "<project>"
    roles = project.roles or {}
    xs = roles.get("x") or []
    xs = [xs] if isinstance(xs, str) else list(xs)
    if not all(isinstance(n, str) for n in xs):
        raise InputError(f"{source}: the project file is damaged (x roles must be names)")
    y = _text(roles.get("y"), "the y role", source)
    sigma = _text(roles.get("sigma"), "the sigma role", source)
    try:
        settings = [ParameterSetting.from_dict(d) for d in project.parameters]
    except (AttributeError, TypeError, ValueError) as exc:
        raise InputError(f"{source}: the project file is damaged (parameter settings: {exc})") \
            from None
    solver = _solver(project.solver or {}, source)
    metadata = project.metadata or {}
    fit_range = _fit_range(metadata.get("fit_range"), source)
    src = metadata.get("source")
    name = os.path.basename(source) if path is not None else doc.name

    doc.open_table(project.table, name)
    if isinstance(src, dict) and isinstance(src.get("path"), str):
        options = src.get("options")
        doc.set_source(Source(src["path"], src.get("sheet") if isinstance(src.get("sheet"), str)
                              else None, dict(options) if isinstance(options, dict) else {}))
    doc.set_roles(xs, y, sigma)
    doc.set_model(project.model or "")
    doc.set_parameters(settings)
    doc.set_solver(solver)
    doc.set_fit_range(fit_range)
    doc.mark_saved(path)
    if project.result is None or not restore:
        return True
    return doc.restore_result(project.result, current=metadata.get("result_current", True)
                              is not False)
