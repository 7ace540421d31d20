"""A virtual Qt item model over a :class:`~lsqfit_app.core.table.Table`.

The Qt-free table is the single source of truth (STYLE.md, "Table model");
this adapter answers ``data()`` straight from the table's numpy columns, so a
1,000,000-row table costs no per-cell Python objects: Qt only asks for the
cells it paints.

Structural changes made *through* this model (``insert_rows`` ...) are
wrapped in ``beginInsertRows``/``endInsertRows`` as Qt requires.  The table
announces its changes only after they happened, so a structural change made
by anyone else is turned into a model reset, the only notification Qt allows
after the fact.  Cell, mask and header changes map onto ``dataChanged`` and
``headerDataChanged``.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table, TableEvent

_MASKED_FOREGROUND = QBrush(QColor(150, 150, 150))
_MASKED_BACKGROUND = QBrush(QColor(236, 236, 236))
_COMPUTED_BACKGROUND = QBrush(QColor(240, 246, 255))


def format_cell(value: float) -> str:
    """A cell value as shown and edited: empty when missing, 10 significant digits."""
    if math.isnan(value):
        return ""
    return f"{value:.10g}"


def parse_cell(text: str) -> float:
    """Parse what a user typed into a cell; ``""`` means missing.

    A single comma with no point is a decimal comma ("1,5"), as spreadsheets
    in many locales write it.

    Raises
    ------
    InputError
        When the text is not a number.
    """
    stripped = str(text).strip()
    if not stripped:
        return math.nan
    candidate = stripped
    if candidate.count(",") == 1 and "." not in candidate:
        candidate = candidate.replace(",", ".")
    try:
        return float(candidate)
    except ValueError:
        raise InputError(f"{stripped!r} is not a number") from None


class TableModel(QAbstractTableModel):
    """Adapter exposing a :class:`Table` to Qt views.

    Parameters
    ----------
    table : Table
    parent : QObject, optional

    Notes
    -----
    Edits typed in a view arrive in :meth:`setData`; they are handed to
    ``edit_requested`` (normally connected to an undo-stack push) rather than
    applied here, so every edit is undoable.  Unless ``route_edits`` is set
    the edit is applied directly.
    """

    #: (row, column, new value) a user typed; the receiver applies it (undoably)
    edit_requested = Signal(int, int, float)
    #: a message for the user when a typed value was refused
    edit_refused = Signal(str)
    #: another table is shown (Open): views start again at the top-left
    table_replaced = Signal()

    def __init__(self, table: Table, parent: QObject | None = None):
        super().__init__(parent)
        self._table = table
        self._structural = False
        self._mask = table.mask
        #: True when a receiver of ``edit_requested`` applies typed edits (undoably)
        self.route_edits = False
        #: the session Document the table belongs to: undo commands change it
        #: inside ``document.recorded()`` (None: a table on its own)
        self.document = None
        self._table.add_listener(self._on_table_changed)

    # ------------------------------------------------------------------ the table
    @property
    def table(self) -> Table:
        """The table this model shows."""
        return self._table

    def set_table(self, table: Table) -> None:
        """Show another table (e.g. after Open)."""
        self.beginResetModel()
        self._table.remove_listener(self._on_table_changed)
        self._table = table
        self._mask = table.mask
        self._table.add_listener(self._on_table_changed)
        self.endResetModel()
        self.table_replaced.emit()

    def detach(self) -> None:
        """Stop listening to the table (before the model is dropped)."""
        self._table.remove_listener(self._on_table_changed)

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else self._table.n_rows

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else self._table.n_columns

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if row >= self._table.n_rows or col >= self._table.n_columns:
            return None
        if role in (Qt.DisplayRole, Qt.EditRole):
            info = self._table.column(col + 1)
            if not info.numeric and info.text is not None:
                return str(info.text[row])
            return format_cell(float(info.values[row]))
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        masked = bool(self._mask[row]) if row < len(self._mask) else False
        if role == Qt.ForegroundRole and masked:
            return _MASKED_FOREGROUND
        if role == Qt.BackgroundRole:
            if masked:
                return _MASKED_BACKGROUND
            if self._table.column(col + 1).formula is not None:
                return _COMPUTED_BACKGROUND
            return None
        if role == Qt.ToolTipRole and masked:
            return f"excluded from fits: {self._table.mask_reason(row)}"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.DisplayRole):
        if orientation == Qt.Vertical:
            if role == Qt.DisplayRole:
                return str(section + 1)
            if role == Qt.TextAlignmentRole:   # row numbers line up by their last digit
                return int(Qt.AlignRight | Qt.AlignVCenter)
            if role == Qt.ForegroundRole and 0 <= section < len(self._mask) and self._mask[section]:
                return _MASKED_FOREGROUND
            return None
        if not 0 <= section < self._table.n_columns:
            return None
        info = self._table.column(section + 1)
        if role == Qt.DisplayRole:
            return header_label(info.name, info.unit)
        if role == Qt.TextAlignmentRole:
            # a long "name (unit)" wraps onto two lines instead of widening the column
            return int(Qt.AlignCenter | Qt.TextWordWrap)
        if role == Qt.ToolTipRole:
            tip = info.name + (f"\nunit: {info.unit}" if info.unit else "")
            if info.formula:
                tip += f"\ncomputed: {info.formula}"
            return tip
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.NoItemFlags
        base = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if self._table.column(index.column() + 1).formula is None:
            base |= Qt.ItemIsEditable
        return base

    def setData(self, index: QModelIndex, value, role: int = Qt.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or role != Qt.EditRole:
            return False
        try:
            number = parse_cell(value)
        except InputError as exc:
            name = self._table.names[index.column()]
            self.edit_refused.emit(f"row {index.row() + 1}, column {name!r}: {exc}")
            return False
        old = self._table.cell(index.row(), index.column() + 1)
        if (math.isnan(old) and math.isnan(number)) or old == number:
            return True
        if self.route_edits:
            self.edit_requested.emit(index.row(), index.column(), number)
        else:
            self.set_cell(index.row(), index.column(), number)
        return True

    # ------------------------------------------------------------------ edits (used by undo commands)
    def set_cell(self, row: int, column: int, value: float) -> None:
        """Set one cell (0-based row and column)."""
        self._table.set_cell(row, column + 1, value)

    def insert_rows(self, at: int, count: int) -> None:
        """Insert ``count`` empty rows before ``at`` with proper Qt notifications."""
        self._structural = True
        try:
            self.beginInsertRows(QModelIndex(), at, at + count - 1)
            self._table.insert_rows(at, count)
            self._mask = self._table.mask
            self.endInsertRows()
        finally:
            self._structural = False

    def remove_rows(self, first: int, count: int) -> None:
        """Remove ``count`` rows from ``first``."""
        self._structural = True
        try:
            self.beginRemoveRows(QModelIndex(), first, first + count - 1)
            self._table.remove_rows(first, count)
            self._mask = self._table.mask
            self.endRemoveRows()
        finally:
            self._structural = False

    def insert_column(self, at: int, name: str, values: np.ndarray | None = None,
                      unit: str = "") -> None:
        """Insert a column before ``at``."""
        self._structural = True
        try:
            self.beginInsertColumns(QModelIndex(), at, at)
            self._table.insert_column(at, name, values, unit)
            self.endInsertColumns()
        finally:
            self._structural = False

    def remove_column(self, column: int) -> None:
        """Remove the column at 0-based ``column``."""
        self._structural = True
        try:
            self.beginRemoveColumns(QModelIndex(), column, column)
            self._table.remove_column(column + 1)
            self.endRemoveColumns()
        finally:
            self._structural = False

    # ------------------------------------------------------------------ table events
    def _on_table_changed(self, event: TableEvent) -> None:
        self._mask = self._table.mask
        if self._structural:
            if event.kind == "cells_changed":   # computed columns recomputed after an insert
                self._emit_cells(event)
            return
        kind = event.kind
        if kind in ("rows_inserted", "rows_removed", "columns_inserted", "columns_removed",
                    "reset"):
            self.beginResetModel()
            self.endResetModel()
        elif kind == "cells_changed":
            self._emit_cells(event)
        elif kind == "mask_changed":
            last_col = max(self._table.n_columns - 1, 0)
            self.dataChanged.emit(self.index(event.first_row, 0),
                                  self.index(event.last_row, last_col))
            self.headerDataChanged.emit(Qt.Vertical, event.first_row, event.last_row)
        elif kind == "column_changed":
            for c in event.columns or range(self._table.n_columns):
                self.headerDataChanged.emit(Qt.Horizontal, c, c)

    def _emit_cells(self, event: TableEvent) -> None:
        if self._table.n_rows == 0 or self._table.n_columns == 0:
            return
        first = max(event.first_row, 0)
        last = event.last_row if event.last_row >= 0 else self._table.n_rows - 1
        columns = event.columns or (0, self._table.n_columns - 1)
        self.dataChanged.emit(self.index(first, min(columns)), self.index(last, max(columns)))


def header_label(name: str, unit: str) -> str:
    """``name [unit]``, without repeating a unit the name already carries."""
    if unit and unit not in name:
        return f"{name} [{unit}]"
    return name
