"""The parts of a document: datasets, fits, runs (plain containers; the Document changes them).

A :class:`Dataset` is a table with its column roles and source; a :class:`Fit`
is one model fitted to one dataset, with its settings, range, last result and
the summaries of its runs.  Only :class:`~lsqfit_app.session.document.Document`
mutates them, so every change is announced.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lsqfit_app.core.table import Table
from lsqfit_app.session.roles import Roles
from lsqfit_app.session.settings import SolverSettings


@dataclass
class Source:
    """Where a dataset came from (reports name the file; projects remember it).

    ``read`` is the importer's ReadResult when the file was read in this
    session (line numbers and cell problems for reports); it is not saved.
    """

    path: str | None = None
    sheet: str | None = None
    options: dict = field(default_factory=dict)
    read: object = None


@dataclass
class Dataset:
    """A table, its column roles and its source."""

    table: Table
    roles: Roles = field(default_factory=lambda: Roles(x=(), y="", x_given=True))
    source: Source = field(default_factory=Source)
    name: str = "untitled"


@dataclass(frozen=True)
class RunRecord:
    """What one finished run gave (a summary: results of old runs are not kept)."""

    number: int
    model: str
    method: str
    solver: str
    status: str
    converged: bool
    iterations: int
    objective: float
    param_names: tuple
    values: tuple


@dataclass(frozen=True)
class RunTicket:
    """A run about to start: the problem (a snapshot) and what the result will belong to."""

    fit: int
    revision: int
    roles: Roles
    problem: object
    method: str
    options: object


@dataclass
class Fit:
    """One fit of one dataset: model, settings, range, last result, runs."""

    dataset: int = 0
    model_spec: str = ""
    model: object = None
    model_error: Exception | None = None
    parameters: tuple = ()
    solver: SolverSettings = field(default_factory=SolverSettings)
    fit_range: tuple | None = None
    result: object = None
    result_problem: object = None
    result_roles: Roles | None = None
    result_current: bool = False
    revision: int = 0
    # (revision, change kind) of each setup change: what made a result stale
    changes: list = field(default_factory=list)
    result_revision: int = 0
    runs: list = field(default_factory=list)
    run_count: int = 0
    # settings of parameters a model change took away, by name (switching back restores them)
    set_aside: dict = field(default_factory=dict)


def record_run(number: int, spec: str, method: str, result) -> RunRecord:
    """The summary of a finished run."""
    status = getattr(result.status, "value", str(result.status))
    return RunRecord(number, spec, method, str(result.solver), status, bool(result.converged),
                     int(result.iterations), float(result.statistics.objective),
                     tuple(result.param_names), tuple(float(v) for v in result.values))
