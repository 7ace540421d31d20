"""What a reader found: the dialect of a file, cell problems and the result.

These are the values the CLI prints (``lsqfit-app table``), the GUI shows
next to an import ("detected: semicolon, decimal comma, 2 header rows") and
tests compare.  They are frozen: a read result crosses from a loader thread
to the GUI thread.

Row numbers.  Every row number in a message or a :class:`CellProblem` is the
1-based **line of the file** (text files; for a quoted cell spanning several
lines, the line where its record starts) or the 1-based **row of the sheet**
(workbooks), i.e. what a user sees in an editor or a spreadsheet.  The 0-based
position in the table's data is ``CellProblem.index``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from lsqfit_app.core.table import Table

#: Display names of delimiters.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", " ": "whitespace", "|": "pipe"}


@dataclass(frozen=True)
class Dialect:
    """How a file was read.

    Attributes
    ----------
    encoding : str or None
        Text encoding (``"utf-8"``, ``"utf-8-sig"`` for UTF-8 with BOM,
        ``"utf-16-le"``, ``"cp1252"``...); None for workbooks.
    delimiter : str or None
        ``","``, ``";"``, ``"\\t"``, ``"|"``, or ``" "`` meaning runs of blanks;
        None for workbooks.
    decimal : str
        ``"."`` or ``","``.
    thousands : str or None
        Thousands separator found in numbers, if any.
    header_rows : int
        0 (no header), 1 (names), 2 (names and units) or 3.
    skip_rows : int
        Lines (rows) of the file before the header, or before the data when
        there is no header: the preamble.
    comment : str or None
        The comment character seen at the start of lines, if any.
    line_ending : str or None
        ``"LF"``, ``"CRLF"``, ``"CR"``, ``"CR CR LF"``, ``"mixed"`` or None.
    quote : str or None
        ``'"'`` when quoted fields were seen.
    sheet : str or None
        The worksheet read (workbooks).
    detected : tuple of str
        Names of the fields above that were detected.
    overridden : tuple of str
        Names of the fields the caller gave.
    """

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    thousands: str | None = None
    header_rows: int = 0
    skip_rows: int = 0
    comment: str | None = None
    line_ending: str | None = None
    quote: str | None = None
    sheet: str | None = None
    detected: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """A JSON-ready dict (lists instead of tuples)."""
        d = asdict(self)
        d["detected"] = list(self.detected)
        d["overridden"] = list(self.overridden)
        return d

    def describe(self, sheets: int = 1) -> str:
        """What the reader found, in words: "2 header rows (names, units), 3 preamble
        lines skipped, semicolon-separated, decimal comma, thousands separator '.'".

        A workbook's dialect has a sheet (``sheets``: how many the file has)
        and none of the text settings.
        """
        workbook = self.sheet is not None
        parts = []
        if workbook:
            parts.append(f"sheet {self.sheet!r}" + (f" (of {sheets})" if sheets > 1 else ""))
        parts.append(_HEADER_WORDS.get(self.header_rows, f"{self.header_rows} header rows"))
        if self.skip_rows:
            unit = "row" if workbook else "preamble line"
            parts.append(f"{self.skip_rows} {unit}{'s' if self.skip_rows != 1 else ''} skipped")
        if workbook:
            return ", ".join(parts)
        if self.delimiter is not None:
            parts.append(DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter)) + "-separated")
        parts.append("decimal comma" if self.decimal == "," else "decimal point")
        if self.thousands:
            parts.append(f"thousands separator {self.thousands!r}")
        if self.comment:
            parts.append(f"comment lines start with {self.comment!r}")
        if self.encoding:
            parts.append(f"{self.encoding.upper()} text")
        if self.line_ending in _LINE_END_WORDS:
            parts.append(_LINE_END_WORDS[self.line_ending])
        return ", ".join(parts)


_HEADER_WORDS = {0: "no header row (columns are numbered)", 1: "1 header row (names)",
                 2: "2 header rows (names, units)",
                 3: "3 header rows (names; the 2 rows under them, such as types and flags, "
                    "are not read)"}
_LINE_END_WORDS = {"LF": "Unix (LF) line ends", "CRLF": "Windows (CRLF) line ends",
                   "CR": "old Mac (CR) line ends", "CR CR LF": "CR CR LF line ends",
                   "mixed": "mixed line ends"}


@dataclass(frozen=True)
class CellProblem:
    """A cell that is not a number in a numeric column.

    ``row`` is the 1-based file line (text) or sheet row (workbook);
    ``column`` the column name; ``text`` the cell as written; ``index`` the
    0-based row of the table.
    """

    row: int
    column: str
    text: str
    index: int = -1

    def as_dict(self) -> dict:
        """The JSON form of DESIGN.md 4.1: row, column, text."""
        return {"row": self.row, "column": self.column, "text": self.text}

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.text!r} is not a number"


@dataclass(frozen=True, eq=False)
class ReadResult:
    """A table read from a file or from clipboard text.

    Attributes
    ----------
    table : Table
    dialect : Dialect
    problems : tuple of CellProblem
        Cells of numeric columns that are not numbers (they are missing in
        the table), in file order; at most :data:`MAX_PROBLEMS` are kept and
        ``n_problems`` gives the full count.
    sheet : str or None
        The worksheet read (workbooks).
    source : str
        The file path, or ``"<clipboard>"``/``"<text>"``.
    sheets : tuple of str
        All worksheet names of a workbook.
    data_rows : ndarray of int64 or None
        File line (sheet row) of each data row, 1-based.
    notes : tuple of str
        Remarks for people ("a second table starts at line 13 and was not read").
    n_problems : int
    """

    table: "Table"
    dialect: Dialect
    problems: tuple[CellProblem, ...] = ()
    sheet: str | None = None
    source: str = ""
    sheets: tuple[str, ...] = ()
    data_rows: "np.ndarray | None" = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    n_problems: int = 0


#: Problems kept per read; a file of a million bad cells is summarised.
MAX_PROBLEMS = 100_000
