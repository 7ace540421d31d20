"""The main window: data table (left), linked plots (centre), fit and results (right).

The window is a view of a :class:`~lsqfit_app.session.document.Document`
(table, roles, model, parameter and solver settings, fit range, masks,
result): widgets write their changes to the document, or push undo commands
that do, and the window redraws when the document announces a change
(:meth:`MainWindow._on_document_changed`).  Fits run in the
:class:`FitController` (driven by :mod:`~lsqfit_app.gui.window_fit`); files
and autosave are :mod:`~lsqfit_app.gui.window_files`; what the plots show is
:mod:`~lsqfit_app.gui.window_plots`; the Help menu is :mod:`~lsqfit_app.gui.help`.

The window fits the screen it opens on; its size, position and splitter
positions are kept in QSettings between sessions (:mod:`~lsqfit_app.gui.window_layout`).
Both right-hand panels scroll rather than squeeze their widgets onto each
other, and the main actions sit in one toolbar across the window.
"""
from __future__ import annotations

import os
import traceback

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QFrame, QLabel, QMainWindow, QMessageBox, QScrollArea, QSplitter,
                               QToolBar, QVBoxLayout, QWidget)

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitResult
from lsqfit_app.core.table import Table
from lsqfit_app.gui import files, window_layout
from lsqfit_app.gui.fit_controller import FitController
from lsqfit_app.gui.fit_panel import FitPanelWidget
from lsqfit_app.gui.plots import PlotsWidget
from lsqfit_app.gui.results_panel import ResultsPanelWidget
from lsqfit_app.gui.table_model import TableModel
from lsqfit_app.gui.table_view import DataTableWidget
from lsqfit_app.gui.undo_commands import SetFitRangeCommand, SetMaskCommand
from lsqfit_app.gui.window_files import FileActions
from lsqfit_app.gui.window_fit import FitActions
from lsqfit_app.gui.window_plots import PlotPresenter
from lsqfit_app.session import events as ev
from lsqfit_app.session.document import Document
from lsqfit_app.session.events import stale_text
from lsqfit_app.session.state import Source

