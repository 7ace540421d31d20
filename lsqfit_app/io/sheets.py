"""How big a worksheet is, found before python-calamine builds its grid.

python-calamine stores a sheet as one dense grid from its first to its last
cell: a 2 kB xlsx whose only far cell sits at XFD1048576 asks for 17 billion
cells and the Rust allocator aborts the process (no Python code can catch
that).  So every sheet is measured from the file itself first:

* **xlsx/xlsm**: the cell references (``<c r="ZZ60000">``) of the sheet's XML
  are scanned by a regular expression over the inflated member, read in
  chunks (the ``<dimension>`` element is not used: it may lie either way,
  and calamine ignores it too).  A cell without a reference (rare, legal) makes
  the scan give up so the sparse reader below places it.
* **ods**: ``content.xml`` is walked with expat, counting repeated rows and
  cells (``table:number-rows-repeated``) the way calamine expands them.
* **xls**: the BIFF cell records of each sheet are scanned inside the OLE2
  container (:mod:`lsqfit_app.io.ole`).
* **xlsb**: the binary row and cell records are scanned
  (:mod:`lsqfit_app.io.xlsb`).

A sheet whose grid would hold more than :func:`dense_budget` cells is not
given to calamine: an xlsx one is read by :func:`read_xlsx_cells`, an
expat parser that keeps only the cells that exist; the other formats raise
:class:`~lsqfit_app.core.errors.InputError` naming the file and the sheet.

Every XML parser here refuses a document type declaration, so no entity can
be declared, let alone expanded (the "billion laughs"); that is what
defusedxml's ``forbid_dtd`` does, without the dependency.
"""
from __future__ import annotations

import datetime as _dt
import posixpath
import re
import zipfile
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, Iterator

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.spreadsheet import XLSX_MAX_COLS, XLSX_MAX_ROWS

#: A dense grid always allowed, whatever the cell count (cells).
DENSE_MIN = 2_000_000
#: ... and otherwise this many grid cells per cell that exists.
DENSE_FACTOR = 4
#: Never more grid cells than this, however many cells exist (repeated ods
#: cells and xls records are cheap in the file and not in the grid).
DENSE_MAX = 40_000_000
#: Inflated XML is scanned in pieces of this size.
CHUNK = 16 * 1024 * 1024



def dense_budget(n_cells: int) -> int:
    """Grid cells calamine may allocate for a sheet holding ``n_cells`` cells."""
    return min(DENSE_MAX, max(DENSE_MIN, DENSE_FACTOR * n_cells))


@dataclass(frozen=True)
class Extent:
    """Where a sheet's cells are (0-based, inclusive) and how many there are.

    ``exact`` is False when some cell has no reference, so the box is unknown.
    """

    n_cells: int
    min_row: int = 0
    max_row: int = -1
    min_col: int = 0
    max_col: int = -1
    exact: bool = True

    @property
    def area(self) -> int:
        if self.max_row < self.min_row:
            return 0
        return (self.max_row - self.min_row + 1) * (self.max_col - self.min_col + 1)

    def dense_ok(self) -> bool:
        return self.exact and self.area <= dense_budget(self.n_cells)

    def describe(self) -> str:
        from lsqfit_app.io.build import column_letter
        return (f"its cells span {column_letter(self.min_col)}{self.min_row + 1}:"
                f"{column_letter(self.max_col)}{self.max_row + 1} "
                f"({self.area:,} grid cells) but it holds {self.n_cells:,}")


def too_sparse(source: str, sheet: str, extent: Extent) -> InputError:
    return InputError(
        f"{source}: sheet {sheet!r} is too sparse to read: {extent.describe()}; "
        "delete the far cells (or copy the table to a new sheet) and save again")


# ---------------------------------------------------------------------- safe XML
class _Refused(Exception):
    pass


def _no_dtd(*_args) -> None:
    raise _Refused("a document type declaration (DTD) is not allowed in a workbook")


def xml_parser(namespaces: bool = True):
    """An expat parser that refuses any DTD; with ``namespaces`` names read "uri}local"."""
    import pyexpat

    p = pyexpat.ParserCreate(namespace_separator="}") if namespaces else pyexpat.ParserCreate()
    p.StartDoctypeDeclHandler = _no_dtd
    p.EntityDeclHandler = _no_dtd
    p.ExternalEntityRefHandler = lambda *a: 0
    p.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.buffer_text = True
    return p


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def member_chunks(zf: zipfile.ZipFile, member: str, size: int = CHUNK) -> Iterator[bytes]:
    """The inflated bytes of a zip member, piece by piece.

    zipfile stops at the size in the member's header (check_zip bounded
    those), so a lying header cannot make this read more.
    """
    with zf.open(member) as fh:
        while True:
            block = fh.read(size)
            if not block:
                return
            yield block


