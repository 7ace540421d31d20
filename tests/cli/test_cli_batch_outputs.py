"""Result files and the progress bar of ``lsqfit-app batch`` / ``global``."""
import io
import json
import math

import numpy as np
import pytest

from lsqfit_app.cli.batch_outputs import (ProgressBar, check_out_suffix, dumps, json_ready,
                                          results_table, write_results)
from lsqfit_app.core.errors import InputError
from lsqfit_app.io import read_table


class _Rows:
    """A result as the writers see it: ``table()`` and ``to_dict()``."""

    def __init__(self, header, rows, data):
        self._table = (header, rows)
        self._data = data

    def table(self):
        return self._table

    def to_dict(self):
        return self._data


def _result(rng):
    a = rng.normal(size=3)
    header = ["id", "status", "a", "a_stderr", "sse", "r_squared", "aicc"]
    rows = [["y1", "converged", a[0], 0.1, 1.5, 0.99, -3.0],
            ["=cmd()", "failed", math.nan, math.nan, math.nan, math.nan, math.nan],
            ["y3", "max_iterations", a[2], 0.2, 2.5, 0.9, 4.0]]
    data = {"n_curves": 3, "curves": [{"id": "y1", "value": a[0]},
                                      {"id": "=cmd()", "value": math.nan}]}
    return _Rows(header, rows, data), a


def test_csv_has_the_columns_and_rows_of_the_table(tmp_path):
    result, a = _result(np.random.default_rng(201))
    path = tmp_path / "out.csv"
    write_results(result, str(path))
    back = read_table(path).table
    assert back.names == ["id", "status", "a", "a_stderr", "sse", "r_squared", "aicc"]
    assert back.column("id").text.tolist() == ["y1", "=cmd()", "y3"]
    assert back.column("status").text.tolist() == ["converged", "failed", "max_iterations"]
    np.testing.assert_array_equal(back.column("a").values[[0, 2]], a[[0, 2]])
    assert math.isnan(back.column("a").values[1])
    # a cell that starts like a formula is written as text
    assert "'=cmd()" in path.read_text(encoding="utf-8")


def test_xlsx_has_the_columns_and_rows_of_the_table(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    result, a = _result(np.random.default_rng(202))
    path = tmp_path / "out.xlsx"
    write_results(result, str(path))
    ws = openpyxl.load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == ["id", "status", "a", "a_stderr", "sse", "r_squared", "aicc"]
    assert rows[1][0] == "y1" and rows[1][2] == pytest.approx(a[0], rel=1e-15)
    assert rows[2][0] == "=cmd()" and rows[2][2] is None
    assert ws.cell(3, 1).data_type == "s"


def test_json_is_strict_with_null_for_nan(tmp_path):
    result, a = _result(np.random.default_rng(203))
    path = tmp_path / "out.json"
    write_results(result, str(path))
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text
    data = json.loads(text)
    assert data["curves"][0]["value"] == a[0]
    assert data["curves"][1]["value"] is None


def test_json_ready_converts_numpy_and_tuples():
    got = json_ready({"a": np.float64(1.5), "b": (np.int64(2), np.inf), "c": np.array([1.0,
                      np.nan]), "d": np.bool_(True)})
    assert got == {"a": 1.5, "b": [2, None], "c": [1.0, None], "d": True}
    assert json.loads(dumps({"x": float("nan")})) == {"x": None}


def test_results_table_keeps_text_and_numbers_apart():
    table = results_table(["id", "v"], [["a", 1.0], ["b", None]])
    assert not table.column("id").numeric and table.column("v").numeric
    assert table.column("v").values[0] == 1.0 and math.isnan(table.column("v").values[1])


@pytest.mark.parametrize("path, ok", [("r.csv", True), ("R.XLSX", True), ("r.json", True),
                                      ("r.txt", False), ("r", False), ("m.zarr", False),
                                      ("m.h5", False)])
def test_out_suffixes(path, ok):
    if ok:
        assert check_out_suffix(path) in (".csv", ".xlsx", ".json")
    else:
        with pytest.raises(InputError, match="--out"):
            check_out_suffix(path)


class _Progress:
    def __init__(self, done, failed, total):
        self.done, self.failed, self.total = done, failed, total


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_a_terminal_only():
    tty = _Terminal()
    bar = ProgressBar(tty)
    for done in range(0, 101, 10):
        bar(_Progress(done, done // 50, 100))
    bar.close()
    text = tty.getvalue()
    assert "100/100 curves, 2 failed" in text and text.endswith("\n")
    assert "\r[" in text
    pipe = io.StringIO()
    quiet = ProgressBar(pipe)
    quiet(_Progress(5, 0, 10))
    quiet.close()
    assert pipe.getvalue() == ""


def test_progress_bar_redraws_once_per_percent():
    tty = _Terminal()
    bar = ProgressBar(tty)
    for done in range(10_001):
        bar(_Progress(done, 0, 10_000))
    assert tty.getvalue().count("\r") <= 102


def test_progress_of_a_joint_fit_shows_iterations():
    from lsqfit_app.core.progress import IterationState

    tty = _Terminal()
    bar = ProgressBar(tty, label="global fit")
    bar(IterationState(iteration=3, objective=0.125, values=(1.0,), evaluations=5))
    bar.close()
    assert "global fit: iteration 3, objective 0.125" in tty.getvalue()
