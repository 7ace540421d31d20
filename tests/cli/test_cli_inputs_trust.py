"""What the fit commands refuse about their inputs and outputs, and what --help promises.

- no output may replace the input or another output, under any spelling;
- a response must use a column, a predictor must be one;
- a formula name that is a column but not a predictor, the response or the
  sigma column is refused with a message saying which names are which;
- a project file given to fit/table says it is a project;
- the conventions in --help (CI distribution, weights, AIC's k) are what the
  code computes.
"""
import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from lsqfit_app.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write_csv(path, cols):
    names = list(cols)
    n = len(cols[names[0]])
    lines = [",".join(names)] + [",".join(repr(float(cols[k][i])) for k in names)
                                 for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return cols


def _write_line_data(path, seed, extra=None):
    rng = np.random.default_rng(seed)
    x = np.linspace(1.0, 10.0, 12)
    y = 2.0 * x + 1.0 + rng.normal(0, 0.3, x.size)
    return _write_csv(path, {"x": x, "y": y, **(extra or {})})


def _bad(code, out, err):
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- outputs

SPELLINGS = ["same", "dot", "absolute", "parent", "symlink", "hardlink"]
OUTPUTS = ["--export-fit", "--script", "--report"]


def _spelling(tmp_path, data, how):
    if how == "same":
        return "data.csv"
    if how == "dot":
        return "./data.csv"
    if how == "absolute":
        return str(data)
    if how == "parent":
        return os.path.join("..", tmp_path.name, "data.csv")
    if how == "symlink":
        link = tmp_path / "link.csv"
        link.symlink_to(data)
        return "link.csv"
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    return "hard.csv"


@pytest.mark.parametrize("option", OUTPUTS)
@pytest.mark.parametrize("how", SPELLINGS)
def test_an_output_onto_the_input_is_refused(capsys, tmp_path, monkeypatch, option, how):
    data = tmp_path / "data.csv"
    _write_line_data(data, 1)
    before = data.read_bytes()
    monkeypatch.chdir(tmp_path)
    target = _spelling(tmp_path, data, how)
    code, out, err = run(capsys, "fit", "data.csv", "--model", "a*x+b", option, target)
    _bad(code, out, err)
    assert option in err and target in err and "'data.csv'" in err and "input" in err
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        {"data.csv", target if how in ("symlink", "hardlink") else "data.csv"})


def test_compare_refuses_a_report_onto_its_input(capsys, tmp_path, monkeypatch):
    data = tmp_path / "data.csv"
    _write_line_data(data, 2)
    before = data.read_bytes()
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "compare", "./data.csv", "--model", "line", "--model", "poly2",
                         "--report", str(data))
    _bad(code, out, err)
    assert "--report" in err and "input" in err
    assert data.read_bytes() == before


@pytest.mark.parametrize("first, second", [("--report", "--script"), ("--script", "--report")])
def test_two_outputs_onto_one_file_are_refused(capsys, tmp_path, monkeypatch, first, second):
    _write_line_data(tmp_path / "data.csv", 3)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "fit", "data.csv", "--model", "line", first, "fit.md",
                         second, "./fit.md")
    _bad(code, out, err)
    assert first in err and second in err and "same file" in err
    assert not (tmp_path / "fit.md").exists()


@pytest.mark.parametrize("command, option", [("fit", o) for o in OUTPUTS]
                         + [("compare", "--report")])
def test_an_empty_output_path_is_an_error(capsys, tmp_path, command, option):
    data = tmp_path / "data.csv"
    _write_line_data(data, 4)
    models = ["--model", "line"] + (["--model", "poly2"] if command == "compare" else [])
    code, out, err = run(capsys, command, data, *models, option, "")
    _bad(code, out, err)
    assert option in err and "empty" in err


def test_a_folder_as_output_is_refused_before_fitting(capsys, tmp_path):
    data = tmp_path / "data.csv"
    _write_line_data(data, 5)
    code, out, err = run(capsys, "fit", data, "--model", "line", "--report", tmp_path)
    _bad(code, out, err)
    assert "folder" in err