def parse_member(zf: zipfile.ZipFile, member: str, parser) -> None:
    """Feed a member to ``parser`` in chunks; XML errors become ValueError."""
    import pyexpat

    try:
        for block in member_chunks(zf, member):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except pyexpat.ExpatError as exc:
        raise ValueError(f"{member}: invalid XML ({exc})") from None
    except _Refused as exc:
        raise ValueError(f"{member}: {exc}") from None


def parse_small(zf: zipfile.ZipFile, member: str, start: Callable, end: Callable | None = None,
                 text: Callable | None = None) -> None:
    """Parse a small member (workbook, rels, styles) with the given expat handlers."""
    p = xml_parser()
    p.StartElementHandler = start
    if end is not None:
        p.EndElementHandler = end
    if text is not None:
        p.CharacterDataHandler = text
    parse_member(zf, member, p)


# ---------------------------------------------------------------------- where sheets are
_REL_NS = "relationships}id"


def part_targets(zf: zipfile.ZipFile, rels: str) -> dict[str, str]:
    """Relationship id -> zip member, from a workbook's rels part (xlsx and xlsb).

    Targets are relative to ``xl/`` unless they start with ``/``.
    """
    targets: dict[str, str] = {}

    def rel_start(name, attrs):
        if _local(name) == "Relationship" and "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            path = target[1:] if target.startswith("/") else posixpath.join("xl", target)
            targets[attrs["Id"]] = posixpath.normpath(path)

    if rels in zf.NameToInfo:
        parse_small(zf, rels, rel_start)
    return targets


