"""Workbooks (.xlsx .xlsm .xlsb .xls .ods) through python-calamine: the table of one sheet.

python-calamine (Rust) reads all these formats, gives cached formula values and
is about 11x faster than openpyxl on a 100,000-row sheet.  Cells arrive as
float, int, str, bool, date/datetime/time/timedelta or ``""``; dates become
spreadsheet serial numbers (days since 1899-12-30) so they can be fitted.

Which sheet: the one the caller names (by name or 1-based number), else the
first worksheet whose table has at least two rows with real numbers (numbers
stored as text do not count here: report sheets are full of them).  The table
is located like in text files (:mod:`lsqfit_app.io.layout`), so title blocks,
two-row headers and repeated page headers work the same.

The file is checked and opened by :mod:`lsqfit_app.io.book` (zip bombs,
broken files), and a sheet is measured from the file before calamine reads it
(:mod:`lsqfit_app.io.sheets`): calamine builds one dense grid from the first to
the last cell, so a lone cell at XFD1048576 would ask for 17 billion cells and
abort the process.  A sheet whose grid would be far bigger than its cells is
read cell by cell instead (xlsx), or refused naming the sheet (ods, xls, xlsb).
"""
from __future__ import annotations

import datetime as _dt
import itertools
import os
import zipfile
from typing import Callable, NamedTuple

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table, split_unit
from lsqfit_app.io import sheets as _sheets
from lsqfit_app.io.book import Book, open_book, short_error
from lsqfit_app.io.build import build_table, column_letter, default_names
from lsqfit_app.io.dialect import MAX_PROBLEMS, CellProblem, Dialect, ReadResult
from lsqfit_app.io.layout import EMPTY, NEUTRAL, NUMBER, TEXT, Row, find_layout
from lsqfit_app.io.numbers import is_neutral, parse_number

#: Sheets with more rows than this are located from their first and last rows.
FULL_SCAN_ROWS = 5_000
#: Rows classified at each end of a big sheet.
EDGE_ROWS = 1_000

_EPOCH = _dt.datetime(1899, 12, 30)


