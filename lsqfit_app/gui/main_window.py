"""The main window: data table (left), linked plots (centre), fit and results (right).

The window owns the document state -- the :class:`Table` (through its
:class:`TableModel`), the column roles, the fit settings in the fit panel,
the last :class:`FitResult` -- and wires the panels together.  Fits run in
the :class:`FitController`; every data edit goes through the ``QUndoStack``.
"""
from __future__ import annotations

import os
import time
import traceback

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter,
                               QToolBar, QVBoxLayout, QWidget)

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitResult, FitStatus
from lsqfit_app.core.table import Table
from lsqfit_app.gui import files
from lsqfit_app.gui.fit_controller import FitController
from lsqfit_app.gui.fit_panel import FitPanelWidget
from lsqfit_app.gui.plots import PlotsWidget
from lsqfit_app.gui.results_panel import ResultsPanelWidget
from lsqfit_app.gui.table_model import TableModel
from lsqfit_app.gui.table_view import DataTableWidget
from lsqfit_app.gui.undo_commands import SetMaskCommand, SettingsCommand
from lsqfit_app.solvers import SolverOptions

APP_NAME = "lsqfit-app"
#: points of the dense grid the fitted curve and bands are drawn on
CURVE_POINTS = 800
AUTOSAVE_INTERVAL_MS = 60_000
#: live frames during a fit: at most this often (ms) ...
MIN_FRAME_MS = 33
#: ... and at least this many times as long as drawing + painting a frame takes, so
#: the event loop stays free most of the time even with slow (software) rendering
FRAME_COST_FACTOR = 3.0
MAX_FRAME_MS = 400


