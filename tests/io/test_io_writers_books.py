"""Table writers (atomic, formula-escaped, read back as written) and lazy sheet measuring."""
from __future__ import annotations

import struct
import zipfile

import numpy as np
import pytest

from lsqfit_app.core.atomic import PREFIX
from lsqfit_app.core.errors import InputError
from lsqfit_app.core.spreadsheet import FORMULA_TRIGGERS, text_cell, unescape_text_cell
from lsqfit_app.core.table import Table
from lsqfit_app.io import read_table, read_text
from lsqfit_app.io import sheets
from lsqfit_app.io import writers
from lsqfit_app.io.writers import write_csv, write_xlsx
from lsqfit_app.io.xlsb import xlsb_extent, xlsb_sheet_members

HOSTILE = ["=HYPERLINK(\"http://x\")", "+1+2", "-3*4", "@SUM(A1)", " =cmd", "\uff1dA1"]


def _hostile_table(rng) -> Table:
    n = 8
    labels = [HOSTILE[int(k)] for k in rng.integers(0, len(HOSTILE), n)]
    # a text column as the readers make it: NaN values, the cell text beside them
    t = Table.from_columns([HOSTILE[0], "+y", "label"],
                           # 9 digits: openpyxl writes 16, not the shortest repr
                           [np.round(rng.uniform(0, 5, n), 9), np.round(rng.normal(0, 1, n), 9),
                            np.full(n, np.nan)],
                           units=["=unit", "-V", ""], numeric=[True, True, False],
                           texts=[None, None, np.array(labels, dtype=str)])
    t.set_mask([1, 4], "@outlier")
    return t


def test_unescape_removes_only_the_formula_escape():
    for text in HOSTILE:
        assert unescape_text_cell(text_cell(text)) == text
    for text in ("'tis", "'5", "plain", "", "'", "a'=b"):
        assert unescape_text_cell(text) == text
    # a text that itself looks escaped gets one more quote, so every text reads back
    for text in ("'=a", "''+1", "' -x"):
        assert text_cell(text) == "'" + text
        assert unescape_text_cell(text_cell(text)) == text


def test_csv_escapes_every_text_cell_and_reads_back_without_the_quote(tmp_path):
    rng = np.random.default_rng(301)
    t = _hostile_table(rng)
    path = tmp_path / "t.csv"
    write_csv(t, path, masks=True)
    raw = path.read_text(encoding="utf-8")
    for line in raw.splitlines():
        for cell in line.split(","):
            cell = cell.strip('"')
            assert not cell.lstrip(" \n").startswith(FORMULA_TRIGGERS) or _is_number(cell), cell
    assert "'=HYPERLINK" in raw and "'@outlier" in raw
    back = read_table(path).table
    assert back.names == t.names + ["masked"]
    assert back.units[:2] == ["=unit", "-V"]
    for j in (1, 2):
        np.testing.assert_array_equal(back.column(j).values, t.column(j).values)
    assert back.column("label").text.tolist() == t.column("label").text.tolist()
    assert back.column("masked").text.tolist()[1] == "@outlier"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_xlsx_writes_formula_like_text_as_string_cells(tmp_path):
    from openpyxl import load_workbook

    rng = np.random.default_rng(302)
    t = _hostile_table(rng)
    path = tmp_path / "t.xlsx"
    write_xlsx(t, path, masks=True)
    ws = load_workbook(path).active
    header = next(ws.iter_rows(min_row=1, max_row=1))
    assert header[0].value == HOSTILE[0] and header[0].data_type == "s"
    assert header[0].quotePrefix
    back = read_table(path).table
    assert back.names == t.names + ["masked"]
    np.testing.assert_array_equal(back.column(2).values, t.column(2).values)


def test_a_failed_csv_write_leaves_the_previous_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(303)
    t = Table({"x": rng.normal(size=5), "y": rng.normal(size=5)})
    path = tmp_path / "keep.csv"
    path.write_text("old,content\n1,2\n")

    def broken(values, decimal):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(writers, "_format_floats", broken)
    with pytest.raises(RuntimeError):
        write_csv(t, path)
    assert path.read_text() == "old,content\n1,2\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(PREFIX)]


def test_csv_with_decimal_comma_and_bad_separators(tmp_path):
    rng = np.random.default_rng(304)
    t = Table({"x": rng.normal(size=6), "y": rng.normal(size=6)})
    write_csv(t, tmp_path / "de.csv", delimiter=";", decimal=",")
    back = read_table(tmp_path / "de.csv")
    assert back.dialect.decimal == ","
    np.testing.assert_array_equal(back.table.values("y"), t.values("y"))
    with pytest.raises(InputError, match="decimal separator"):
        write_csv(t, tmp_path / "bad.csv", delimiter=",", decimal=",")
    assert not (tmp_path / "bad.csv").exists()


