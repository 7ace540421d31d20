"""Undoable edits of the document, for a :class:`QUndoStack`.

Table commands call the table's own methods through the
:class:`~lsqfit_app.gui.table_model.TableModel` (which wraps structural
changes in the begin/end notifications Qt needs) and remember exactly what
they need to restore: old cell values, removed rows or columns with their
masks, previous mask reasons.  Settings commands (parameter settings, the
fit range) call the document's setters with the value before or after.  The
command text is what the Edit menu shows ("Undo Paste 3 x 2 cells").

Every command changes the document inside ``Document.recorded()``: the undo
stack's clean state, not the document's ``modified`` flag, then says whether
the change is saved.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
from PySide6.QtGui import QUndoCommand

from lsqfit_app.core.table import DEFAULT_MASK_REASON
from lsqfit_app.gui.table_model import TableModel


def _recorded(document):
    return document.recorded() if document is not None else nullcontext()


class _TableCommand(QUndoCommand):
    """A table edit: subclasses implement ``_redo``/``_undo``, recorded by the document."""

    _model: TableModel

    def redo(self) -> None:
        with _recorded(getattr(self._model, "document", None)):
            self._redo()

    def undo(self) -> None:
        with _recorded(getattr(self._model, "document", None)):
            self._undo()


def _restore_masks(model: TableModel, rows: np.ndarray, reasons: dict[int, str]) -> None:
    """Put back the mask state of ``rows``: reasons for the masked, clear the rest."""
    table = model.table
    clear = [int(r) for r in rows if int(r) not in reasons]
    if clear:
        table.clear_mask(clear)
    by_reason: dict[str, list[int]] = {}
    for row, reason in reasons.items():
        by_reason.setdefault(reason, []).append(row)
    for reason, masked in by_reason.items():
        table.set_mask(masked, reason)


class SetCellCommand(_TableCommand):
    """Type a value into one cell."""

    def __init__(self, model: TableModel, row: int, column: int, value: float):
        name = model.table.names[column]
        super().__init__(f"Edit cell {name!r} row {row + 1}")
        self._model, self._row, self._column = model, row, column
        self._new = float(value)
        self._old = model.table.cell(row, column + 1)

    def _redo(self) -> None:
        self._model.set_cell(self._row, self._column, self._new)

    def _undo(self) -> None:
        self._model.set_cell(self._row, self._column, self._old)


class SetBlockCommand(_TableCommand):
    """Paste a block of values with its top-left corner at (row, column).

    Rows beyond the end of the table are appended first (and removed again
    on undo), so pasting a long column into a short table just works.
    """

    def __init__(self, model: TableModel, row: int, column: int, block: np.ndarray,
                 text: str | None = None):
        block = np.atleast_2d(np.asarray(block, dtype=float))
        n_rows, n_cols = block.shape
        super().__init__(text or f"Paste {n_rows} x {n_cols} cells")
        self._model, self._row, self._column = model, row, column
        table = model.table
        n_cols = min(n_cols, table.n_columns - column)
        self._block = block[:, :n_cols]
        self._added = max(0, row + n_rows - table.n_rows)
        stop = min(row + n_rows, table.n_rows)
        self._old = np.full((n_rows, n_cols), np.nan)
        for j in range(n_cols):
            self._old[:stop - row, j] = table.column(column + j + 1).values[row:stop]

    def _redo(self) -> None:
        table = self._model.table
        if self._added:
            self._model.insert_rows(table.n_rows, self._added)
        self._write(self._block)

    def _undo(self) -> None:
        self._write(self._old)
        if self._added:
            table = self._model.table
            self._model.remove_rows(table.n_rows - self._added, self._added)

    def _write(self, block: np.ndarray) -> None:
        table = self._model.table
        for j in range(block.shape[1]):
            key = self._column + j + 1
            if table.column(key).formula is not None:
                continue
            values = table.values(key)
            values[self._row:self._row + block.shape[0]] = block[:, j]
            table.set_values(key, values)


class InsertRowsCommand(_TableCommand):
    """Insert empty rows."""

    def __init__(self, model: TableModel, at: int, count: int = 1):
        super().__init__(f"Insert {count} row{'s' if count != 1 else ''}")
        self._model, self._at, self._count = model, at, count

    def _redo(self) -> None:
        self._model.insert_rows(self._at, self._count)

    def _undo(self) -> None:
        self._model.remove_rows(self._at, self._count)


class RemoveRowsCommand(_TableCommand):
    """Delete a contiguous range of rows, keeping their values and masks for undo."""

    def __init__(self, model: TableModel, first: int, count: int):
        super().__init__(f"Delete {count} row{'s' if count != 1 else ''}")
        self._model, self._first, self._count = model, first, count
        table = model.table
        self._values = [table.column(i + 1).values[first:first + count].copy()
                        for i in range(table.n_columns)]
        reasons = table.mask_reasons()
        self._reasons = {r: reasons[r] for r in range(first, first + count) if r in reasons}

    def _redo(self) -> None:
        self._model.remove_rows(self._first, self._count)

    def _undo(self) -> None:
        self._model.insert_rows(self._first, self._count)
        table = self._model.table
        for i, saved in enumerate(self._values):
            if table.column(i + 1).formula is not None:
                continue
            values = table.values(i + 1)
            values[self._first:self._first + self._count] = saved
            table.set_values(i + 1, values)
        if self._reasons:
            _restore_masks(self._model, np.array(list(self._reasons)), self._reasons)


class InsertColumnCommand(_TableCommand):
    """Insert a column (empty, given values, or computed from a formula)."""

    def __init__(self, model: TableModel, at: int, name: str, unit: str = "",
                 formula: str | None = None, values: np.ndarray | None = None):
        what = "computed column" if formula else "column"
        super().__init__(f"Insert {what} {name!r}")
        self._model, self._at, self._name, self._unit = model, at, name, unit
        self._formula = formula
        self._values = None if values is None else np.asarray(values, dtype=float).copy()
        if formula is not None:
            self._values = model.table.evaluate(formula)   # raises FormulaError before push

    def _redo(self) -> None:
        self._model.insert_column(self._at, self._name, self._values, self._unit)
        if self._formula is not None:
            self._model.table.set_formula(self._at + 1, self._formula)

    def _undo(self) -> None:
        self._model.remove_column(self._at)


class RemoveColumnCommand(_TableCommand):
    """Delete a column, keeping its name, unit, values and formula for undo."""

    def __init__(self, model: TableModel, column: int):
        info = model.table.column(column + 1)
        super().__init__(f"Delete column {info.name!r}")
        self._model, self._column = model, column
        self._name, self._unit, self._formula = info.name, info.unit, info.formula
        self._values = info.values.copy()

    def _redo(self) -> None:
        self._model.remove_column(self._column)

    def _undo(self) -> None:
        self._model.insert_column(self._column, self._name, self._values, self._unit)
        if self._formula is not None:
            try:
                self._model.table.set_formula(self._column + 1, self._formula)
            except Exception:  # its sources are gone too: keep the values
                pass


class SetMaskCommand(_TableCommand):
    """Exclude (``masked=True``) or include rows; undo restores each row's old reason."""

    def __init__(self, model: TableModel, rows, masked: bool,
                 reason: str = DEFAULT_MASK_REASON, text: str | None = None):
        self._rows = np.unique(np.asarray(list(rows), dtype=np.int64))
        n = len(self._rows)
        verb = "Exclude" if masked else "Include"
        super().__init__(text or f"{verb} {n} point{'s' if n != 1 else ''}")
        self._model, self._masked, self._reason = model, masked, reason
        reasons = model.table.mask_reasons()
        self._old = {int(r): reasons[int(r)] for r in self._rows if int(r) in reasons}

    def _redo(self) -> None:
        if len(self._rows) == 0:
            return
        if self._masked:
            self._model.table.set_mask(self._rows, self._reason)
        else:
            self._model.table.clear_mask(self._rows)

    def _undo(self) -> None:
        if len(self._rows):
            _restore_masks(self._model, self._rows, self._old)


