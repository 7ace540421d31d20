"""The data table: named float columns with units, row masks and change events.

This is the single source of truth for the data a user fits; the GUI's Qt
item model is a thin adapter over it (STYLE.md, "Table model").  It is plain
Python + numpy so the CLI, the API and tests use the very same object.

Storage is one float64 array per column (NaN = missing) and, per row, a small
integer mask code pointing into a list of reasons (0 = not masked).  That keeps
a 1,000,000-row table free of per-cell Python objects.  Columns that are mostly
text (labels, time stamps) are kept with ``numeric=False``: their float values
are NaN and their text is kept in a fixed-width numpy string array so the GUI
can still show it; they are not offered as x or y.

Every mutation emits one :class:`TableEvent` to the listeners registered with
:meth:`Table.add_listener`.  Listeners are plain callables; the GUI adapts them
to ``dataChanged``/``beginInsertRows`` and friends.  Only the GUI thread should
mutate a table; a worker gets :meth:`Table.snapshot`, a copy that shares
nothing, so edits during a fit cannot change the fit.

Computed columns hold an expression of other columns in the safe formula
language of :mod:`lsqfit_app.core.expression`; they are recomputed whenever
a column they read changes.  One column's storage and view are in
:mod:`lsqfit_app.core.columns`; writing a table to a file is
:mod:`lsqfit_app.io.writers`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from lsqfit_app.core.columns import (Column, ColumnInfo, as_float_array, cell_value,
                                     formula_names, identifier)
from lsqfit_app.core.errors import InputError

#: Reason used when the caller gives none.
DEFAULT_MASK_REASON = "masked by user"

_UNIT_PATTERNS = (
    re.compile(r"^(?P<name>.*?\S)\s*\((?P<unit>[^()]*)\)$"),
    re.compile(r"^(?P<name>.*?\S)\s*\[(?P<unit>[^\[\]]*)\]$"),
)


def split_unit(header: str) -> tuple[str, str]:
    """Split a header into (base name, unit) when it carries its unit.

    Recognised forms: ``"name (unit)"``, ``"name [unit]"`` and, for a header
    without spaces, ``"name/unit"`` (``"freq/Hz"``).  A header with no unit
    gives ``(header, "")``.

    Examples
    --------
    >>> split_unit("Elapsed Time (s)")
    ('Elapsed Time', 's')
    >>> split_unit("freq/Hz")
    ('freq', 'Hz')
    >>> split_unit("DryCal smL/min")
    ('DryCal smL/min', '')
    """
    text = header.strip()
    for pattern in _UNIT_PATTERNS:
        m = pattern.match(text)
        if m and m.group("unit").strip():
            return m.group("name").strip(), m.group("unit").strip()
    if "/" in text and not any(c.isspace() for c in text):
        name, _, unit = text.partition("/")
        if name and unit:
            return name, unit
    return text, ""


@dataclass(frozen=True)
class TableEvent:
    """What changed in a table.

    Attributes
    ----------
    kind : str
        One of ``"cells_changed"`` (values in ``rows`` x ``columns``),
        ``"rows_inserted"``, ``"rows_removed"`` (``rows`` gives the range in
        the numbering *before* removal), ``"columns_inserted"``,
        ``"columns_removed"``, ``"column_changed"`` (name, unit or formula of
        ``columns``), ``"mask_changed"`` (``rows``) and ``"reset"``
        (everything may have changed).
    first_row, last_row : int
        Inclusive 0-based row range; ``-1`` when rows are not concerned.
    columns : tuple of int
        0-based column indices concerned (empty when all or none).
    """

    kind: str
    first_row: int = -1
    last_row: int = -1
    columns: tuple[int, ...] = ()


class Table:
    """Named float64 columns with units, per-row masks with reasons, and events.

    Parameters
    ----------
    columns : mapping or sequence, optional
        ``{name: values}`` or a sequence of ``(name, values)`` /
        ``(name, values, unit)`` tuples.  All columns must have one length.

    Examples
    --------
    >>> t = Table({"x": [1, 2, 3], "y": [2.0, 4.1, 5.9]})
    >>> t.column("y").values[1]
    4.1
    >>> t.column(1).name
    'x'
    """

    def __init__(self, columns: Mapping[str, Iterable[float]] | Sequence[tuple] | None = None):
        self._columns: list[Column] = []
        self._n_rows = 0
        self._mask = np.zeros(0, dtype=np.int32)
        self._reasons: list[str] = [""]
        self._listeners: list[Callable[[TableEvent], None]] = []
        if columns is None:
            return
        items = columns.items() if isinstance(columns, Mapping) else columns
        for item in items:
            item = tuple(item)
            name, values = item[0], item[1]
            unit = item[2] if len(item) > 2 else ""
            self._append_column(Column(str(name), as_float_array(values, name), str(unit)))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_columns(cls, names: Sequence[str], arrays: Sequence[np.ndarray],
                     units: Sequence[str] | None = None, numeric: Sequence[bool] | None = None,
                     texts: Sequence[np.ndarray | None] | None = None) -> "Table":
        """Build a table from parallel lists without copying float64 arrays.

        Used by the readers, which already own freshly made arrays.
        """
        table = cls()
        for i, (name, arr) in enumerate(zip(names, arrays)):
            col = Column(str(name), as_float_array(arr, name, copy=False),
                          units[i] if units else "",
                          bool(numeric[i]) if numeric is not None else True,
                          None, texts[i] if texts else None)
            table._append_column(col)
        return table

    def _append_column(self, col: Column) -> None:
        if not self._columns:
            self._n_rows = len(col.values)
            self._mask = np.zeros(self._n_rows, dtype=np.int32)
        elif len(col.values) != self._n_rows:
            raise InputError(f"column {col.name!r} has {len(col.values)} values; "
                             f"the table has {self._n_rows} rows")
        col.name = self._unique_name(col.name or f"col{len(self._columns) + 1}")
        self._columns.append(col)

    def _unique_name(self, name: str, ignore: int | None = None) -> str:
        taken = {c.name for i, c in enumerate(self._columns) if i != ignore}
        if name not in taken:
            return name
        k = 2
        while f"{name}_{k}" in taken:
            k += 1
        return f"{name}_{k}"

    # ------------------------------------------------------------------ shape and lookup
    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self._n_rows

    @property
    def n_columns(self) -> int:
        """Number of columns."""
        return len(self._columns)

    def __len__(self) -> int:
        return self._n_rows

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self._columns]

    @property
    def units(self) -> list[str]:
        """Column units in order ("" when unknown)."""
        return [c.unit for c in self._columns]

    def numeric_names(self) -> list[str]:
        """Names of the columns that may be offered as x, y or sigma."""
        return [c.name for c in self._columns if c.numeric]

    def column_index(self, key: str | int) -> int:
        """0-based index of a column given by name or 1-based number.

        ``key`` may be an exact header name, a name without its unit
        (``"freq"`` for ``"freq/Hz"``, when that is unambiguous), an int or a
        digit string (1-based, as users count).  A header that is itself a
        number ("2000") is matched by name first.

        Raises
        ------
        InputError
            Listing the available columns.
        """
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if 1 <= key <= len(self._columns):
                return int(key) - 1
            raise InputError(f"there is no column {key}: the table has {len(self._columns)} "
                             f"columns ({self._available()})")
        text = str(key).strip()
        for i, c in enumerate(self._columns):
            if c.name == text:
                return i
        folded = [i for i, c in enumerate(self._columns) if c.name.casefold() == text.casefold()]
        if len(folded) == 1:
            return folded[0]
        base = [i for i, c in enumerate(self._columns) if split_unit(c.name)[0] == text]
        if len(base) == 1:
            return base[0]
        if text.isdigit():
            return self.column_index(int(text))
        raise InputError(f"there is no column {text!r}; available columns: {self._available()}")

    def _available(self) -> str:
        shown = ", ".join(f"{i + 1}: {c.name}" for i, c in enumerate(self._columns[:40]))
        more = f", ... ({len(self._columns)} in all)" if len(self._columns) > 40 else ""
        return (shown + more) or "(none)"

    def column(self, key: str | int) -> ColumnInfo:
        """A read-only view of a column by name or 1-based index (see :meth:`column_index`)."""
        i = self.column_index(key)
        c = self._columns[i]
        values = c.values.view()
        values.flags.writeable = False
        return ColumnInfo(i, c.name, c.unit, values, c.numeric, c.formula, c.text)

    def values(self, key: str | int) -> np.ndarray:
        """A copy of a column's float values (NaN where missing)."""
        return self._columns[self.column_index(key)].values.copy()

    def columns(self) -> list[ColumnInfo]:
        """All columns as read-only views."""
        return [self.column(i + 1) for i in range(len(self._columns))]

    # ------------------------------------------------------------------ listeners
    def add_listener(self, listener: Callable[[TableEvent], None]) -> None:
        """Call ``listener(event)`` after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[TableEvent], None]) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass

    def _emit(self, kind: str, first_row: int = -1, last_row: int = -1,
              columns: Iterable[int] = ()) -> None:
        event = TableEvent(kind, first_row, last_row, tuple(columns))
        for listener in list(self._listeners):
            listener(event)

    # ------------------------------------------------------------------ cells
    def cell(self, row: int, key: str | int) -> float:
        """Value at 0-based ``row`` of a column (NaN when missing)."""
        self._check_row(row)
        return float(self._columns[self.column_index(key)].values[row])

    def set_cell(self, row: int, key: str | int, value: float | str | None) -> None:
        """Set one cell; None or "" makes it missing.  Strings are parsed as numbers."""
        self._check_row(row)
        i = self.column_index(key)
        col = self._columns[i]
        if col.formula is not None:
            raise InputError(f"column {col.name!r} is computed from {col.formula!r}; "
                             "edit the formula instead")
        col.values[row] = cell_value(value, row, col.name)
        if col.text is not None:
            col.text[row] = "" if value is None else str(value)
        self._emit("cells_changed", row, row, (i,))
        self._recompute_dependents({col.name})

    def set_values(self, key: str | int, values: Iterable[float]) -> None:
        """Replace all values of a column."""
        i = self.column_index(key)
        col = self._columns[i]
        arr = as_float_array(values, col.name)
        if len(arr) != self._n_rows:
            raise InputError(f"column {col.name!r}: {len(arr)} values given for {self._n_rows} rows")
        col.values = arr
        col.formula = None
        self._emit("cells_changed", 0, self._n_rows - 1, (i,))
        self._recompute_dependents({col.name})

    def _check_row(self, row: int) -> None:
        if not 0 <= row < self._n_rows:
            raise InputError(f"row {row + 1} is outside the table (1 to {self._n_rows})")

    # ------------------------------------------------------------------ rows
    def insert_rows(self, at: int, count: int = 1) -> None:
        """Insert ``count`` empty (missing) rows before 0-based row ``at``."""
        if not 0 <= at <= self._n_rows:
            raise InputError(f"cannot insert at row {at + 1}: the table has {self._n_rows} rows")
        if count <= 0:
            return
        for col in self._columns:
            col.values = np.insert(col.values, at, np.full(count, np.nan))
            if col.text is not None:
                col.text = np.insert(col.text, at, [""] * count)
        self._mask = np.insert(self._mask, at, np.zeros(count, dtype=np.int32))
        self._n_rows += count
        self._emit("rows_inserted", at, at + count - 1)
        self._recompute_all()

    def remove_rows(self, first: int, count: int = 1) -> None:
        """Remove ``count`` rows starting at 0-based row ``first``."""
        if count <= 0:
            return
        if not (0 <= first and first + count <= self._n_rows):
            raise InputError(f"cannot remove rows {first + 1} to {first + count}: "
                             f"the table has {self._n_rows} rows")
        keep = np.ones(self._n_rows, dtype=bool)
        keep[first:first + count] = False
        for col in self._columns:
            col.values = col.values[keep]
            if col.text is not None:
                col.text = col.text[keep]
        self._mask = self._mask[keep]
        self._n_rows -= count
        self._emit("rows_removed", first, first + count - 1)

    # ------------------------------------------------------------------ columns
    def insert_column(self, at: int, name: str, values: Iterable[float] | None = None,
                      unit: str = "") -> str:
        """Insert a column before 0-based column ``at``; returns its (unique) name.

        The name is made unique by appending ``_2``, ``_3``... when taken.
        """
        if not 0 <= at <= len(self._columns):
            raise InputError(f"cannot insert a column at position {at + 1}")
        arr = (np.full(self._n_rows, np.nan) if values is None
               else as_float_array(values, name))
        if self._columns and len(arr) != self._n_rows:
            raise InputError(f"column {name!r}: {len(arr)} values given for {self._n_rows} rows")
        if not self._columns:
            self._n_rows = len(arr)
            self._mask = np.zeros(self._n_rows, dtype=np.int32)
        col = Column(self._unique_name(str(name) or f"col{at + 1}"), arr, unit)
        self._columns.insert(at, col)
        self._emit("columns_inserted", columns=(at,))
        return col.name

    def add_column(self, name: str, values: Iterable[float] | None = None, unit: str = "") -> str:
        """Append a column; returns its (unique) name."""
        return self.insert_column(len(self._columns), name, values, unit)

    def remove_column(self, key: str | int) -> None:
        """Remove a column.  Computed columns that read it keep their last values."""
        i = self.column_index(key)
        removed = self._columns.pop(i)
        if not self._columns:
            self._n_rows = 0
            self._mask = np.zeros(0, dtype=np.int32)
        for col in self._columns:
            if col.formula is not None and removed.name in formula_names(col.formula):
                col.formula = None  # its source is gone: keep values, drop the link
        self._emit("columns_removed", columns=(i,))

    def rename_column(self, key: str | int, name: str) -> str:
        """Rename a column (made unique); returns the name given."""
        i = self.column_index(key)
        name = str(name).strip()
        if not name:
            raise InputError("a column name cannot be empty")
        self._columns[i].name = self._unique_name(name, ignore=i)
        self._emit("column_changed", columns=(i,))
        return self._columns[i].name

    def set_unit(self, key: str | int, unit: str) -> None:
        """Set the unit of a column."""
        i = self.column_index(key)
        self._columns[i].unit = str(unit)
        self._emit("column_changed", columns=(i,))

    # ------------------------------------------------------------------ masks
    @property
    def mask(self) -> np.ndarray:
        """Boolean array, True for rows excluded from fits (a copy)."""
        return self._mask != 0

    def mask_reason(self, row: int) -> str:
        """Why a row is masked ("" when it is not)."""
        self._check_row(row)
        return self._reasons[self._mask[row]]

    def mask_reasons(self) -> dict[int, str]:
        """``{row: reason}`` for every masked row (0-based rows)."""
        rows = np.flatnonzero(self._mask)
        return {int(r): self._reasons[self._mask[r]] for r in rows}

    def set_mask(self, rows: int | Iterable[int], reason: str = DEFAULT_MASK_REASON) -> None:
        """Exclude rows from fits, recording why."""
        idx = self._rows_array(rows)
        reason = str(reason) or DEFAULT_MASK_REASON
        try:
            code = self._reasons.index(reason, 1)
        except ValueError:
            self._reasons.append(reason)
            code = len(self._reasons) - 1
        self._mask[idx] = code
        if len(idx):
            self._emit("mask_changed", int(idx.min()), int(idx.max()))

    def clear_mask(self, rows: int | Iterable[int] | None = None) -> None:
        """Include rows again (all rows when ``rows`` is None)."""
        idx = np.arange(self._n_rows) if rows is None else self._rows_array(rows)
        self._mask[idx] = 0
        if len(idx):
            self._emit("mask_changed", int(idx.min()), int(idx.max()))

    def _rows_array(self, rows: int | Iterable[int]) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(list(rows) if not isinstance(rows, (int, np.integer))
                                       and not isinstance(rows, np.ndarray) else rows,
                                       dtype=np.int64))
        if len(idx) and (idx.min() < 0 or idx.max() >= self._n_rows):
            bad = idx[(idx < 0) | (idx >= self._n_rows)][0]
            raise InputError(f"row {int(bad) + 1} is outside the table (1 to {self._n_rows})")
        return idx

    # ------------------------------------------------------------------ computed columns
    def identifier_names(self) -> dict[str, str]:
        """``{identifier: column name}`` usable in column expressions.

        A header such as ``"freq/Hz"`` is not a valid identifier; its base
        name (``"freq"``) is offered instead when that is one, else the base
        name with other characters turned into ``_`` ("Elapsed Time (s)" ->
        ``Elapsed_Time``; a leading digit gets a ``c``).  Formulas, response
        expressions and computed columns all name columns this way.
        """
        out: dict[str, str] = {}
        for c in self._columns:
            base = split_unit(c.name)[0]
            for candidate in (c.name, base, identifier(base)):
                if candidate.isidentifier() and candidate not in out:
                    out[candidate] = c.name
                    break
        return out

    def evaluate(self, text: str) -> np.ndarray:
        """Evaluate an expression of columns (``"log(y)"``) over all rows."""
        from lsqfit_app.core.expression_parser import compile_column_expression

        ids = self.identifier_names()
        expr = compile_column_expression(text, ids.keys())
        env = {ident: self._columns[self.column_index(name)].values for ident, name in ids.items()
               if ident in expr.names}
        with np.errstate(all="ignore"):
            result = expr.evaluate(env)
        return np.broadcast_to(np.asarray(result, dtype=np.float64), (self._n_rows,)).copy()

    def add_computed_column(self, name: str, formula: str, unit: str = "",
                            at: int | None = None) -> str:
        """Add a column computed from ``formula`` (safe formula language).

        The column is recomputed whenever a column it reads changes.  Returns
        the column's (unique) name.  Raises
        :class:`~lsqfit_app.core.errors.FormulaError` for a bad formula.
        """
        values = self.evaluate(formula)
        new = self.insert_column(len(self._columns) if at is None else at, name, values, unit)
        i = self.column_index(new)
        self._columns[i].formula = formula
        self._emit("column_changed", columns=(i,))
        return new

    def set_formula(self, key: str | int, formula: str | None, *, recompute: bool = True) -> None:
        """Change (or with None, drop) the formula of a computed column.

        With ``recompute=False`` the stored values are kept (used when loading
        a project, whose values were saved with the formula).
        """
        i = self.column_index(key)
        if formula is not None and recompute:
            values = self.evaluate(formula)
            self._columns[i].values = values
        self._columns[i].formula = formula
        self._emit("column_changed", columns=(i,))
        self._emit("cells_changed", 0, self._n_rows - 1, (i,))

    def _recompute_dependents(self, changed: set[str], depth: int = 0) -> None:
        if depth > len(self._columns):  # a cycle made by renaming: stop, values stay
            return
        ids = self.identifier_names()
        for i, col in enumerate(self._columns):
            if col.formula is None:
                continue
            used = {ids.get(n, n) for n in formula_names(col.formula)}
            if used & changed and col.name not in changed:
                try:
                    col.values = self.evaluate(col.formula)
                except InputError:
                    col.formula = None  # a source was renamed away: keep the values
                    continue
                self._emit("cells_changed", 0, self._n_rows - 1, (i,))
                self._recompute_dependents({col.name}, depth + 1)

    def _recompute_all(self) -> None:
        for i, col in enumerate(self._columns):
            if col.formula is not None:
                try:
                    col.values = self.evaluate(col.formula)
                except InputError:
                    col.formula = None
                    continue
                self._emit("cells_changed", 0, self._n_rows - 1, (i,))

    # ------------------------------------------------------------------ copies
    def snapshot(self) -> "Table":
        """A deep copy with no listeners, safe to hand to a worker thread."""
        copy = Table()
        copy._columns = [c.copy() for c in self._columns]
        copy._n_rows = self._n_rows
        copy._mask = self._mask.copy()
        copy._reasons = list(self._reasons)
        return copy

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        if self.names != other.names or self.units != other.units or self._n_rows != other._n_rows:
            return False
        if not np.array_equal(self.mask, other.mask) or self.mask_reasons() != other.mask_reasons():
            return False
        return all(np.array_equal(a.values, b.values, equal_nan=True)
                   for a, b in zip(self._columns, other._columns))

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return f"Table({self._n_rows} rows x {len(self._columns)} columns: {', '.join(self.names)})"
