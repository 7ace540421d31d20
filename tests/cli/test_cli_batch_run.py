"""``lsqfit-app batch`` end to end: JSON of DESIGN.md 4.4, result files, exit codes."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lsqfit_app.batch.engine")

from lsqfit_app.cli import main  # noqa: E402
from lsqfit_app.io import read_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CURVE_KEYS = {"id", "source", "status", "converged", "message", "iterations", "parameters",
              "statistics"}
STAT_KEYS = {"n_used", "dof", "sse", "r_squared", "aicc", "reduced_chi_squared"}


def _decays(rng, path, k=4, n=40, sigma=None):
    x = np.linspace(0.0, 8.0, n)
    lines = ["t," + ",".join(f"c{j}" for j in range(k)) + ("," + ",".join(
        f"s{j}" for j in range(k)) if sigma else "")]
    ys = []
    for j in range(k):
        ys.append((3.0 + j) * np.exp(-x / (1.0 + 0.3 * j)) + 0.5 + rng.normal(0, 0.02, n))
    for i in range(n):
        cells = [repr(float(x[i]))] + [repr(float(y[i])) for y in ys]
        if sigma:
            cells += [repr(sigma)] * k
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_keys_of_design_4_4_and_matches_single_fits(tmp_path, capsys):
    rng = np.random.default_rng(301)
    path = _decays(rng, tmp_path / "d.csv")
    code, out, err = _run(["batch", str(path), "--model", "exp_decay", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["model"]["name"] and "formula" in data["model"]
    assert data["n_curves"] == 4 and data["n_converged"] == 4
    assert [c["id"] for c in data["curves"]] == ["c0", "c1", "c2", "c3"]
    for j, curve in enumerate(data["curves"]):
        assert CURVE_KEYS <= set(curve)
        assert curve["source"] == str(path) and curve["status"] == "converged"
        assert curve["converged"] is True
        assert STAT_KEYS <= set(curve["statistics"])
        assert curve["statistics"]["reduced_chi_squared"] is None
        assert curve["statistics"]["n_used"] == 40
        for p in curve["parameters"]:
            assert {"name", "value", "stderr", "ci95"} <= set(p)
        code, single_out, _ = _run(["fit", str(path), "-x", "t", "-y", f"c{j}", "--model",
                                    "exp_decay", "--json"], capsys)
        single = json.loads(single_out)
        got = {p["name"]: p for p in curve["parameters"]}
        for p in single["parameters"]:
            assert got[p["name"]]["value"] == pytest.approx(p["value"], rel=1e-6)
            assert got[p["name"]]["stderr"] == pytest.approx(p["stderr"], rel=1e-6)
        assert curve["statistics"]["sse"] == pytest.approx(single["statistics"]["sse"],
                                                           rel=1e-6)


def test_csv_out_has_one_row_per_curve(tmp_path, capsys):
    rng = np.random.default_rng(302)
    path = _decays(rng, tmp_path / "d.csv", k=3)
    out_path = tmp_path / "res.csv"
    code, out, err = _run(["batch", str(path), "--model", "exp_decay", "--out", str(out_path)],
                          capsys)
    assert code == 0, err
    table = read_table(out_path).table
    assert table.names == ["id", "status", "amplitude", "amplitude_stderr", "tau", "tau_stderr",
                           "offset", "offset_stderr", "sse", "r_squared", "aicc"]
    assert table.column("id").text.tolist() == ["c0", "c1", "c2"]
    np.testing.assert_allclose(table.column("tau").values, [1.0, 1.3, 1.6], rtol=0.05)
    assert "c0" in out   # the text summary on stdout


def test_xlsx_and_json_out(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    rng = np.random.default_rng(303)
    path = _decays(rng, tmp_path / "d.csv", k=2)
    code, _, err = _run(["batch", str(path), "--model", "exp_decay", "--out",
                         str(tmp_path / "r.xlsx")], capsys)
    assert code == 0, err
    rows = list(openpyxl.load_workbook(tmp_path / "r.xlsx").active.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "status", "amplitude") and len(rows) == 3
    code, out, err = _run(["batch", str(path), "--model", "exp_decay", "--out",
                           str(tmp_path / "r.json"), "--json"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(out)


def test_a_curve_that_does_not_converge_gives_exit_1_and_all_results(tmp_path, capsys):
    rng = np.random.default_rng(304)
    path = _decays(rng, tmp_path / "d.csv", k=3)
    out_path = tmp_path / "res.csv"
    code, out, err = _run(["batch", str(path), "--model", "exp_decay", "--param", "tau=50",
                           "--max-iterations", "1", "--out", str(out_path), "--json"], capsys)
    assert code == 1, err
    data = json.loads(out)
    assert data["n_converged"] < data["n_curves"] == 3
    assert any(not c["converged"] for c in data["curves"])
    assert read_table(out_path).table.n_rows == 3


def test_several_files_and_by_and_sheet_all(tmp_path, capsys):
    rng = np.random.default_rng(305)
    a = _decays(rng, tmp_path / "a.csv", k=1)
    b = _decays(rng, tmp_path / "b.csv", k=1)
    code, out, err = _run(["batch", str(a), str(b), "--model", "exp_decay", "--json"], capsys)
    assert code == 0, err
    assert [c["id"] for c in json.loads(out)["curves"]] == ["a.csv:c0", "b.csv:c0"]

    x = np.linspace(0.0, 8.0, 30)
    lines = ["T,t,y"]
    for temp in (280, 300, 320):
        y = 2.0 * np.exp(-x / (temp / 300.0)) + rng.normal(0, 0.01, x.size)
        lines += [f"{temp},{float(xi)!r},{float(yi)!r}" for xi, yi in zip(x, y)]
    long = tmp_path / "long.csv"
    long.write_text("\n".join(lines) + "\n")
    code, out, err = _run(["batch", str(long), "-x", "t", "--by", "T", "--model", "exp_decay",
                           "--json"], capsys)
    assert code == 0, err
    curves = json.loads(out)["curves"]
    assert [c["id"] for c in curves] == ["280", "300", "320"]
    taus = [next(p["value"] for p in c["parameters"] if p["name"] == "tau") for c in curves]
    np.testing.assert_allclose(taus, [280 / 300, 1.0, 320 / 300], rtol=0.02)

    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in ("run1", "run2"):
        ws = wb.create_sheet(name)
        ws.append(["t", "y"])
        for xi in x:
            ws.append([float(xi), float(2.0 * math.exp(-xi) + rng.normal(0, 0.01))])
    wb.save(tmp_path / "book.xlsx")
    code, out, err = _run(["batch", str(tmp_path / "book.xlsx"), "--sheet", "all", "--model",
                           "exp_decay", "--json"], capsys)
    assert code == 0, err
    assert [c["id"] for c in json.loads(out)["curves"]] == ["run1:y", "run2:y"]


def test_starts_previous_reaches_the_same_fits(tmp_path, capsys):
    rng = np.random.default_rng(306)
    path = _decays(rng, tmp_path / "d.csv", k=4)
    results = {}
    for starts in ("guess", "previous"):
        code, out, err = _run(["batch", str(path), "--model", "exp_decay", "--starts", starts,
                               "--json"], capsys)
        assert code == 0, err
        results[starts] = [[p["value"] for p in c["parameters"]]
                           for c in json.loads(out)["curves"]]
    np.testing.assert_allclose(results["previous"], results["guess"], rtol=1e-6)


def test_sigma_columns_give_reduced_chi_squared(tmp_path, capsys):
    rng = np.random.default_rng(307)
    path = _decays(rng, tmp_path / "d.csv", k=2, sigma=0.02)
    code, out, err = _run(["batch", str(path), "-y", "c*", "--sigma", "s*", "--model",
                           "exp_decay", "--json"], capsys)
    assert code == 0, err
    for curve in json.loads(out)["curves"]:
        assert curve["statistics"]["reduced_chi_squared"] == pytest.approx(1.0, abs=0.6)


def test_subprocess_stdout_is_json_and_no_bar_on_a_pipe(tmp_path):
    rng = np.random.default_rng(308)
    path = _decays(rng, tmp_path / "d.csv", k=2)
    proc = subprocess.run([sys.executable, "-m", "lsqfit_app", "batch", str(path), "--model",
                           "exp_decay", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_curves"] == 2
    assert proc.stderr == ""


def test_a_failing_curve_fails_alone_and_gives_exit_1(tmp_path, capsys):
    rng = np.random.default_rng(309)
    good = _decays(rng, tmp_path / "good.csv", k=2)
    few = tmp_path / "few.csv"
    few.write_text("t,c0\n1.0,2.0\n2.0,1.0\n")
    code, out, err = _run(["batch", str(good), str(few), "--model", "exp_decay", "--json"],
                          capsys)
    assert code == 1, err
    curves = {c["id"]: c for c in json.loads(out)["curves"]}
    assert curves["few.csv:c0"]["status"] == "failed"
    assert curves["good.csv:c0"]["converged"] and curves["good.csv:c1"]["converged"]
