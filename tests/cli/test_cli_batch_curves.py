"""INPUT files to curves for ``lsqfit-app batch`` / ``global`` (DESIGN.md 4.4)."""
from types import SimpleNamespace

import numpy as np
import pytest

from lsqfit_app.cli import main
from lsqfit_app.cli.curves import group_label, is_image_stack, load_curves
from lsqfit_app.core.errors import InputError


def _args(inputs, **kw):
    base = dict(x=None, y=None, sigma=None, by=None, sheet=None, delimiter=None, decimal=None,
                thousands=None, header_rows=None, skip_rows=None, encoding=None)
    base.update(kw)
    return SimpleNamespace(inputs=[str(p) for p in inputs], **base)


def _write_csv(path, columns: dict, delimiter=",", decimal="."):
    names = list(columns)
    n = len(next(iter(columns.values())))
    lines = [delimiter.join(names)]
    for i in range(n):
        cells = []
        for name in names:
            v = columns[name][i]
            if isinstance(v, str):
                cells.append(v)
            elif v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("")
            else:
                cells.append(repr(float(v)).replace(".", decimal))
        lines.append(delimiter.join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _wide(rng, n=20, k=3):
    x = np.linspace(0.0, 5.0, n)
    cols = {"t": x}
    for j in range(k):
        cols[f"y{j + 1}"] = 2.0 * x + j + rng.normal(0, 0.1, n)
    return cols


def test_default_y_is_every_numeric_column_but_x_and_sigma(tmp_path):
    rng = np.random.default_rng(101)
    cols = _wide(rng)
    cols["err"] = np.full(20, 0.1)
    cols["label"] = ["a"] * 20
    path = _write_csv(tmp_path / "w.csv", cols)
    got = load_curves(_args([path], sigma=["err"]), "line")
    assert [c.id for c in got.curves] == ["y1", "y2", "y3"]
    for c in got.curves:
        np.testing.assert_allclose(c.x, cols["t"])
        np.testing.assert_allclose(c.y, cols[c.id])
        np.testing.assert_allclose(c.sigma, 0.1)
        assert c.source == str(path)


def test_y_by_name_number_and_pattern_in_the_order_given(tmp_path):
    rng = np.random.default_rng(102)
    cols = _wide(rng, k=4)
    path = _write_csv(tmp_path / "w.csv", cols)
    got = load_curves(_args([path], y=["y4", "2", "y[34]"]), "line")
    # y4 once, column 2 is y1, the pattern adds y3 (y4 is already taken)
    assert [c.id for c in got.curves] == ["y4", "y1", "y3"]


def _with_sigmas(tmp_path, seed, k):
    cols = _wide(np.random.default_rng(seed), k=k)
    cols["s1"] = np.full(20, 0.1)
    cols["s2"] = np.full(20, 0.3)
    return _write_csv(tmp_path / "w.csv", cols)


def test_sigma_patterns_pair_with_y_in_order(tmp_path):
    path = _with_sigmas(tmp_path, 103, k=2)
    got = load_curves(_args([path], x="t", y=["y*"], sigma=["s*"]), "line")
    assert [c.id for c in got.curves] == ["y1", "y2"]
    assert got.curves[0].sigma[0] == pytest.approx(0.1)
    assert got.curves[1].sigma[0] == pytest.approx(0.3)


def test_sigma_count_must_match_y(tmp_path):
    path = _with_sigmas(tmp_path, 104, k=3)
    with pytest.raises(InputError, match=r"3 y columns .* 2 sigma columns"):
        load_curves(_args([path], y=["y*"], sigma=["s*"]), "line")


def test_several_files_give_file_colon_column_ids(tmp_path):
    rng = np.random.default_rng(105)
    a = _write_csv(tmp_path / "a.csv", _wide(rng, k=2))
    b = _write_csv(tmp_path / "b.csv", _wide(rng, k=2))
    got = load_curves(_args([a, b]), "line")
    assert [c.id for c in got.curves] == ["a.csv:y1", "a.csv:y2", "b.csv:y1", "b.csv:y2"]
    assert [c.source for c in got.curves] == [str(a)] * 2 + [str(b)] * 2


def test_several_files_with_one_base_name_use_the_paths(tmp_path):
    rng = np.random.default_rng(106)
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    a = _write_csv(tmp_path / "d1" / "run.csv", _wide(rng, k=1))
    b = _write_csv(tmp_path / "d2" / "run.csv", _wide(rng, k=1))
    got = load_curves(_args([a, b]), "line")
    assert [c.id for c in got.curves] == [f"{a}:y1", f"{b}:y1"]


def test_the_same_file_twice_is_refused(tmp_path):
    rng = np.random.default_rng(107)
    a = _write_csv(tmp_path / "a.csv", _wide(rng, k=1))
    with pytest.raises(InputError, match="given twice"):
        load_curves(_args([a, tmp_path / "." / "a.csv"]), "line")


def test_by_makes_one_curve_per_value_in_order_of_appearance(tmp_path):
    rng = np.random.default_rng(108)
    temps = [300.0, 300.0, 300.0, 25.0, 25.0, 25.0, 0.5, 0.5, 0.5]
    x = [1.0, 2.0, 3.0] * 3
    y = list(rng.normal(size=9))
    path = _write_csv(tmp_path / "long.csv", {"T": temps, "x": x, "y": y})
    got = load_curves(_args([path], x="x", by="T"), "line")
    assert [c.id for c in got.curves] == ["300", "25", "0.5"]
    np.testing.assert_allclose(got.curves[1].y, y[3:6])
    np.testing.assert_allclose(got.curves[2].x, [1.0, 2.0, 3.0])


def test_by_a_text_column_skips_rows_without_a_value(tmp_path):
    rng = np.random.default_rng(109)
    y = list(rng.normal(size=6))
    path = _write_csv(tmp_path / "long.csv", {
        "sample": ["B", "A", "B", "", "A", "B"], "x": [1.0, 1.0, 2.0, 9.0, 2.0, 3.0], "y": y})
    got = load_curves(_args([path], x="x", y=["y"], by="sample"), "line")
    assert [c.id for c in got.curves] == ["B", "A"]
    np.testing.assert_allclose(got.curves[0].y, [y[0], y[2], y[5]])
    np.testing.assert_allclose(got.curves[1].x, [1.0, 2.0])


def test_by_with_several_y_columns_gives_value_colon_column(tmp_path):
    rng = np.random.default_rng(110)
    path = _write_csv(tmp_path / "long.csv", {
        "g": ["p", "p", "q", "q"], "x": [1.0, 2.0, 1.0, 2.0],
        "u": list(rng.normal(size=4)), "v": list(rng.normal(size=4))})
    got = load_curves(_args([path], x="x", by="g"), "line")
    assert [c.id for c in got.curves] == ["p:u", "p:v", "q:u", "q:v"]


def test_group_labels_read_like_the_file():
    assert group_label(25.0) == "25"
    assert group_label(-3.0) == "-3"
    assert group_label(0.5) == "0.5"
    assert group_label(1e-7) == "1e-07"


def _workbook(path, sheets: dict):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cols in sheets.items():
        ws = wb.create_sheet(name)
        if cols is None:
            ws.append(["notes only"])
            continue
        ws.append(list(cols))
        for row in zip(*cols.values()):
            ws.append([float(v) for v in row])
    wb.save(path)
    return path


def test_sheet_all_reads_every_sheet_with_a_table(tmp_path, capsys):
    rng = np.random.default_rng(111)
    path = _workbook(tmp_path / "book.xlsx", {
        "day1": _wide(rng, k=2), "notes": None, "day2": _wide(rng, k=2)})
    got = load_curves(_args([path], sheet="all"), "line")
    assert [c.id for c in got.curves] == ["day1:y1", "day1:y2", "day2:y1", "day2:y2"]
    assert "notes" in capsys.readouterr().err


def test_sheet_all_with_several_files_gives_file_sheet_column(tmp_path):
    rng = np.random.default_rng(112)
    a = _workbook(tmp_path / "a.xlsx", {"s1": _wide(rng, k=1), "s2": _wide(rng, k=1)})
    b = _write_csv(tmp_path / "b.csv", _wide(rng, k=1))
    got = load_curves(_args([a, b], sheet="all"), "line")
    assert [c.id for c in got.curves] == ["a.xlsx:s1:y1", "a.xlsx:s2:y1", "b.csv:y1"]


def test_one_sheet_by_name(tmp_path):
    rng = np.random.default_rng(113)
    second = _wide(rng, k=1)
    path = _workbook(tmp_path / "book.xlsx", {"a": _wide(rng, k=2), "b": second})
    got = load_curves(_args([path], sheet="b"), "line")
    assert [c.id for c in got.curves] == ["y1"]
    np.testing.assert_allclose(got.curves[0].y, second["y1"])


def test_import_options_apply_to_every_file(tmp_path):
    rng = np.random.default_rng(114)
    cols = _wide(rng, k=1)
    a = _write_csv(tmp_path / "a.txt", cols, delimiter=";", decimal=",")
    b = _write_csv(tmp_path / "b.txt", cols, delimiter=";", decimal=",")
    got = load_curves(_args([a, b], delimiter="semicolon", decimal="comma"), "line")
    assert len(got.curves) == 2
    np.testing.assert_allclose(got.curves[1].y, cols["y1"])


def test_masks_of_a_project_leave_rows_out(tmp_path):
    from lsqfit_app.core.table import Table
    from lsqfit_app.io.project import Project, save_project

    rng = np.random.default_rng(115)
    cols = _wide(rng, k=2)
    table = Table(cols)
    table.set_mask([3, 7], "spike")
    path = tmp_path / "p.lsqfit"
    save_project(Project(table=table), path)
    got = load_curves(_args([path]), "line")
    assert [c.id for c in got.curves] == ["y1", "y2"]
    for c in got.curves:
        assert np.flatnonzero(c.excluded).tolist() == [3, 7]


def test_a_formula_gets_its_predictor_name(tmp_path):
    rng = np.random.default_rng(116)
    path = _write_csv(tmp_path / "w.csv", _wide(rng, k=1))
    got = load_curves(_args([path], x="t"), "a*exp(-t/tau)+c")
    assert got.model.independent_vars == ("t",)
    assert got.curves[0].x.shape == (20,)


def test_a_formula_naming_a_column_that_is_no_predictor_is_refused(tmp_path):
    rng = np.random.default_rng(117)
    path = _write_csv(tmp_path / "w.csv", _wide(rng, k=2))
    with pytest.raises(InputError, match=r"w\.csv.*y2"):
        load_curves(_args([path], y=["y1"]), "a*x + y2")


@pytest.mark.parametrize("kw, words", [
    ({"y": ["nope"]}, ["w.csv", "-y 'nope'", "available columns"]),
    ({"y": ["z*"]}, ["w.csv", "'z*' matches no", "y1"]),
    ({"x": "time"}, ["w.csv", "-x 'time'"]),
    ({"sigma": ["nope"]}, ["w.csv", "--sigma 'nope'"]),
    ({"by": "nope"}, ["w.csv", "--by 'nope'"]),
    ({"y": ["t"]}, ["w.csv", "'t'", "x (-x)"]),
    ({"y": ["label"]}, ["w.csv", "'label'", "text"]),
])
def test_bad_columns_name_the_file_and_column(tmp_path, kw, words):
    rng = np.random.default_rng(118)
    cols = _wide(rng, k=2)
    cols["label"] = ["a"] * 20
    path = _write_csv(tmp_path / "w.csv", cols)
    with pytest.raises(InputError) as info:
        load_curves(_args([path], **kw), "line")
    for word in words:
        assert word in str(info.value)


def test_an_empty_column_is_named(tmp_path):
    rng = np.random.default_rng(119)
    cols = _wide(rng, k=2)
    cols["y2"] = [np.nan] * 20
    path = _write_csv(tmp_path / "w.csv", cols)
    with pytest.raises(InputError, match=r"w\.csv.*-y 'y2'.*empty"):
        load_curves(_args([path], y=["y1", "y2"]), "line")


def test_a_curve_without_a_usable_row_is_named(tmp_path):
    rng = np.random.default_rng(124)
    cols = _wide(rng, k=2)
    cols["t"] = np.where(np.arange(20) < 10, np.nan, cols["t"])
    cols["y2"] = np.where(np.arange(20) < 10, cols["y2"], np.nan)
    path = _write_csv(tmp_path / "w.csv", cols)
    with pytest.raises(InputError, match=r"w\.csv.*curve 'y2'.*empty.*x \('t'\)"):
        load_curves(_args([path], y=["y1", "y2"]), "line")


def test_an_empty_group_in_a_second_file_names_that_file(tmp_path):
    rng = np.random.default_rng(120)
    a = _write_csv(tmp_path / "a.csv", {"g": [1.0, 1.0], "x": [1.0, 2.0],
                                        "y": list(rng.normal(size=2))})
    b = _write_csv(tmp_path / "b.csv", {"g": [1.0, 2.0], "x": [1.0, 2.0],
                                        "y": [1.0, np.nan]})
    with pytest.raises(InputError) as info:
        load_curves(_args([a, b], x="x", y=["y"], by="g"), "line")
    assert "b.csv" in str(info.value) and "g = '2'" in str(info.value)


@pytest.mark.parametrize("path", ["s.tif", "s.TIFF", "s.npy", "s.zarr", "s.zarr/", "f.h5:/data"])
def test_image_stacks_are_recognised(path):
    assert is_image_stack(path)


@pytest.mark.parametrize("command", ["batch", "global"])
def test_cli_refuses_an_image_stack_with_exit_2(tmp_path, capsys, command):
    extra = ["--share", "slope"] if command == "global" else []
    code = main([command, str(tmp_path / "stack.tif"), "--model", "line", *extra])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "image stacks" in err and "not supported yet" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, words", [
    (["-y", "zz*"], ["'zz*' matches no"]),
    (["--solver", "trf"], ["--solver trf", "lsqfit-app fit"]),
    (["--loss", "huber"], ["--loss huber"]),
    (["--param", "bogus=1"], ["bogus", "slope", "intercept"]),
    (["--out", "res.txt"], ["--out", ".csv, .xlsx, .json"]),
    (["--out", "maps.zarr"], ["image stacks"]),
    (["--weights", "poisson", "--sigma", "y2"], ["--sigma", "--weights"]),
    (["--max-iterations", "0"], ["--max-iterations"]),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, words):
    rng = np.random.default_rng(121)
    path = _write_csv(tmp_path / "w.csv", _wide(rng, k=2))
    monkeypatch.chdir(tmp_path)
    code = main(["batch", str(path), "--model", "line", "-y", "y1", *argv]
                if "-y" not in argv else ["batch", str(path), "--model", "line", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err
    assert "Traceback" not in err


def test_cli_global_unknown_shared_name_lists_the_parameters(tmp_path, capsys):
    rng = np.random.default_rng(122)
    path = _write_csv(tmp_path / "w.csv", _wide(rng, k=2))
    code = main(["global", str(path), "--model", "line", "--share", "slope,tau"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'tau'" in err and "slope" in err and "intercept" in err


def test_cli_global_report_is_refused_before_any_fit(tmp_path, capsys):
    rng = np.random.default_rng(123)
    path = _write_csv(tmp_path / "w.csv", _wide(rng, k=2))
    code = main(["global", str(path), "--model", "line", "--share", "slope",
                 "--report", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and "--report" in err and "not available" in err
    assert not (tmp_path / "r.html").exists()
