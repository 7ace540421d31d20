"""Turn a located table (rows + :class:`~lsqfit_app.io.layout.Layout`) into a Table.

Shared by the text and workbook readers so both name columns, mark text
columns non-numeric, take units and report cell problems the same way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lsqfit_app.core.spreadsheet import unescape_text_cell
from lsqfit_app.core.table import Table, split_unit
from lsqfit_app.io.dialect import MAX_PROBLEMS, CellProblem
from lsqfit_app.io.layout import NUMBER, TEXT, Layout, Row

Converter = Callable[[list], "tuple[np.ndarray, np.ndarray]"]


def column_letter(index: int) -> str:
    """Spreadsheet letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def default_names(ncols: int, *, letters: bool, offset: int = 0) -> list[str]:
    """Positional names: ``col1, col2...`` for text, sheet letters for workbooks."""
    if letters:
        return [column_letter(offset + j) for j in range(ncols)]
    return [f"col{j + 1}" for j in range(ncols)]


def build_table(rows: list[Row], layout: Layout, convert: Converter, *, letters: bool,
                col_offset: int = 0, escaped: bool = False
                ) -> tuple[Table, list[CellProblem], int, np.ndarray]:
    """Build the table of ``layout``.

    With ``escaped`` (text files), names, units and text cells lose the
    quote of the CSV formula escape (:func:`unescape_text_cell`); cell
    problems quote the cell as the file has it.

    Returns
    -------
    table : Table
    problems : list of CellProblem
        At most :data:`MAX_PROBLEMS`, in row order.
    n_problems : int
        The full count.
    data_rows : ndarray of int64
        File line / sheet row of each data row.
    """
    ncols = layout.ncols
    fallback = default_names(ncols, letters=letters, offset=col_offset)
    plain = unescape_text_cell if escaped else str
    names = [plain(n.strip()).strip() or fallback[j] for j, n in enumerate(layout.names[:ncols])]
    units = []
    for j, name in enumerate(names):
        unit = plain(layout.units[j].strip()).strip() if j < len(layout.units) else ""
        units.append(unit or split_unit(name)[1])
    data = layout.data
    arrays, numeric, texts = [], [], []
    bad_cells: list[tuple[int, int, int]] = []
    for j in range(ncols):
        cells = [rows[k].fields[j] if j < len(rows[k].fields) else None for k in data]
        kinds = [rows[k].kinds[j] if j < len(rows[k].kinds) else 0 for k in data]
        n_num = kinds.count(NUMBER)
        n_text = kinds.count(TEXT)
        is_numeric = n_num >= 1 and n_num >= n_text
        values, bad = convert(cells)
        arrays.append(values)
        numeric.append(is_numeric)
        if is_numeric:
            texts.append(None)
            for pos in np.flatnonzero(bad).tolist():
                bad_cells.append((pos, j, rows[data[pos]].number))
        else:
            texts.append(np.array([plain(_text(c)) for c in cells], dtype=str))
    table = Table.from_columns(names, arrays, units, numeric, texts)
    final = table.names  # duplicates were made unique
    bad_cells.sort()
    problems = [CellProblem(number, final[j], _clip(_text(rows[data[pos]].fields[j])), pos)
                for pos, j, number in bad_cells[:MAX_PROBLEMS]]
    data_rows = np.fromiter((rows[k].number for k in data), dtype=np.int64, count=len(data))
    return table, problems, len(bad_cells), data_rows


def _clip(text: str, limit: int = 200) -> str:
    """Problem texts are for people: a 1 MB cell is shown by its start."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
