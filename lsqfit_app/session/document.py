"""The document the user edits: datasets, fits and their results, with change events, no Qt.

A :class:`Document` holds a list of :class:`Dataset` (a table, its column
roles and where it came from) and a list of :class:`Fit` (a model, parameter
settings, solver settings, a fit range, the last result and the runs so far),
each fit pointing at one dataset, and a current fit.  The window shows the
current fit; a later document can hold many of each without a new API, since
every mutator takes an optional ``fit=`` index and every :class:`Change` names
the fit or dataset it concerns.

Everything changes through the document's methods, which announce a
:class:`~lsqfit_app.session.events.Change` to the listeners (the pattern of
glue's State and napari's ViewerModel): the window redraws on them, undo
commands call the same methods, and the command line uses the same object to
refit a project.  Policies live here, not in a widget:

- the default fit range (:meth:`Document.default_fit_range`);
- a result is *current* until anything it was computed from changes (data,
  masks, roles, model, parameter settings, solver settings, fit range), then
  stale; moving x to another column drops it (it cannot be drawn any more);
- opening a project restores its saved result without a refit
  (:meth:`Document.restore_result`, through ``solvers.restore_result``);
- ``modified``: a change since the last save that no undo history records
  (an undo stack keeps its own clean state; its commands change the
  document inside :meth:`Document.recorded`); the autosave content is
  :meth:`Document.recovery_project`.

The project file form (``to_project`` / ``apply_project``) is in
:mod:`lsqfit_app.session.project`.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterable, Mapping

import numpy as np

from lsqfit_app.core.errors import FormulaError, InputError
from lsqfit_app.core.table import Table
from lsqfit_app.session import events as ev
from lsqfit_app.session.events import Change, EventEmitter
from lsqfit_app.session.roles import (Roles, build_parameters, default_roles, formula_names,
                                      outside_range, problem_from_selection, select)
from lsqfit_app.session.settings import (ParameterSetting, SolverSettings, edit_parameter,
                                         merged, settings_for_model, with_starts)
from lsqfit_app.session.state import Dataset, Fit, RunRecord, RunTicket, Source, record_run

#: the default fit range leaves out this fraction of the x span at each end
RANGE_PAD = 0.1
#: runs kept in a fit's history (their summaries; results themselves are not kept)
MAX_RUNS = 200


def _x_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,) if x else ()
    return tuple(n for n in x if n)


class Document:
    """The Qt-free document: see the module docstring.

    Parameters
    ----------
    table : Table, optional
        The first dataset's table (an empty table when None), with default roles.
    """

    def __init__(self, table: Table | None = None, name: str = "untitled"):
        self.events = EventEmitter()
        self._datasets: list[Dataset] = []
        self._listeners: list = []
        self._fits: list[Fit] = [Fit(0)]
        self._current = 0
        self._recording = 0
        self._modified = False
        self.project_path: str | None = None
        self.add_dataset(Table() if table is None else table, name)
        self._modified = False

    # ------------------------------------------------------------------ containers
    @property
    def datasets(self) -> tuple[Dataset, ...]:
        return tuple(self._datasets)

    @property
    def fits(self) -> tuple[Fit, ...]:
        return tuple(self._fits)

    @property
    def current(self) -> int:
        """Index of the fit the window shows."""
        return self._current

    def select_fit(self, index: int) -> None:
        if not 0 <= index < len(self._fits):
            raise IndexError(f"no fit {index}")
        if index != self._current:
            self._current = index
            self._emit(ev.CURRENT, index)

    def add_dataset(self, table: Table, name: str = "untitled",
                    source: Source | None = None) -> int:
        """Append a dataset (default roles); returns its index."""
        i = len(self._datasets)
        self._datasets.append(Dataset(table, self._default_roles(table), source or Source(), name))
        self._listeners.append(self._table_listener(i))
        table.add_listener(self._listeners[i])
        self._emit(ev.DATASET, None, i)
        self._changed()
        return i

    def add_fit(self, dataset: int | None = None) -> int:
        """Append a fit of ``dataset`` (the current fit's by default); returns its index."""
        dataset = self.fit_of().dataset if dataset is None else dataset
        if not 0 <= dataset < len(self._datasets):
            raise IndexError(f"no dataset {dataset}")
        self._fits.append(Fit(dataset))
        self._emit(ev.FITS, len(self._fits) - 1, dataset)
        self._changed()
        return len(self._fits) - 1

    def fit_of(self, fit: int | None = None) -> Fit:
        return self._fits[self._current if fit is None else fit]

    def dataset_of(self, fit: int | None = None) -> Dataset:
        return self._datasets[self.fit_of(fit).dataset]

    def _fit_index(self, fit: int | None) -> int:
        return self._current if fit is None else fit

    # ------------------------------------------------------------------ the current fit
    @property
    def dataset(self) -> Dataset:
        return self.dataset_of()

    @property
    def table(self) -> Table:
        return self.dataset.table

    @property
    def roles(self) -> Roles:
        return self.dataset.roles

    @property
    def source(self) -> Source:
        return self.dataset.source

    @property
    def name(self) -> str:
        """The name the window's title shows (the project's or the data file's)."""
        return self.dataset.name

    @property
    def model_spec(self) -> str:
        return self.fit_of().model_spec

    @property
    def model(self):
        """The current valid model, or None (then :attr:`model_error` says why)."""
        return self.fit_of().model

    @property
    def model_error(self) -> Exception | None:
        return self.fit_of().model_error

    @property
    def parameters(self) -> tuple[ParameterSetting, ...]:
        return self.fit_of().parameters

    @property
    def solver(self) -> SolverSettings:
        return self.fit_of().solver

    @property
    def fit_range(self) -> tuple[float, float] | None:
        return self.fit_of().fit_range

    @property
    def result(self):
        return self.fit_of().result

    @property
    def result_problem(self):
        """The problem the result was computed from (None without a result)."""
        f = self.fit_of()
        return f.result_problem if f.result is not None else None

    @property
    def result_current(self) -> bool:
        """True while nothing the result was computed from has changed."""
        f = self.fit_of()
        return f.result is not None and f.result_current

    @property
    def stale_reasons(self) -> tuple[str, ...]:
        """What changed since the shown result was computed (change kinds, first first);
        empty while it is current or there is none (words: ``events.stale_text``)."""
        f = self.fit_of()
        if f.result is None or f.result_current:
            return ()
        return tuple(dict.fromkeys(k for r, k in f.changes if r > f.result_revision))

    @property
    def runs(self) -> tuple[RunRecord, ...]:
        return tuple(self.fit_of().runs)

    def role_names(self, fit: int | None = None) -> tuple[str | None, str | None, str | None]:
        """(first x column, y, sigma) by name, None where unset."""
        r = self.dataset_of(fit).roles
        return (r.x[0] if r.x else None), (r.y or None), r.sigma

    # ------------------------------------------------------------------ modified
    @property
    def modified(self) -> bool:
        """A change since the last save that no undo history records."""
        return self._modified

    def set_modified(self, modified: bool = True) -> None:
        if modified != self._modified:
            self._modified = modified
            self._emit(ev.MODIFIED, None)

    def mark_saved(self, path: str | None = None) -> None:
        """After a save to (or an open of) ``path``: the document is that file."""
        if path is not None:
            self.project_path = os.fspath(path)
            self.dataset.name = os.path.basename(self.project_path)
        self._modified = False
        self._emit(ev.MODIFIED, None)

    @contextmanager
    def recorded(self):
        """Changes inside are recorded by an undo history: they leave ``modified`` alone."""
        self._recording += 1
        try:
            yield
        finally:
            self._recording -= 1

    def _changed(self) -> None:
        if not self._recording and not self._modified:
            self._modified = True
            self._emit(ev.MODIFIED, None)

    # ------------------------------------------------------------------ events
    def connect(self, listener, kinds=None) -> None:
        """Call ``listener(change)`` on every change (or only ``kinds``)."""
        self.events.connect(listener, kinds)

    def disconnect(self, listener) -> None:
        self.events.disconnect(listener)

    def _emit(self, kind: str, fit: int | None, dataset: int | None = None,
              detail=None) -> None:
        self.events.emit(Change(kind, fit, dataset, detail))

    def _setup_changed(self, kind: str, fit: int, detail=None) -> None:
        """A change of what fit ``fit`` would compute: announce it, the result goes stale."""
        self._emit(kind, fit, self._fits[fit].dataset, detail)
        self._stale(fit, kind)
        self._changed()

    def _stale(self, fit: int, because: str | None = None) -> None:
        f = self._fits[fit]
        f.revision += 1
        if because:
            f.changes.append((f.revision, because))
            del f.changes[:-MAX_RUNS]
        if f.result is not None and f.result_current:
            f.result_current = False
            self._emit(ev.RESULT, fit, f.dataset, "stale")

    def _fits_of(self, dataset: int) -> list[int]:
        return [i for i, f in enumerate(self._fits) if f.dataset == dataset]

    def _table_listener(self, dataset: int):
        def on_table_event(event) -> None:
            kind = ev.MASK if event.kind == "mask_changed" else ev.TABLE
            self._emit(kind, None, dataset, event)
            for i in self._fits_of(dataset):
                if event.kind.startswith("column"):
                    # a column renamed, added or removed changes the names a formula may use
                    self._resolve_model(i)
                self._stale(i, kind)
            self._changed()
        return on_table_event

    # ------------------------------------------------------------------ data
    @staticmethod
    def _default_roles(table: Table) -> Roles:
        x, y, sigma = default_roles(table)
        return Roles(x=_x_tuple(x), y=y or "", sigma=sigma, x_given=True)

    def open_table(self, table: Table, name: str = "untitled", source: Source | None = None,
                   dataset: int | None = None) -> None:
        """Replace a dataset's table (Open): default roles, no fit range, no result, no runs.

        The model, parameter and solver settings stay (the next file is often
        fitted the same way).  The document is then that file: not modified.
        """
        d = self.fit_of().dataset if dataset is None else dataset
        ds = self._datasets[d]
        ds.table.remove_listener(self._listeners[d])
        self._datasets[d] = Dataset(table, self._default_roles(table), source or Source(), name)
        table.add_listener(self._listeners[d])
        self.project_path = None
        self._emit(ev.DATASET, None, d)
        self._emit(ev.ROLES, None, d)
        self._emit(ev.SOURCE, None, d)
        for i in self._fits_of(d):
            f = self._fits[i]
            f.fit_range = None
            f.runs.clear()
            self._resolve_model(i)
            self._emit(ev.FIT_RANGE, i, d)
            self._stale(i)
            self._clear_result(i)
        self.mark_saved()

    def set_source(self, source: Source, dataset: int | None = None) -> None:
        """Remember where the data came from (reports name the file)."""
        d = self.fit_of().dataset if dataset is None else dataset
        self._datasets[d].source = source
        self._emit(ev.SOURCE, None, d)

    def set_name(self, name: str, dataset: int | None = None) -> None:
        d = self.fit_of().dataset if dataset is None else dataset
        self._datasets[d].name = name
        self._emit(ev.MODIFIED, None, d)

    def set_roles(self, x, y: str | None, sigma: str | None = None,
                  dataset: int | None = None) -> None:
        """Choose the x column(s), the y column (or expression) and the sigma column."""
        d = self.fit_of().dataset if dataset is None else dataset
        ds = self._datasets[d]
        roles = Roles(x=_x_tuple(x), y=y or "", sigma=sigma or None, x_given=True)
        if roles == ds.roles:
            return
        ds.roles = roles
        self._emit(ev.ROLES, None, d)
        for i in self._fits_of(d):
            f = self._fits[i]
            self._resolve_model(i)
            self._stale(i, ev.ROLES)
            if f.result is not None and f.result_roles is not None \
                    and f.result_roles.x[:1] != roles.x[:1]:
                self._clear_result(i)   # drawn against another x it would mean nothing
        self._changed()

    # ------------------------------------------------------------------ model and settings
    def set_model(self, spec: str, fit: int | None = None) -> None:
        """The model spec as typed (library name, sum or formula); an invalid one is kept
        as text with :attr:`model_error`, and the parameter settings stay as they are."""
        i = self._fit_index(fit)
        f = self._fits[i]
        spec = str(spec).strip()
        if spec == f.model_spec:
            return
        f.model_spec = spec
        self._resolve_model(i, announce=True)
        self._stale(i, ev.MODEL)
        self._changed()

    def _resolve_model(self, i: int, announce: bool = False) -> None:
        """Build the fit's model for the current roles; new parameter names get settings."""
        from lsqfit_app.models import make_model

        f = self._fits[i]
        ds = self._datasets[f.dataset]
        before = (f.model, f.model_error)
        if not f.model_spec:
            f.model, f.model_error = None, None
        else:
            try:
                f.model = make_model(f.model_spec, formula_names(ds.table, ds.roles.x))
                f.model_error = None
            except (FormulaError, InputError) as exc:
                f.model, f.model_error = None, exc
        old = before[0]
        same = (f.model is not None and old is not None and old.formula == f.model.formula
                and tuple(old.param_names) == tuple(f.model.param_names)
                and tuple(old.independent_vars) == tuple(f.model.independent_vars))
        both_invalid = f.model is None and old is None and str(before[1]) == str(f.model_error)
        if announce or not (same or both_invalid):
            self._emit(ev.MODEL, i, f.dataset)
        if f.model is not None and tuple(s.name for s in f.parameters) != tuple(
                f.model.param_names):
            f.parameters = settings_for_model(f.parameters, f.set_aside, f.model.param_names,
                                              f.model.param_hints())
            self._emit(ev.PARAMETERS, i, f.dataset, tuple(f.model.param_names))

    def set_parameters(self, settings: Iterable[ParameterSetting | Mapping],
                       fit: int | None = None) -> None:
        """Put in settings by name (names the model lacks are ignored)."""
        i = self._fit_index(fit)
        f = self._fits[i]
        new = merged(f.parameters, settings)
        if new == f.parameters:
            return
        changed = tuple(a.name for a, b in zip(new, f.parameters) if a != b)
        f.parameters = new
        self._setup_changed(ev.PARAMETERS, i, changed)

    def edited_parameters(self, name: str, fit: int | None = None, **changes
                          ) -> tuple[ParameterSetting, ...]:
        """The settings after one edit of ``name`` (``value``, ``fixed``, ``min``, ``max``),
        without applying them; ParameterError says why an edit is refused."""
        f = self.fit_of(fit)
        out = []
        found = False
        for s in f.parameters:
            if s.name == name:
                s = edit_parameter(s, **changes)
                found = True
            out.append(s)
        if not found:
            from lsqfit_app.core.errors import ParameterError
            names = ", ".join(s.name for s in f.parameters) or "none"
            raise ParameterError(f"unknown parameter {name!r}; the model {f.model_spec!r} "
                                 f"has {names}")
        return tuple(out)

    def edit_parameter(self, name: str, fit: int | None = None, **changes) -> None:
        """Apply one edit of a parameter's setting (see :meth:`edited_parameters`)."""
        self.set_parameters(self.edited_parameters(name, fit, **changes), fit)

    def starts_set(self, values: Mapping[str, float] | Iterable[float],
                   fit: int | None = None) -> tuple[ParameterSetting, ...]:
        """The settings with these start values (by name or in order), clipped into bounds."""
        f = self.fit_of(fit)
        if not isinstance(values, Mapping):
            values = dict(zip([s.name for s in f.parameters], values))
        return with_starts(f.parameters, values)

    def set_solver(self, settings: SolverSettings | None = None, fit: int | None = None,
                   **changes) -> None:
        """Replace the solver settings, or change some of them (``method="lm"``)."""
        i = self._fit_index(fit)
        f = self._fits[i]
        new = replace(settings or f.solver, **changes)
        if new != f.solver:
            f.solver = new
            self._setup_changed(ev.SOLVER, i, tuple(changes) or None)

    def set_fit_range(self, fit_range: tuple[float, float] | None,
                      fit: int | None = None) -> None:
        """Fit only the points with x in ``[low, high]`` (None: all points)."""
        i = self._fit_index(fit)
        f = self._fits[i]
        if fit_range is not None:
            lo, hi = float(fit_range[0]), float(fit_range[1])
            if math.isnan(lo) or math.isnan(hi):
                raise InputError("a fit range needs two numbers")
            fit_range = (min(lo, hi), max(lo, hi))
        if fit_range != f.fit_range:
            f.fit_range = fit_range
            self._setup_changed(ev.FIT_RANGE, i)

    def default_fit_range(self, fit: int | None = None) -> tuple[float, float] | None:
        """The range offered when the user turns the fit range on: the x span without
        :data:`RANGE_PAD` of it at each end (None when x has no finite value)."""
        span = self.x_span(fit)
        if span is None:
            return None
        lo, hi = span
        pad = RANGE_PAD * (hi - lo)
        return (lo + pad, hi - pad) if hi > lo else (lo, hi)

    def x_span(self, fit: int | None = None) -> tuple[float, float] | None:
        """(smallest, largest) finite x, or None when there is none."""
        x = self.x_values(fit)
        if x is None:
            return None
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            return None
        return float(finite.min()), float(finite.max())

    # ------------------------------------------------------------------ data of a fit
    def x_values(self, fit: int | None = None) -> np.ndarray | None:
        """The first x column's values (a view), or None without one."""
        x = self.role_names(fit)[0]
        table = self.dataset_of(fit).table
        return table.column(x).values if x and x in table.names else None

    def excluded(self, fit: int | None = None) -> np.ndarray | None:
        """Points a fit leaves out: masked ones and those outside the fit range."""
        x = self.x_values(fit)
        if x is None:
            return None
        return self.dataset_of(fit).table.mask | outside_range(x, self.fit_of(fit).fit_range)

    def build_problem(self, spec: str | None = None, fit: int | None = None):
        """A FitProblem of the fit's data (a snapshot), roles, model, settings and range.

        With ``spec`` another model is used with its default parameter
        settings (a model comparison fits several).

        Raises
        ------
        InputError
            With a message for the user.
        """
        f = self.fit_of(fit)
        ds = self._datasets[f.dataset]
        x, y, _sigma = self.role_names(fit)
        if not x or not y:
            raise InputError("choose the x and y columns first")
        other = spec is not None
        spec = spec if other else f.model_spec
        if not spec:
            raise InputError("choose a model first")
        if not other and f.model is None:
            why = f": {f.model_error}" if f.model_error is not None else ""
            raise InputError(f"the model {spec!r} is not valid{why}")
        sel = select(ds.table.snapshot(), ds.roles, spec)
        if other:
            params = build_parameters(sel.model, ())
        else:
            by_name = {s.name: s for s in f.parameters}
            defaults = build_parameters(sel.model, ())
            params = [by_name[p.name].to_parameter() if p.name in by_name else p
                      for p in defaults]
            for p in params:
                p.validate()
        s = f.solver
        return problem_from_selection(sel, params, weights=s.weights, loss=s.loss,
                                      f_scale=s.f_scale, fit_range=f.fit_range)

    # ------------------------------------------------------------------ runs and results
    def begin_run(self, fit: int | None = None, spec: str | None = None) -> RunTicket:
        """The problem of a run about to start and what its result will belong to
        (with ``spec``: of that model with default settings, see :meth:`build_problem`)."""
        i = self._fit_index(fit)
        f = self._fits[i]
        problem = self.build_problem(spec, fit=i)
        return RunTicket(i, f.revision, self._datasets[f.dataset].roles, problem,
                         f.solver.method, f.solver.options())

    def finish_run(self, ticket: RunTicket, result, record: bool = True) -> None:
        """Show a run's result; it is current unless the setup changed since it began."""
        f = self._fits[ticket.fit]
        f.result, f.result_problem, f.result_roles = result, ticket.problem, ticket.roles
        f.result_current = ticket.revision == f.revision
        f.result_revision = ticket.revision
        if record:
            f.run_count += 1
            f.runs.append(record_run(f.run_count, f.model_spec, ticket.method, result))
            del f.runs[:-MAX_RUNS]
        self._emit(ev.RESULT, ticket.fit, f.dataset, "set")

    def clear_result(self, fit: int | None = None) -> None:
        self._clear_result(self._fit_index(fit))

    def _clear_result(self, i: int) -> None:
        f = self._fits[i]
        if f.result is None and f.result_problem is None:
            return
        f.result = f.result_problem = f.result_roles = None
        f.result_current = False
        self._emit(ev.RESULT, i, f.dataset, "cleared")

    def restore_result(self, saved: Mapping | None, current: bool = True,
                       fit: int | None = None) -> bool:
        """Show a project's saved result without refitting; False when it cannot be
        rebuilt for the current setup (then refit)."""
        if not saved:
            return False
        from lsqfit_app.solvers import restore_result
        try:
            ticket = self.begin_run(fit)
            result = restore_result(ticket.problem, dict(saved))
        except (ImportError, InputError, ValueError, KeyError, TypeError):
            return False
        self.finish_run(ticket, result, record=False)
        if not current:
            self._stale(ticket.fit, ev.SAVED_STALE)
        return True

    # ------------------------------------------------------------------ project files
    def to_project(self, fit: int | None = None):
        """The document as an ``io.project.Project`` (see :mod:`lsqfit_app.session.project`)."""
        from lsqfit_app.session.project import document_to_project
        return document_to_project(self, fit)

    def apply_project(self, project, path: str | None = None, restore: bool = True) -> bool:
        """Show a loaded project; returns False when its saved result could not be restored."""
        from lsqfit_app.session.project import apply_project
        return apply_project(self, project, path, restore)

    @classmethod
    def from_project(cls, project, path: str | None = None, restore: bool = True) -> "Document":
        doc = cls()
        doc.apply_project(project, path, restore)
        return doc

    def recovery_project(self):
        """What the autosave writes: the project, and the file it stands for."""
        project = self.to_project()
        project.metadata["recovered_from"] = self.project_path or self.name
        return project
