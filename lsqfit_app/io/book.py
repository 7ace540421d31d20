"""Opening a workbook safely: the file's kind, zip bombs, and each sheet's size.

Zip-based formats (.xlsx, .xlsm, .xlsb, .ods) are checked before calamine
sees them: a file that is not a zip, a broken zip, or one whose members would
inflate to more than :data:`MAX_UNCOMPRESSED` bytes or by more than
:data:`MAX_RATIO` (a decompression bomb) is refused, so memory stays bounded.

A sheet is measured from the file (:mod:`lsqfit_app.io.sheets`) before
calamine builds its grid, once, and only when it is read: calamine loads xlsx
and xlsb sheets one at a time, so reading one sheet measures no other.
calamine reads every sheet of an .xls or .ods file when it opens it, so those
are measured whole (one pass over the file) before it does, and a sheet too
sparse to hold as a grid is refused then.
"""
from __future__ import annotations

import os
import zipfile
from struct import error as struct_error

from lsqfit_app.core.errors import InputError
from lsqfit_app.io import sheets as _sheets
from lsqfit_app.io.xlsb import xlsb_extent, xlsb_sheet_members

#: Largest total uncompressed size of a zip-based workbook.
MAX_UNCOMPRESSED = 1_000_000_000
#: Largest compression ratio of a big member (real sheets compress ~10-30x).
MAX_RATIO = 200
#: Members smaller than this are never considered bombs.
RATIO_MIN_BYTES = 20_000_000

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: What a damaged workbook raises while it is measured.
_BROKEN = (ValueError, KeyError, IndexError, struct_error, zipfile.BadZipFile, EOFError,
           RecursionError, OSError)


def is_workbook(head: bytes) -> bool:
    """True when the first bytes are a zip or an OLE2 compound file."""
    return head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC)


def check_zip(path: str) -> set[str]:
    """The member names of a zip workbook; InputError for a broken zip or a decompression bomb.

    Nothing is inflated: the sizes come from the zip's directory.
    """
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
    return {info.filename for info in infos}


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), for messages."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _kind(members: set[str]) -> str | None:
    if "xl/workbook.xml" in members:
        return "xlsx"
    if "content.xml" in members:
        return "ods"
    if "xl/workbook.bin" in members:
        return "xlsb"
    return None


class Book:
    """A calamine workbook and the sizes of its sheets, each measured once when asked.

    ``kind`` is ``"xlsx"`` (also .xlsm), ``"xlsb"``, ``"ods"``, ``"xls"`` or
    None (a zip that is none of these: calamine says what is wrong).
    """

    def __init__(self, path: str, kind: str | None, members: set[str]):
        self.path = path
        self.kind = kind
        self.wb = None
        self._names = members
        self._members: dict[str, str] | None = None   # sheet -> zip member (xlsx, xlsb)
        self._extents: dict[str, _sheets.Extent] = {}

    def worksheets(self) -> list[str]:
        """The worksheet names (chart sheets left out), else every sheet name."""
        names = [meta.name for meta in self.wb.sheets_metadata
                 if "Chart" not in str(getattr(meta, "typ", ""))]
        return names or list(self.wb.sheet_names)

    def measure_all(self) -> None:
        """Measure every sheet of an .xls or .ods (calamine reads them all at once)."""
        from lsqfit_app.io import ole

        try:
            if self.kind == "ods":
                with zipfile.ZipFile(self.path) as zf:
                    self._extents = _sheets.ods_extents(zf)
            else:
                with open(self.path, "rb") as fh:
                    self._extents = ole.xls_extents(fh.read())
        except _BROKEN as exc:
            raise InputError(f"{self.path}: cannot read the workbook ({short_error(exc)})") from None
        for name, extent in self._extents.items():
            if not extent.dense_ok():
                raise _sheets.too_sparse(self.path, name, extent)

    def _member(self, zf: zipfile.ZipFile, name: str) -> str | None:
        if self._members is None:
            if self.kind == "xlsx":
                self._members = _sheets.xlsx_sheet_members(zf)
            else:
                self._members = xlsb_sheet_members(zf)
        member = self._members.get(name)
        return member if member in self._names else None

    def extent(self, name: str) -> _sheets.Extent:
        """The size of sheet ``name``; InputError when the file does not say."""
        extent = self._extents.get(name)
        if extent is None and self.kind in ("xlsx", "xlsb"):
            try:
                with zipfile.ZipFile(self.path) as zf:
                    member = self._member(zf, name)
                    if member is not None:
                        extent = (_sheets.xlsx_extent(zf, member) if self.kind == "xlsx"
                                  else xlsb_extent(zf.read(member)))
            except _BROKEN as exc:
                raise InputError(f"{self.path}: cannot read sheet {name!r} "
                                 f"({short_error(exc)})") from None
            if extent is not None:
                self._extents[name] = extent
        if extent is None:
            raise InputError(f"{self.path}: cannot find the cells of sheet {name!r} "
                             "in the file, so its size cannot be checked")
        return extent

    def sparse_cells(self, name: str) -> dict[int, dict[int, object]]:
        """The cells of an xlsx sheet that exist, without calamine's grid."""
        with zipfile.ZipFile(self.path) as zf:
            return _sheets.read_xlsx_cells(zf, self._member(zf, name))


def open_book(path: str) -> Book:
    """Check and open a workbook; InputError naming the file when it cannot be read."""
    import python_calamine as pc

    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        members = check_zip(path)
        book = Book(path, _kind(members), members)
    elif head.startswith(_OLE_MAGIC):
        book = Book(path, "xls", set())
    else:
        suffix = os.path.splitext(path)[1].lower()
        raise InputError(f"{path}: not a valid {suffix or 'workbook'} file "
                         "(neither a zip archive nor an Excel 97-2003 file)")
    if book.kind in ("xls", "ods"):
        book.measure_all()
    try:
        book.wb = pc.CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises its own types and plain ones
        raise InputError(f"{path}: cannot read the workbook ({short_error(exc)})") from None
    return book

