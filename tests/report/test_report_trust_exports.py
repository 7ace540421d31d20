"""Exports keep text as text: no formula injection, no unwritable characters.

Headers come from the user's file; a spreadsheet must show them, never run
them.  Numbers (negative ones too) stay numbers.  The prediction-band
columns say which variance they add.
"""
from __future__ import annotations

import csv
import zipfile

import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.report import copy_results_tsv, export_fit
from lsqfit_app.core.spreadsheet import FORMULA_TRIGGERS, clean_text, text_cell
from lsqfit_app.solvers import fit

HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
           "\t=1+1", "\r=1+1", "  =1+1", "\uff1d1+1"]


def _fit(x_label, y_label, sigma_label=None, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-3.0, 3.0, 25)
    sigma = np.full(x.size, 0.2) if sigma_label is not None else None
    y = 1.5 * x - 0.7 + rng.normal(0.0, 0.2, x.size)  # negative values and residuals
    labels = {"x": x_label, "y": y_label}
    if sigma_label is not None:
        labels["sigma"] = sigma_label
    problem = FitProblem.create(make_model("a*x+b"), x, y, {"a": 1.0, "b": 0.0}, sigma=sigma,
                                labels=labels)
    return fit(problem), problem


@pytest.mark.parametrize("i", range(len(HOSTILE)))
def test_csv_headers_that_look_like_formulas_are_text(i, tmp_path):
    result, problem = _fit(HOSTILE[i], HOSTILE[(i + 1) % len(HOSTILE)],
                           HOSTILE[(i + 2) % len(HOSTILE)], seed=i)
    path = tmp_path / "fit.csv"
    export_fit(result, problem, path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    for given, written in zip(HOSTILE[i:] + HOSTILE[:i], header[:1]):
        assert written == "'" + given
    for cell in header:
        assert not cell.startswith(FORMULA_TRIGGERS)
        assert not cell.lstrip(" \n").startswith(FORMULA_TRIGGERS)
    # numbers stay numbers: negative ones are written bare and read back exactly
    col = {h.split(" (adds")[0]: j for j, h in enumerate(header)}
    residuals = [r[col["residual"]] for r in body]
    assert any(c.startswith("-") for c in residuals)
    np.testing.assert_array_equal([float(c) for c in residuals], result.residuals)
    assert [float(r[0]) for r in body] == list(problem.x["x"])


def test_xlsx_headers_are_strings_never_formulas(tmp_path):
    from openpyxl import load_workbook

    result, problem = _fit(HOSTILE[0], HOSTILE[3], HOSTILE[2], seed=11)
    path = tmp_path / "fit.xlsx"
    export_fit(result, problem, path)
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        for name in sheets:
            assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name
    wb = load_workbook(path)
    ws = wb["fitted data"]
    head = list(ws[1])
    assert [c.value for c in head[:3]] == [HOSTILE[0], HOSTILE[3], HOSTILE[2]]
    assert all(c.data_type == "s" for c in head)
    # the written text is exactly the header: no quote added inside the cell
    first = list(ws.iter_rows(min_row=2, max_row=2))[0]
    assert first[0].data_type == "n" and first[0].value == problem.x["x"][0] < 0
    values = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    np.testing.assert_allclose(values, problem.x["x"], rtol=1e-15)


def test_control_characters_in_headers(tmp_path):
    from openpyxl import load_workbook

    bad = "t\x00\x01\x1b[31m (s)\x0b"
    result, problem = _fit(bad, "y\x7f\ud800", seed=4)
    export_fit(result, problem, tmp_path / "fit.xlsx")
    export_fit(result, problem, tmp_path / "fit.csv")
    head = [c.value for c in load_workbook(tmp_path / "fit.xlsx")["fitted data"][1]]
    assert head[0] == "t\ufffd\ufffd\ufffd[31m (s)\ufffd" == clean_text(bad)
    assert head[1] == "y\ufffd\ufffd"
    with open(tmp_path / "fit.csv", newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh))[:2] == head[:2]


def test_band_columns_name_the_added_variance(tmp_path):
    from openpyxl import load_workbook

    weighted, wp = _fit("x", "y", "s", seed=5)
    plain, pp = _fit("x", "y", seed=6)
    for result, problem, words in ((weighted, wp, "each row's own sigma²"),
                                   (plain, pp, "residual variance s²")):
        export_fit(result, problem, tmp_path / "fit.csv")
        with open(tmp_path / "fit.csv", newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert f"prediction lower 95% (adds {words})" in header
        assert f"prediction upper 95% (adds {words})" in header
        export_fit(result, problem, tmp_path / "fit.xlsx")
        notes = [r[0] for r in load_workbook(tmp_path / "fit.xlsx")["notes"].iter_rows(
            values_only=True)]
        assert any(words in n for n in notes)


def test_weighted_prediction_band_uses_each_rows_sigma(tmp_path):
    rng = np.random.default_rng(9)
    x = np.linspace(0.0, 4.0, 30)
    sigma = np.where(np.arange(x.size) % 2 == 0, 0.05, 0.5)
    y = 2.0 * x + 1.0 + rng.normal(0.0, 1.0, x.size) * sigma
    problem = FitProblem.create(make_model("a*x+b"), x, y, {"a": 1.0, "b": 0.0}, sigma=sigma)
    result = fit(problem)
    export_fit(result, problem, tmp_path / "fit.csv")
    with open(tmp_path / "fit.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    col = {h.split(" (adds")[0]: j for j, h in enumerate(rows[0])}
    lo = np.array([float(r[col["prediction lower 95%"]]) for r in rows[1:]])
    hi = np.array([float(r[col["prediction upper 95%"]]) for r in rows[1:]])
    width = hi - lo
    # rows with ten times the sigma get a (nearly) ten times wider prediction band
    assert np.all(width[1::2] > 5 * width[0::2])


def test_text_cell_and_tsv():
    for text in HOSTILE:
        assert text_cell(text).startswith("'")
    assert text_cell("plain") == "plain" and text_cell("a=b") == "a=b"
    result, _ = _fit("x", "y", seed=2)
    lines = copy_results_tsv(result).splitlines()
    assert lines[1].split("\t")[0] == "a"
    assert float(lines[2].split("\t")[1]) == result.parameters[1].value < 0  # b is negative


def test_xlsx_refuses_more_rows_than_a_worksheet_holds(tmp_path, monkeypatch):
    from lsqfit_app.core.errors import InputError
    from lsqfit_app.report import exports

    result, problem = _fit("x", "y", seed=12)
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", problem.n)  # header + n rows > limit
    with pytest.raises(InputError, match=r"fit\.xlsx.*\.csv instead"):
        export_fit(result, problem, tmp_path / "fit.xlsx")
    assert not (tmp_path / "fit.xlsx").exists()
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", problem.n + 1)
    export_fit(result, problem, tmp_path / "fit.xlsx")
