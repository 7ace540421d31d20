"""One registry of file readers, shared by the CLI, the GUI and the API.

Each :class:`Reader` has a label and suffixes (for the GUI's Open dialog
filters), an ``identify(head_bytes)`` predicate that recognises its files by
content, and a ``read`` function.  :func:`read_table` picks the reader from the
content first (a CSV named ``.xlsx`` is still read as text; a zip named
``.csv`` as a workbook) and from the suffix only when the content says
nothing, the way glue's data factories work.

A file that no reader can take, or that a reader refuses, raises
:class:`~lsqfit_app.core.errors.InputError` whose message names the file
(and the row and column where that applies).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Callable

from lsqfit_app.core.errors import InputError
from lsqfit_app.io import text as _text
from lsqfit_app.io import workbook as _workbook
from lsqfit_app.io.book import SUFFIXES as WORKBOOK_SUFFIXES, is_workbook
from lsqfit_app.io.decoding import check_encoding, check_text, sniff_binary
from lsqfit_app.io.dialect import ReadResult

ReadFunction = Callable[..., ReadResult]


@dataclass(frozen=True)
class Reader:
    """A kind of data file.

    Attributes
    ----------
    name : str
        Short key (``"text"``, ``"workbook"``).
    label : str
        For people and file dialogs.
    suffixes : tuple of str
        Lower-case suffixes with the dot.
    identify : callable
        ``identify(head: bytes) -> bool``: does the content look like ours?
    read : callable
        ``read(path, *, options..., progress=None) -> ReadResult``.
    """

    name: str
    label: str
    suffixes: tuple[str, ...]
    identify: Callable[[bytes], bool]
    read: ReadFunction

    def file_filter(self) -> str:
        """A Qt-style filter string: ``"Workbooks (*.xlsx *.xls)"``."""
        return f"{self.label} ({' '.join('*' + s for s in self.suffixes)})"


_READERS: list[Reader] = []


def register_reader(reader: Reader, *, first: bool = False) -> None:
    """Add a reader; content identification tries readers in order."""
    global _READERS
    _READERS = [r for r in _READERS if r.name != reader.name]
    if first:
        _READERS.insert(0, reader)
    else:
        _READERS.append(reader)


def readers() -> tuple[Reader, ...]:
    """The registered readers in the order they are tried."""
    return tuple(_READERS)


def file_filters() -> list[str]:
    """Filters for an Open dialog: all supported files first, then each reader."""
    every = sorted({s for r in _READERS for s in r.suffixes})
    return ([f"Data files ({' '.join('*' + s for s in every)})"]
            + [r.file_filter() for r in _READERS] + ["All files (*)"])


def find_reader(path: str | os.PathLike, head: bytes | None = None) -> Reader:
    """The reader for a file: by content, then by suffix, else text."""
    source = os.fspath(path)
    if head is None:
        with open(source, "rb") as fh:
            head = fh.read(4096)
    for reader in _READERS:
        if reader.identify(head):
            return reader
    suffix = os.path.splitext(source)[1].lower()
    for reader in _READERS:
        if suffix in reader.suffixes:
            return reader
    return next(r for r in _READERS if r.name == "text")


def _read_text_file(path, *, delimiter=None, decimal=None, thousands=None, header_rows=None,
                    skip_rows=None, encoding=None, sheet=None, progress=None) -> ReadResult:
    del sheet  # text files have none
    options = _text.TextOptions(delimiter=delimiter, decimal=decimal, thousands=thousands,
                                header_rows=header_rows, skip_rows=skip_rows, encoding=encoding)
    return _text.read_text_file(path, options=options, progress=progress)


def _read_workbook_file(path, *, delimiter=None, decimal=None, thousands=None, header_rows=None,
                        skip_rows=None, encoding=None, sheet=None, progress=None) -> ReadResult:
    del delimiter, decimal, thousands, encoding  # cells of workbooks are typed
    return _workbook.read_workbook(path, sheet=sheet, header_rows=header_rows,
                                   skip_rows=skip_rows, progress=progress)


def _looks_textual(head: bytes) -> bool:
    return not is_workbook(head) and sniff_binary(head[:64]) is None


register_reader(Reader("workbook", "Workbooks", WORKBOOK_SUFFIXES, is_workbook,
                       _read_workbook_file))
register_reader(Reader("text", "Text tables", (".csv", ".tsv", ".txt", ".dat", ".prn", ".tab",
                                               ".asc", ".xy", ".mpt"),
                       _looks_textual, _read_text_file))


def read_table(path: str | os.PathLike, *, delimiter: str | None = None,
               decimal: str | None = None, thousands: str | None = None,
               header_rows: int | None = None, skip_rows: int | None = None,
               encoding: str | None = None, sheet: str | int | None = None,
               progress: Callable[[float], None] | None = None) -> ReadResult:
    """Read a data table from a text file or a workbook, detecting its dialect.

    Parameters
    ----------
    path : path-like
    delimiter : str, optional
        ``","``, ``";"``, ``"\\t"``, ``"|"`` or ``" "`` (runs of blanks);
        detected when None.
    decimal : str, optional
        ``"."`` or ``","``; detected when None.
    thousands : str, optional
        Thousands separator; detected when None.
    header_rows : int, optional
        Header rows directly above the data (0: none, 1: names, 2: names and
        units); detected when None.
    skip_rows : int, optional
        Lines (sheet rows) before the header or data; detected when None.
    encoding : str, optional
        Text encoding; detected when None.
    sheet : str or int, optional
        Worksheet name or 1-based number; default the first sheet with a
        numeric table.
    progress : callable, optional
        ``progress(fraction)`` with fractions in [0, 1], from this thread.

    Returns
    -------
    ReadResult
        ``.table``, ``.dialect`` (what was detected and what was given),
        ``.problems`` (cells that are not numbers; rows are file lines or
        sheet rows, 1-based), ``.sheet``.

    Raises
    ------
    InputError
        For a missing, empty, binary, broken or table-less file; the message
        names the file.
    """
    source = os.fspath(path)
    check_regular_file(source, "a data file")
    _check_options(source, delimiter=delimiter, decimal=decimal, thousands=thousands,
                   header_rows=header_rows, skip_rows=skip_rows)
    if encoding is not None:
        check_encoding(encoding, "--encoding")
    try:
        with open(source, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise InputError(f"{source}: the file is empty")
    from lsqfit_app.io.project import SUFFIX, is_project_head
    if is_project_head(head) or os.path.splitext(source)[1].lower() == SUFFIX:
        raise InputError(
            f"{source}: this is an lsqfit-app project (.lsqfit), not a data table; open it "
            f"in the window with 'lsqfit-app {source}', or give a data file (csv, xlsx, ...)")
    reader = find_reader(source, head)
    if reader.name == "text":
        what = sniff_binary(head[:64])
        if what and encoding is None:
            raise InputError(f"{source}: this is {what}, not a data table")
    suffix = os.path.splitext(source)[1].lower()
    if reader.name == "text" and suffix in WORKBOOK_SUFFIXES and _binary_head(head):
        raise InputError(f"{source}: not a valid {suffix} workbook "
                         "(neither a zip archive nor an Excel 97-2003 file)")
    try:
        return reader.read(source, delimiter=delimiter, decimal=decimal, thousands=thousands,
                           header_rows=header_rows, skip_rows=skip_rows, encoding=encoding,
                           sheet=sheet, progress=progress)
    except MemoryError:
        raise InputError(f"{source}: the file is too large to read into memory") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or exc})") from None


def check_regular_file(source: str, what: str) -> os.stat_result:
    """InputError unless ``source`` is a regular file (opening a FIFO would wait forever).

    ``what`` completes "give ...": "a data file", "a project file".
    """
    try:
        st = os.stat(source)
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{source}: is a folder, not {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "not a regular file")
        raise InputError(f"{source}: is {kind}, not a regular file; give {what}")
    return st


def _binary_head(head: bytes) -> bool:
    try:
        check_text(head.decode("latin-1"), "")
    except InputError:
        return True
    return False


def _check_options(source: str, **options) -> None:
    d = options.get("delimiter")
    if d is not None and (len(d) != 1 or d in "\"\r\n"):
        raise InputError(f"{source}: the delimiter must be one character, not {d!r}")
    for key in ("decimal", "thousands"):
        v = options.get(key)
        if v is not None and len(v) != 1:
            raise InputError(f"{source}: the {key} separator must be one character, not {v!r}")
    if options.get("decimal") not in (None, ".", ","):
        raise InputError(f"{source}: the decimal separator must be '.' or ','")
    if options.get("decimal") is not None and options.get("decimal") == options.get("delimiter"):
        raise InputError(f"{source}: the decimal separator cannot also be the delimiter")
    for key in ("header_rows", "skip_rows"):
        v = options.get(key)
        if v is not None and (not isinstance(v, int) or v < 0):
            raise InputError(f"{source}: {key.replace('_', '-')} must be a whole number >= 0")
    if options.get("header_rows") is not None and options["header_rows"] > 3:
        raise InputError(f"{source}: header-rows must be 0, 1, 2 or 3")


def read_text(text: str, *, delimiter: str | None = None, decimal: str | None = None,
              thousands: str | None = None, header_rows: int | None = None,
              skip_rows: int | None = None, source: str = "<clipboard>",
              progress: Callable[[float], None] | None = None) -> ReadResult:
    """Read a table from text, e.g. what Excel or LibreOffice put on the clipboard.

    Same detection and options as :func:`read_table` (no encoding: the text
    is already decoded).
    """
    _check_options(source, delimiter=delimiter, decimal=decimal, thousands=thousands,
                   header_rows=header_rows, skip_rows=skip_rows)
    options = _text.TextOptions(delimiter=delimiter, decimal=decimal, thousands=thousands,
                                header_rows=header_rows, skip_rows=skip_rows)
    return _text.read_text(text, source=source, options=options, encoding=None,
                           progress=progress)