def test_distinct_outputs_are_written(capsys, tmp_path):
    data = tmp_path / "data.csv"
    _write_line_data(data, 6)
    before = data.read_bytes()
    code, _, err = run(capsys, "fit", data, "--model", "a*x+b", "--export-fit",
                       tmp_path / "fit.csv", "--script", tmp_path / "fit.py",
                       "--report", tmp_path / "fit.md")
    assert code == 0, err
    for name in ("fit.csv", "fit.py", "fit.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert data.read_bytes() == before


# ---------------------------------------------------------------- -x and -y

@pytest.mark.parametrize("response", ["-1", "2*3", "pi", "exp(1)"])
def test_a_response_without_a_column_is_refused(capsys, tmp_path, response):
    data = tmp_path / "data.csv"
    _write_line_data(data, 7)
    code, out, err = run(capsys, "fit", data, "-y", response, "--model", "k*x+b")
    _bad(code, out, err)
    assert f"-y {response!r}" in err or repr(response) in err
    if response != "pi":   # "pi" reads as a (missing) column name
        assert "uses no column" in err


@pytest.mark.parametrize("predictor", ["-1", "log(x)", "0", "x*2"])
def test_a_predictor_must_be_a_column(capsys, tmp_path, predictor):
    data = tmp_path / "data.csv"
    _write_line_data(data, 8)
    code, out, err = run(capsys, "fit", data, "-x", predictor, "--model", "k*x+b")
    _bad(code, out, err)
    assert repr(predictor) in err or f"column {predictor}" in err


def test_a_column_both_x_and_y_is_refused(capsys, tmp_path):
    data = tmp_path / "data.csv"
    _write_line_data(data, 9)
    code, out, err = run(capsys, "fit", data, "-x", "y", "-y", "y", "--model", "line")
    _bad(code, out, err)
    assert "'y'" in err and "both" in err


# ---------------------------------------------------------------- names in formulas

def test_a_parameter_named_like_a_column_is_refused_with_the_roles(capsys, tmp_path):
    rng = np.random.default_rng(10)
    data = tmp_path / "data.csv"
    # a "b" column far from any intercept: taken as data it gave R^2 = -988
    _write_line_data(data, 10, {"b": rng.uniform(500, 900, 12)})
    for extra in ([], ["-x", "x"]):
        code, out, err = run(capsys, "fit", data, *extra, "--model", "a*x+b")
        _bad(code, out, err)
        assert "'b'" in err and "columns: x" in err and "parameters: a" in err
        assert "-x x b" in err


def test_a_column_named_as_predictor_is_used_as_data(capsys, tmp_path):
    rng = np.random.default_rng(11)
    data = tmp_path / "data.csv"
    offset = rng.uniform(-1, 1, 12)
    cols = _write_line_data(data, 11, {"b": offset})
    code, out, err = run(capsys, "fit", data, "-x", "x", "b", "--model", "a*x+b", "--json")
    assert code == 0, err
    params = json.loads(out)["parameters"]
    assert [p["name"] for p in params] == ["a"]
    expected, *_ = np.linalg.lstsq(cols["x"][:, None], cols["y"] - offset, rcond=None)
    assert params[0]["value"] == pytest.approx(expected[0], rel=1e-10)


@pytest.mark.parametrize("response, formula", [("y", "y*x + c"), ("log(y)", "k*x + y"),
                                               ("2", "k*x + y")])
def test_the_response_column_in_a_formula_is_refused(capsys, tmp_path, response, formula):
    data = tmp_path / "data.csv"
    _write_line_data(data, 12)
    code, out, err = run(capsys, "fit", data, "-y", response, "--model", formula)
    _bad(code, out, err)
    assert "'y'" in err and "response" in err


def test_the_sigma_column_in_a_formula_is_refused(capsys, tmp_path):
    data = tmp_path / "data.csv"
    _write_line_data(data, 13, {"s": np.full(12, 0.3)})
    code, out, err = run(capsys, "fit", data, "--sigma", "s", "--model", "k*x + s")
    _bad(code, out, err)
    assert "'s'" in err and "sigma" in err


def test_x_is_a_column_of_its_own_when_the_table_has_one(capsys, tmp_path):
    rng = np.random.default_rng(14)
    t = np.linspace(0, 5, 12)
    path = tmp_path / "data.csv"
    x = rng.uniform(0, 1, 12)
    y = 3 * t + rng.normal(0, 0.1, 12)
    _write_csv(path, {"t": t, "y": y, "x": x})
    code, out, err = run(capsys, "fit", path, "-x", "t", "-y", "y", "--model", "k*x")
    _bad(code, out, err)
    assert "'x'" in err and "-x t x" in err
    code, out, err = run(capsys, "fit", path, "-x", "t", "-y", "y", "--model", "k*t", "--json")
    assert code == 0, err


def test_a_column_called_e_is_not_taken_for_the_constant(capsys, tmp_path):
    rng = np.random.default_rng(15)
    e = np.linspace(1, 4, 10)
    y = 2 * e + rng.normal(0, 0.1, 10)
    path = tmp_path / "data.csv"
    _write_csv(path, {"e": e, "y": y})
    code, out, err = run(capsys, "fit", path, "-x", "e", "-y", "y", "--model", "a*e+b")
    _bad(code, out, err)
    assert "constant" in err and "'e'" in err
    code, out, err = run(capsys, "fit", path, "-x", "e", "-y", "y", "--model", "a*x+b")
    assert code == 0, err


def test_formula_names_offer_x_only_when_no_column_is_called_x():
    from lsqfit_app.core.table import Table
    from lsqfit_app.session.roles import formula_names

    assert formula_names(Table([("t (s)", [1.0]), ("y", [2.0])]), ["t (s)"]) == ("t", "x")
    assert formula_names(Table([("t", [1.0]), ("x", [2.0])]), ["t"]) == ("t",)
    assert formula_names(Table([("t", [1.0]), ("x", [2.0])]), ["t", "x"]) == ("t", "x")


# ---------------------------------------------------------------- projects

def test_table_on_a_project_says_it_is_a_project_and_fit_refits_it(capsys, tmp_path):
    from lsqfit_app.core.table import Table
    from lsqfit_app.io.project import Project, save_project

    rng = np.random.default_rng(16)
    table = Table([("x", np.arange(5.0)), ("y", rng.normal(size=5))])
    project = tmp_path / "work.lsqfit"
    save_project(Project(table=table, roles={"x": ["x"], "y": "y", "sigma": None},
                         model="line"), project)
    renamed = tmp_path / "work.json"
    renamed.write_bytes(project.read_bytes())
    for path in (project, renamed):
        code, out, err = run(capsys, "table", path)
        _bad(code, out, err)
        assert "project" in err and str(path) in err
        # a renamed project is still known by its content, and refitted
        code, out, err = run(capsys, "fit", path, "--json")
        assert code == 0, err
        assert json.loads(out)["model"]["name"] == "line"


# ---------------------------------------------------------------- conventions

def test_help_states_the_conventions(capsys):
    for command in ("fit", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for phrase in ("k = rank + 1", "Burnham & Anderson", "AIC(lm)",
                       "sqrt(max(y_i, 1))", "proportional to |y_i|", "Student's t quantile",
                       "the normal 1.959964",
                       "-2 log L = n log(2 pi SSE/n) + n", "never replaces the data file",
                       "not a predictor is refused"):
            assert phrase in text, (command, phrase)


def _fit_json(capsys, path, *options):
    code, out, err = run(capsys, "fit", path, "--model", "a*x+b", "--json", *options)
    assert code == 0, err
    return json.loads(out)


def _wls(x, y, sigma, scaled):
    """Independent weighted least squares of y = a*x + b: (values, stderr, sse)."""
    J = np.column_stack([x, np.ones_like(x)]) / sigma[:, None]
    r = y / sigma
    coef, *_ = np.linalg.lstsq(J, r, rcond=None)
    sse = float(np.sum((r - J @ coef) ** 2))
    cov = np.linalg.inv(J.T @ J) * (sse / (x.size - 2) if scaled else 1.0)
    return coef, np.sqrt(np.diag(cov)), sse


@pytest.mark.parametrize("weights", ["poisson", "relative"])
def test_weights_are_what_help_says(capsys, tmp_path, weights):
    rng = np.random.default_rng(17)
    x = np.arange(12.0)
    y = rng.poisson(3 + 4 * x).astype(float)
    y[0] = 0.5 if weights == "poisson" else y[0]   # below 1: poisson uses max(y, 1)
    path = tmp_path / "counts.csv"
    _write_csv(path, {"x": x, "y": y})
    data = _fit_json(capsys, path, "--weights", weights)
    sigma = np.sqrt(np.maximum(y, 1.0)) if weights == "poisson" else np.abs(y)
    coef, se, sse = _wls(x, y, sigma, scaled=weights == "relative")
    got = {p["name"]: p for p in data["parameters"]}
    assert [got["a"]["value"], got["b"]["value"]] == pytest.approx(coef, rel=1e-9)
    assert [got["a"]["stderr"], got["b"]["stderr"]] == pytest.approx(se, rel=1e-7)
    stats_ = data["statistics"]
    if weights == "poisson":
        assert stats_["chi_squared"] == pytest.approx(sse, rel=1e-9)
    else:
        assert stats_["chi_squared"] is None


def test_intervals_use_t_when_sigma_is_estimated_and_normal_when_absolute(capsys, tmp_path):
    rng = np.random.default_rng(18)
    x = np.linspace(0, 1, 7)
    s = rng.uniform(0.05, 0.2, 7)
    y = 1.5 * x - 0.2 + rng.normal(0, s)
    path = tmp_path / "data.csv"
    _write_csv(path, {"x": x, "y": y, "s": s})
    # what --help says: Student's t with dof = 7 - 2 when sigma is estimated,
    # the normal quantile when it is absolute
    for options, q in (([], stats.t.ppf(0.975, 5)), (["--sigma", "s"], stats.norm.ppf(0.975))):
        data = _fit_json(capsys, path, *options)
        for p in data["parameters"]:
            half = (p["ci95"][1] - p["ci95"][0]) / 2
            assert half / p["stderr"] == pytest.approx(q, rel=1e-9), options


def test_information_criteria_count_the_variance_as_a_parameter(capsys, tmp_path):
    path = tmp_path / "data.csv"
    cols = _write_line_data(path, 19)
    data = _fit_json(capsys, path)
    n, k = 12, 3
    _, _, sse = _wls(cols["x"], cols["y"], np.ones(12), scaled=True)
    m2ll = n * math.log(2 * math.pi * sse / n) + n
    st = data["statistics"]
    assert st["aic"] == pytest.approx(m2ll + 2 * k, rel=1e-9)
    assert st["aicc"] == pytest.approx(m2ll + 2 * k + 2 * k * (k + 1) / (n - k - 1), rel=1e-9)
    assert st["bic"] == pytest.approx(m2ll + k * math.log(n), rel=1e-9)