def xlsx_sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip member of its XML, as workbook.xml and its rels say."""
    sheets: list[tuple[str, str]] = []

    def wb_start(name, attrs):
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if k.endswith(_REL_NS)), None)
            if "name" in attrs and rid:
                sheets.append((attrs["name"], rid))

    parse_small(zf, "xl/workbook.xml", wb_start)
    targets = part_targets(zf, "xl/_rels/workbook.xml.rels")
    return {sheet: targets[rid] for sheet, rid in sheets if rid in targets}


# ---------------------------------------------------------------------- xlsx: extent
_REF = re.compile(rb'\sr\s*=\s*"([A-Z]{1,3})([0-9]{1,7})"')
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_ANY_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")


def _count_cells(chunk: bytes) -> int:
    if _PREFIXED_CELL.search(chunk):  # <x:c r="A1">: some writers prefix the namespace
        return len(_ANY_CELL.findall(chunk))
    return chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/>")


def column_index(letters: str | bytes) -> int:
    """0-based index of spreadsheet column letters (A -> 0, AA -> 26)."""
    n = 0
    for ch in (letters.decode("ascii") if isinstance(letters, bytes) else letters):
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def xlsx_extent(zf: zipfile.ZipFile, member: str) -> Extent:
    """The box of a sheet's cell references and the count of ``<c>`` elements.

    A regex pass (C speed) over the XML in chunks; each chunk is cut after its
    last ``<`` so no tag is split.  When some ``<c>`` has no ``r="..."`` (or
    it uses single quotes or a prefix), ``exact`` is False.
    """
    n_tags = n_refs = 0
    lo_r = lo_c = 1 << 40
    hi_r = hi_c = -1
    rest = b""
    exact = True
    for block in member_chunks(zf, member):
        block = rest + block
        cut = block.rfind(b"<")
        if cut <= 0:
            chunk, rest = block, b""
        else:
            chunk, rest = block[:cut], block[cut:]
        n_tags += _count_cells(chunk)
        refs = _REF.findall(chunk)
        if not refs:
            continue
        n_refs += len(refs)
        letters = set(map(itemgetter(0), refs))
        rows = set(map(itemgetter(1), refs))
        cols = [column_index(s) for s in letters]
        nums = list(map(int, rows))
        lo_c, hi_c = min(lo_c, min(cols)), max(hi_c, max(cols))
        lo_r, hi_r = min(lo_r, min(nums) - 1), max(hi_r, max(nums) - 1)
    if rest:
        n_tags += _count_cells(rest)
        n_refs += len(_REF.findall(rest))
    if n_refs < n_tags:
        exact = False
    if hi_r < 0:
        return Extent(n_tags, exact=exact)
    return Extent(max(n_tags, n_refs), lo_r, hi_r, lo_c, hi_c, exact)


# ---------------------------------------------------------------------- xlsx: sparse reader
_BUILTIN_DATES = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) \
    | set(range(50, 59))
_ELAPSED = {46}
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKET = re.compile(r"\[[^\]]*\]")
_EPOCH = _dt.datetime(1899, 12, 30)


def _format_kind(code: str) -> str | None:
    """"date", "elapsed" or None for a number format code."""
    code = _QUOTED.sub("", code.split(";")[0])
    if re.search(r"\[(h+|m+|s+)\]", code, re.I):
        return "elapsed"
    code = _BRACKET.sub("", code)
    return "date" if re.search(r"[dmyhs]", code, re.I) else None


def _styles(zf: zipfile.ZipFile) -> list[str | None]:
    """For each cell style index: "date", "elapsed" or None."""
    if "xl/styles.xml" not in zf.NameToInfo:
        return []
    formats: dict[int, str] = {}
    xf_ids: list[int] = []
    where = []

    def start(name, attrs):
        tag = _local(name)
        if tag == "numFmt" and "numFmtId" in attrs:
            try:
                formats[int(attrs["numFmtId"])] = attrs.get("formatCode", "")
            except ValueError:
                pass
        elif tag in ("cellXfs", "cellStyleXfs"):
            where.append(tag)
        elif tag == "xf" and where and where[-1] == "cellXfs":
            try:
                xf_ids.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                xf_ids.append(0)

    def end(name):
        if _local(name) in ("cellXfs", "cellStyleXfs") and where:
            where.pop()

    parse_small(zf, "xl/styles.xml", start, end)
    kinds = []
    for fid in xf_ids:
        if fid in formats:
            kinds.append(_format_kind(formats[fid]))
        elif fid in _BUILTIN_DATES:
            kinds.append("elapsed" if fid in _ELAPSED else "date")
        else:
            kinds.append(None)
    return kinds


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    name = next((n for n in ("xl/sharedStrings.xml", "xl/SharedStrings.xml")
                 if n in zf.NameToInfo), None)
    if name is None:
        return []
    out: list[str] = []
    parts: list[str] = []
    state = {"t": False, "rph": 0}

    def start(tag, attrs):
        tag = _local(tag)
        if tag == "si":
            parts.clear()
        elif tag == "rPh":
            state["rph"] += 1
        elif tag == "t" and not state["rph"]:
            state["t"] = True

    def end(tag):
        tag = _local(tag)
        if tag == "si":
            out.append("".join(parts))
        elif tag == "rPh":
            state["rph"] -= 1
        elif tag == "t":
            state["t"] = False

    def text(data):
        if state["t"]:
            parts.append(data)

    parse_small(zf, name, start, end, text)
    return out


def _serial_to_python(value: float, kind: str | None):
    if kind == "date":
        try:
            return _EPOCH + _dt.timedelta(days=value)
        except OverflowError:
            return value
    if kind == "elapsed":
        return _dt.timedelta(days=value)
    return value


def read_xlsx_cells(zf: zipfile.ZipFile, member: str) -> dict[int, dict[int, object]]:
    """Every cell that holds a value: ``{row: {col: value}}`` (0-based).

    Values are like calamine's: float, bool, str, datetime or timedelta
    (for date-formatted numbers), error texts such as ``"#DIV/0!"``.
    Memory follows the number of cells, not the sheet's box.
    """
    sst = _shared_strings(zf)
    styles = _styles(zf)
    cells: dict[int, dict[int, object]] = {}
    # the parse runs one handler per element: plain locals, no namespace
    # processing (tags arrive as "c" or "x:c"), cached column letters
    row = -1
    col = -1
    ctype = "n"
    style = 0
    collect = False
    rph = 0
    buf: list[str] = []
    letters_cache: dict[str, int] = {}
    ref_match = _CELL_REF.fullmatch

    def start(name, attrs):
        nonlocal row, col, ctype, style, collect, rph
        tag = name[name.find(":") + 1:] if ":" in name else name
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                m = ref_match(ref)
                if m is None:
                    raise ValueError(f"{member}: bad cell reference {ref[:20]!r}")
                letters = m.group(1)
                c = letters_cache.get(letters)
                if c is None:
                    c = letters_cache[letters] = column_index(letters.upper())
                col = c
                row = int(m.group(2)) - 1
            else:
                col += 1
                row = max(row, 0)
            ctype = attrs.get("t", "n")
            s = attrs.get("s")
            style = int(s) if s and s.isdigit() else 0
            buf.clear()
        elif tag == "v":
            collect = True
            buf.clear()
        elif tag == "row":
            r = attrs.get("r")
            if r:
                if not r.isdigit():
                    raise ValueError(f"{member}: bad row number {r[:20]!r}")
                row = int(r) - 1
            else:
                row += 1
            col = -1
        elif tag == "rPh":
            rph += 1
        elif tag == "t" and not rph and ctype == "inlineStr":
            collect = True

    def end(name):
        nonlocal collect, rph
        tag = name[name.find(":") + 1:] if ":" in name else name
        if tag == "c":
            value = _cell_value(ctype, "".join(buf), style, sst, styles)
            collect = False
            if value is not None and value != "":
                if not (0 <= row < XLSX_MAX_ROWS and 0 <= col < XLSX_MAX_COLS):
                    raise ValueError(f"{member}: a cell lies outside the sheet")
                found = cells.get(row)
                if found is None:
                    cells[row] = {col: value}
                else:
                    found[col] = value
        elif tag == "v" or tag == "t":
            collect = False
        elif tag == "rPh":
            rph -= 1

    def text(data):
        if collect:
            buf.append(data)

    p = xml_parser(namespaces=False)
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = text
    parse_member(zf, member, p)
    return cells


_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


def _cell_value(t: str, raw: str, s: int, sst: list[str], styles: list):
    if t == "inlineStr" or t == "str":
        return raw
    raw = raw.strip()
    if not raw:
        return None
    if t == "s":
        try:
            return sst[int(raw)]
        except (ValueError, IndexError):
            return None
    if t == "b":
        return raw not in ("0", "false")
    if t == "e":
        return raw
    if t == "d":
        try:
            return _dt.datetime.fromisoformat(raw.rstrip("Z"))
        except ValueError:
            return raw
    try:
        value = float(raw)
    except ValueError:
        return raw
    kind = styles[s] if 0 <= s < len(styles) else None
    return _serial_to_python(value, kind) if kind else value


# ---------------------------------------------------------------------- ods: extent
_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def ods_extents(zf: zipfile.ZipFile) -> dict[str, Extent]:
    """For each table of ``content.xml``: the box of its cells that hold a value.

    Repeated rows and cells count as often as they repeat.  A cell holds a
    value when it has an ``office:value-type`` or a text paragraph.
    """
    out: dict[str, Extent] = {}
    st = {"name": None, "row": 0, "col": 0, "rrep": 1, "crep": 1, "valued": False,
          "n": 0, "box": None, "depth": 0, "in_cell": False}

    def start(name, attrs):
        if name == _TABLE_NS + "table" and st["depth"] == 0:
            st.update(name=attrs.get(_TABLE_NS + "name", f"Sheet{len(out) + 1}"), row=0,
                      n=0, box=None)
            st["depth"] = 1
        elif st["depth"] and name == _TABLE_NS + "table":
            st["depth"] += 1  # a sub-table inside a cell: its cells belong to that cell
        elif st["depth"] == 1 and name == _TABLE_NS + "table-row":
            st["rrep"] = _repeat(attrs.get(_TABLE_NS + "number-rows-repeated"))
            st["col"] = 0
        elif st["depth"] == 1 and name in (_TABLE_NS + "table-cell",
                                           _TABLE_NS + "covered-table-cell"):
            st["crep"] = _repeat(attrs.get(_TABLE_NS + "number-columns-repeated"))
            st["valued"] = (_OFFICE_NS + "value-type") in attrs
            st["in_cell"] = True
        elif st["in_cell"] and _local(name) == "p":
            st["valued"] = True

    def end(name):
        if name == _TABLE_NS + "table":
            st["depth"] -= 1
            if st["depth"] == 0:
                box = st["box"]
                out[st["name"]] = (Extent(st["n"], *box) if box else Extent(0))
        elif st["depth"] == 1 and name in (_TABLE_NS + "table-cell",
                                           _TABLE_NS + "covered-table-cell"):
            c0, c1 = st["col"], st["col"] + st["crep"] - 1
            if st["valued"]:
                r0, r1 = st["row"], st["row"] + st["rrep"] - 1
                st["n"] += st["crep"] * st["rrep"]
                box = st["box"]
                st["box"] = ((r0, r1, c0, c1) if box is None else
                             (min(box[0], r0), max(box[1], r1), min(box[2], c0),
                              max(box[3], c1)))
            st["col"] = c1 + 1
            st["in_cell"] = False
        elif st["depth"] == 1 and name == _TABLE_NS + "table-row":
            st["row"] += st["rrep"]

    parse_small(zf, "content.xml", start, end)
    return out


def _repeat(text: str | None) -> int:
    if not text:
        return 1
    try:
        n = int(text)
    except ValueError:
        return 1
    return min(max(n, 1), 1 << 31)
