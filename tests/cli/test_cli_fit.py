"""`lsqfit-app fit`, `models`, `verify` in-process: exit codes, output, messages."""
import json

import numpy as np
import pytest

from lsqfit_app.cli import main
from lsqfit_app.core.resources import resource_path

PEAK = str(resource_path("examples/peak.csv"))
DECAY = str(resource_path("examples/decay.csv"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def line_csv(tmp_path):
    path = tmp_path / "line.csv"
    path.write_text("x,y,s\n1,2,0.1\n2,4,0.1\n3,6,0.1\n4,8,0.1\n")
    return str(path)


def test_textbook_line_json_schema(capsys, line_csv):
    code, out, err = run(capsys, "fit", line_csv, "--model", "a*x+b", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in ("model", "solver", "loss", "converged", "message", "iterations", "evaluations",
                "parameters", "statistics", "covariance", "history"):
        assert key in data
    assert set(data["model"]) >= {"name", "formula"}
    params = {p["name"]: p for p in data["parameters"]}
    assert params["a"]["value"] == pytest.approx(2.0, abs=1e-10)
    assert params["b"]["value"] == pytest.approx(0.0, abs=1e-10)
    for p in data["parameters"]:
        assert set(p) >= {"name", "value", "stderr", "ci95", "fixed", "at_bound"}
    stats = data["statistics"]
    for key in ("n", "n_used", "dof", "sse", "rmse", "residual_sd", "r_squared", "adj_r_squared",
                "chi_squared", "reduced_chi_squared", "aic", "aicc", "bic"):
        assert key in stats
    assert stats["chi_squared"] is None and stats["n"] == 4
    assert data["solver"] == "closed-form" and data["converged"] is True


def test_sigma_column_gives_chi_square(capsys, line_csv):
    code, out, _ = run(capsys, "fit", line_csv, "--model", "line", "--sigma", "s", "--json")
    assert code == 0
    assert json.loads(out)["statistics"]["chi_squared"] == pytest.approx(0.0, abs=1e-12)


def test_library_model_on_the_bundled_example(capsys):
    code, out, _ = run(capsys, "fit", PEAK, "-x", "1", "-y", "2", "--sigma", "3",
                       "--model", "gaussian+line", "--json")
    assert code == 0
    values = {p["name"]: p["value"] for p in json.loads(out)["parameters"]}
    assert values["gaussian_center"] == pytest.approx(497.5, abs=2)


def test_formula_with_column_names_and_no_starts(capsys):
    code, out, _ = run(capsys, "fit", DECAY, "-x", "t", "-y", "signal",
                       "--model", "a*exp(-t/tau)+c", "--json")
    assert code == 0
    values = {p["name"]: p["value"] for p in json.loads(out)["parameters"]}
    assert values["tau"] == pytest.approx(4.2, rel=0.1)


def test_response_expression(capsys, tmp_path):
    path = tmp_path / "exp.csv"
    x = np.linspace(0, 4, 9)
    path.write_text("x,y\n" + "".join(f"{a},{float(3 * np.exp(0.5 * a))!r}\n" for a in x))
    code, out, _ = run(capsys, "fit", str(path), "-y", "log(y)", "--model", "k*x + c", "--json")
    assert code == 0
    values = {p["name"]: p["value"] for p in json.loads(out)["parameters"]}
    assert values["k"] == pytest.approx(0.5, rel=1e-12)
    assert values["c"] == pytest.approx(np.log(3), rel=1e-12)


def test_param_fix_and_bounds(capsys, line_csv):
    code, out, _ = run(capsys, "fit", line_csv, "--model", "a*x+b", "--fix", "b=1",
                       "--param", "a=1:0:10", "--json")
    assert code == 0
    params = {p["name"]: p for p in json.loads(out)["parameters"]}
    assert params["b"]["fixed"] and params["b"]["value"] == 1.0
    assert params["a"]["value"] == pytest.approx(5 / 3, rel=1e-8)   # sum x(y-1) / sum x^2


def test_not_converged_exits_1_and_still_prints(capsys):
    code, out, _ = run(capsys, "fit", DECAY, "--model", "a*exp(-x/tau)+c", "--solver",
                       "gradient-descent", "--max-iterations", "2", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["converged"] is False and data["iterations"] == 2


def test_solver_race_gives_one_result_per_solver(capsys):
    code, out, _ = run(capsys, "fit", DECAY, "--model", "a*exp(-x/tau)+c", "--solver", "all",
                       "--json")
    assert code == 0
    data = json.loads(out)
    assert [d["solver"] for d in data] == ["gradient-descent", "lbfgs", "lm", "trf"]
    sse = [d["statistics"]["sse"] for d in data if d["solver"] in ("lm", "trf")]
    assert sse[0] == pytest.approx(sse[1], rel=1e-9)


def test_robust_loss_option(capsys, line_csv):
    code, out, _ = run(capsys, "fit", line_csv, "--model", "a*x+b", "--loss", "huber", "--json")
    assert code == 0 and json.loads(out)["loss"] == "huber"


@pytest.mark.parametrize("argv, message", [
    (["fit", "/no/such/file.csv", "--model", "line"], "/no/such/file.csv"),
    (["fit", "{line}", "-y", "zz", "--model", "line"], "zz"),
    (["fit", "{line}", "--model", "poly5"], "too few points"),
    (["fit", "{line}", "--model", "a*x+"], "syntax error"),
    (["fit", "{line}", "--model", "a*foo(x)"], "unknown function 'foo'"),
    (["fit", "{line}", "--model", "__import__('os')"], "__import__"),
    (["fit", "{line}", "--model", "a*x.real"], "attribute"),
    (["fit", "{line}", "--model", "(lambda: 1)()*x"], "lambda"),
    (["fit", "{line}", "--model", "a*x[0]"], "indexing"),
    (["fit", "{line}", "--model", "a*x if a else x"], "conditional"),
    (["fit", "{line}", "--model", "[a for a in x]"], "comprehension"),
    (["fit", "{line}", "--model", "'a'*x"], "string"),
    (["fit", "{line}", "--model", "a*x+b", "--param", "a=1:5:0"], "min 5 is greater than max 0"),
    (["fit", "{line}", "--model", "a*x+b", "--param", "a=20:0:10"], "outside its bounds"),
    (["fit", "{line}", "--model", "a*x+b", "--param", "q=1"], "unknown parameter 'q'"),
    (["fit", "{line}", "--model", "a*x+b", "--param", "a"], "NAME=VALUE"),
    (["fit", "{line}", "--model", "a*x+b", "--solver", "closed-form", "--loss", "huber"],
     "closed-form"),
    (["fit", "{zero_sigma}", "--model", "a*x+b", "--sigma", "s"], "rows 2"),
    (["fit", "{inf}", "--model", "a*x+b"], "rows 3"),
    (["fit", "{line}", "--model", "nosuchmodel"], "nosuchmodel"),
])
def test_bad_input_exits_2_with_one_message(capsys, tmp_path, line_csv, argv, message):
    zero = tmp_path / "zero.csv"
    zero.write_text("x,y,s\n1,2,0.1\n2,4,0\n3,6,0.1\n4,8,-1\n")
    inf = tmp_path / "inf.csv"
    inf.write_text("x,y\n1,2\n2,4\n3,inf\n4,8\n")
    argv = [a.format(line=line_csv, zero_sigma=zero, inf=inf) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_models_lists_the_library(capsys):
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    names = {m["name"] for m in json.loads(out)}
    expected = {"line", "exp_decay", "exp_growth", "double_exp_decay", "power_law", "logarithmic",
                "gaussian", "lorentzian", "voigt", "pseudo_voigt", "logistic4", "hill",
                "michaelis_menten", "sine", "damped_sine"} | {f"poly{k}" for k in range(11)}
    assert expected <= names


def test_verify_exits_0(capsys):
    code, out, _ = run(capsys, "verify")
    assert code == 0, out
    assert "65 of 65 runs meet every target" in out


def test_python_dash_m_entry_point():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "lsqfit_app", "models"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "gaussian" in proc.stdout


def test_headers_with_spaces_and_units_get_formula_names(capsys, tmp_path):
    from lsqfit_app.core.table import Table

    table = Table([("Elapsed Time (s)", [1.0, 2.0]), ("2000", [3.0, 4.0]), ("y", [5.0, 6.0])])
    assert table.identifier_names() == {"Elapsed_Time": "Elapsed Time (s)", "c2000": "2000",
                                        "y": "y"}
    path = tmp_path / "t.csv"
    path.write_text("Elapsed Time (s),signal\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n")
    code = main(["fit", str(path), "-x", "Elapsed_Time", "-y", "signal",
                 "--model", "k*Elapsed_Time", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["parameters"][0]["value"] == pytest.approx(1.99, abs=0.05)
