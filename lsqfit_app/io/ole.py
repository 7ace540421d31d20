"""Excel 97-2003 (.xls) sheet sizes from the file, before calamine reads it.

An .xls file is an OLE2 compound file ([MS-CFB]) whose ``Workbook`` (or
BIFF5 ``Book``) stream holds BIFF records.  Each worksheet's substream
starts where its BOUNDSHEET record says; its cell records (NUMBER, RK,
MULRK, LABELSST, LABEL, RSTRING, FORMULA, BOOLERR) begin with the row and
column.  :func:`xls_extents` gives the box of those cells per sheet so the
caller can refuse a sheet whose dense grid would be huge.  Only offsets and
sizes are read; every chain is bounded by the file's sector count, so a
damaged or hostile file raises ValueError instead of looping.
"""
from __future__ import annotations

import struct

from lsqfit_app.io.sheets import Extent

_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END, _FREE = 0xFFFFFFFE, 0xFFFFFFFF
_CELL_RECORDS = {0x0203, 0x00FD, 0x027E, 0x0006, 0x0205, 0x0204, 0x00D6,
                 0x0406, 0x0206}
_MULRK = 0x00BD
_BOUNDSHEET, _BOF, _EOF = 0x0085, {0x0809, 0x0409, 0x0209, 0x0009}, 0x000A


def _chain(table: list[int], start: int, limit: int) -> list[int]:
    out = []
    n = start
    seen = 0
    while n not in (_END, _FREE):
        if n >= len(table) or seen > limit:
            raise ValueError("a broken sector chain")
        out.append(n)
        n = table[n]
        seen += 1
    return out


def workbook_stream(data: bytes) -> bytes:
    """The bytes of the Workbook/Book stream of a compound file."""
    if not data.startswith(_MAGIC) or len(data) < 512:
        raise ValueError("not an OLE2 compound file")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    mini_shift = struct.unpack_from("<H", data, 0x20)[0]
    if shift not in (9, 12) or mini_shift != 6:
        raise ValueError("bad sector sizes")
    size = 1 << shift
    n_sectors = max(0, (len(data) - 512) // size)
    n_fat = struct.unpack_from("<I", data, 0x2C)[0]
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    cutoff = struct.unpack_from("<I", data, 0x38)[0]
    first_minifat = struct.unpack_from("<I", data, 0x3C)[0]
    first_difat, n_difat = struct.unpack_from("<II", data, 0x44)

    def sector(n: int) -> bytes:
        if n >= n_sectors + 1:
            raise ValueError("a sector lies past the end of the file")
        off = (n + 1) * size
        return data[off:off + size]

    difat = [v for v in struct.unpack_from("<109I", data, 0x4C) if v != _FREE]
    n = first_difat
    for _ in range(min(n_difat, n_sectors)):
        if n in (_END, _FREE):
            break
        entries = struct.unpack(f"<{size // 4}I", sector(n))
        difat.extend(v for v in entries[:-1] if v != _FREE)
        n = entries[-1]
    if n_fat > n_sectors or len(difat) < min(n_fat, 1):
        raise ValueError("a broken allocation table")
    fat: list[int] = []
    for s in difat[:n_fat]:
        fat.extend(struct.unpack(f"<{size // 4}I", sector(s)))

    def stream(start: int) -> bytes:
        return b"".join(sector(s) for s in _chain(fat, start, n_sectors))

    directory = stream(first_dir)
    entries = []
    for off in range(0, len(directory) - 127, 128):
        name_len = struct.unpack_from("<H", directory, off + 64)[0]
        name = directory[off:off + max(0, min(64, name_len) - 2)].decode("utf-16-le", "replace")
        kind = directory[off + 66]
        start, length = struct.unpack_from("<IQ", directory, off + 116)
        if size == 512:
            length &= 0xFFFFFFFF
        entries.append((name, kind, start, length))
    if not entries:
        raise ValueError("no directory")
    found = next((e for e in entries if e[1] == 2 and e[0].lower() == "workbook"), None) \
        or next((e for e in entries if e[1] == 2 and e[0].lower() == "book"), None)
    if found is None:
        raise ValueError("no Workbook stream")
    _, _, start, length = found
    if length > len(data) * 2 + 4096:
        raise ValueError("the Workbook stream is bigger than the file")
    if length >= cutoff:
        return stream(start)[:length]
    # a small stream lives in the mini stream, held by the root entry
    root = entries[0]
    mini = stream(root[2])[:root[3]]
    minifat: list[int] = []
    for s in _chain(fat, first_minifat, n_sectors):
        minifat.extend(struct.unpack(f"<{size // 4}I", sector(s)))
    parts = [mini[m * 64:(m + 1) * 64] for m in _chain(minifat, start, len(minifat))]
    return b"".join(parts)[:length]


def xls_extents(data: bytes) -> dict[str, Extent]:
    """Sheet name -> the box of its cell records (worksheets only)."""
    wb = workbook_stream(data)
    sheets: list[tuple[str, int]] = []
    pos, n = 0, len(wb)
    biff8 = True
    first = True
    while pos + 4 <= n:
        rtype, rlen = struct.unpack_from("<HH", wb, pos)
        body = wb[pos + 4:pos + 4 + rlen]
        if first and rtype in _BOF and len(body) >= 2:
            biff8 = struct.unpack_from("<H", body, 0)[0] == 0x0600
        first = False
        if rtype == _BOUNDSHEET and len(body) >= 7:
            offset, _vis, typ = struct.unpack_from("<IBB", body, 0)
            if typ == 0:
                sheets.append((_sheet_name(body[6:], biff8), offset))
        elif rtype == _EOF:
            break
        pos += 4 + rlen
    out = {}
    for name, offset in sheets:
        out[name] = _sheet_extent(wb, offset)
    return out


def _sheet_name(body: bytes, biff8: bool) -> str:
    if not body:
        return ""
    length = body[0]
    if not biff8:
        return body[1:1 + length].decode("cp1252", "replace")
    flags = body[1] if len(body) > 1 else 0
    raw = body[2:]
    if flags & 1:
        return raw[:2 * length].decode("utf-16-le", "replace")
    return raw[:length].decode("latin-1")


def _sheet_extent(wb: bytes, pos: int) -> Extent:
    n = len(wb)
    count = 0
    lo_r = lo_c = 1 << 40
    hi_r = hi_c = -1
    depth = 0
    while pos + 4 <= n:
        rtype, rlen = struct.unpack_from("<HH", wb, pos)
        body = pos + 4
        if rtype in _BOF:
            depth += 1
        elif rtype == _EOF:
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1 and rlen >= 4 and (rtype in _CELL_RECORDS or rtype == _MULRK):
            row, col = struct.unpack_from("<HH", wb, body)
            last = col
            if rtype == _MULRK and rlen >= 6:
                last = struct.unpack_from("<H", wb, body + rlen - 2)[0]
            count += max(1, last - col + 1)
            lo_r, hi_r = min(lo_r, row), max(hi_r, row)
            lo_c, hi_c = min(lo_c, col, last), max(hi_c, col, last)
        pos = body + rlen
    if hi_r < 0:
        return Extent(count)
    return Extent(count, lo_r, hi_r, lo_c, hi_c)
