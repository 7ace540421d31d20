"""The GUI-thread side of background fits.

:class:`FitController` owns at most one running fit: a :class:`FitWorker`
moved to a fresh ``QThread``.  Views talk only to the controller; its signals
are emitted in the GUI thread.  The rules of STYLE.md ("Threading in the
GUI") are kept here in one place:

* worker signals are connected to ``@Slot`` methods of this GUI-thread
  object, so they arrive queued in the GUI thread;
* the controller keeps the ``QThread`` referenced until it has finished
  and been waited for;
* ``thread.finished`` is not connected to ``deleteLater`` *and* a slot: the
  controller quits and waits for the thread itself, then drops it;
* :meth:`shutdown` (window closing) cancels and waits.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.gui.fit_worker import FitWorker
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
        self._thread: QThread | None = None
        self._worker: FitWorker | None = None
        self.run_index = 0

    @property
    def is_running(self) -> bool:
        """True while a fit is in progress."""
        return self._worker is not None

    def start(self, problem: FitProblem, method: str = "auto",
              options: SolverOptions | None = None) -> bool:
        """Start a fit in a background thread; False when one is already running."""
        if self._worker is not None:
            return False
        self.run_index += 1
        worker = FitWorker(problem, method, options, self._fit_function)
        thread = QThread()
        thread.setObjectName(f"fit-{self.run_index}")
        worker.moveToThread(thread)
        worker.progressed.connect(self._on_worker_progressed)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        thread.started.connect(worker.run)
        self._worker, self._thread = worker, thread
        self.fit_started.emit(problem)
        self.running_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running fit to stop; it finishes with the best point so far."""
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel any running fit and wait for its thread (call before closing)."""
        if self._worker is None:
            return
        self._worker.cancel()
        thread = self._thread
        if thread is not None:
            thread.quit()
            thread.wait(timeout_ms)
        self._release()

    # ------------------------------------------------------------------ worker signals
    @Slot(object)
    def _on_worker_progressed(self, state) -> None:
        if self._worker is not None:
            self.fit_progressed.emit(state)

    @Slot(object)
    def _on_worker_finished(self, result) -> None:
        if self._worker is None or self.sender() is not self._worker:
            return   # a late signal from a fit already shut down
        self._release()
        self.fit_finished.emit(result)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        if self._worker is None or self.sender() is not self._worker:
            return
        self._release()
        self.fit_failed.emit(message, details)

    def _release(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        # run() has returned (or was cancelled): the thread only runs its idle
        # event loop now, so quit + wait is immediate.
        thread.quit()
        thread.wait()
        # Dropping the last Python references destroys both; the thread has
        # finished, so this is the safe moment (STYLE.md, threading rule 2).
        self._thread = self._worker = None
        del thread, worker
        self.running_changed.emit(False)
