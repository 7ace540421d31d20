"""The GUI-thread side of background fits.

:class:`FitController` owns at most one running fit: a :class:`FitWorker`
moved to a fresh ``QThread`` by a :class:`JobRunner`, which keeps the rules
of STYLE.md ("Threading in the GUI") for every background job.  Views talk
only to the controller; its signals are emitted in the GUI thread.  The rules:

* worker signals are connected to ``@Slot`` methods of GUI-thread objects
  (the runner's, and this controller's for progress), so they arrive queued
  in the GUI thread;
* the runner keeps the ``QThread`` referenced until it has finished and been
  waited for;
* ``thread.finished`` is not connected to ``deleteLater`` *and* a slot: the
  runner quits and waits for the thread itself, then drops it;
* :meth:`shutdown` (window closing) cancels and waits.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.gui.fit_worker import FitWorker
from lsqfit_app.gui.job_runner import JobRunner
from lsqfit_app.solvers import SolverOptions


class FitController(QObject):
    """Starts, cancels and reports fits; one at a time.

    Parameters
    ----------
    parent : QObject, optional
    fit_function : callable, optional
        Passed to each :class:`FitWorker` (tests inject a slow fit).
    """

    #: the problem that started (its run number is ``run_index``)
    fit_started = Signal(object)
    #: IterationState, ~30 Hz
    fit_progressed = Signal(object)
    #: FitResult of a finished or cancelled fit
    fit_finished = Signal(object)
    #: message, details
    fit_failed = Signal(str, str)
    #: True while a fit runs
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, fit_function: Callable | None = None):
        super().__init__(parent)
        self._fit_function = fit_function
        # the thread and worker life cycle is the JobRunner's, shared with the
        # guess and compare jobs; its signals are re-emitted as this one's
        self._runner = JobRunner(self)
        self._runner.finished.connect(self.fit_finished)
        self._runner.failed.connect(self.fit_failed)
        self._runner.running_changed.connect(self.running_changed)
        self.run_index = 0

    @property
    def is_running(self) -> bool:
        """True while a fit is in progress."""
        return self._runner.is_running

    def start(self, problem: FitProblem, method: str = "auto",
              options: SolverOptions | None = None) -> bool:
        """Start a fit in a background thread; False when one is already running."""
        if self._runner.is_running:
            return False
        self.run_index += 1
        worker = FitWorker(problem, method, options, self._fit_function)
        worker.progressed.connect(self._on_worker_progressed)
        self.fit_started.emit(problem)
        return self._runner.start_worker(worker, f"fit-{self.run_index}")

    def cancel(self) -> None:
        """Ask the running fit to stop; it finishes with the best point so far."""
        self._runner.cancel()

    def shutdown(self) -> None:
        """Cancel any running fit and wait for its thread (call before closing)."""
        self._runner.shutdown()

    @Slot(object)
    def _on_worker_progressed(self, state) -> None:
        if self._runner.worker is not None and self.sender() is self._runner.worker:
            self.fit_progressed.emit(state)