APP_NAME = "lsqfit-app"
AUTOSAVE_INTERVAL_MS = 60_000
#: changes after which the shown result may be out of date
_STALING = frozenset({ev.TABLE, ev.MASK, ev.ROLES, ev.MODEL, ev.PARAMETERS, ev.SOLVER,
                      ev.FIT_RANGE})


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
        self.document = Document(table if table is not None else Table())
        self._syncing = 0          # showing a document change: widget signals are echoes
        self._closing = False

        self.undo_stack = QUndoStack(self)
        self.table_model = TableModel(self.document.table, self)
        self.table_model.document = self.document
        self.controller = FitController(self, fit_function=fit_function)
        from lsqfit_app.gui.exports import ExportActions
        self.exports = ExportActions(self)
        self.file_actions = FileActions(self)
        self.fit_actions = FitActions(self)
        self._guess_runner = self.fit_actions.guess_runner
        self.presenter = PlotPresenter(self)

        self.data_panel = DataTableWidget(self.table_model, self.undo_stack)
        self.plots = PlotsWidget()
        self.fit_panel = FitPanelWidget(self.document, self.undo_stack)
        self.results_panel = ResultsPanelWidget()

        # the results scroll as a whole; the fit panel scrolls its boxes itself
        results_scroll = QScrollArea()
        results_scroll.setWidgetResizable(True)
        results_scroll.setFrameShape(QFrame.NoFrame)
        results_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        results_scroll.setWidget(self.results_panel)
        self.right_splitter = right = QSplitter(Qt.Vertical)
        right.setObjectName("right_splitter")
        right.setChildrenCollapsible(False)
        right.addWidget(self.fit_panel)
        right.addWidget(results_scroll)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        # one toolbar across the window: it has room for every main action at 1280 px
        self.plot_bar = QToolBar("Main toolbar")
        self.plot_bar.setObjectName("main_toolbar")
        self.plot_bar.setMovable(False)
        self.plot_bar.addWidget(self.fit_panel.range_check)
        self.plot_bar.addWidget(self.fit_panel.prediction_check)
        self.addToolBar(Qt.TopToolBarArea, self.plot_bar)
        centre_layout.addWidget(self.plots, 1)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setObjectName("main_splitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.data_panel)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.setCentralWidget(self.splitter)
        self.status_message = QLabel()
        self.statusBar().addWidget(self.status_message, 1)
        # live fit progress; a fixed width so 30 updates a second never re-layout the window
        self.progress_label = QLabel()
        self.progress_label.setFixedWidth(360)
        self.progress_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.setAcceptDrops(True)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh_data)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(30)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()

        self._build_menus()
        self._connect()
        window_layout.restore(self)
        self._show_roles()
        self._update_title()

    # ------------------------------------------------------------------ set-up
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = file_menu.addAction("&Open…", self.file_actions.open_dialog)
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
        self.fit_action.setShortcut(QKeySequence("Ctrl+R"))
        self.fit_action.setToolTip("Run the fit (Ctrl+R)")
        self.cancel_action = fit_menu.addAction("&Cancel fit", self.controller.cancel)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key_Escape))
        self.cancel_action.setToolTip("Stop the running fit and keep its best point (Esc)")
        self.cancel_action.setEnabled(False)
        self.guess_action = fit_menu.addAction("&Guess starts", self.guess_starts)
        self.use_result_action = fit_menu.addAction("&Use result as start",
                                                    self.use_result_as_start)
        fit_menu.addSeparator()
        fit_menu.addAction("Co&mpare models and solvers…", self.open_compare_dialog)
        fit_menu.addAction("Clear objective &history", self.plots.clear_history)

        view_menu = bar.addMenu("&View")
        # named as the hint over the plots names it ("… or the Mask tool …")
        self.mask_mode_action = QAction("Mask tool", self)
        self.mask_mode_action.setCheckable(True)
        self.mask_mode_action.setShortcut("Ctrl+Shift+K")
        self.mask_mode_action.setToolTip("On: a drag masks a rectangle instead of panning "
                                         "(Shift+drag does so without it); click a point to "
                                         "exclude or include it")
        self.mask_mode_action.toggled.connect(self.plots.set_mask_mode)
        view_menu.addAction(self.mask_mode_action)
        view_menu.addAction(self.plots.legend.toggle_action)
        reset = view_menu.addAction("&Reset plot ranges", self._on_reset_ranges)
        reset.setToolTip("Show all data in every plot again")
        first = self.plot_bar.actions()[0]
        for action in (self.fit_action, self.cancel_action, None, self.mask_mode_action, reset,
                       None):
            if action is None:
                self.plot_bar.insertSeparator(first)
            else:
                self.plot_bar.insertAction(first, action)

        from lsqfit_app.gui.help import build_help_menu
        self.help_menu = build_help_menu(self, bar)

    def _connect(self) -> None:
        self.document.connect(self._on_document_changed)
        self.table_model.modelReset.connect(self._schedule_refresh)
        self.data_panel.roles_changed.connect(self._on_data_roles_changed)
        self.data_panel.message_posted.connect(self.show_message)
        self.fit_panel.fit_requested.connect(self.start_fit)
        self.fit_panel.cancel_requested.connect(self.controller.cancel)
        self.fit_panel.guess_requested.connect(self.guess_starts)
        self.fit_panel.use_result_requested.connect(self.use_result_as_start)
        self.fit_panel.range_toggled.connect(self._on_fit_panel_range_toggled)
        self.fit_panel.band_kind_changed.connect(self._on_fit_panel_band_kind_changed)
        self.fit_panel.parameters.edit_refused.connect(self.show_message)
        self.plots.point_clicked.connect(self._on_plots_point_clicked)
        self.plots.rect_selected.connect(self._on_plots_rect_selected)
        self.plots.range_changed.connect(self._on_plots_range_changed)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_title)

    # ------------------------------------------------------------------ the document
    def _on_document_changed(self, change: ev.Change) -> None:
        """Show a change of the document; widget signals it causes are echoes, not edits."""
        doc = self.document
        if (change.fit is not None and change.fit != doc.current) or (
                change.dataset is not None and change.dataset != doc.fit_of().dataset):
            return   # another fit or dataset of the document: not on screen
        self._syncing += 1
        try:
            self._show_change(change)
        finally:
            self._syncing -= 1

    def _show_change(self, change: ev.Change) -> None:
        kind = change.kind
        if kind == ev.DATASET:
            # commands of the old table would edit the new one: the history goes with it
            self.controller.shutdown()
            self.fit_actions.ticket = None
            self.undo_stack.clear()
            self.table_model.set_table(self.document.table)
            self.plots.clear_history()
            # texts about the previous data say nothing about these
            self.progress_label.clear()
            self.show_message("")
            self.plots.fit_plot.enableAutoRange()
        elif kind == ev.ROLES:
            self._show_roles()
        elif kind in (ev.TABLE, ev.MASK):
            self._schedule_refresh()
        elif kind == ev.MODEL:
            self.fit_panel.show_model()
            self.fit_panel.parameters.sync()
            if self.document.model is not None:
                # values of another model's fit do not belong next to these parameters
                self.fit_panel.parameters.set_results(None)
        elif kind == ev.PARAMETERS:
            self.fit_panel.parameters.sync()
            self._preview_timer.start()
        elif kind == ev.SOLVER:
            self.fit_panel.show_solver()
        elif kind == ev.FIT_RANGE:
            fit_range = self.document.fit_range
            self.fit_panel.range_check.setChecked(fit_range is not None)
            self.plots.show_range(*(fit_range or (None, None)))
            self._schedule_refresh()
        elif kind == ev.RESULT and change.detail != "stale":
            result = self.document.result
            self.results_panel.set_result(result)
            self.fit_panel.parameters.set_results(result)
            self.fit_panel.set_result_available(result is not None)
            self.refresh_data()
        elif kind in (ev.MODIFIED, ev.CURRENT):
            self._update_title()
        if kind in _STALING or kind in (ev.RESULT, ev.CURRENT, ev.DATASET):
            self._show_staleness(kind if kind in _STALING else None)

    def _show_staleness(self, now: str | None = None) -> None:
        """Mark the shown result out of date, saying what changed since it was computed
        (``now``: the change being shown, which the document records right after it)."""
        doc = self.document
        text = None
        if doc.result is not None and (not doc.result_current or now is not None):
            reasons = doc.stale_reasons
            text = stale_text(reasons + ((now,) if now and now not in reasons else ()))
        self.results_panel.set_stale(text)
        self.fit_panel.parameters.set_stale(text)

    def _show_roles(self) -> None:
        roles = self.document.role_names()
        if self.data_panel.roles() != roles:
            self.data_panel.set_roles(*roles)
        self.presenter.show_labels()
        self._schedule_refresh()
        self._preview_timer.start()

    @property
    def table(self) -> Table:
        """The table being edited."""
        return self.document.table

    @property
    def result(self) -> FitResult | None:
        """The last finished fit."""
        return self.document.result

    @property
    def is_modified(self) -> bool:
        """True when there are changes not saved to a project."""
        return not self.undo_stack.isClean() or self.document.modified

    def set_table(self, table: Table, name: str = "untitled", path: str | None = None) -> None:
        """Replace the document's table (Open); clears undo history and results."""
        self.document.open_table(table, name)
        self.document.project_path = path

    def set_roles(self, x: str | None, y: str | None, sigma: str | None = None) -> None:
        """Choose the x, y and sigma columns by name."""
        self.document.set_roles(x, y, sigma)

    def set_model(self, spec: str) -> None:
        """Choose the model (library name, sum or formula)."""
        self.fit_panel.set_model_spec(spec)

    def _update_title(self, *_args) -> None:
        mark = "*" if self.is_modified else ""
        self.setWindowTitle(f"{APP_NAME} - {self.document.name}{mark}")

    def show_message(self, text: str, error: bool = False) -> None:
        """A message in the status bar (errors in red)."""
        self.status_message.setStyleSheet("color: #b00000;" if error else "")
        self.status_message.setText(text)

    # ------------------------------------------------------------------ drawing
    def _schedule_refresh(self, *_args) -> None:
        self._refresh_timer.start()

    def schedule_preview(self) -> None:
        self._preview_timer.start()

    @property
    def running_problem(self) -> FitProblem | None:
        """The problem of the fit in progress (None when none runs)."""
        return self.fit_actions.running_problem

    def refresh_data(self) -> None:
        """Redraw data points, residuals and the curve after a data or role change."""
        self.presenter.refresh_data(self.fit_actions.live_values)

    def refresh_preview(self) -> None:
        """The model at the current start values (dashed), when every start is set."""
        self.presenter.refresh_preview(self.controller.is_running)

    def _on_fit_panel_band_kind_changed(self, _kind: str) -> None:
        if self.document.result is not None and not self.controller.is_running:
            self.presenter.draw_band()

    # ------------------------------------------------------------------ edits
    def _on_data_roles_changed(self) -> None:
        if self._syncing:
            return
        x, y, sigma = self.data_panel.roles()
        if (x, y, sigma) != self.document.role_names():
            self.document.set_roles(x, y, sigma)

    def _on_fit_panel_range_toggled(self, on: bool) -> None:
        if self._syncing:
            return
        before = self.document.fit_range
        after = self.document.default_fit_range() if on else None
        if after == before:
            self.fit_panel.range_check.setChecked(before is not None)   # nothing to range over
            return
        self.undo_stack.push(SetFitRangeCommand(self.document, before, after,
                                                "Fit x-range on" if on else "Fit x-range off"))

    def _on_plots_range_changed(self, lo: float, hi: float) -> None:
        before = self.document.fit_range
        if self._syncing or before is None:
            return
        after = (min(lo, hi), max(lo, hi))
        if after != before:
            self.undo_stack.push(SetFitRangeCommand(self.document, before, after,
                                                    "Move fit x-range"))

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

    # ------------------------------------------------------------------ fitting
    def build_problem(self, spec: str | None = None) -> FitProblem:
        """The document's FitProblem (see ``Document.build_problem``)."""
        return self.document.build_problem(spec)

    def start_fit(self) -> bool:
        """Start a background fit; False (with a message) when it cannot start."""
        return self.fit_actions.start_fit()

    def guess_starts(self) -> bool:
        return self.fit_actions.guess_starts()

    def use_result_as_start(self) -> None:
        self.fit_actions.use_result_as_start()

    def open_compare_dialog(self):
        return self.fit_actions.open_compare_dialog()

    @property
    def _compare_dialog(self):
        return self.fit_actions.compare_dialog

    # ------------------------------------------------------------------ what exports need
    def set_source(self, read, path: str) -> None:
        """Remember the file the table came from (reports name it and its checksum)."""
        dialect = getattr(read, "dialect", None)
        given = {name: getattr(dialect, name) for name in getattr(dialect, "overridden", ())
                 if hasattr(dialect, name)}
        self.document.set_source(Source(os.fspath(path), getattr(read, "sheet", None), given,
                                        read=read))

    @property
    def result_problem(self) -> FitProblem | None:
        """The problem the shown result was fitted to (None without a result)."""
        return self.document.result_problem

    @property
    def source_read(self):
        return self.document.source.read

    @property
    def source_path(self) -> str | None:
        """The data file read in this session (None for a project: the file on disk may no
        longer hold the project's table, so a report must not vouch for its checksum)."""
        source = self.document.source
        return source.path if source.read is not None else None

    @property
    def source_name(self) -> str | None:
        path = self.source_path
        return os.path.basename(path) if path else self.document.name

    @property
    def fit_range(self):
        return self.document.fit_range

    @property
    def data_edited(self) -> bool:
        return self.undo_stack.count() > 0

    # ------------------------------------------------------------------ files
    #: tests set this to avoid modal message boxes
    _quiet = False

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a data file or a project; errors become a message, the data stay."""
        return self.file_actions.open_path(path, ask)

    def open_with_preview(self, path: str) -> bool:
        return self.file_actions.open_with_preview(path)

    def maybe_save(self) -> bool:
        return self.file_actions.maybe_save()

    def apply_project(self, project) -> None:
        """Show a loaded Project (table, roles, model, settings; the result is not restored)."""
        self.controller.shutdown()
        self.document.apply_project(project, restore=False)

    def make_project(self):
        """The current document as an ``io.project.Project``."""
        return self.document.to_project()

    def save(self) -> bool:
        return self.file_actions.save()

    def save_as(self) -> bool:
        return self.file_actions.save_as()

    def save_to(self, path: str) -> bool:
        return self.file_actions.save_to(path)

    def autosave(self) -> None:
        self.file_actions.autosave()

    def _on_recent_menu_about_to_show(self) -> None:
        self.file_actions.fill_recent_menu(self.recent_menu)

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
        window_layout.save(self)
        self.controller.shutdown()
        self.fit_actions.shutdown()
        self._autosave_timer.stop()
        try:
            files.recovery_path().unlink(missing_ok=True)
        except OSError:
            pass
        self.table_model.detach()
        self.document.disconnect(self._on_document_changed)
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
