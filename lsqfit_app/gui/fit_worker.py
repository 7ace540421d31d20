"""The worker that runs one fit in a ``QThread``.

The solver is Qt-free (``lsqfit_app.solvers.fit``); this worker adapts its
per-iteration callback to a throttled Qt signal.  The callback runs in the
worker thread, so it only stores the latest state and emits at most
:data:`PROGRESS_INTERVAL` apart; the final state is always emitted before
``finished`` so the views end on the exact last iterate.

Cancellation is the engine's thread-safe :class:`CancelToken`: the worker's
event loop is blocked inside :meth:`FitWorker.run`, so a queued "cancel" slot
would only run after the fit (STYLE.md, threading rule 4).
"""
from __future__ import annotations

import time
import traceback
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.solvers import METHODS, SolverOptions, _runner, fit

# The solvers import scipy.optimize lazily.  Imported first in a worker, it
# would hold the GIL for most of a second and freeze the window at the start
# of the first fit; importing them here (at window creation) avoids that.
for _method in METHODS:
    _runner(_method)
import lsqfit_app.models.starts  # noqa: E402,F401 - same reason: start-value search

#: seconds between progress signals (~30 Hz)
PROGRESS_INTERVAL = 1.0 / 30.0


class FitWorker(QObject):
    """Runs ``fit(problem, method, ...)`` once, in whatever thread it lives in.

    Parameters
    ----------
    problem : FitProblem
        A snapshot: the worker never sees the live table.
    method : str
    options : SolverOptions, optional
    fit_function : callable, optional
        Replaces :func:`lsqfit_app.solvers.fit` (tests use a slow stand-in).
    """

    #: the latest IterationState, throttled
    progressed = Signal(object)
    #: the FitResult (also for a cancelled fit: it carries the best point so far)
    finished = Signal(object)
    #: a message for the user and the traceback text
    failed = Signal(str, str)

    def __init__(self, problem: FitProblem, method: str = "auto",
                 options: SolverOptions | None = None,
                 fit_function: Callable | None = None):
        super().__init__()
        self._problem = problem
        self._method = method
        self._options = options
        self._fit = fit_function or fit
        self.cancel_token = CancelToken()
        self._last_emit = 0.0
        self._pending: IterationState | None = None

    def cancel(self) -> None:
        """Ask the solver to stop (thread-safe; returns at once)."""
        self.cancel_token.cancel()

    @Slot()
    def run(self) -> None:
        """Run the fit; emits ``finished`` or ``failed`` exactly once."""
        try:
            result = self._fit(self._problem, self._method, on_iteration=self._on_iteration,
                               cancel=self.cancel_token, options=self._options)
        except InputError as exc:
            self.failed.emit(str(exc), "")
            return
        except Exception as exc:  # any engine bug must reach the window, not kill the thread
            self.failed.emit(f"The fit failed: {type(exc).__name__}: {exc}",
                             traceback.format_exc())
            return
        if self._pending is not None:
            self.progressed.emit(self._pending)
            self._pending = None
        self.finished.emit(result)

    def _on_iteration(self, state: IterationState) -> None:
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL:
            self._last_emit = now
            self._pending = None
            self.progressed.emit(state)
        else:
            self._pending = state
