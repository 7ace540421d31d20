"""The parameter table of the fit panel: name, start, fixed, min, max, result.

A Qt item model over the document's parameter settings
(:attr:`lsqfit_app.session.document.Document.parameters`).  What the user
types is checked by the document's own rule
(:func:`~lsqfit_app.session.settings.edit_parameter`) and, with an undo
stack, becomes an undoable command that changes the document; the rows
follow the document (:meth:`ParameterTableModel.sync`).  The last column
shows the result, live while a fit runs and ``value ± error`` when it has
finished: that is display state, not the document's.  An out-of-date result
is greyed, and its header says so (:meth:`ParameterTableModel.set_stale`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from lsqfit_app.core.errors import ParameterError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.report.text import fmt

COLUMNS = ("name", "start", "fixed", "min", "max", "result ± error")
_NAME, _START, _FIXED, _MIN, _MAX, _RESULT = range(6)
_LIVE = QBrush(QColor(30, 100, 200))
_NOTE = QBrush(QColor(170, 80, 0))
_STALE = QBrush(QColor(138, 138, 138))
#: what each column's header explains
HEADER_TIPS = (
    "The model's parameter (hover over a name for what it means)",
    "Start value of the fit; empty: the engine finds one from the data",
    "Checked: the parameter is held at its start value and not fitted",
    "Lower bound; empty: none. Some models bound a parameter themselves (a width or a "
    "time constant is at least 0): clear the cell to remove such a bound",
    "Upper bound; empty: none",
    "The fitted value ± standard error (live while a fit runs)",
)


@dataclass
class ParameterRow:
    """One parameter as shown: its setting and the result next to it."""

    name: str
    start: float | None = None
    fixed: bool = False
    min: float = -math.inf
    max: float = math.inf
    value: float | None = None
    stderr: float | None = None
    note: str = ""
    live: bool = False
    description: str = ""
    hint_min: float = -math.inf
    hint_max: float = math.inf


def _parse_bound(text: str, default: float) -> float:
    t = str(text).strip().lower().replace(",", ".") if str(text).count(",") == 1 else str(text).strip().lower()
    if t in ("", "none"):
        return default
    if t in ("inf", "+inf", "infinity"):
        return math.inf
    if t in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


def _bound_text(v: float) -> str:
    if math.isinf(v):
        return ""
    return f"{v:.8g}"


class ParameterTableModel(QAbstractTableModel):
    """Parameter settings (of a document) and results, editable in a view.

    Parameters
    ----------
    document : lsqfit_app.session.document.Document
    undo_stack : QUndoStack, optional
        Edits become commands on it; without one they change the document directly.
    """

    #: a message when typed text was refused
    edit_refused = Signal(str)

    def __init__(self, document, undo_stack=None, parent: QObject | None = None):
        super().__init__(parent)
        self._document = document
        self._undo_stack = undo_stack
        self._rows: list[ParameterRow] = []
        self._stale: str | None = None
        self.sync()

    # ------------------------------------------------------------------ content
    @property
    def rows(self) -> list[ParameterRow]:
        """The rows (do not mutate; edit through setData or the document)."""
        return self._rows

    def sync(self) -> None:
        """Show the document's settings (a new set of names resets the rows and results)."""
        settings = self._document.parameters
        model = self._document.model
        hints = model.param_hints() if model is not None else {}
        if [r.name for r in self._rows] != [s.name for s in settings]:
            self.beginResetModel()
            self._rows = [ParameterRow(s.name, s.value, s.fixed, s.min, s.max,
                                       description=getattr(hints.get(s.name), "description", ""))
                          for s in settings]
            self.endResetModel()
        else:
            for r, s in zip(self._rows, settings):
                r.start, r.fixed, r.min, r.max = s.value, s.fixed, s.min, s.max
        for r in self._rows:
            hint = hints.get(r.name)
            r.hint_min = hint.min if hint is not None else -math.inf
            r.hint_max = hint.max if hint is not None else math.inf
        self._all_changed()

    @property
    def stale(self) -> bool:
        return self._stale is not None

    def set_stale(self, reasons_text: str | None) -> None:
        """Grey the results as out of date (``reasons_text``: what changed), or not."""
        if reasons_text == self._stale:
            return
        self._stale = reasons_text
        self.headerDataChanged.emit(Qt.Horizontal, _RESULT, _RESULT)
        self._result_changed()

    def set_settings(self, settings: Iterable[Mapping]) -> None:
        """Apply saved settings (dicts with name, value, fixed, min, max) to the document."""
        self._document.set_parameters(settings)

    def settings(self) -> list[dict]:
        """Settings as plain dicts (the project file's form)."""
        return [s.to_dict() for s in self._document.parameters]

    def parameters(self) -> list[Parameter]:
        """Settings as engine parameters (start None = let the engine guess)."""
        return [s.to_parameter() for s in self._document.parameters]

    def starts(self) -> list[float | None]:
        """Current start values in order (None where not set)."""
        return [s.value for s in self._document.parameters]

    def set_starts(self, values: Mapping[str, float] | Iterable[float],
                   description: str = "") -> None:
        """Set start values (by name or in order), clipped into the bounds.

        With a ``description`` the change is a user edit (undoable).
        """
        after = self._document.starts_set(values)
        if description:
            self._apply(after, description)
        else:
            self._document.set_parameters(after)

    def _apply(self, after, description: str) -> None:
        before = self._document.parameters
        if tuple(after) == tuple(before):
            return
        if self._undo_stack is None:
            self._document.set_parameters(after)
            return
        from lsqfit_app.gui.undo_commands import SetParametersCommand
        self._undo_stack.push(SetParametersCommand(self._document, before, after, description))

    def set_live_values(self, values: Iterable[float]) -> None:
        """Values of a running fit (shown without errors)."""
        for r, v in zip(self._rows, values):
            r.value, r.stderr, r.note, r.live = float(v), None, "", True
        self._result_changed()

    def set_results(self, result) -> None:
        """Final values and standard errors of a FitResult; None clears."""
        if result is None:
            for r in self._rows:
                r.value = r.stderr = None
                r.note, r.live = "", False
        else:
            by_name = {p.name: p for p in result.parameters}
            for r in self._rows:
                p = by_name.get(r.name)
                if p is None:
                    r.value = r.stderr = None
                    continue
                r.value, r.stderr, r.live = p.value, p.stderr, False
                r.note = "fixed" if p.fixed else ("at bound" if p.at_bound else p.stderr_note)
        self._result_changed()

    def _result_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, _RESULT), self.index(len(self._rows) - 1, _RESULT))

    def _all_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, _RESULT))

    # ------------------------------------------------------------------ Qt API
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation != Qt.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.DisplayRole:
            if section == _RESULT and self._stale is not None and self._has_results():
                return "last result (out of date)"
            return COLUMNS[section]
        if role == Qt.ToolTipRole:
            if section == _RESULT and self._stale is not None and self._has_results():
                return f"Out of date: {self._stale} since this fit; press Fit (Ctrl+R) to refit"
            return HEADER_TIPS[section]
        return None

    def _has_results(self) -> bool:
        return any(r.value is not None and not r.live for r in self._rows)

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.NoItemFlags
        base = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        col = index.column()
        if col == _FIXED:
            return base | Qt.ItemIsUserCheckable
        if col in (_START, _MIN, _MAX):
            return base | Qt.ItemIsEditable
        return base

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role in (Qt.DisplayRole, Qt.EditRole):
            if col == _NAME:
                return r.name
            if col == _START:
                return "" if r.start is None else f"{r.start:.8g}"
            if col == _MIN:
                return _bound_text(r.min)
            if col == _MAX:
                return _bound_text(r.max)
            if col == _RESULT:
                return self._result_text(r)
            return None
        if role == Qt.CheckStateRole and col == _FIXED:
            return Qt.Checked if r.fixed else Qt.Unchecked
        if role == Qt.ForegroundRole and col == _RESULT:
            if r.live:
                return _LIVE
            if self._stale is not None:
                return _STALE
            if r.note and r.note != "fixed":
                return _NOTE
        if role == Qt.ToolTipRole:
            return self._tooltip(r, col)
        if role == Qt.TextAlignmentRole and col != _NAME:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def _tooltip(self, r: ParameterRow, col: int) -> str | None:
        if col == _NAME:
            return r.description or None
        if col == _START:
            return ("empty: the engine finds a start value from the data" if r.start is None
                    else "start value of the fit (clear the cell to let the engine find one)")
        if col == _FIXED:
            return f"checked: {r.name} is held at its start value"
        if col in (_MIN, _MAX):
            value, hint = (r.min, r.hint_min) if col == _MIN else (r.max, r.hint_max)
            which = "lower" if col == _MIN else "upper"
            if math.isfinite(value) and value == hint:
                return (f"{which} bound {value:g} set by the model ({r.name} "
                        f"{'cannot be negative' if col == _MIN and value == 0 else 'is bounded'}"
                        "); clear the cell to fit without it")
            return (f"{which} bound of {r.name}" if math.isfinite(value)
                    else f"no {which} bound; type a number to add one")
        if col == _RESULT:
            parts = [r.note] if r.note else []
            if self._stale is not None and r.value is not None and not r.live:
                parts.append(f"out of date: {self._stale} since this fit")
            return "; ".join(parts) or None
        return None

    @staticmethod
    def _result_text(r: ParameterRow) -> str:
        if r.value is None:
            return ""
        if r.live or r.stderr is None:
            return fmt(r.value, 8)
        if not math.isfinite(r.stderr):
            note = f" ({r.note})" if r.note else ""
            return f"{fmt(r.value, 8)} ± n/a{note}"
        return f"{fmt(r.value, 8)} ± {fmt(r.stderr, 3)}"

    def setData(self, index: QModelIndex, value, role: int = Qt.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or index.row() >= len(self._rows):
            return False
        r = self._rows[index.row()]
        col = index.column()
        if col == _FIXED and role == Qt.CheckStateRole:
            want = Qt.CheckState(value) == Qt.Checked if not isinstance(value, bool) else value
            change, text = {"fixed": bool(want)}, f"{'Fix' if want else 'Free'} {r.name}"
        elif role == Qt.EditRole and col in (_START, _MIN, _MAX):
            typed = str(value)
            try:
                if col == _START:
                    change = {"value": None if not typed.strip() else _parse_bound(typed, math.nan)}
                else:
                    change = {"min" if col == _MIN else "max":
                              _parse_bound(typed, -math.inf if col == _MIN else math.inf)}
            except ValueError:
                self.edit_refused.emit(f"parameter {r.name}: {typed!r} is not a number")
                return False
            what = {_START: "start", _MIN: "min", _MAX: "max"}[col]
            text = f"Set {what} of {r.name}"
        else:
            return False
        try:
            after = self._document.edited_parameters(r.name, **change)
        except ParameterError as exc:
            self.edit_refused.emit(str(exc))
            return False
        self._apply(after, text)
        return True
