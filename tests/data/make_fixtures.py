"""Write the odd and broken files of ``tests/data/odd`` and their expectations.

Run ``python tests/data/make_fixtures.py`` to regenerate; the files are kept
in git so tests need neither this script nor LibreOffice.  Each entry of
``odd/EXPECTED.json`` says either how the file reads (rows, column names,
number of problem cells) or a piece of the refusal message.
"""
from __future__ import annotations

import io
import json
import os
import random
import struct
import zipfile
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odd")

expected: dict[str, dict] = {}


def put(name: str, data: bytes | str, expect: dict, encoding: str = "utf-8") -> None:
    raw = data.encode(encoding) if isinstance(data, str) else data
    with open(os.path.join(HERE, name), "wb") as fh:
        fh.write(raw)
    expected[name] = expect


def ok(rows: int, columns: list[str] | None = None, problems: int = 0, **more) -> dict:
    d = {"ok": True, "rows": rows, "problems": problems}
    if columns is not None:
        d["columns"] = columns
    d.update(more)
    return d


def refused(fragment: str) -> dict:
    return {"ok": False, "message": fragment}


def png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes([x * 16 % 256, 0, 255 - x * 16 % 256]) * 16 for x in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def xlsx(rows: list[list], title: str = "Sheet1", extra_sheets: dict | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    for name, srows in (extra_sheets or {}).items():
        s = wb.create_sheet(name)
        for r in srows:
            s.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    rng = random.Random(20240601)
    put("empty.csv", b"", refused("empty"))
    put("header_only.csv", "x,y\n", refused("no data"))
    put("only_blank_lines.csv", "\n\n   \n\t\n", refused("empty"))
    put("binary_garbage.dat", bytes(rng.randrange(256) for _ in range(4096)), refused("binary"))
    put("picture.csv", png_bytes(), refused("PNG image"))
    put("gzip_named.csv", b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(200)),
        refused("gzip"))
    put("not_a_zip.xlsx", b"\x00\x01\x02garbage\xff\xfe" * 50, refused("not a valid"))
    good = xlsx([["x", "y"], [1, 2], [2, 4]])
    put("broken_zip.xlsx", good[: len(good) // 2], refused("not a valid workbook"))
    # a decompression bomb: 60 MB of zeros in a 60 kB member
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * 60_000_000)
    put("bomb.xlsx", buf.getvalue(), refused("decompression bomb"))
    put("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", ok(4, ["a", "b", "c", "col4"]))
    # "5,6" in a semicolon file reads as the decimal 5.6 in column x (y missing)
    put("mixed_delimiters.csv", "x;y\n1;2\n3;4\n5,6\n7;8\n9;10\n", ok(5, ["x", "y"]))
    put("mixed_delimiters_points.csv", "x;y\n1.5;2\n3.5;4\n5.5,6\n7.5;8\n9.5;10\n",
        ok(5, ["x", "y"], problems=1))
    put("all_text.csv", "name,city\nann,oslo\nbob,rome\n", refused("no numbers"))
    put("one_row.csv", "x,y\n1.5,2.5\n", ok(1, ["x", "y"]))
    put("one_value.txt", "42\n", ok(1, ["col1"]))
    put("nan_inf.csv", "x,y\n1,NaN\n2,Inf\n3,-inf\n4,1e400\n5,nan\n", ok(5, ["x", "y"], problems=1))
    put("duplicate_headers.csv", "a,a,b\n1,2,3\n4,5,6\n", ok(2, ["a", "a_2", "b"]))
    put("long_line.csv", "x,y\n1,2\n2," + "a" * 1_048_576 + "\n3,4\n4,5\n",
        ok(4, ["x", "y"], problems=1))
    put("long_preamble_line.txt", "#" + "z" * 1_048_576 + "\n1 2\n3 4\n5 6\n", ok(3))
    put("nul_bytes.csv", b"x,y\n1,2\n3\x00,4\n5,6\n7,8\n", ok(4, ["x", "y"], problems=1))
    put("utf16le_no_bom.csv", "x\ty\n1,5\t2,5\n3,5\t4,5\n".encode("utf-16-le"),
        ok(2, ["x", "y"], first={"x": 1.5}))
    put("utf16be_bom.csv", "\ufeffx,y\n1,2\n3,4\n".encode("utf-16-be"), ok(2, ["x", "y"]))
    put("utf16be_no_bom.csv", "x,y\n1,2\n3,4\n".encode("utf-16-be"), ok(2, ["x", "y"]))
    put("utf8_bom.csv", "\ufefftime,volt\n0,1\n1,2\n", ok(2, ["time", "volt"]))
    put("cp1252_units.csv", "T (°C);I (µA)\n20,5;1,25\n21,5;1,5\n".encode("cp1252"),
        ok(2, ["T (°C)", "I (µA)"], units=["°C", "µA"], first={"T (°C)": 20.5}))
    put("cr_only.txt", "x\ty\r1\t2\r3\t4\r", ok(2, ["x", "y"]))
    put("cr_cr_lf.csv", "x,y\r\r\n1,2\r\r\n3,4\r\r\n", ok(2, ["x", "y"]))
    put("trailing_delimiter.csv", "x,y,\n1,2,\n3,4,\n", ok(2, ["x", "y"]))
    put("blank_lines.csv", "\n\nx,y\n\n1,2\n\n3,4\n\n\n5,6\n\n", ok(3, ["x", "y"]))
    put("semicolon_decimal_comma.csv", "U;I\n0,5;1,25\n1,0;2,5\n1,5;3,75\n",
        ok(3, ["U", "I"], first={"I": 1.25}))
    put("thousands_quoted.csv", 'n,v\n"1,234.5",2\n"12,345.25",3\n"100.5",4\n',
        ok(3, ["n", "v"], first={"n": 1234.5}))
    put("german_thousands.csv", "a;b\n1.234,5;2\n12.345,25;3\n7,5;4\n",
        ok(3, ["a", "b"], first={"a": 1234.5}))
    put("space_thousands.csv", "a;b\n1 234,5;2\n12 345,25;3\n7,5;4\n",
        ok(3, ["a", "b"], first={"a": 1234.5}))
    put("quoted_fields.csv", 'label,x,y\n"a, b",1,2\n"two\nlines",3,4\n"say ""hi""",5,6\n',
        ok(3, ["label", "x", "y"]))
    put("unbalanced_quote.csv", 'x,y\n1,2\n"3,4\n5,6\n', {"ok": None})
    put("comments.txt", "# made by hand\n% matlab style\nx y\n1 2\n# inside\n3 4\n",
        ok(2, ["x", "y"]))
    put("names_units.csv", "t,U\ns,V\n0,1.5\n1,2.5\n", ok(2, ["t", "U"], units=["s", "V"]))
    put("units_in_names.csv", "t (s),U [V],f/Hz\n1,2,3\n4,5,6\n",
        ok(2, ["t (s)", "U [V]", "f/Hz"], units=["s", "V", "Hz"]))
    put("whitespace_ragged.dat", "  1.0   2.0\n  2.0   3.0  7\n  3.0   4.0\n", ok(3))
    put("percent_cells.csv", "x,y\n1,5%\n2,6\n3,7\n", ok(3, ["x", "y"], problems=1))
    put("extreme_numbers.csv", "x,y\n1e308,-1e-308\n5e-324,2\n", ok(2, ["x", "y"]))
    put("control_chars.txt", "".join(chr(rng.randrange(0, 32)) for _ in range(3000)),
        refused("binary"))
    put("title_rows.xlsx", xlsx([["My experiment"], [], ["time", "signal"], ["s", "mV"],
                                 [0, 1.5], [1, 2.5], [2, 3.5]]),
        ok(3, ["time", "signal"], units=["s", "mV"], sheet="Sheet1"))
    import datetime
    put("dates.xlsx", xlsx([["date", "v"], [datetime.date(2020, 1, 1), 1.0],
                            [datetime.date(2020, 1, 2), 2.0]]),
        ok(2, ["date", "v"], first={"date": 43831.0}))
    put("empty_sheets.xlsx", xlsx([], extra_sheets={"Other": []}), refused("no sheet"))
    put("text_only.xlsx", xlsx([["a", "b"], ["c", "d"]]), refused("no sheet"))
    put("second_sheet.xlsx", xlsx([["notes only"]], title="Notes",
                                  extra_sheets={"Data": [["x", "y"], [1, 2], [3, 4]]}),
        ok(2, ["x", "y"], sheet="Data"))
    put("csv_named.xlsx", "x,y\n1,2\n3,4\n", ok(2, ["x", "y"]))
    with open(os.path.join(HERE, "EXPECTED.json"), "w", encoding="utf-8") as fh:
        json.dump(expected, fh, indent=1, ensure_ascii=False, sort_keys=True)
        fh.write("\n")
    print(f"{len(expected)} files in {HERE}")


if __name__ == "__main__":
    main()
