"""The parameter table of the fit panel: name, start, fixed, min, max, result.

A small Qt item model over a list of :class:`ParameterRow`.  What the user
types (start, bounds, fixed) becomes :class:`~lsqfit_app.core.parameters.Parameter`
settings for the next fit; the last column shows the result, live while a
fit runs and ``value ± error`` when it has finished.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from lsqfit_app.core.parameters import Parameter
from lsqfit_app.report.text import fmt

COLUMNS = ("name", "start", "fixed", "min", "max", "result ± error")
_NAME, _START, _FIXED, _MIN, _MAX, _RESULT = range(6)
_LIVE = QBrush(QColor(30, 100, 200))
_NOTE = QBrush(QColor(170, 80, 0))


@dataclass
class ParameterRow:
    """One parameter as set up in the panel."""

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
    """Parameter settings and results, editable in a view."""

    #: start values, bounds or fixed flags changed by the user
    settings_changed = Signal()
    #: a user edit of the settings: (settings before, settings after, description);
    #: the window turns it into an undoable command
    settings_edited = Signal(object, object, str)
    #: a message when typed text was refused
    edit_refused = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[ParameterRow] = []
        # settings of parameters that a model change took off the table, by name:
        # switching back to that model brings them back (nothing typed is lost)
        self._set_aside: dict[str, ParameterRow] = {}

    # ------------------------------------------------------------------ content
    @property
    def rows(self) -> list[ParameterRow]:
        """The rows (do not mutate; use the setters)."""
        return self._rows

    def set_model_parameters(self, names: Iterable[str], hints: Mapping | None = None) -> None:
        """Show a new model's parameters, keeping settings of names seen before.

        Names on the table keep their settings; names that an earlier model
        change set aside get theirs back; new names start from the hints.
        """
        old = {r.name: r for r in self._rows}
        names = list(names)
        for name, r in old.items():
            if name not in names:
                self._set_aside[name] = r
        hints = hints or {}
        rows = []
        for name in names:
            hint = hints.get(name)
            if name not in old and name in self._set_aside:
                old[name] = self._set_aside.pop(name)
            if name in old:
                r = old[name]
                rows.append(ParameterRow(r.name, r.start, r.fixed, r.min, r.max,
                                         description=r.description))
            else:
                rows.append(ParameterRow(name, None, False,
                                         hint.min if hint else -math.inf,
                                         hint.max if hint else math.inf,
                                         description=hint.description if hint else ""))
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
        self.settings_changed.emit()

    def set_settings(self, settings: Iterable[Mapping]) -> None:
        """Apply saved settings (dicts with name, value, fixed, min, max)."""
        by_name = {r.name: r for r in self._rows}
        for s in settings:
            r = by_name.get(s.get("name"))
            if r is None:
                continue
            value = s.get("value")
            r.start = None if value is None or not math.isfinite(value) else float(value)
            r.fixed = bool(s.get("fixed", False)) and r.start is not None
            r.min = float(s.get("min", -math.inf) if s.get("min") is not None else -math.inf)
            r.max = float(s.get("max", math.inf) if s.get("max") is not None else math.inf)
        self._all_changed()
        self.settings_changed.emit()

    def settings(self) -> list[dict]:
        """Settings as plain dicts (for project files)."""
        return [{"name": r.name, "value": r.start, "fixed": r.fixed, "min": r.min, "max": r.max}
                for r in self._rows]

    def parameters(self) -> list[Parameter]:
        """Settings as engine parameters (start None = let the engine guess)."""
        return [Parameter(r.name, r.start, r.fixed and r.start is not None, r.min, r.max)
                for r in self._rows]

    def set_starts(self, values: Mapping[str, float] | Iterable[float],
                   description: str = "") -> None:
        """Set start values (by name or in order), clipped into the bounds.

        With a ``description`` the change is a user edit (``settings_edited``).
        """
        before = self.settings()
        if not isinstance(values, Mapping):
            values = dict(zip([r.name for r in self._rows], values))
        for r in self._rows:
            if r.name in values and not r.fixed:
                v = float(values[r.name])
                if math.isfinite(v):
                    r.start = min(max(v, r.min), r.max)
        self._all_changed()
        self.settings_changed.emit()
        if description:
            self._edited(before, description)

    def _edited(self, before: list[dict], description: str) -> None:
        after = self.settings()
        if after != before:
            self.settings_edited.emit(before, after, description)

    def starts(self) -> list[float | None]:
        """Current start values in order (None where not set)."""
        return [r.start for r in self._rows]

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
        if role == Qt.DisplayRole and orientation == Qt.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

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
            if r.note and r.note != "fixed":
                return _NOTE
        if role == Qt.ToolTipRole:
            if col == _NAME and r.description:
                return r.description
            if col == _START and r.start is None:
                return "empty: the engine finds a start value"
            if col == _RESULT and r.note:
                return r.note
        if role == Qt.TextAlignmentRole and col != _NAME:
            return int(Qt.AlignRight | Qt.AlignVCenter)
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
        if not index.isValid():
            return False
        r = self._rows[index.row()]
        col = index.column()
        before = self.settings()
        if col == _FIXED and role == Qt.CheckStateRole:
            want = Qt.CheckState(value) == Qt.Checked if not isinstance(value, bool) else value
            if want and r.start is None:
                self.edit_refused.emit(f"parameter {r.name}: give a start value before fixing it")
                return False
            r.fixed = bool(want)
            self.dataChanged.emit(index, index)
            self.settings_changed.emit()
            self._edited(before, f"{'Fix' if r.fixed else 'Free'} {r.name}")
            return True
        if role != Qt.EditRole or col not in (_START, _MIN, _MAX):
            return False
        text = str(value)
        try:
            if col == _START:
                v = None if not text.strip() else _parse_bound(text, math.nan)
                if v is not None and not math.isfinite(v):
                    raise ValueError
                if v is not None and not (r.min <= v <= r.max):
                    self.edit_refused.emit(f"parameter {r.name}: start {v:g} is outside "
                                           f"[{r.min:g}, {r.max:g}]")
                    return False
                r.start = v
                if v is None:
                    r.fixed = False
            else:
                v = _parse_bound(text, -math.inf if col == _MIN else math.inf)
                lo, hi = (v, r.max) if col == _MIN else (r.min, v)
                if math.isnan(v) or lo > hi:
                    self.edit_refused.emit(f"parameter {r.name}: min must not exceed max")
                    return False
                if r.start is not None and not (lo <= r.start <= hi):
                    r.start = min(max(r.start, lo), hi)
                r.min, r.max = lo, hi
        except ValueError:
            self.edit_refused.emit(f"parameter {r.name}: {text!r} is not a number")
            return False
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), _RESULT))
        self.settings_changed.emit()
        what = {_START: "start", _MIN: "min", _MAX: "max"}[col]
        self._edited(before, f"Set {what} of {r.name}")
        return True
