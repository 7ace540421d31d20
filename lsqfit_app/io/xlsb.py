"""Binary workbooks (.xlsb): where each sheet is and how big it is, before calamine reads it.

An xlsb is a zip like an xlsx, but its parts are BIFF12 records: a record
type and a size, each a little-endian varint, then the body.
``xl/workbook.bin`` names the sheets (BrtBundleSh records: state, sheet id,
relationship id, name) and its rels part maps them to members; each sheet
member holds row records (BrtRowHdr) followed by cell records.  Only types
and sizes are read; a record that runs past the end raises ValueError.
"""
from __future__ import annotations

import struct
import zipfile

from lsqfit_app.io.sheets import Extent, part_targets

_BUNDLE_SHEET = 156


def xlsb_sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip member, from workbook.bin's BrtBundleSh records and the rels."""
    data = zf.read("xl/workbook.bin")
    targets = part_targets(zf, "xl/_rels/workbook.bin.rels")
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        rtype, pos = _varint(data, pos, 2)
        size, pos = _varint(data, pos, 4)
        if rtype == _BUNDLE_SHEET and size >= 12:
            body = data[pos:pos + size]
            off = 8
            n = struct.unpack_from("<I", body, off)[0]
            rid = body[off + 4:off + 4 + 2 * n].decode("utf-16-le", "replace")
            off += 4 + 2 * n
            n = struct.unpack_from("<I", body, off)[0] if off + 4 <= len(body) else 0
            name = body[off + 4:off + 4 + 2 * n].decode("utf-16-le", "replace")
            if rid in targets:
                out[name] = targets[rid]
        pos += size
    return out


_XLSB_ROW, _XLSB_CELLS = 0, range(1, 14)


def xlsb_extent(data: bytes) -> Extent:
    """The box of the row and cell records of one binary (xlsb) sheet part."""
    n = len(data)
    pos = 0
    row = -1
    count = 0
    lo_r = lo_c = 1 << 40
    hi_r = hi_c = -1
    while pos < n:
        rtype, pos = _varint(data, pos, 2)
        size, pos = _varint(data, pos, 4)
        if rtype == _XLSB_ROW and size >= 4:
            row = struct.unpack_from("<I", data, pos)[0]
        elif rtype in _XLSB_CELLS and size >= 4 and rtype != 1:  # 1: a blank cell
            col = struct.unpack_from("<I", data, pos)[0]
            count += 1
            lo_r, hi_r = min(lo_r, row), max(hi_r, row)
            lo_c, hi_c = min(lo_c, col), max(hi_c, col)
        pos += size
    if hi_r < 0:
        return Extent(count)
    return Extent(count, lo_r, hi_r, lo_c, hi_c)


def _varint(data: bytes, pos: int, most: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(most):
        if pos >= len(data):
            raise ValueError("a record runs past the end of the sheet")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return value, pos
