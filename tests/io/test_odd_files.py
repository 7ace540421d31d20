"""Every odd or broken file in tests/data/odd is read as expected or refused cleanly.

The files and ``EXPECTED.json`` are written by ``tests/data/make_fixtures.py``.
A refusal must be an InputError whose message names the file; the CLI must
exit with status 2 and print one line, never a traceback.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lsqfit_app.cli import main
from lsqfit_app.core.errors import InputError
from lsqfit_app.io import read_table

ODD = Path(__file__).resolve().parents[1] / "data" / "odd"
EXPECTED = json.loads((ODD / "EXPECTED.json").read_text(encoding="utf-8"))


def test_at_least_thirty_odd_files():
    assert len(EXPECTED) >= 30
    assert all((ODD / name).exists() for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_odd_file(name):
    expect = EXPECTED[name]
    path = ODD / name
    if expect["ok"] is False:
        with pytest.raises(InputError) as info:
            read_table(path)
        assert str(path) in str(info.value)
        assert expect["message"] in str(info.value)
        return
    try:
        result = read_table(path)
    except InputError as exc:
        assert expect["ok"] is None, f"refused: {exc}"
        assert str(path) in str(exc)
        return
    if expect["ok"] is None:
        return  # either outcome is fine, as long as nothing crashed
    table = result.table
    assert table.n_rows == expect["rows"]
    if "columns" in expect:
        assert table.names == expect["columns"]
    if "units" in expect:
        assert table.units == expect["units"]
    if "sheet" in expect:
        assert result.sheet == expect["sheet"]
    assert result.n_problems == expect["problems"], [str(p) for p in result.problems]
    for column, value in expect.get("first", {}).items():
        assert table.column(column).values[0] == value
    for problem in result.problems:
        assert problem.row >= 1 and problem.column in table.names
        assert len(problem.text) < 300


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["ok"] is False))
def test_cli_refuses_with_status_2(name, capsys):
    status = main(["table", str(ODD / name)])
    captured = capsys.readouterr()
    assert status == 2
    assert str(ODD / name) in captured.err
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1


def test_problem_rows_are_file_lines():
    result = read_table(ODD / "percent_cells.csv")
    (problem,) = result.problems
    assert (problem.row, problem.column, problem.text, problem.index) == (2, "y", "5%", 0)
    assert math.isnan(result.table.column("y").values[0])


def test_nan_inf_spellings():
    result = read_table(ODD / "nan_inf.csv")
    y = result.table.column("y").values
    assert math.isnan(y[0]) and y[1] == math.inf and y[2] == -math.inf and math.isnan(y[3])
    assert [p.text for p in result.problems] == ["1e400"]


def test_bomb_is_refused_without_inflating(tmp_path):
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(InputError, match="decompression bomb"):
        read_table(ODD / "bomb.xlsx")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="folder"):
        read_table(tmp_path)
