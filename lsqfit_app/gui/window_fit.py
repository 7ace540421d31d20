"""Fit control of the main window: start, live frames, finish, guesses, the compare dialog.

:class:`FitActions` lives in the GUI thread and owns what is transient while
a fit runs (the run ticket, the latest progress state, the live values); the
document receives the result when the run ends
(:meth:`~lsqfit_app.session.document.Document.finish_run`).  The progress
line in the status bar describes the running fit only: it is cleared when the
run ends, and the final counts come from the result.  Worker signals
reach only its ``@Slot`` methods (STYLE.md, threading rule 1).
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Slot

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.result import FitResult, FitStatus

#: live frames during a fit: at most this often (ms) ...
MIN_FRAME_MS = 33
#: ... and at least this many times as long as drawing + painting a frame takes, so
#: the event loop stays free most of the time even with slow (software) rendering
FRAME_COST_FACTOR = 3.0
MAX_FRAME_MS = 400


class FitActions(QObject):
    """Runs fits and start-value guesses for a window and shows their progress."""

    def __init__(self, window):
        super().__init__(window)
        from lsqfit_app.gui.job_runner import JobRunner

        self._window = window
        self.ticket = None            # the run in progress (Document.begin_run)
        self.live_values: np.ndarray | None = None
        self._latest_state = None
        self._draw_seconds = 0.0
        self.compare_dialog = None
        self.guess_runner = JobRunner(self)
        self.guess_runner.finished.connect(self._on_guess_runner_finished)
        self.guess_runner.failed.connect(self._on_guess_runner_failed)
        self.frame_timer = QTimer(self)
        self.frame_timer.setSingleShot(True)
        self.frame_timer.timeout.connect(self._on_frame_timer_timeout)
        c = window.controller
        c.fit_started.connect(self._on_controller_fit_started)
        c.fit_progressed.connect(self._on_controller_fit_progressed)
        c.fit_finished.connect(self._on_controller_fit_finished)
        c.fit_failed.connect(self._on_controller_fit_failed)
        c.running_changed.connect(self._on_controller_running_changed)

    @property
    def running_problem(self):
        return self.ticket.problem if self.ticket is not None else None

    # ------------------------------------------------------------------ fits
    def start_fit(self) -> bool:
        """Start a background fit; False (with a message) when it cannot start."""
        w = self._window
        if w.controller.is_running:
            return False
        from lsqfit_app.solvers import check_method
        try:
            ticket = w.document.begin_run()
            check_method(ticket.problem, ticket.method)
        except InputError as exc:
            self.show_fit_error(str(exc))
            return False
        self.ticket = ticket
        self.live_values = None
        return w.controller.start(ticket.problem, ticket.method, ticket.options)

    def show_fit_error(self, message: str) -> None:
        w = self._window
        w.results_panel.set_message(message, error=True)
        w.show_message(message.splitlines()[0], error=True)

    @Slot(object)
    def _on_controller_fit_started(self, _problem) -> None:
        w = self._window
        method = self.ticket.method if self.ticket is not None else w.document.solver.method
        w.plots.start_fit_run(method)
        w.plots.set_preview(None, None)
        w.progress_label.clear()
        w.results_panel.set_running(True)
        w.results_panel.set_message("Fitting…")
        w.show_message("Fitting… (Esc or Cancel stops and keeps the best point so far)")

    @Slot(object)
    def _on_controller_fit_progressed(self, state) -> None:
        self._latest_state = state
        plots = self._window.plots
        plots.append_history(state.objective, refresh=False)
        if not self.frame_timer.isActive():
            cost = self._draw_seconds + plots.last_paint_seconds
            interval = min(max(MIN_FRAME_MS, int(1000 * FRAME_COST_FACTOR * cost)), MAX_FRAME_MS)
            self.frame_timer.start(interval)

    def _on_frame_timer_timeout(self) -> None:
        state = self._latest_state
        if state is None or self.ticket is None:
            return
        w = self._window
        start = time.perf_counter()
        self.live_values = state.as_array()
        w.fit_panel.parameters.set_live_values(self.live_values)
        w.plots.refresh_history()
        w.presenter.draw_model(self.live_values)
        w.progress_label.setText(
            f"iteration {state.iteration}   objective {state.objective:.6g}   {state.solver}")
        self._draw_seconds = time.perf_counter() - start

    def _end_run(self):
        self.frame_timer.stop()
        self._latest_state = None
        self._window.progress_label.clear()
        self._window.results_panel.set_running(False)
        ticket, self.ticket = self.ticket, None
        self.live_values = None
        return ticket

    @Slot(object)
    def _on_controller_fit_finished(self, result: FitResult) -> None:
        w = self._window
        ticket = self._end_run()
        if result.history:
            w.plots.set_history(result.history)
        if ticket is not None:
            # a result alone is not an unsaved change: the settings reproduce it
            w.document.finish_run(ticket, result)
        from lsqfit_app.report.text import run_text
        word = {FitStatus.CONVERGED: "Fit converged", FitStatus.CANCELLED: "Fit cancelled"}.get(
            result.status, f"Fit stopped: {result.status.value.replace('_', ' ')}")
        later = "" if w.document.result_current else "; the setup changed meanwhile: refit"
        w.show_message(f"{word} ({run_text(result)}){later}",
                       error=result.status is FitStatus.FAILED)

    @Slot(str, str)
    def _on_controller_fit_failed(self, message: str, details: str) -> None:
        w = self._window
        self._end_run()
        w.refresh_data()
        self.show_fit_error(message)
        if details:
            w.results_panel.status_label.setToolTip(details)

    @Slot(bool)
    def _on_controller_running_changed(self, running: bool) -> None:
        w = self._window
        w.fit_panel.set_running(running)
        w.fit_action.setEnabled(not running)
        w.cancel_action.setEnabled(running)
        if not running:
            w.schedule_preview()

    # ------------------------------------------------------------------ starts
    def guess_starts(self) -> bool:
        """Fill the start values from the data (the engine's guess), in the background.

        A formula's start search can take seconds on big data: it runs off the
        GUI thread like a fit, and the window keeps answering.
        """
        from lsqfit_app.solvers import resolve_starts
        w = self._window
        if self.guess_runner.is_running or w.controller.is_running:
            return False
        try:
            problem = w.document.build_problem()
        except InputError as exc:
            self.show_fit_error(str(exc))
            return False
        params = [p.with_value(None) if not p.fixed else p for p in problem.params]
        blank = problem.with_params(params)
        names = problem.param_names

        def job(cancel, _put):
            return names, resolve_starts(blank, cancel)

        w.show_message("Guessing start values from the data…")
        return self.guess_runner.start(job, "guess-starts")

    @Slot(object)
    def _on_guess_runner_finished(self, value) -> None:
        w = self._window
        names, values = value
        model = w.document.model
        if model is None or tuple(model.param_names) != tuple(names):
            return   # the model changed meanwhile: these starts belong to another one
        w.fit_panel.parameters.set_starts(dict(zip(names, values)), "Guess start values")
        w.show_message("Start values guessed from the data")

    @Slot(str, str)
    def _on_guess_runner_failed(self, message: str, _details: str) -> None:
        self.show_fit_error(f"Could not guess start values: {message}")

    def use_result_as_start(self) -> None:
        """Copy the last result's values into the start column (undoable)."""
        result = self._window.document.result
        if result is not None:
            self._window.fit_panel.parameters.set_starts(
                dict(zip(result.param_names, result.values)), "Use result as start")

    # ------------------------------------------------------------------ comparison
    def open_compare_dialog(self):
        """The model comparison / solver race dialog on the current data."""
        from lsqfit_app.gui.compare_dialog import CompareDialog
        w = self._window
        if self.compare_dialog is None:
            current = w.document.model_spec
            models = tuple(dict.fromkeys([current, "poly1", "poly2", "poly3"]))[:4]
            build = w.document.build_problem
            dialog = CompareDialog(build, build, w, models=models)
            dialog.model_chosen.connect(self._on_compare_dialog_model_chosen)
            self.compare_dialog = dialog
        self.compare_dialog.show()
        self.compare_dialog.raise_()
        return self.compare_dialog

    def _on_compare_dialog_model_chosen(self, spec: str, result) -> None:
        w = self._window
        if w.controller.is_running:
            return
        doc = w.document
        doc.set_model(spec)
        model = doc.model
        if result is not None and model is not None and \
                tuple(result.param_names) == tuple(model.param_names):
            try:
                ticket = doc.begin_run(spec=spec)
            except InputError:
                return
            doc.finish_run(ticket, result)

    def shutdown(self) -> None:
        self.guess_runner.shutdown()
        if self.compare_dialog is not None:
            self.compare_dialog.shutdown()
            self.compare_dialog.close()
