"""Dialect detection details, clipboard text, progress, the fast path, the registry."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from lsqfit_app.core.errors import InputError
from lsqfit_app.io import file_filters, find_reader, read_table, read_text
from lsqfit_app.io import text as text_reader
from lsqfit_app.io.numbers import parse_number
from lsqfit_app.io.decoding import line_ending, sniff_encoding


@pytest.mark.parametrize("text, delimiter, decimal, thousands", [
    ("a,b\n1.5,2.5\n3.5,4.5\n", ",", ".", None),
    ("a;b\n1,5;2,5\n3,5;4,5\n", ";", ",", None),
    ("a\tb\n1,5\t2,5\n3,5\t4,5\n", "\t", ",", None),
    ("a b\n1.5   2.5\n3.5 4.5\n", " ", ".", None),
    ("a|b\n1.5|2.5\n3.5|4.5\n", "|", ".", None),
    ('a,b\n"1,234.5",2\n"2,345.5",3\n', ",", ".", ","),
    ("a;b\n1.234,5;2\n2.345,5;3\n", ";", ",", "."),
    ("a, b\n1.5, 2.5\n3.5, 4.5\n", ",", ".", None),
    ("a; b\n1,5; 2,5\n3,5; 4,5\n", ";", ",", None),
])
def test_detects_dialect(text, delimiter, decimal, thousands):
    result = read_text(text)
    d = result.dialect
    assert (d.delimiter, d.decimal, d.thousands) == (delimiter, decimal, thousands)
    assert result.table.names == ["a", "b"]
    assert "delimiter" in d.detected and "decimal" in d.detected


def test_excel_clipboard_with_decimal_comma():
    clip = "Zeit\tSignal\r\n0\t1,5\r\n1\t2,25\r\n2\t3\r\n"
    result = read_text(clip)
    assert result.source == "<clipboard>"
    assert result.table.column("Signal").values.tolist() == [1.5, 2.25, 3.0]
    assert result.dialect.line_ending == "CRLF"


def test_numbers_grammar():
    assert parse_number("-12,", ",") == -12.0
    assert parse_number(",8", ",") == 0.8
    assert parse_number("-.19") == -0.19
    assert parse_number("2,3278546E+000", ",") == 2.3278546
    assert parse_number("1 234,5", ",", " ") == 1234.5
    assert parse_number("1_000") is None
    assert parse_number("1e400") is None
    assert math.isnan(parse_number("NaN"))
    assert parse_number("\u22125") == -5.0


@pytest.mark.parametrize("data, encoding", [
    ("x,y\n1,2\n".encode("utf-16-le"), "utf-16-le"),
    ("x,y\n1,2\n".encode("utf-16-be"), "utf-16-be"),
    ("\ufeffx,y\n".encode("utf-8"), "utf-8-sig"),
    ("µ,°\n1,2\n".encode("cp1252"), "cp1252"),
    ("µ,°\n1,2\n".encode("utf-8"), "utf-8"),
    ("x,y\n1,2\n".encode("utf-16"), "utf-16"),
])
def test_sniff_encoding(data, encoding):
    assert sniff_encoding(data) == encoding


def test_encoding_override_and_bad_bytes(tmp_path):
    path = tmp_path / "l1.csv"
    path.write_bytes("T (°C),I (µA)\n1,2\n".encode("latin-1"))
    assert read_table(path).table.names == ["T (°C)", "I (µA)"]
    assert read_table(path, encoding="latin-1").dialect.overridden == ("encoding",)
    with pytest.raises(InputError, match="line 1 cannot be decoded as utf-8"):
        read_table(path, encoding="utf-8")


@pytest.mark.parametrize("text, name", [
    ("a\nb\n", "LF"), ("a\r\nb\r\n", "CRLF"), ("a\rb\r", "CR"), ("a\r\r\nb\r\r\n", "CR CR LF"),
])
def test_line_endings(text, name):
    assert line_ending(text) == name


def test_problems_name_file_line_and_column(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("# note\nx,y\n\n1,2\n2,oops\n3,4\n", encoding="utf-8")
    result = read_table(path)
    assert [(p.row, p.column, p.text, p.index) for p in result.problems] == [(5, "y", "oops", 1)]
    assert result.data_rows.tolist() == [4, 5, 6]
    assert str(result.problems[0]) == "row 5, column 'y': 'oops' is not a number"


def test_text_columns_are_not_numeric():
    result = read_text("name,x,y\nann,1,2\nbob,3,4\ncid,5,6\n")
    label = result.table.column("name")
    assert not label.numeric and label.text.tolist() == ["ann", "bob", "cid"]
    assert result.table.numeric_names() == ["x", "y"]
    assert result.n_problems == 0


def write_big(path: Path, rows: int, bad_row: int | None = None) -> np.ndarray:
    data = np.random.default_rng(3).standard_normal((rows, 3))
    lines = ["x,y,z"] + [f"{a!r},{b!r},{c!r}" for a, b, c in data.tolist()]
    if bad_row is not None:
        lines[bad_row + 1] = "1.0,oops,2.0"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data


def test_fast_path_is_used_and_exact(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    data = write_big(path, 30_000)
    monkeypatch.setattr(text_reader, "FAST_PATH_MIN_BYTES", 1000)
    import pandas as pd

    calls = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    fractions = []
    result = read_table(path, progress=fractions.append)
    assert calls, "pandas was not used"
    assert np.array_equal(result.table.column("y").values, data[:, 1])
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_fast_path_falls_back_on_text_cells(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    write_big(path, 30_000, bad_row=20_000)
    monkeypatch.setattr(text_reader, "FAST_PATH_MIN_BYTES", 1000)
    result = read_table(path)
    assert result.n_problems == 1
    (p,) = result.problems
    assert (p.row, p.column, p.text) == (20_002, "y", "oops")


def test_python_path_progress(tmp_path):
    path = tmp_path / "small.csv"
    write_big(path, 100)
    fractions = []
    read_table(path, progress=fractions.append)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_registry():
    assert find_reader("a.xlsx", b"PK\x03\x04rest").name == "workbook"
    assert find_reader("a.csv", b"PK\x03\x04rest").name == "workbook"  # content wins
    assert find_reader("a.xlsx", b"x,y\n1,2\n").name == "text"
    assert find_reader("a.weird", b"1 2\n").name == "text"
    filters = file_filters()
    assert "*.xlsx" in filters[0] and "*.csv" in filters[0] and filters[-1] == "All files (*)"


def test_no_qt_imports_in_io_and_table():
    root = Path(__file__).resolve().parents[2] / "lsqfit_app"
    files = list((root / "io").glob("*.py")) + [root / "core" / "table.py",
                                                 root / "cli" / "table.py"]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.split(".")[0] in ("PySide6", "PyQt6", "PyQt5", "pyqtgraph",
                                                  "qtpy"), (path, name)
