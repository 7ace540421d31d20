"""Fitted-data exports (CSV, XLSX), clipboard text, plot images, bad suffixes."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from lsqfit_app.core.errors import InputError
from lsqfit_app.report import (copy_results_tsv, export_fit, save_figure, write_report,
                               write_script)


def _float(text):
    return float(text) if text != "" else math.nan


def test_csv_round_trip(formula_fit, tmp_path):
    result, problem = formula_fit
    path = tmp_path / "fit.csv"
    export_fit(result, problem, path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["t (s)", "signal (V)"]
    assert "fitted" in header and header[-1] == "status"
    # unweighted: the prediction band adds the residual variance, and says so
    assert "prediction upper 95% (adds residual variance s²)" in header
    assert len(body) == problem.n
    col = {h.split(" (adds")[0]: i for i, h in enumerate(header)}
    fitted = np.array([_float(r[col["fitted"]]) for r in body])
    np.testing.assert_array_equal(fitted, result.fitted)  # exact repr round trip
    y = np.array([_float(r[col["signal (V)"]]) for r in body])
    np.testing.assert_array_equal(y, problem.y)
    status = [r[-1] for r in body]
    assert status.count("masked") == 2 and status[5] == "masked"
    lo = np.array([_float(r[col["confidence lower 95%"]]) for r in body])
    hi = np.array([_float(r[col["confidence upper 95%"]]) for r in body])
    assert np.all(lo < fitted) and np.all(fitted < hi)


def test_xlsx_round_trip(library_fit, tmp_path):
    from openpyxl import load_workbook

    result, problem = library_fit
    path = tmp_path / "fit.xlsx"
    export_fit(result, problem, path)
    wb = load_workbook(path)
    ws = wb["fitted data"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[2].startswith("sigma") and "residual" in header
    fitted = np.array([r[header.index("fitted")] for r in rows[1:]], dtype=float)
    # openpyxl stores 16 significant digits (Excel itself shows 15)
    np.testing.assert_allclose(fitted, result.fitted, rtol=1e-15)
    params = list(wb["parameters"].iter_rows(values_only=True))
    assert params[1][0] == result.param_names[0]
    assert params[1][1] == pytest.approx(result.parameters[0].value, rel=1e-15)


def test_copy_results_tsv(library_fit):
    result, _ = library_fit
    text = copy_results_tsv(result)
    lines = text.splitlines()
    assert lines[0].split("\t")[:3] == ["parameter", "value", "std error"]
    for p, line in zip(result.parameters, lines[1:]):
        cells = line.split("\t")
        assert cells[0] == p.name and float(cells[1]) == p.value
        assert float(cells[2]) == p.stderr
    assert any(line.startswith("reduced chi^2\t") for line in lines)


def test_tsv_omits_chi_square_without_sigma(formula_fit):
    assert "chi^2" not in copy_results_tsv(formula_fit[0])


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
@pytest.mark.parametrize("kind", ["fit", "fit_residuals", "distribution", "history"])
def test_save_figure(formula_fit, tmp_path, suffix, kind):
    result, problem = formula_fit
    path = tmp_path / f"plot{suffix}"
    save_figure(result, problem, path, dpi=80, kind=kind)
    head = path.read_bytes()[:200]
    assert {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix] in head


def test_png_dpi_changes_size(formula_fit, tmp_path):
    from matplotlib.image import imread

    result, problem = formula_fit
    save_figure(result, problem, tmp_path / "a.png", dpi=50)
    save_figure(result, problem, tmp_path / "b.png", dpi=100)
    a, b = imread(tmp_path / "a.png"), imread(tmp_path / "b.png")
    assert b.shape[1] == pytest.approx(2 * a.shape[1], abs=2)


@pytest.mark.parametrize("func,name,allowed", [
    (write_report, "r.docx", ".html, .pdf, .md"),
    (export_fit, "d.ods", ".csv, .xlsx"),
    (save_figure, "p.jpg", ".png, .svg, .pdf"),
])
def test_unknown_suffix(formula_fit, tmp_path, func, name, allowed):
    result, problem = formula_fit
    with pytest.raises(InputError) as info:
        func(result, problem, tmp_path / name)
    assert name in str(info.value) and allowed in str(info.value)
    assert not (tmp_path / name).exists()


def test_missing_folder_is_an_input_error(formula_fit, tmp_path):
    result, problem = formula_fit
    with pytest.raises(InputError, match="does not exist"):
        write_script(result, problem, tmp_path / "nope" / "s.py")


def test_no_qt_in_report(tmp_path):
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, lsqfit_app.report as r; "
            "[importlib.import_module(m.name) for m in pkgutil.iter_modules(r.__path__, "
            "'lsqfit_app.report.')]; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', "
            "'PyQt5', 'PyQt6')]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