class MainWindow(QMainWindow):
    """The lsqfit-app main window.

    Parameters
    ----------
    table : Table, optional
        The data to show (an empty table when None).
    fit_function : callable, optional
        Replaces the engine's ``fit`` in the worker (tests).
    """

    def __init__(self, table: Table | None = None, fit_function=None, parent=None):
        super().__init__(parent)
        self._file_path: str | None = None
        self._file_name = "untitled"
        self._result: FitResult | None = None
        self._result_problem: FitProblem | None = None   # the problem the result came from
        self._source_read = None                         # the ReadResult of the data file
        self._source_path: str | None = None
        from lsqfit_app.gui.exports import ExportActions
        from lsqfit_app.gui.job_runner import JobRunner
        self.exports = ExportActions(self)
        self._guess_runner = JobRunner(self)
        self._guess_runner.finished.connect(self._on_guess_runner_finished)
        self._guess_runner.failed.connect(self._on_guess_runner_failed)
        self._result_x_name: str | None = None
        self._live_values: np.ndarray | None = None
        self._running_problem: FitProblem | None = None
        self._settings_modified = False
        self._fit_range: tuple[float, float] | None = None
        self._applying_range = False   # undo/redo is setting the range: no new command
        self._closing = False
        self._compare_dialog = None

        self.undo_stack = QUndoStack(self)
        self.table_model = TableModel(table if table is not None else Table(), self)
        self.controller = FitController(self, fit_function=fit_function)

        self.data_panel = DataTableWidget(self.table_model, self.undo_stack)
        self.plots = PlotsWidget()
        self.fit_panel = FitPanelWidget()
        self.results_panel = ResultsPanelWidget()

        right = QSplitter(Qt.Vertical)
        right.addWidget(self.fit_panel)
        right.addWidget(self.results_panel)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        right.setSizes([520, 360])
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        self.plot_bar = QToolBar("Plot")
        self.plot_bar.addWidget(self.fit_panel.range_check)
        self.plot_bar.addWidget(self.fit_panel.prediction_check)
        centre_layout.addWidget(self.plot_bar)
        centre_layout.addWidget(self.plots, 1)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.data_panel)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([330, 560, 510])
        self.setCentralWidget(self.splitter)
        self.status_message = QLabel()
        self.statusBar().addWidget(self.status_message, 1)
        # live fit progress; a fixed width so 30 updates a second never re-layout the window
        self.progress_label = QLabel()
        self.progress_label.setFixedWidth(360)
        self.progress_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.setAcceptDrops(True)
        self.resize(1400, 900)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh_data)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(30)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        self._latest_state = None
        self._draw_seconds = 0.0
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()

        self._build_menus()
        self._connect()
        self._on_data_roles_changed()
        self._update_title()

    # ------------------------------------------------------------------ set-up
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = file_menu.addAction("&Open…", self.open_dialog)
        self.open_action.setShortcut(QKeySequence.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.save_action = file_menu.addAction("&Save project", self.save)
        self.save_action.setShortcut(QKeySequence.Save)
        self.save_as_action = file_menu.addAction("Save project &as…", self.save_as)
        self.save_as_action.setShortcut(QKeySequence.SaveAs)
        file_menu.addSeparator()
        export = file_menu.addMenu("&Export")
        self.export_report_action = export.addAction("&Report (HTML, PDF, Markdown)…",
                                                     self.exports.export_report)
        export.addAction("&Fitted data (CSV, XLSX)…", self.exports.export_fitted_data)
        export.addAction("Reproducing &script (Python)…", self.exports.export_script)
        export.addAction("&Plot image (PNG, SVG, PDF)…", self.exports.export_plot)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QKeySequence.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction("Copy &results as a table", self.exports.copy_results)
        copy = edit_menu.addAction("&Copy cells", self.data_panel.copy_selection)
        copy.setShortcut(QKeySequence.Copy)
        copy.setShortcutContext(Qt.WidgetShortcut)
        paste = edit_menu.addAction("&Paste cells", self.data_panel.paste)
        paste.setShortcut(QKeySequence.Paste)
        paste.setShortcutContext(Qt.WidgetShortcut)
        edit_menu.addSeparator()
        dp = self.data_panel
        for a in (dp.insert_row_above_action, dp.insert_row_below_action, dp.delete_rows_action):
            edit_menu.addAction(a)
        edit_menu.addSeparator()
        for a in (dp.insert_column_action, dp.computed_column_action, dp.rename_column_action,
                  dp.delete_column_action):
            edit_menu.addAction(a)
        edit_menu.addSeparator()
        edit_menu.addAction(dp.mask_action)
        edit_menu.addAction(dp.unmask_action)
        self.include_all_action = edit_menu.addAction("Include all points", self.include_all)

        fit_menu = bar.addMenu("F&it")
        self.fit_action = fit_menu.addAction("&Fit", self.start_fit)
        self.cancel_action = fit_menu.addAction("&Cancel fit", self.controller.cancel)
        self.cancel_action.setEnabled(False)
        fit_menu.addAction("&Guess starts", self.guess_starts)
        fit_menu.addAction("&Use result as start", self.use_result_as_start)
        fit_menu.addSeparator()
        fit_menu.addAction("Co&mpare models and solvers…", self.open_compare_dialog)
        fit_menu.addAction("Clear objective &history", self.plots.clear_history)

        view_menu = bar.addMenu("&View")
        self.mask_mode_action = QAction("Mask by dragging", self)
        self.mask_mode_action.setCheckable(True)
        self.mask_mode_action.setShortcut("Ctrl+Shift+K")
        self.mask_mode_action.setToolTip("Drag a rectangle to exclude points (or hold Shift "
                                         "while dragging); click a point to exclude or include it")
        self.mask_mode_action.toggled.connect(self.plots.set_mask_mode)
        view_menu.addAction(self.mask_mode_action)
        reset = view_menu.addAction("&Reset plot ranges", self._on_reset_ranges)
        self.plot_bar.insertAction(self.plot_bar.actions()[0], reset)
        self.plot_bar.insertAction(self.plot_bar.actions()[0], self.mask_mode_action)
        self.plot_bar.insertSeparator(self.plot_bar.actions()[2])

    def _connect(self) -> None:
        self.table_model.table.add_listener(self._on_table_changed)
        self.table_model.modelReset.connect(self._schedule_refresh)
        self.data_panel.roles_changed.connect(self._on_data_roles_changed)
        self.data_panel.message_posted.connect(self.show_message)
        self.fit_panel.model_changed.connect(self._on_fit_panel_model_changed)
        self.fit_panel.fit_requested.connect(self.start_fit)
        self.fit_panel.cancel_requested.connect(self.controller.cancel)
        self.fit_panel.guess_requested.connect(self.guess_starts)
        self.fit_panel.use_result_requested.connect(self.use_result_as_start)
        self.fit_panel.range_toggled.connect(self._on_fit_panel_range_toggled)
        self.fit_panel.band_kind_changed.connect(self._on_fit_panel_band_kind_changed)
        self.fit_panel.parameters.settings_changed.connect(self._on_parameters_settings_changed)
        self.fit_panel.parameters.settings_edited.connect(self._on_parameter_settings_edited)
        self.fit_panel.parameters.edit_refused.connect(self.show_message)
        self.controller.fit_started.connect(self._on_controller_fit_started)
        self.controller.fit_progressed.connect(self._on_controller_fit_progressed)
        self.controller.fit_finished.connect(self._on_controller_fit_finished)
        self.controller.fit_failed.connect(self._on_controller_fit_failed)
        self.controller.running_changed.connect(self._on_controller_running_changed)
        self.plots.point_clicked.connect(self._on_plots_point_clicked)
        self.plots.rect_selected.connect(self._on_plots_rect_selected)
        self.plots.range_changed.connect(self._on_plots_range_changed)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_title)

    # ------------------------------------------------------------------ document
    @property
    def table(self) -> Table:
        """The table being edited."""
        return self.table_model.table

    @property
    def result(self) -> FitResult | None:
        """The last finished fit."""
        return self._result

    @property
    def is_modified(self) -> bool:
        """True when there are changes not saved to a project."""
        return not self.undo_stack.isClean() or self._settings_modified

    def set_table(self, table: Table, name: str = "untitled", path: str | None = None) -> None:
        """Replace the document's table (Open); clears undo history and results."""
        self.controller.shutdown()
        self.table_model.table.remove_listener(self._on_table_changed)
        self.table_model.set_table(table)
        table.add_listener(self._on_table_changed)
        self.undo_stack.clear()
        self._file_path, self._file_name = path, name
        self._source_read = self._source_path = None
        self._settings_modified = False
        self._apply_fit_range(None)
        self.set_result(None)
        self.plots.clear_history()
        self.data_panel.set_roles(*files.default_roles(table))
        self.data_panel.fit_columns_to_headers()
        self._update_title()
        self.plots.fit_plot.enableAutoRange()

    def set_roles(self, x: str | None, y: str | None, sigma: str | None = None) -> None:
        """Choose the x, y and sigma columns by name."""
        self.data_panel.set_roles(x, y, sigma)

    def set_model(self, spec: str) -> None:
        """Choose the model (library name, sum or formula)."""
        self.fit_panel.set_model_spec(spec)

    def _update_title(self, *_args) -> None:
        mark = "*" if self.is_modified else ""
        self.setWindowTitle(f"{APP_NAME} - {self._file_name}{mark}")

    def _mark_settings_modified(self) -> None:
        if not self._settings_modified:
            self._settings_modified = True
            self._update_title()

    def show_message(self, text: str, error: bool = False) -> None:
        """A message in the status bar (errors in red)."""
        self.status_message.setStyleSheet("color: #b00000;" if error else "")
        self.status_message.setText(text)

    # ------------------------------------------------------------------ data -> plots
    def _on_table_changed(self, _event) -> None:
        self._schedule_refresh()

    def _schedule_refresh(self, *_args) -> None:
        self._refresh_timer.start()

    def _role_arrays(self):
        """(x, y, sigma, excluded) of the current roles, or None."""
        x_name, y_name, s_name = self.data_panel.roles()
        table = self.table
        if not x_name or not y_name or x_name not in table.names or y_name not in table.names:
            return None
        x = table.column(x_name).values
        y = table.column(y_name).values
        sigma = table.column(s_name).values if s_name and s_name in table.names else None
        excluded = table.mask | self._outside_range(x)
        return x, y, sigma, excluded

    def _outside_range(self, x: np.ndarray) -> np.ndarray:
        if self._fit_range is None:
            return np.zeros(len(x), dtype=bool)
        lo, hi = self._fit_range
        with np.errstate(invalid="ignore"):
            return (x < lo) | (x > hi)

    def refresh_data(self) -> None:
        """Redraw data points, residuals and the curve after a data or role change."""
        arrays = self._role_arrays()
        if arrays is None:
            self.plots.set_data(np.zeros(0), np.zeros(0), None, np.zeros(0, dtype=bool))
            self.plots.set_residuals(np.zeros(0))
            return
        x, y, sigma, excluded = arrays
        self.plots.set_data(x, y, sigma, excluded)
        values = self._live_values if self._live_values is not None else (
            self._result.values if self._result is not None else None)
        self._draw_model(values)

    def _curve_grid(self) -> np.ndarray | None:
        arrays = self._role_arrays()
        if arrays is None:
            return None
        x = arrays[0]
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            return None
        lo, hi = float(finite.min()), float(finite.max())
        if lo == hi:
            return np.array([lo])
        return np.linspace(lo, hi, CURVE_POINTS)

    def _model_at(self, model, values, x: np.ndarray) -> np.ndarray:
        xs = {var: x for var in model.independent_vars}
        with np.errstate(all="ignore"):
            return np.asarray(model.eval(np.asarray(values, dtype=float), xs), dtype=float) * np.ones(len(x))

    def _draw_model(self, values) -> None:
        """Curve and residuals for parameter ``values`` of the fitted (or running) model."""
        model = None
        if self._running_problem is not None:
            model = self._running_problem.model
        elif self._result is not None:
            model = self._result.model
        arrays = self._role_arrays()
        if model is None or values is None or arrays is None or len(model.independent_vars) != 1:
            self.plots.set_curve([], [])
            self.plots.set_band(None, None, None)
            self.plots.set_residuals(np.zeros(0))
            return
        x, y = arrays[0], arrays[1]
        grid = self._curve_grid()
        try:
            self.plots.set_curve(grid, self._model_at(model, values, grid))
            self.plots.set_residuals(y - self._model_at(model, values, x))
        except Exception as exc:  # a model that cannot be evaluated must not break drawing
            self.show_message(f"Cannot draw the model: {exc}", error=True)
            return
        if self._result is not None and self._running_problem is None:
            self._draw_band(grid)
        else:
            self.plots.set_band(None, None, None)

    def _draw_band(self, grid: np.ndarray) -> None:
        from lsqfit_app.core.bands import band
        kind = self.fit_panel.band_kind()
        try:
            _f, lo, hi = band(self._result, {v: grid for v in self._result.model.independent_vars},
                              kind=kind)
        except Exception:
            self.plots.set_band(None, None, None)
            return
        self.plots.set_band(grid, lo, hi, kind)

    def refresh_preview(self) -> None:
        """The model at the current start values (dashed), when every start is set."""
        model = self.fit_panel.model
        starts = self.fit_panel.parameters.starts()
        grid = self._curve_grid()
        if (model is None or grid is None or not starts or any(s is None for s in starts)
                or len(model.independent_vars) != 1 or self.controller.is_running):
            self.plots.set_preview(None, None)
            return
        try:
            self.plots.set_preview(grid, self._model_at(model, starts, grid))
        except Exception:
            self.plots.set_preview(None, None)

    # ------------------------------------------------------------------ roles and model
    def _on_data_roles_changed(self) -> None:
        x_name, y_name, _s = self.data_panel.roles()
        table = self.table
        x_label = y_label = ""
        if x_name in table.names:
            info = table.column(x_name)
            x_label = info.label
        if y_name in table.names:
            y_label = table.column(y_name).label
        y_unit = table.column(y_name).unit if y_name in table.names else ""
        self.plots.set_labels(x_label, y_label, y_unit)
        from lsqfit_app.session.roles import formula_names
        # formulas name columns by identifier ("t" for the column "t (s)")
        self.fit_panel.set_variables(formula_names(table, [x_name] if x_name else []))
        if self._result is not None and x_name != self._result_x_name:
            self.set_result(None)
        self._schedule_refresh()
        self._preview_timer.start()

    def _on_fit_panel_model_changed(self, _spec: str) -> None:
        model = self.fit_panel.model
        self.fit_panel.parameters.set_model_parameters(model.param_names, model.param_hints())
        self._mark_settings_modified()

    def _on_parameters_settings_changed(self) -> None:
        self._preview_timer.start()

    def _on_fit_panel_band_kind_changed(self, _kind: str) -> None:
        grid = self._curve_grid()
        if self._result is not None and grid is not None and not self.controller.is_running:
            self._draw_band(grid)

    def _on_fit_panel_range_toggled(self, on: bool) -> None:
        if self._applying_range:
            return
        before = self._fit_range
        arrays = self._role_arrays()
        if on and arrays is not None:
            x = arrays[0]
            finite = x[np.isfinite(x)]
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                pad = 0.1 * (hi - lo)
                self._fit_range = (lo + pad, hi - pad) if hi > lo else (lo, hi)
        else:
            self._fit_range = None
        self.plots.show_range(*(self._fit_range or (None, None)))
        self._schedule_refresh()
        self._push_range_change(before, "Fit x-range on" if on else "Fit x-range off")

    def _on_plots_range_changed(self, lo: float, hi: float) -> None:
        if self._fit_range is not None and not self._applying_range:
            before = self._fit_range
            self._fit_range = (lo, hi)
            self._schedule_refresh()
            self._push_range_change(before, "Move fit x-range")

    def _push_range_change(self, before, text: str) -> None:
        if before != self._fit_range:
            self.undo_stack.push(SettingsCommand(self._apply_fit_range, before,
                                                 self._fit_range, text))

    def _apply_fit_range(self, value: tuple[float, float] | None) -> None:
        """Set the fit x-range (None: off) from undo/redo, checkbox and region included."""
        self._applying_range = True
        try:
            self._fit_range = value
            self.fit_panel.range_check.setChecked(value is not None)
            self.plots.show_range(*(value or (None, None)))
        finally:
            self._applying_range = False
        self._schedule_refresh()

    def _on_parameter_settings_edited(self, before, after, text: str) -> None:
        self.undo_stack.push(SettingsCommand(self.fit_panel.parameters.set_settings,
                                             before, after, text))

    # ------------------------------------------------------------------ fitting
    def build_problem(self, spec: str | None = None) -> FitProblem:
        """A FitProblem from the table (snapshot), roles, model and settings.

        With ``spec`` another model is used, with default parameter settings
        (the model comparison fits several).

        Raises
        ------
        InputError
            With a message for the user.
        """
        from lsqfit_app.session.roles import Roles, select
        x_name, y_name, s_name = self.data_panel.roles()
        if not x_name or not y_name:
            raise InputError("choose the x and y columns first")
        other = spec is not None
        spec = spec if other else self.fit_panel.model_spec()
        if not other and self.fit_panel.model is None:
            raise InputError(f"the model {spec!r} is not valid; see the message under it")
        sel = select(self.table.snapshot(), Roles(x=(x_name,), y=y_name, sigma=s_name,
                                                  x_given=True), spec)
        excluded = sel.excluded | self._outside_range(sel.x[sel.model.independent_vars[0]])
        params = None if other else self.fit_panel.parameters.parameters()
        return FitProblem.create(sel.model, sel.x, sel.y, params, sigma=sel.sigma, excluded=excluded, loss=self.fit_panel.loss(),
                                 labels=sel.labels)

    def start_fit(self) -> bool:
        """Start a background fit; False (with a message) when it cannot start."""
        if self.controller.is_running:
            return False
        from lsqfit_app.solvers import check_method
        try:
            problem = self.build_problem()
            check_method(problem, self.fit_panel.method())
        except InputError as exc:
            self._show_fit_error(str(exc))
            return False
        options = SolverOptions(max_iterations=self.fit_panel.max_iterations())
        self._running_problem = problem
        self._live_values = None
        self._result_x_name = self.data_panel.roles()[0]
        return self.controller.start(problem, self.fit_panel.method(), options)

    def _show_fit_error(self, message: str) -> None:
        self.results_panel.set_message(message, error=True)
        self.show_message(message.splitlines()[0], error=True)

    @Slot(object)
    def _on_controller_fit_started(self, _problem) -> None:
        method = self.fit_panel.method()
        self.plots.start_run(f"run {self.controller.run_index} ({method})")
        self.plots.set_preview(None, None)
        self.results_panel.set_message("Fitting…")
        self.show_message("Fitting… (Esc or Cancel stops and keeps the best point so far)")

    @Slot(object)
    def _on_controller_fit_progressed(self, state) -> None:
        self._latest_state = state
        self.plots.append_history(state.objective, refresh=False)
        if not self._frame_timer.isActive():
            cost = self._draw_seconds + self.plots.last_paint_seconds
            interval = min(max(MIN_FRAME_MS, int(1000 * FRAME_COST_FACTOR * cost)), MAX_FRAME_MS)
            self._frame_timer.start(interval)

    def _on_frame_timer_timeout(self) -> None:
        state = self._latest_state
        if state is None or self._running_problem is None:
            return
        start = time.perf_counter()
        self._live_values = state.as_array()
        self.fit_panel.parameters.set_live_values(self._live_values)
        self.plots.refresh_history()
        self._draw_model(self._live_values)
        self.progress_label.setText(
            f"iteration {state.iteration}   objective {state.objective:.6g}   {state.solver}")
        self._draw_seconds = time.perf_counter() - start

    @Slot(object)
    def _on_controller_fit_finished(self, result: FitResult) -> None:
        self._frame_timer.stop()
        self._latest_state = None
        self._result_problem = self._running_problem
        self._running_problem = None
        self._live_values = None
        if result.history:
            self.plots.set_history(result.history)
        # a result alone is not an unsaved change: the settings reproduce it
        self.set_result(result)
        word = {FitStatus.CONVERGED: "Fit converged", FitStatus.CANCELLED: "Fit cancelled"}.get(
            result.status, f"Fit stopped: {result.status.value.replace('_', ' ')}")
        self.show_message(f"{word} ({result.solver}, {result.iterations} iterations, "
                          f"{result.elapsed:.2g} s)", error=result.status is FitStatus.FAILED)

    @Slot(str, str)
    def _on_controller_fit_failed(self, message: str, details: str) -> None:
        self._frame_timer.stop()
        self._latest_state = None
        self._running_problem = None
        self._live_values = None
        self.refresh_data()
        self._show_fit_error(message)
        if details:
            self.results_panel.status_label.setToolTip(details)

    @Slot(bool)
    def _on_controller_running_changed(self, running: bool) -> None:
        self.fit_panel.set_running(running)
        self.fit_action.setEnabled(not running)
        self.cancel_action.setEnabled(running)
        if not running:
            self._preview_timer.start()

    # -- what exports need ---------------------------------------------------
    def set_source(self, read, path: str) -> None:
        """Remember the file the table came from (reports name it and its checksum)."""
        self._source_read, self._source_path = read, os.fspath(path)

    @property
    def result_problem(self) -> FitProblem | None:
        """The problem the shown result was fitted to (None without a result)."""
        return self._result_problem if self._result is not None else None

    @property
    def source_read(self):
        return self._source_read

    @property
    def source_path(self) -> str | None:
        return self._source_path

    @property
    def source_name(self) -> str | None:
        return os.path.basename(self._source_path) if self._source_path else self._file_name

    @property
    def fit_range(self):
        return self._fit_range

    @property
    def data_edited(self) -> bool:
        return self.undo_stack.count() > 0

    def set_result(self, result: FitResult | None) -> None:
        """Show a result everywhere (None clears)."""
        if result is None:
            self._result_problem = None
        self._result = result
        self.results_panel.set_result(result)
        self.fit_panel.parameters.set_results(result)
        self.fit_panel.set_result_available(result is not None)
        self.refresh_data()

    def guess_starts(self) -> bool:
        """Fill the start values from the data (the engine's guess), in the background.

        A formula's start search can take seconds on big data: it runs off the
        GUI thread like a fit, and the window keeps answering.
        """
        from lsqfit_app.solvers import resolve_starts
        if self._guess_runner.is_running or self.controller.is_running:
            return False
        try:
            problem = self.build_problem()
        except InputError as exc:
            self._show_fit_error(str(exc))
            return False
        params = [p.with_value(None) if not p.fixed else p for p in problem.params]
        blank = problem.with_params(params)
        names = problem.param_names

        def job(cancel, _put):
            return names, resolve_starts(blank, cancel)

        self.show_message("Guessing start values from the data…")
        return self._guess_runner.start(job, "guess-starts")

    @Slot(object)
    def _on_guess_runner_finished(self, value) -> None:
        names, values = value
        if self.fit_panel.model is None or tuple(self.fit_panel.model.param_names) != tuple(names):
            return   # the model changed meanwhile: these starts belong to another one
        self.fit_panel.parameters.set_starts(dict(zip(names, values)), "Guess start values")
        self.show_message("Start values guessed from the data")

    @Slot(str, str)
    def _on_guess_runner_failed(self, message: str, _details: str) -> None:
        self._show_fit_error(f"Could not guess start values: {message}")

    def use_result_as_start(self) -> None:
        """Copy the last result's values into the start column."""
        if self._result is not None:
            self.fit_panel.parameters.set_starts(dict(zip(self._result.param_names,
                                                          self._result.values)),
                                                 "Use result as start")

    def open_compare_dialog(self):
        """The model comparison / solver race dialog on the current data."""
        from lsqfit_app.gui.compare_dialog import CompareDialog
        if self._compare_dialog is None:
            current = self.fit_panel.model_spec()
            models = tuple(dict.fromkeys([current, "poly1", "poly2", "poly3"]))[:4]
            dialog = CompareDialog(self.build_problem, self.build_problem, self, models=models)
            dialog.model_chosen.connect(self._on_compare_dialog_model_chosen)
            self._compare_dialog = dialog
        self._compare_dialog.show()
        self._compare_dialog.raise_()
        return self._compare_dialog

    def _on_compare_dialog_model_chosen(self, spec: str, result) -> None:
        if self.controller.is_running:
            return
        self.set_model(spec)
        if result is not None and tuple(result.param_names) == tuple(
                self.fit_panel.model.param_names if self.fit_panel.model else ()):
            self._result_x_name = self.data_panel.roles()[0]
            try:
                self._result_problem = self.build_problem(spec)
            except InputError:
                self._result_problem = None
            self.set_result(result)

    # ------------------------------------------------------------------ masking
    def _on_plots_point_clicked(self, row: int) -> None:
        masked = bool(self.table.mask[row])
        text = f"{'Include' if masked else 'Exclude'} point {row + 1}"
        self.undo_stack.push(SetMaskCommand(self.table_model, [row], not masked, text=text))

    def _on_plots_rect_selected(self, rows) -> None:
        rows = np.asarray(rows)
        mask = self.table.mask
        # all already excluded: the rectangle includes them again; otherwise it excludes
        exclude = not bool(mask[rows].all())
        self.undo_stack.push(SetMaskCommand(self.table_model, rows, exclude))

    def include_all(self) -> None:
        rows = np.flatnonzero(self.table.mask)
        if len(rows):
            self.undo_stack.push(SetMaskCommand(self.table_model, rows, False,
                                                text="Include all points"))

    def _on_reset_ranges(self) -> None:
        for plot in (self.plots.fit_plot, self.plots.residual_plot, self.plots.history_plot):
            plot.enableAutoRange()

    # ------------------------------------------------------------------ files
    def open_dialog(self) -> None:
        from lsqfit_app.io import file_filters
        filters = ["Data and projects (*.csv *.tsv *.txt *.dat *.xlsx *.xls *.ods *.lsqfit)",
                   "lsqfit projects (*.lsqfit)", *file_filters(), "All files (*)"]
        path, _ = QFileDialog.getOpenFileName(self, "Open data or project", "", ";;".join(filters))
        if not path:
            return
        if files.is_project(path):
            self.open_path(path)
            return
        self.open_with_preview(path)

    def open_with_preview(self, path: str) -> bool:
        """Show the import preview (detected dialect, overrides) and open on OK."""
        from lsqfit_app.gui.import_dialog import ImportDialog
        if not self.maybe_save():
            return False
        dialog = ImportDialog(path, self)
        if dialog.exec() != ImportDialog.Accepted or dialog.result is None:
            return False
        self._show_read(dialog.result, path)
        files.add_recent_file(path)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if not self.is_modified:
            return True
        answer = QMessageBox.question(
            self, APP_NAME, f"Save the changes to {self._file_name}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a data file or a project; errors become a message, the data stays."""
        if ask and not self.maybe_save():
            return False
        try:
            if files.is_project(path):
                self._load_project(path)
            else:
                self._load_data(path)
        except InputError as exc:
            if not self._quiet:
                QMessageBox.warning(self, APP_NAME, str(exc))
            self.show_message(str(exc).splitlines()[0], error=True)
            return False
        except OSError as exc:
            self.show_message(f"Cannot open {path}: {exc.strerror or exc}", error=True)
            return False
        files.add_recent_file(path)
        return True

    #: tests set this to avoid modal message boxes
    _quiet = False

    def _load_data(self, path: str) -> None:
        from lsqfit_app.io import read_table
        self._show_read(read_table(path), path)

    def _show_read(self, read, path: str) -> None:
        self.set_table(read.table, os.path.basename(path), None)
        self.set_source(read, path)
        if read.n_problems:
            first = read.problems[0]
            self.show_message(f"{read.n_problems} cells are not numbers and were left empty "
                              f"(first: row {first.row}, column {first.column!r}: {first.text!r})")
        else:
            self.show_message(f"Read {read.table.n_rows} rows from {os.path.basename(path)}")

    def _load_project(self, path: str) -> None:
        from lsqfit_app.io.project import load_project
        project = load_project(path)
        self.apply_project(project)
        self._file_path, self._file_name = path, os.path.basename(path)
        self._settings_modified = False
        self.undo_stack.setClean()
        self._update_title()
        if project.result is not None:
            self._restore_result(project.result)

    def _restore_result(self, saved: dict) -> None:
        """Show a project's saved result without refitting (refit if it cannot be rebuilt)."""
        try:
            from lsqfit_app.solvers import restore_result
            problem = self.build_problem()
            result = restore_result(problem, saved)
        except (ImportError, InputError, ValueError, KeyError, TypeError):
            self.start_fit()
            return
        self._result_problem = problem
        self._result_x_name = self.data_panel.roles()[0]
        if result.history:
            self.plots.start_run(f"saved ({result.solver})")
            self.plots.set_history(result.history)
        self.set_result(result)

    def apply_project(self, project) -> None:
        """Show a loaded Project (table, roles, model, settings)."""
        self.set_table(project.table, self._file_name, None)
        roles = project.roles or {}
        xs = roles.get("x") or [None]
        self.set_roles(xs[0] if isinstance(xs, list) else xs, roles.get("y"), roles.get("sigma"))
        if project.model:
            self.set_model(project.model)
        if project.parameters:
            self.fit_panel.parameters.set_settings(project.parameters)
        solver = project.solver or {}
        self.fit_panel.set_method(solver.get("method", "auto"))
        self.fit_panel.set_loss(solver.get("loss", "linear"))
        self.fit_panel.iterations_spin.setValue(int(solver.get("max_iterations") or 0))
        fit_range = (project.metadata or {}).get("fit_range")
        if fit_range:
            self._apply_fit_range((float(fit_range[0]), float(fit_range[1])))

    def make_project(self):
        """The current document as an ``io.project.Project``."""
        from lsqfit_app.io.project import Project
        x, y, sigma = self.data_panel.roles()
        return Project(
            table=self.table.snapshot(),
            roles={"x": [x] if x else [], "y": y, "sigma": sigma},
            model=self.fit_panel.model_spec() or None,
            parameters=self.fit_panel.parameters.settings(),
            solver={"method": self.fit_panel.method(), "loss": self.fit_panel.loss(),
                    "max_iterations": self.fit_panel.max_iterations()},
            result=self._result.to_dict() if self._result is not None else None,
            metadata={"fit_range": list(self._fit_range) if self._fit_range else None})

    def save(self) -> bool:
        """Save to the current project file (asks for a name the first time)."""
        if not self._file_path:
            return self.save_as()
        return self.save_to(self._file_path)

    def save_as(self) -> bool:
        base = os.path.splitext(self._file_name)[0] + files.PROJECT_SUFFIX
        path, _ = QFileDialog.getSaveFileName(self, "Save project", base,
                                              "lsqfit projects (*.lsqfit)")
        if not path:
            return False
        if not path.lower().endswith(files.PROJECT_SUFFIX):
            path += files.PROJECT_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the project to ``path`` (atomically, by io.project)."""
        from lsqfit_app.io.project import save_project
        try:
            save_project(self.make_project(), path)
        except (InputError, OSError) as exc:
            self.show_message(f"Could not save {path}: {exc}", error=True)
            if not self._quiet:
                QMessageBox.critical(self, APP_NAME, f"Could not save {path}:\n{exc}")
            return False
        self._file_path, self._file_name = path, os.path.basename(path)
        self._settings_modified = False
        self.undo_stack.setClean()
        self._update_title()
        files.add_recent_file(path)
        self.show_message(f"Saved {path}")
        return True

    def autosave(self) -> None:
        """Write the recovery file when there are unsaved changes."""
        if not self.is_modified:
            return
        from lsqfit_app.io.project import save_project
        project = self.make_project()
        project.metadata["recovered_from"] = self._file_path or self._file_name
        try:
            save_project(project, files.recovery_path())
        except (InputError, OSError):
            pass   # autosave must never interrupt work; the next tick retries

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        for path in files.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ Qt events
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(urls[0])

    def closeEvent(self, event):  # noqa: N802 - Qt override
        if not self._closing and not self.maybe_save():
            event.ignore()
            return
        self._closing = True
        self.controller.shutdown()
        self._guess_runner.shutdown()
        if self._compare_dialog is not None:
            self._compare_dialog.shutdown()
            self._compare_dialog.close()
        self._autosave_timer.stop()
        try:
            files.recovery_path().unlink(missing_ok=True)
        except OSError:
            pass
        self.table_model.detach()
        event.accept()

    def report_exception(self, exc_type, exc, tb) -> None:
        """Show an unexpected error with its details; the data stay as they are."""
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.autosave()
        self.show_message(f"Unexpected error: {exc_type.__name__}: {exc}", error=True)
        if self._quiet:
            return
        box = QMessageBox(QMessageBox.Critical, APP_NAME,
                          f"An unexpected error occurred:\n{exc_type.__name__}: {exc}\n\n"
                          "Your data are unchanged; a recovery copy was saved. "
                          "Please report this with the details below.", QMessageBox.Ok, self)
        box.setDetailedText(details)
        box.exec()
