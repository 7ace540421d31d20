"""One column of a :class:`~lsqfit_app.core.table.Table`: its storage, its view, its values.

A column is a float64 array (NaN = missing) with a name, a unit and, for a
computed column, the formula it is computed from.  Columns that are mostly
text keep their cell text beside the NaN values (``numeric=False``).  The
table owns :class:`Column` objects and hands out :class:`ColumnInfo`,
read-only views that callers may keep.

The functions here turn what callers give (lists, arrays, cell text) into
column values, and column names into the identifiers formulas use.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from lsqfit_app.core.errors import InputError


@dataclass(frozen=True)
class ColumnInfo:
    """A read-only view of one column, as returned by :meth:`Table.column`.

    ``values`` is a read-only view of the table's storage: copy it before
    keeping it across edits.  ``text`` holds the cell text of a non-numeric
    column (None for numeric ones).
    """

    index: int
    name: str
    unit: str
    values: np.ndarray
    numeric: bool
    formula: str | None = None
    text: np.ndarray | None = None

    @property
    def label(self) -> str:
        """Name with the unit in brackets, for axis labels and reports."""
        return f"{self.name} [{self.unit}]" if self.unit and self.unit not in self.name else self.name


class Column:
    """Mutable storage of one column, owned by its table (callers see ColumnInfo)."""

    __slots__ = ("name", "unit", "values", "numeric", "formula", "text")

    def __init__(self, name: str, values: np.ndarray, unit: str = "", numeric: bool = True,
                 formula: str | None = None, text: np.ndarray | None = None):
        self.name = name
        self.unit = unit
        self.values = values
        self.numeric = numeric
        self.formula = formula
        self.text = text

    def copy(self) -> "Column":
        return Column(self.name, self.values.copy(), self.unit, self.numeric, self.formula,
                      None if self.text is None else self.text.copy())


def identifier(text: str) -> str:
    """``text`` made into an identifier ("" when nothing is left)."""
    ident = re.sub(r"\W+", "_", text.strip()).strip("_")
    return "c" + ident if ident[:1].isdigit() else ident


def formula_names(formula: str) -> set[str]:
    """The names a formula may read (a superset: function names are in it too)."""
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", formula))


def as_float_array(values, name, copy: bool = True) -> np.ndarray:
    """``values`` as a 1-D float64 array; InputError naming column ``name`` otherwise."""
    try:
        arr = np.array(values, dtype=np.float64, copy=copy) if copy else np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {name!r}: values must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise InputError(f"column {name!r}: values must be one-dimensional")
    return arr


def cell_value(value, row: int, name: str) -> float:
    """One typed or pasted cell as a float (NaN when empty); InputError naming the cell."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            return float(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
        except ValueError:
            raise InputError(f"row {row + 1}, column {name!r}: {value!r} is not a number") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"row {row + 1}, column {name!r}: {value!r} is not a number") from None
