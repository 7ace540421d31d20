"""The data panel: role choosers, the editable table view, a status line.

The view shows a :class:`~lsqfit_app.gui.table_model.TableModel`; every
edit it offers (typing, paste, insert/delete rows and columns, computed
columns, masking) is pushed as an undo command onto the window's
``QUndoStack``.  Pasted text goes through the import detection of
:func:`lsqfit_app.io.read_text`, so blocks copied from a spreadsheet with
decimal commas or a header row paste as numbers.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFormLayout, QHBoxLayout,
                               QInputDialog, QLabel, QMenu, QTableView, QVBoxLayout, QWidget)

from lsqfit_app.core.errors import InputError
from lsqfit_app.gui.table_model import TableModel, format_cell, parse_cell
from lsqfit_app.gui.undo_commands import (InsertColumnCommand, InsertRowsCommand,
                                          RemoveColumnCommand, RemoveRowsCommand,
                                          RenameColumnCommand, SetBlockCommand, SetCellCommand,
                                          SetMaskCommand)

_NONE = "(none)"
#: rows at each end of the table measured when sizing columns to their contents
SAMPLE_ROWS = 200
MIN_COLUMN_WIDTH = 60


def parse_block(text: str) -> np.ndarray:
    """Clipboard text to a 2-D float array, using the import detection when available.

    A header row (names) is dropped; decimal commas are understood.
    """
    try:
        from lsqfit_app.io import read_text
        result = read_text(text)
        table = result.table
        if table.n_rows and table.n_columns:
            return np.column_stack([table.column(i + 1).values for i in range(table.n_columns)])
    except (ImportError, InputError):
        pass
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    width = max((len(r) for r in rows), default=0)
    block = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        for j, cell in enumerate(r):
            block[i, j] = parse_cell(cell)
    return block


class DataTableView(QTableView):
    """A table view whose Ctrl+C/Ctrl+V/Delete act on the selection."""

    copy_requested = Signal()
    paste_requested = Signal()
    delete_requested = Signal()
    #: the view changed size (columns may fit again)
    resized = Signal()

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.resized.emit()

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        if event.matches(QKeySequence.Copy):
            self.copy_requested.emit()
        elif event.matches(QKeySequence.Paste):
            self.paste_requested.emit()
        elif event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.state() != QAbstractItemView.EditingState:
            self.delete_requested.emit()
        else:
            super().keyPressEvent(event)


class DataTableWidget(QWidget):
    """Roles, table and status line for one table.

    Parameters
    ----------
    model : TableModel
    undo_stack : QUndoStack
    """

    #: the x, y or sigma column choice changed
    roles_changed = Signal()
    #: a message for the status bar
    message_posted = Signal(str)

    def __init__(self, model: TableModel, undo_stack: QUndoStack, parent=None):
        super().__init__(parent)
        self.model = model
        self.undo_stack = undo_stack
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        roles = QFormLayout()
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        self.sigma_combo = QComboBox()
        for label, combo in (("x:", self.x_combo), ("y:", self.y_combo), ("σ (sigma):", self.sigma_combo)):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            roles.addRow(label, combo)
        self.sigma_combo.setToolTip("Per-point standard deviations (absolute); (none) for an "
                                    "unweighted fit with errors scaled by the residual variance")
        layout.addLayout(roles)

        self.view = DataTableView()
        self.view.setModel(model)
        self.view.setAlternatingRowColors(False)
        # Ctrl+click toggles a row or cell, Shift+click extends, as in spreadsheets
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.horizontalHeader().setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setSectionResizeMode(self.view.verticalHeader().ResizeMode.Fixed)
        self.view.horizontalHeader().setDefaultSectionSize(110)
        # long headers wrap onto two lines rather than forcing wide columns
        self.view.horizontalHeader().setTextElideMode(Qt.ElideNone)
        self._auto_width = True
        self._fitting = False
        self.view.horizontalHeader().sectionResized.connect(self._on_section_resized)
        self.view.resized.connect(self.fit_columns)
        layout.addWidget(self.view, 1)

        status = QHBoxLayout()
        self.status_label = QLabel()
        status.addWidget(self.status_label)
        layout.addLayout(status)
        # what went wrong with the last edit (a refused cell, a bad paste); cleared by the
        # next change of the table, so it never outlives the state it describes
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00000;")
        self.problem_label.hide()
        layout.addWidget(self.problem_label)

        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(0)
        self._status_timer.timeout.connect(self.update_status)

        self._build_actions()
        model.modelReset.connect(self._on_model_structure_changed)
        model.columnsInserted.connect(self._on_model_structure_changed)
        model.columnsRemoved.connect(self._on_model_structure_changed)
        model.headerDataChanged.connect(self._on_model_header_changed)
        model.dataChanged.connect(self._on_model_data_changed)
        model.rowsInserted.connect(self._on_model_data_changed)
        model.rowsRemoved.connect(self._on_model_data_changed)
        model.edit_requested.connect(self._on_model_edit_requested)
        model.route_edits = True
        model.edit_refused.connect(self.show_problem)
        model.table_replaced.connect(self._on_table_replaced)
        for combo in (self.x_combo, self.y_combo, self.sigma_combo):
            combo.currentIndexChanged.connect(self._on_role_combo_changed)
        self.view.customContextMenuRequested.connect(self._on_view_context_menu)
        self.view.horizontalHeader().customContextMenuRequested.connect(self._on_header_context_menu)
        self.view.copy_requested.connect(self.copy_selection)
        self.view.paste_requested.connect(self.paste)
        self.view.delete_requested.connect(self.clear_selection)
        self._refill_role_combos()

    # ------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(shortcut)
                a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
                self.view.addAction(a)
            # triggered(bool) must not reach slots whose first argument means something else
            a.triggered.connect(lambda _checked=False, s=slot: s())
            return a
        self.insert_row_above_action = action("Insert row above", self.insert_row_above)
        self.insert_row_below_action = action("Insert row below", self.insert_row_below)
        self.delete_rows_action = action("Delete selected rows", self.delete_rows, "Ctrl+-")
        self.insert_column_action = action("Insert column…", self.insert_column)
        self.computed_column_action = action("Add computed column…", self.add_computed_column)
        self.delete_column_action = action("Delete column", self.delete_column)
        self.rename_column_action = action("Rename column / unit…", self.rename_column)
        self.mask_action = action("Exclude selected rows from fit", self.mask_selection, "Ctrl+M")
        self.unmask_action = action("Include selected rows", self.unmask_selection, "Ctrl+Shift+M")

    def fit_columns(self) -> None:
        """Size the columns to their headers and contents; stretch them when there is room.

        Contents are measured on the first and last :data:`SAMPLE_ROWS` rows only
        (sizing to every cell would visit a million of them).  Headers may wrap
        onto two lines ("intensity / (counts/s)").  When the columns fit, they
        share the spare width, so no horizontal scrollbar appears; once the user
        drags a column's edge, their widths are left alone until the next table.
        """
        if not self._auto_width or self.model.columnCount() == 0:
            return
        header = self.view.horizontalHeader()
        needed = [self._column_width(c) for c in range(self.model.columnCount())]
        available = self.view.viewport().width()
        spare = available - sum(needed)
        if spare > 0:
            share, left = divmod(spare, len(needed))
            needed = [w + share + (1 if i < left else 0) for i, w in enumerate(needed)]
        self._fitting = True
        try:
            for col, width in enumerate(needed):
                header.resizeSection(col, width)
        finally:
            self._fitting = False
        # the header view sizes its height for one line: make room when a label wraps
        metrics = header.fontMetrics()
        wraps = any(metrics.horizontalAdvance(str(self.model.headerData(c, Qt.Horizontal) or ""))
                    + 16 > width for c, width in enumerate(needed))
        header.setMinimumHeight(2 * metrics.lineSpacing() + 8 if wraps else 0)

    def _column_width(self, col: int) -> int:
        """Width a column needs: its header on at most two lines, its sampled cells."""
        metrics = self.view.horizontalHeader().fontMetrics()
        text = str(self.model.headerData(col, Qt.Horizontal) or "")
        head = _two_line_width(text, metrics.horizontalAdvance) + 16
        n = self.model.rowCount()
        rows = range(n) if n <= 2 * SAMPLE_ROWS else [*range(SAMPLE_ROWS),
                                                        *range(n - SAMPLE_ROWS, n)]
        cell_metrics = self.view.fontMetrics()
        cells = max((cell_metrics.horizontalAdvance(str(self.model.data(self.model.index(r, col))
                                                        or "")) for r in rows), default=0)
        return max(MIN_COLUMN_WIDTH, head, cells + 14)

    def _on_section_resized(self, *_args) -> None:
        if not self._fitting and QGuiApplication.mouseButtons() != Qt.NoButton:
            self._auto_width = False   # the user dragged a column edge: keep their widths

    # ------------------------------------------------------------------ roles
    def roles(self) -> tuple[str | None, str | None, str | None]:
        """(x, y, sigma) column names; None where not chosen."""
        def name(combo):
            t = combo.currentText()
            return None if not t or t == _NONE else t
        return name(self.x_combo), name(self.y_combo), name(self.sigma_combo)

    def set_roles(self, x: str | None, y: str | None, sigma: str | None) -> None:
        """Choose the role columns by name (missing names are ignored)."""
        for combo, value in ((self.x_combo, x), (self.y_combo, y), (self.sigma_combo, sigma or _NONE)):
            i = combo.findText(value) if value else -1
            if i >= 0:
                combo.blockSignals(True)
                combo.setCurrentIndex(i)
                combo.blockSignals(False)
        self.update_status()
        self.roles_changed.emit()

    def _refill_role_combos(self) -> None:
        x, y, sigma = self.roles()
        names = self.model.table.numeric_names()
        for combo, current, none in ((self.x_combo, x, False), (self.y_combo, y, False),
                                     (self.sigma_combo, sigma, True)):
            combo.blockSignals(True)
            combo.clear()
            if none:
                combo.addItem(_NONE)
            combo.addItems(names)
            i = combo.findText(current) if current else -1
            combo.setCurrentIndex(i if i >= 0 else 0)
            combo.blockSignals(False)
        if x is None and len(names) >= 1:
            self.x_combo.setCurrentIndex(0)
        if y is None and len(names) >= 2:
            self.y_combo.setCurrentIndex(1)

    def _on_role_combo_changed(self, _index: int) -> None:
        self.update_status()
        self.roles_changed.emit()

    # ------------------------------------------------------------------ status
    def update_status(self) -> None:
        """Recount points, excluded and missing values."""
        table = self.model.table
        n = table.n_rows
        mask = table.mask
        missing = np.zeros(n, dtype=bool)
        for name in self.roles():
            if name and name in table.names:
                missing |= np.isnan(table.column(name).values)
        n_missing = int(np.count_nonzero(missing & ~mask))
        self.status_label.setText(f"{n} points, {int(mask.sum())} excluded, {n_missing} missing")

    def show_problem(self, text: str) -> None:
        """Show why the last edit was refused (empty text: hide the line)."""
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))

    def _on_table_replaced(self) -> None:
        """A new file or project: start at the top-left with nothing selected."""
        self.show_problem("")
        self.view.clearSelection()
        self.view.setCurrentIndex(self.model.index(-1, -1))
        self.view.scrollToTop()
        self.view.horizontalScrollBar().setValue(0)
        self._auto_width = True
        self.fit_columns()

    def _on_model_structure_changed(self, *_args) -> None:
        self.show_problem("")
        self.fit_columns()
        before = self.roles()
        self._refill_role_combos()
        self._status_timer.start()
        if self.roles() != before:
            self.roles_changed.emit()

    def _on_model_header_changed(self, orientation, *_args) -> None:
        if orientation == Qt.Horizontal:
            self._on_model_structure_changed()

    def _on_model_data_changed(self, *_args) -> None:
        self.show_problem("")
        self._status_timer.start()

    # ------------------------------------------------------------------ selection helpers
    def _selected_rows(self) -> list[int]:
        """Rows with a selected cell, ascending (the current row when nothing is selected).

        Read from the selection's ranges, not its indexes: a whole-column
        selection of a million rows would make a million index objects.
        """
        rows = np.zeros(self.model.rowCount(), dtype=bool)
        for r in self.view.selectionModel().selection():
            rows[r.top():r.bottom() + 1] = True
        if not rows.any() and self.view.currentIndex().isValid():
            rows[self.view.currentIndex().row()] = True
        return np.flatnonzero(rows).tolist()

    def _selected_blocks(self) -> list[tuple[int, int, int, int]]:
        """The selection as (top, left, bottom, right) rectangles, inclusive."""
        return [(r.top(), r.left(), r.bottom(), r.right())
                for r in self.view.selectionModel().selection()]

    def _current_column(self) -> int:
        idx = self.view.currentIndex()
        return idx.column() if idx.isValid() else self.model.columnCount() - 1

    # ------------------------------------------------------------------ edits
    def _on_model_edit_requested(self, row: int, column: int, value: float) -> None:
        self.undo_stack.push(SetCellCommand(self.model, row, column, value))

    def insert_row_above(self) -> None:
        rows = self._selected_rows()
        self.undo_stack.push(InsertRowsCommand(self.model, rows[0] if rows else 0, 1))

    def insert_row_below(self) -> None:
        rows = self._selected_rows()
        at = rows[-1] + 1 if rows else self.model.table.n_rows
        self.undo_stack.push(InsertRowsCommand(self.model, at, 1))

    def delete_rows(self) -> None:
        """Delete exactly the selected rows (they need not be adjacent): one undo step."""
        rows = self._selected_rows()
        if not rows:
            return
        runs = _runs(rows)
        self.view.clearSelection()
        if len(runs) == 1:
            self.undo_stack.push(RemoveRowsCommand(self.model, runs[0][0], runs[0][1]))
            return
        self.undo_stack.beginMacro(f"Delete {len(rows)} rows")
        try:
            for first, count in reversed(runs):   # bottom up: earlier rows keep their place
                self.undo_stack.push(RemoveRowsCommand(self.model, first, count))
        finally:
            self.undo_stack.endMacro()

    def insert_column(self) -> None:
        name, ok = QInputDialog.getText(self, "Insert column", "Name of the new column:")
        if ok and name.strip():
            at = self._current_column() + 1
            self.undo_stack.push(InsertColumnCommand(self.model, at, name.strip()))

    def add_computed_column(self) -> bool:
        """Ask for a name and a formula of columns (``log(y)``) and add the column (undoable).

        The dialog checks the formula as it is typed; False when the user cancels.
        """
        from lsqfit_app.core.table import split_unit
        from lsqfit_app.gui.computed_column import ComputedColumnDialog
        dialog = ComputedColumnDialog(self.model.table, self)
        if dialog.exec() != QDialog.Accepted:
            return False
        name, unit = split_unit(dialog.name())
        try:
            command = InsertColumnCommand(self.model, self.model.table.n_columns, name,
                                          unit=unit, formula=dialog.formula())
        except InputError as exc:   # the dialog checked; a table changed meanwhile lands here
            self.show_problem(f"Computed column {name!r}: {exc}")
            return False
        self.undo_stack.push(command)
        self.view.scrollTo(self.model.index(self.view.rowAt(0) if self.view.rowAt(0) >= 0
                                            else 0, self.model.columnCount() - 1))
        return True

    def delete_column(self) -> None:
        if self.model.table.n_columns:
            self.undo_stack.push(RemoveColumnCommand(self.model, self._current_column()))

    def rename_column(self) -> None:
        col = self._current_column()
        if col < 0:
            return
        info = self.model.table.column(col + 1)
        text, ok = QInputDialog.getText(self, "Rename column", "Name [unit]:",
                                        text=f"{info.name} [{info.unit}]" if info.unit else info.name)
        if not ok or not text.strip():
            return
        from lsqfit_app.core.table import split_unit
        name, unit = split_unit(text.strip())
        try:
            self.undo_stack.push(RenameColumnCommand(self.model, col, name, unit))
        except InputError as exc:
            self.show_problem(f"Rename column {info.name!r}: {exc}")

    def mask_selection(self) -> None:
        rows = self._selected_rows()
        if rows:
            self.undo_stack.push(SetMaskCommand(self.model, rows, True))

    def unmask_selection(self) -> None:
        rows = self._selected_rows()
        if rows:
            self.undo_stack.push(SetMaskCommand(self.model, rows, False))

    def copy_selection(self) -> None:
        """Selected cells as tab-separated text."""
        indexes = self.view.selectionModel().selectedIndexes()
        if not indexes:
            return
        rows = sorted({i.row() for i in indexes})
        cols = sorted({i.column() for i in indexes})
        table = self.model.table
        lines = ["\t".join(format_cell(table.cell(r, c + 1)) for c in cols) for r in rows]
        QGuiApplication.clipboard().setText("\n".join(lines) + "\n")

    def paste(self, text: str | None = None) -> None:
        """Paste a block at the current cell (one undo step)."""
        if text is None:
            text = QGuiApplication.clipboard().text()
        if not text.strip():
            return
        try:
            block = parse_block(text)
        except InputError as exc:
            self.show_problem(f"Paste: {exc}")
            return
        idx = self.view.currentIndex()
        row, col = (idx.row(), idx.column()) if idx.isValid() else (0, 0)
        self.undo_stack.push(SetBlockCommand(self.model, row, col, block))

    def clear_selection(self) -> None:
        """Make the selected cells missing (one undo step)."""
        blocks = self._selected_blocks()
        if not blocks:
            return
        # only the selected cells: the gaps of a Ctrl+click selection keep their values
        self.undo_stack.beginMacro("Clear cells")
        try:
            for top, left, bottom, right in blocks:
                block = np.full((bottom - top + 1, right - left + 1), np.nan)
                self.undo_stack.push(SetBlockCommand(self.model, top, left, block, "Clear cells"))
        finally:
            self.undo_stack.endMacro()

    # ------------------------------------------------------------------ menus
    def _on_view_context_menu(self, pos) -> None:
        menu = QMenu(self)
        for a in (self.insert_row_above_action, self.insert_row_below_action, self.delete_rows_action):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.mask_action)
        menu.addAction(self.unmask_action)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def _on_header_context_menu(self, pos) -> None:
        col = self.view.horizontalHeader().logicalIndexAt(pos)
        if col >= 0:
            self.view.setCurrentIndex(self.model.index(max(self.view.currentIndex().row(), 0), col))
            self.view.selectionModel().select(self.model.index(0, col),
                                              QItemSelectionModel.NoUpdate)
        menu = QMenu(self)
        if col >= 0:
            name = self.model.table.names[col]
            numeric = self.model.table.column(col + 1).numeric
            for role, combo in (("x", self.x_combo), ("y", self.y_combo), ("sigma", self.sigma_combo)):
                a = menu.addAction(f"Use as {role}")
                a.setEnabled(numeric)
                a.triggered.connect(lambda _=False, c=combo, n=name: c.setCurrentText(n))
            menu.addSeparator()
            menu.addAction(self.rename_column_action)
        menu.addAction(self.insert_column_action)
        menu.addAction(self.computed_column_action)
        if col >= 0:
            menu.addAction(self.delete_column_action)
        menu.exec(self.view.horizontalHeader().mapToGlobal(pos))


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Ascending row numbers as (first, count) runs of adjacent rows."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][0] + runs[-1][1] == r:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((r, 1))
    return runs


def _two_line_width(text: str, advance) -> int:
    """Narrowest width that shows ``text`` on at most two lines, broken at a space."""
    best = advance(text)
    for i, ch in enumerate(text):
        if ch == " ":
            best = min(best, max(advance(text[:i]), advance(text[i + 1:])))
    return best