# ---------------------------------------------------------------------- cells
def cell_number(cell) -> float | None:
    """A cell as a number (dates as serials); None when it is text."""
    if isinstance(cell, float):
        return cell
    if isinstance(cell, bool):
        return 1.0 if cell else 0.0
    if isinstance(cell, int):
        return float(cell)
    if isinstance(cell, _dt.datetime):
        return (cell.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400.0
    if isinstance(cell, _dt.date):
        return float((cell - _EPOCH.date()).days)
    if isinstance(cell, _dt.time):
        return (cell.hour * 3600 + cell.minute * 60 + cell.second
                + cell.microsecond / 1e6) / 86400.0
    if isinstance(cell, _dt.timedelta):
        return cell.total_seconds() / 86400.0
    if isinstance(cell, str):
        s = cell.strip()
        if not s:
            return None
        return parse_number(s)
    return None


def _kind(cell) -> int:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return EMPTY
    if isinstance(cell, (float, int)):
        return NUMBER
    if cell_number(cell) is not None:
        return NUMBER
    return NEUTRAL if isinstance(cell, str) and is_neutral(cell) else TEXT


def _convert(cells: list) -> tuple[np.ndarray, np.ndarray]:
    try:
        values = np.array(cells, dtype=np.float64)
        return values, np.zeros(len(values), dtype=bool)
    except (TypeError, ValueError):
        pass
    n = len(cells)
    values = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    for i, cell in enumerate(cells):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        v = cell_number(cell)
        if v is None:
            bad[i] = True
        else:
            values[i] = v
    return values, bad


class _Grid(NamedTuple):
    """A sheet's cells as rows.

    ``numbers`` gives each row's 1-based sheet row when the rows are not
    consecutive from ``row0`` (a sparse sheet: a run of empty rows is one
    empty row there); None for calamine's dense grid.
    """

    raw: list
    row0: int
    col0: int
    numbers: list | None = None
    notes: tuple = ()


def _rows(grid: _Grid, lo: int = 0, hi: int | None = None) -> list[Row]:
    raw = grid.raw
    hi = len(raw) if hi is None else hi
    if grid.numbers is None:
        return [Row(grid.row0 + i + 1, r, [_kind(c) for c in r])
                for i, r in enumerate(raw[lo:hi], lo)]
    return [Row(grid.numbers[i], raw[i], [_kind(c) for c in raw[i]])
            for i in range(lo, min(hi, len(raw)))]


def _has_table(rows: list[Row]) -> bool:
    layout = find_layout(rows)
    if layout is None:
        return False
    real = sum(1 for k in layout.data
               if any(isinstance(c, (float, int)) and not isinstance(c, bool)
                      or isinstance(c, (_dt.date, _dt.time, _dt.timedelta))
                      for c in rows[k].fields))
    return real >= 2


# ---------------------------------------------------------------------- reading
def read_workbook(path: str | os.PathLike, *, sheet: str | int | None = None,
                  header_rows: int | None = None, skip_rows: int | None = None,
                  progress: Callable[[float], None] | None = None) -> ReadResult:
    """Read the table of one worksheet.

    Parameters
    ----------
    path : path-like
    sheet : str or int, optional
        Sheet name, or 1-based number (an int or a digit string that is not
        a sheet name).  Default: the first sheet holding a numeric table.
    header_rows, skip_rows : int, optional
        Override what is detected (``skip_rows`` counts sheet rows from row 1).
    progress : callable, optional
        Called with fractions in [0, 1].
    """
    source = os.fspath(path)
    book = open_book(source)
    names = book.worksheets()
    if progress:
        progress(0.05)
    detected = []
    if sheet is not None:
        name = _resolve_sheet(source, names, sheet)
        grid = _load(book, source, name)
    else:
        detected.append("sheet")
        name, grid = None, _Grid([], 0, 0)
        refused: list[InputError] = []
        for candidate in names:
            try:
                cand = _load(book, source, candidate)
            except InputError as exc:
                refused.append(exc)  # a later sheet may still hold the table
                continue
            probe = _Grid(cand.raw[:EDGE_ROWS], cand.row0, cand.col0, cand.numbers)
            if probe.raw and _has_table(_rows(probe)):
                name, grid = candidate, cand
                break
        if name is None:
            if refused:
                raise refused[0]
            raise InputError(f"{source}: no sheet holds a table of numbers "
                             f"(sheets: {', '.join(names) or 'none'})")
    raw, row0, col0 = grid.raw, grid.row0, grid.col0
    if progress:
        progress(0.5)
    if not raw:
        raise InputError(f"{source}: sheet {name!r} is empty")
    big = None
    if (len(raw) > FULL_SCAN_ROWS and header_rows is None and skip_rows is None
            and grid.numbers is None):
        big = _read_big(raw, row0, col0)
    if big is not None:
        table, problems, n_problems, data_rows, n_header, first_number, notes = big
    else:
        rows = _rows(grid)
        first_row = None
        if skip_rows is not None:
            first_row = next((i for i, r in enumerate(rows) if r.number > skip_rows), len(rows))
        layout = find_layout(rows, header_rows=header_rows, first_row=first_row)
        if layout is None or not layout.data:
            raise InputError(f"{source}: sheet {name!r} holds no table of numbers")
        table, problems, n_problems, data_rows = build_table(
            rows, layout, _convert, letters=True, col_offset=col0)
        n_header = len(layout.header)
        first_number = rows[layout.header[0] if layout.header else layout.data[0]].number
        notes = []
        after = [r for r in rows[layout.data[-1] + 1:] if not r.blank]
        if after:
            notes.append(f"rows {after[0].number} to {after[-1].number} after the table "
                         "were not read")
    notes = list(grid.notes) + list(notes)
    if progress:
        progress(1.0)
    dialect = Dialect(encoding=None, delimiter=None, decimal=".", thousands=None,
                      header_rows=n_header, skip_rows=first_number - 1,
                      sheet=name,
                      detected=tuple(detected + [f for f, v in (("header_rows", header_rows),
                                                                ("skip_rows", skip_rows))
                                                 if v is None]),
                      overridden=tuple(f for f, v in (("sheet", sheet), ("header_rows", header_rows),
                                                      ("skip_rows", skip_rows)) if v is not None))
    return ReadResult(table=table, dialect=dialect, problems=tuple(problems), sheet=name,
                      source=source, sheets=tuple(names), data_rows=data_rows,
                      notes=tuple(notes), n_problems=n_problems)


def _resolve_sheet(source: str, names: list[str], sheet: str | int) -> str:
    if isinstance(sheet, str):
        if sheet in names:
            return sheet
        folded = [n for n in names if n.casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        if sheet.strip().isdigit():
            sheet = int(sheet.strip())
        else:
            raise InputError(f"{source}: there is no sheet {sheet!r}; sheets: {', '.join(names)}")
    if 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    raise InputError(f"{source}: there is no sheet {sheet}; the workbook has {len(names)} "
                     f"sheet{'s' if len(names) != 1 else ''}: {', '.join(names)}")


def _load(book: Book, source: str, name: str) -> _Grid:
    """The cells of one sheet: calamine's grid when its size is sane, else sparse."""
    extent = book.extent(name)
    if extent.n_cells == 0 and extent.exact:
        return _Grid([], 0, 0)
    if not extent.dense_ok():
        if book.kind != "xlsx":
            raise _sheets.too_sparse(source, name, extent)
        try:
            cells = book.sparse_cells(name)
        except (ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"{source}: cannot read sheet {name!r} ({short_error(exc)})") from None
        return _sparse_grid(cells)
    try:
        sh = book.wb.get_sheet_by_name(name)
        raw = sh.to_python()
        start = sh.start
    except Exception as exc:
        raise InputError(f"{source}: cannot read sheet {name!r} ({short_error(exc)})") from None
    row0, col0 = (start if start else (0, 0))
    return _Grid(raw, row0, col0)


def _sparse_grid(cells: dict[int, dict[int, object]]) -> _Grid:
    """Rows of a sparse sheet without its empty space.

    Each run of empty rows becomes one empty row (the layout only asks
    whether a blank row separates two blocks); each row is as long as its
    last cell.  When even that holds more than the dense budget (a far
    column filled on many rows), columns beyond the widest that fits are
    left out and a note says how many cells that dropped.
    """
    if not cells:
        return _Grid([], 0, 0)
    order = sorted(cells)
    col0 = min(min(row) for row in cells.values())
    widths = [max(cells[r]) - col0 + 1 for r in order]
    n_cells = sum(len(row) for row in cells.values())
    budget = _sheets.dense_budget(n_cells)
    limit = max(widths)
    if sum(widths) + len(order) > budget:
        lo, hi = 1, limit  # the widest cut whose grid fits the budget
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if sum(min(w, mid) for w in widths) + len(order) <= budget:
                lo = mid
            else:
                hi = mid - 1
        limit = lo
    raw: list[list] = []
    numbers: list[int] = []
    dropped = 0
    prev = None
    for r, width in zip(order, widths):
        if prev is not None and r > prev + 1:
            raw.append([])
            numbers.append(prev + 2)
        fields = [""] * min(width, limit)
        for c, value in cells[r].items():
            j = c - col0
            if j < limit:
                fields[j] = value
            else:
                dropped += 1
        raw.append(fields)
        numbers.append(r + 1)
        prev = r
    notes = ()
    if dropped:
        notes = (f"{dropped} cell{'s' if dropped != 1 else ''} right of column "
                 f"{column_letter(col0 + limit - 1)} were not read (the sheet is too sparse "
                 "to hold as a grid)",)
    return _Grid(raw, order[0], col0, numbers, notes)


def _read_big(raw: list[list], row0: int, col0: int):
    """A big sheet: locate the table from its first and last rows, convert by column.

    The first :data:`EDGE_ROWS` rows give the header and the columns; the
    last ones must end in data (else None: the caller scans every row).  The
    rows between are converted one column at a time, with a single numpy call
    when the column holds only numbers.  Blank rows are dropped; text in a
    numeric column is reported like everywhere else.
    """
    n = len(raw)
    head = _rows(_Grid(raw, row0, col0), 0, EDGE_ROWS)
    layout = find_layout(head)
    if layout is None or layout.last < len(head) - 3:
        return None
    tail = _rows(_Grid(raw, row0, col0), n - EDGE_ROWS, n)
    k = len(tail) - 1
    while k >= 0 and tail[k].blank:
        k -= 1
    if k < 0 or not tail[k].data_like or tail[k].width > layout.ncols:
        return None
    start, end = layout.data[0], n - EDGE_ROWS + k + 1
    ncols = layout.ncols
    block = raw[start:end]
    try:
        width = len(block[0])
        if any(len(r) != width for r in (block[0], block[-1])) or width < ncols:
            raise ValueError("ragged")
        # one C loop over all cells; fails at the first cell that is not a number
        flat = np.fromiter(itertools.chain.from_iterable(block), dtype=np.float64,
                           count=len(block) * width)
        matrix = flat.reshape(len(block), width)
        columns = [np.ascontiguousarray(matrix[:, j]) for j in range(ncols)]
        bads = [None] * ncols
        cells_of = None
    except (TypeError, ValueError):
        columns, bads = [], []
        cells_of = [[r[j] if j < len(r) else None for r in block] for j in range(ncols)]
        for cells in cells_of:
            values, bad = _convert(cells)
            columns.append(values)
            bads.append(bad)
    numbers = np.fromiter(range(row0 + start + 1, row0 + end + 1), dtype=np.int64,
                          count=end - start)
    keep = None
    if cells_of is not None:
        empty = np.ones(end - start, dtype=bool)
        for cells in cells_of:
            empty &= np.fromiter((c is None or (isinstance(c, str) and not c.strip())
                                  for c in cells), dtype=bool, count=len(cells))
        if empty.any():
            keep = ~empty
    names = default_names(ncols, letters=True, offset=col0)
    names = [layout.names[j].strip() or names[j] for j in range(ncols)]
    units = [(layout.units[j].strip() if j < len(layout.units) else "") or split_unit(names[j])[1]
             for j in range(ncols)]
    numeric, texts = [], []
    for j in range(ncols):
        if keep is not None:
            columns[j] = columns[j][keep]
            if bads[j] is not None:
                bads[j] = bads[j][keep]
        n_bad = 0 if bads[j] is None else int(bads[j].sum())
        n_num = int(np.count_nonzero(~np.isnan(columns[j])))
        is_numeric = n_num >= 1 and n_num >= n_bad
        numeric.append(is_numeric)
        if not is_numeric:
            cells = np.array(cells_of[j], dtype=object)
            if keep is not None:
                cells = cells[keep]
            texts.append(np.array([_text_of(c) for c in cells], dtype=str))
            bads[j] = None
        else:
            texts.append(None)
    if keep is not None:
        numbers = numbers[keep]
        kept_rows = np.flatnonzero(keep)
    else:
        kept_rows = None
    table = Table.from_columns(names, columns, units, numeric, texts)
    final = table.names
    bad_cells = []
    for j in range(ncols):
        if bads[j] is None:
            continue
        for pos in np.flatnonzero(bads[j]).tolist():
            src = pos if kept_rows is None else int(kept_rows[pos])
            bad_cells.append((pos, j, int(numbers[pos]), _text_of(cells_of[j][src])))
    bad_cells.sort()
    problems = [CellProblem(number, final[j], text[:200], pos)
                for pos, j, number, text in bad_cells[:MAX_PROBLEMS]]
    first_number = head[layout.header[0] if layout.header else layout.data[0]].number
    notes = []
    if k < len(tail) - 1 and any(not r.blank for r in tail[k + 1:]):
        notes.append("rows after the table were not read")
    return table, problems, len(bad_cells), numbers, len(layout.header), first_number, notes


def _text_of(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