class RenameColumnCommand(_TableCommand):
    """Rename a column and/or change its unit."""

    def __init__(self, model: TableModel, column: int, name: str, unit: str):
        info = model.table.column(column + 1)
        super().__init__(f"Rename column {info.name!r}")
        self._model, self._column = model, column
        self._old = (info.name, info.unit)
        self._new = (name, unit)

    def _redo(self) -> None:
        self._apply(*self._new)

    def _undo(self) -> None:
        self._apply(*self._old)

    def _apply(self, name: str, unit: str) -> None:
        table = self._model.table
        table.rename_column(self._column + 1, name)
        table.set_unit(self._column + 1, unit)


class SetParametersCommand(QUndoCommand):
    """A change of parameter settings (start, bounds, fixed; Guess; Use result as start)."""

    def __init__(self, document, before, after, text: str, fit: int | None = None):
        super().__init__(text)
        self._document, self._fit = document, fit
        self._before, self._after = tuple(before), tuple(after)

    def redo(self) -> None:
        with self._document.recorded():
            self._document.set_parameters(self._after, self._fit)

    def undo(self) -> None:
        with self._document.recorded():
            self._document.set_parameters(self._before, self._fit)


class SetFitRangeCommand(QUndoCommand):
    """Turn the fit x-range on or off, or move it."""

    def __init__(self, document, before, after, text: str, fit: int | None = None):
        super().__init__(text)
        self._document, self._fit = document, fit
        self._before, self._after = before, after

    def redo(self) -> None:
        with self._document.recorded():
            self._document.set_fit_range(self._after, self._fit)

    def undo(self) -> None:
        with self._document.recorded():
            self._document.set_fit_range(self._before, self._fit)