def test_xlsx_refuses_more_rows_than_a_worksheet_holds(tmp_path, monkeypatch):
    rng = np.random.default_rng(305)
    t = Table({"x": rng.normal(size=9)})
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 9)   # header + 9 rows > limit
    with pytest.raises(InputError, match=r"big\.xlsx.*\.csv instead"):
        write_xlsx(t, tmp_path / "big.xlsx")
    assert not (tmp_path / "big.xlsx").exists()
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 10)
    write_xlsx(t, tmp_path / "big.xlsx")
    assert read_table(tmp_path / "big.xlsx").table.n_rows == 9


def test_a_foreign_csv_with_escaped_headers_reads_them_plain():
    rng = np.random.default_rng(306)
    y = rng.normal(size=5).tolist()
    text = "t,'=y,'tis\n" + "".join(f"{i},{v!r},{i}\n" for i, v in enumerate(y))
    table = read_text(text).table
    assert table.names == ["t", "=y", "'tis"]
    np.testing.assert_array_equal(table.values("=y"), y)


# ---------------------------------------------------------------------- sheets measured lazily
def _two_sheet_xlsx(path, rng, broken_second: bool = False):
    from openpyxl import Workbook

    wb = Workbook()
    first = wb.active
    first.title = "First"
    second = wb.create_sheet("Second")
    a, b = np.round(rng.normal(size=(2, 12)), 9)   # openpyxl writes 16 digits, not repr
    for ws, values in ((first, a), (second, b)):
        ws.append(["x", "y"])
        for i, v in enumerate(values):
            ws.append([i, float(v)])
    wb.save(path)
    if broken_second:
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "xl/worksheets/sheet2.xml":
                    data = data[: len(data) // 2]   # cut mid-element: invalid XML
                dst.writestr(info, data)
        tmp.replace(path)
    return a, b


def test_reading_one_sheet_measures_only_that_sheet(tmp_path, monkeypatch):
    rng = np.random.default_rng(307)
    path = tmp_path / "two.xlsx"
    a, b = _two_sheet_xlsx(path, rng)
    measured = []
    real = sheets.xlsx_extent

    def counting(zf, member):
        measured.append(member)
        return real(zf, member)

    monkeypatch.setattr(sheets, "xlsx_extent", counting)
    result = read_table(path)
    assert result.sheet == "First" and measured == ["xl/worksheets/sheet1.xml"]
    np.testing.assert_array_equal(result.table.values("y"), a)
    measured.clear()
    result = read_table(path, sheet=2)
    assert result.sheet == "Second" and measured == ["xl/worksheets/sheet2.xml"]
    np.testing.assert_array_equal(result.table.values("y"), b)


def test_a_broken_later_sheet_does_not_stop_the_first(tmp_path):
    rng = np.random.default_rng(308)
    path = tmp_path / "broken.xlsx"
    a, _ = _two_sheet_xlsx(path, rng, broken_second=True)
    np.testing.assert_array_equal(read_table(path).table.values("y"), a)
    with pytest.raises(InputError, match=r"broken\.xlsx.*'Second'"):
        read_table(path, sheet="Second")


# ---------------------------------------------------------------------- xlsb records
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _record(rtype: int, body: bytes) -> bytes:
    return _varint(rtype) + _varint(len(body)) + body


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def test_xlsb_sheets_are_found_through_the_shared_relationship_parser(tmp_path):
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/sheet1.bin"/>'
            '<Relationship Id="rId2" Target="/xl/worksheets/other.bin"/></Relationships>')
    book = b"".join(_record(156, struct.pack("<II", 0, i + 1) + _wide(rid) + _wide(name))
                    for i, (rid, name) in enumerate((("rId1", "Data"), ("rId2", "More"),
                                                     ("rId9", "Lost"))))
    path = tmp_path / "b.xlsb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/_rels/workbook.bin.rels", rels)
    with zipfile.ZipFile(path) as zf:
        assert xlsb_sheet_members(zf) == {"Data": "xl/worksheets/sheet1.bin",
                                          "More": "xl/worksheets/other.bin"}


def test_xlsb_extent_spans_the_cell_records():
    rng = np.random.default_rng(309)
    rows = sorted(rng.choice(5000, size=6, replace=False).tolist())
    cols = rng.integers(0, 300, size=6).tolist()
    data = b""
    for r, c in zip(rows, cols):
        data += _record(0, struct.pack("<I", r) + b"\0" * 8)        # row header
        data += _record(2, struct.pack("<II", c, 0) + b"\0" * 4)    # a number cell
        data += _record(1, struct.pack("<II", 9999, 0))              # a blank: not counted
    extent = xlsb_extent(data)
    assert (extent.n_cells, extent.min_row, extent.max_row) == (6, rows[0], rows[-1])
    assert (extent.min_col, extent.max_col) == (min(cols), max(cols))
    with pytest.raises(ValueError, match="past the end"):
        xlsb_extent(data + b"\x80")
