"""Workbooks (.xlsx .xlsm .xls .ods) through python-calamine.

python-calamine (Rust) reads all four formats, gives cached formula values and
is about 11x faster than openpyxl on a 100,000-row sheet.  Cells arrive as
float, int, str, bool, date/datetime/time/timedelta or ``""``; dates become
spreadsheet serial numbers (days since 1899-12-30) so they can be fitted.

Which sheet: the one the caller names (by name or 1-based number), else the
first worksheet whose table has at least two rows with real numbers (numbers
stored as text do not count here: report sheets are full of them).  The table
is located like in text files (:mod:`lsqfit_app.io.layout`), so title blocks,
two-row headers and repeated page headers work the same.

Zip-based formats (.xlsx, .xlsm, .ods) are checked before calamine sees them:
a file that is not a zip, a broken zip, or one whose members would inflate to
more than :data:`MAX_UNCOMPRESSED` bytes or by more than :data:`MAX_RATIO`
(a decompression bomb) is refused, so memory stays bounded.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import os
import zipfile
from typing import Callable

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table, split_unit
from lsqfit_app.io.build import build_table, default_names
from lsqfit_app.io.dialect import MAX_PROBLEMS, CellProblem, Dialect, ReadResult
from lsqfit_app.io.layout import EMPTY, NEUTRAL, NUMBER, TEXT, Row, find_layout
from lsqfit_app.io.numbers import is_neutral, parse_number

#: Largest total uncompressed size of a zip-based workbook.
MAX_UNCOMPRESSED = 1_000_000_000
#: Largest compression ratio of a big member (real sheets compress ~10-30x).
MAX_RATIO = 200
#: Members smaller than this are never considered bombs.
RATIO_MIN_BYTES = 20_000_000

#: Sheets with more rows than this are located from their first and last rows.
FULL_SCAN_ROWS = 5_000
#: Rows classified at each end of a big sheet.
EDGE_ROWS = 1_000

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")
_EPOCH = _dt.datetime(1899, 12, 30)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def is_workbook(head: bytes) -> bool:
    """True when the first bytes are a zip or an OLE2 compound file."""
    return head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC)


def check_zip(path: str) -> None:
    """Refuse a broken zip or a decompression bomb before anything inflates it."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: not a valid workbook (broken zip archive: {exc})") from None
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a valid workbook ({exc})") from None
    total = 0
    for info in infos:
        total += info.file_size
        if (info.file_size > RATIO_MIN_BYTES
                and info.file_size > MAX_RATIO * max(1, info.compress_size)):
            raise InputError(
                f"{path}: refused: member {info.filename!r} would inflate from "
                f"{info.compress_size} to {info.file_size} bytes (a decompression bomb?)")
    if total > MAX_UNCOMPRESSED:
        raise InputError(f"{path}: refused: the workbook would inflate to {total} bytes, "
                         f"more than the limit of {MAX_UNCOMPRESSED}")


def _open(path: str):
    import python_calamine as pc

    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        check_zip(path)
    elif not head.startswith(_OLE_MAGIC):
        suffix = os.path.splitext(path)[1].lower()
        raise InputError(f"{path}: not a valid {suffix or 'workbook'} file "
                         "(neither a zip archive nor an Excel 97-2003 file)")
    try:
        return pc.CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises its own types and plain ones
        raise InputError(f"{path}: cannot read the workbook ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def sheet_names(path: str | os.PathLike) -> list[str]:
    """The worksheet names of a workbook (chart sheets left out)."""
    wb = _open(os.fspath(path))
    return _worksheets(wb)


def _worksheets(wb) -> list[str]:
    names = []
    for meta in wb.sheets_metadata:
        if "Chart" in str(getattr(meta, "typ", "")):
            continue
        names.append(meta.name)
    return names


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


def _rows(raw: list[list], row0: int, lo: int = 0, hi: int | None = None) -> list[Row]:
    hi = len(raw) if hi is None else hi
    return [Row(row0 + i + 1, r, [_kind(c) for c in r]) for i, r in enumerate(raw[lo:hi], lo)]


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
    wb = _open(source)
    names = _worksheets(wb) or list(wb.sheet_names)
    if progress:
        progress(0.05)
    detected = []
    if sheet is not None:
        name = _resolve_sheet(source, names, sheet)
        raw, row0, col0 = _load(wb, source, name)
    else:
        detected.append("sheet")
        name, raw, row0, col0 = None, [], 0, 0
        for candidate in names:
            cand_raw, r0, c0 = _load(wb, source, candidate)
            probe = cand_raw[:EDGE_ROWS]
            if probe and _has_table(_rows(probe, r0)):
                name, raw, row0, col0 = candidate, cand_raw, r0, c0
                break
        if name is None:
            raise InputError(f"{source}: no sheet holds a table of numbers "
                             f"(sheets: {', '.join(names) or 'none'})")
    if progress:
        progress(0.5)
    if not raw:
        raise InputError(f"{source}: sheet {name!r} is empty")
    big = None
    if len(raw) > FULL_SCAN_ROWS and header_rows is None and skip_rows is None:
        big = _read_big(raw, row0, col0)
    if big is not None:
        table, problems, n_problems, data_rows, n_header, first_number, notes = big
    else:
        rows = _rows(raw, row0)
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


def _load(wb, source: str, name: str) -> tuple[list[list], int, int]:
    try:
        sh = wb.get_sheet_by_name(name)
        raw = sh.to_python()
        start = sh.start
    except Exception as exc:
        raise InputError(f"{source}: cannot read sheet {name!r} ({_short(exc)})") from None
    row0, col0 = (start if start else (0, 0))
    return raw, row0, col0


def _read_big(raw: list[list], row0: int, col0: int):
    """A big sheet: locate the table from its first and last rows, convert by column.

    The first :data:`EDGE_ROWS` rows give the header and the columns; the
    last ones must end in data (else None: the caller scans every row).  The
    rows between are converted one column at a time, with a single numpy call
    when the column holds only numbers.  Blank rows are dropped; text in a
    numeric column is reported like everywhere else.
    """
    n = len(raw)
    head = _rows(raw, row0, 0, EDGE_ROWS)
    layout = find_layout(head)
    if layout is None or layout.last < len(head) - 3:
        return None
    tail = _rows(raw, row0, n - EDGE_ROWS, n)
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
