"""Writing a :class:`~lsqfit_app.core.table.Table` as CSV or XLSX.

Both writers go through :mod:`lsqfit_app.core.atomic`: the file is written
beside the target and renamed over it, so a crash or a full disk leaves the
previous file.  Text from the data (names, units, text cells, mask reasons)
is written as text, never as a live formula: CSV cells that start like a
formula get OWASP's ``'`` prefix (:func:`~lsqfit_app.core.spreadsheet.text_cell`,
the escape the fit exports use, which the text reader removes again), XLSX
cells are string cells.  Numbers are written at full precision (the shortest
repr that reads back to the same float); missing values are empty cells.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

from lsqfit_app.core.atomic import write_atomic, write_text_stream_atomic
from lsqfit_app.core.errors import InputError
from lsqfit_app.core.spreadsheet import XLSX_MAX_ROWS, clean_text, formula_risk, text_cell
from lsqfit_app.core.table import Table

#: Rows per block when writing CSV: bounds the Python strings alive at once.
_BLOCK = 50_000


def _mask_column(table: Table) -> list[str]:
    reasons = [""] * table.n_rows
    for row, why in table.mask_reasons().items():
        reasons[row] = why
    return reasons


def _format_floats(values: np.ndarray, decimal: str) -> list[str]:
    # repr() gives the shortest text that reads back to the same float
    out = ["" if math.isnan(v) else repr(v) for v in values.tolist()]
    if decimal != ".":
        out = [s.replace(".", decimal) for s in out]
    return out


def write_csv(table: Table, path: str | os.PathLike, *, delimiter: str = ",",
              decimal: str = ".", units: bool = True, masks: bool = False) -> None:
    """Write ``table`` as CSV (UTF-8): a name row, a unit row, then the data.

    The unit row is written when any unit is set and ``units`` is true.
    With ``masks`` an extra column ``masked`` holds each row's mask reason.

    Raises
    ------
    InputError
        When ``decimal`` is the delimiter, or the file cannot be written.
    """
    if decimal == delimiter:
        raise InputError("the decimal separator cannot be the delimiter")
    columns = table.columns()
    reasons = _mask_column(table) if masks else None

    def fill(fh) -> None:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow([text_cell(n) for n in table.names] + (["masked"] if masks else []))
        if units and any(table.units):
            writer.writerow([text_cell(u) for u in table.units] + ([""] if masks else []))
        for start in range(0, table.n_rows, _BLOCK):
            block = slice(start, start + _BLOCK)
            cells = []
            for c in columns:
                if c.text is not None and not c.numeric:
                    cells.append([text_cell(s) for s in c.text[block].tolist()])
                else:
                    cells.append(_format_floats(c.values[block], decimal))
            if reasons is not None:
                cells.append([text_cell(s) for s in reasons[block]])
            writer.writerows(zip(*cells))

    write_text_stream_atomic(path, fill)


def write_xlsx(table: Table, path: str | os.PathLike, *, sheet: str = "Data",
               masks: bool = False) -> None:
    """Write ``table`` as an XLSX workbook (needs openpyxl).

    Row 1 holds names, row 2 units (when any), then numbers; missing values
    are empty cells.

    Raises
    ------
    InputError
        When the table has more rows than a worksheet holds, openpyxl is
        missing, or the file cannot be written.
    """
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise InputError("writing .xlsx needs the openpyxl package") from exc
    header_rows = 1 + bool(any(table.units))
    if table.n_rows + header_rows > XLSX_MAX_ROWS:
        raise InputError(f"cannot write {os.fspath(path)!r}: the table has {table.n_rows:,} rows "
                         f"and a worksheet holds {XLSX_MAX_ROWS:,} with its header; "
                         "write .csv instead")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet[:31] or "Data")

    def text(value: str):
        """A string cell, never a formula (openpyxl would make "=..." one)."""
        if not value:
            return None
        cell = WriteOnlyCell(ws, clean_text(value))
        cell.data_type = "s"
        if formula_risk(cell.value):
            cell.quotePrefix = True  # Excel keeps it text when the cell is edited
        return cell

    ws.append([text(n) for n in table.names] + ([text("masked")] if masks else []))
    if any(table.units):
        ws.append([text(u) for u in table.units])
    cols = []
    for c in table.columns():
        if c.text is not None and not c.numeric:
            cols.append([text(s) for s in c.text.tolist()])
        else:
            cols.append([None if not math.isfinite(v) else v for v in c.values.tolist()])
    if masks:
        cols.append([text(s) for s in _mask_column(table)])
    for row in zip(*cols):
        ws.append(list(row))
    write_atomic(path, wb.save)
