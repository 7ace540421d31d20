"""End to end: explicit LM on library models, and models that overflow or give
NaN, through ``fit``, ``compare`` and ``--solver all``.

Hostile models must end in a status with a message (exit 1 or 2), valid JSON
on stdout with --json, at most one message on stderr and never a traceback,
and nothing native (LAPACK's "On entry to ...") on either stream; capfd sees
what the C and Fortran libraries write to the file descriptors.
"""
import json

import numpy as np
import pytest

from lsqfit_app.cli import main


def write_csv(path, x, y):
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    return str(path)


def peak_file(tmp_path, seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, 120)
    y = 3 * np.exp(-(x - 5) ** 2 / (2 * 0.8**2)) + 0.2 + rng.normal(0, 0.03, x.size)
    return write_csv(tmp_path / "peak.csv", x, y)


def decay_file(tmp_path, seed, name="decay.csv"):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.1, 5, 40)
    return write_csv(tmp_path / name, x, 2 * np.exp(-x / 1.5) + rng.normal(0, 0.02, x.size))


def negative_file(tmp_path, seed):
    """x and y all negative: log(x) and log(y) are NaN on every row."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-5, -0.1, 30)
    return write_csv(tmp_path / "negative.csv", x, x + rng.normal(0, 0.1, x.size))


def mixed_file(tmp_path, seed):
    """y changes sign: "log(y)" is NaN on the rows where y < 0."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 3, 30)
    return write_csv(tmp_path / "mixed.csv", x, np.exp(x) - 1.5 + rng.normal(0, 0.05, x.size))


def run(capfd, argv):
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def assert_clean(code, out, err, json_wanted, codes=(1, 2)):
    assert code in codes, (code, out[-400:], err[-400:])
    assert "On entry to" not in out and "On entry to" not in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 1, err
    if json_wanted and code != 2:
        data = json.loads(out)                          # valid JSON, nothing else
        return data
    if code == 2:
        assert err.startswith("lsqfit-app "), err      # the one message is ours
    return None


# -- explicit Levenberg-Marquardt -------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cli_lm_fits_a_gaussian_within_its_hints(capfd, tmp_path, seed):
    path = peak_file(tmp_path, seed)
    code, out, err = run(capfd, ["fit", path, "--model", "gaussian+poly0", "--solver", "lm", "--json"])
    assert code == 0, (out[-300:], err)
    data = json.loads(out)
    assert data["solver"] == "lm" and data["converged"]
    auto = run(capfd, ["fit", path, "--model", "gaussian+poly0", "--json"])
    assert json.loads(auto[1])["statistics"]["sse"] == pytest.approx(data["statistics"]["sse"],
                                                                     rel=1e-9)


@pytest.mark.parametrize("model", ["gaussian", "lorentzian", "exp_decay"])
def test_cli_lm_runs_on_peak_and_decay_models(capfd, tmp_path, model):
    path = peak_file(tmp_path, 4) if model != "exp_decay" else decay_file(tmp_path, 4)
    code, out, err = run(capfd, ["fit", path, "--model", model, "--solver", "lm"])
    assert code == 0, (out[-300:], err)
    assert "does not support bounds" not in out + err


def test_cli_lm_refuses_a_bound_the_user_gave_naming_it(capfd, tmp_path):
    path = peak_file(tmp_path, 5)
    code, out, err = run(capfd, ["fit", path, "--model", "gaussian", "--solver", "lm",
                                 "--param", "amplitude=1:0:10"])
    assert code == 2
    assert "'amplitude'" in err and "trf" in err and "sigma" not in err
    assert out == ""


def test_cli_compare_with_lm_runs_library_models(capfd, tmp_path):
    path = peak_file(tmp_path, 6)
    code, out, err = run(capfd, ["compare", path, "--model", "gaussian+poly0",
                                 "--model", "lorentzian+poly0", "--solver", "lm", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert [m["solver"] for m in data["models"]] == ["lm", "lm"]


# -- hostile models -----------------------------------------------------------
#: (data file maker, -y expression or None, model, extra options)
HOSTILE = {
    "overflow-linear": (decay_file, None, "a*exp(1e6*x)", []),
    "overflow-nonlinear": (decay_file, None, "a*exp(1e6*x)+exp(b*x)", []),
    "power-overflow": (decay_file, None, "a*x**1e308", []),
    "power-overflow-nonlinear": (decay_file, None, "a*x**1e308+exp(b*x)", []),
    "division-by-zero": (decay_file, None, "a/(x-x)", []),
    "division-by-zero-nonlinear": (decay_file, None, "a/(x-x)+exp(b*x)", []),
    "log-negative-x": (negative_file, None, "a*log(x)+b", []),
    "log-negative-x-nonlinear": (negative_file, None, "log(x)*exp(b)+a", []),
    "log-negative-y": (negative_file, "log(y)", "a*x+b", []),
    "all-fixed-nan": (negative_file, None, "a*log(x)+b", ["--fix", "a=1", "--fix", "b=2"]),
    "all-fixed-overflow": (decay_file, None, "a*exp(1e6*x)+b", ["--fix", "a=1", "--fix", "b=0"]),
}


def hostile_args(tmp_path, case, seed=7):
    make, y_expr, model, extra = HOSTILE[case]
    path = make(tmp_path, seed)
    args = [path, "--model", model] + extra
    if y_expr:
        args += ["-y", y_expr]
    return args


def assert_failure_explained(result):
    assert not result["converged"]
    text = result["message"]
    assert "NaN or infinite" in text or "not finite" in text or "too few" in text, text
    assert "row" in text, text                     # it says where


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("solver", ["auto", "lm", "trf", "lbfgs", "gradient-descent"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_model_fit_is_a_status(capfd, tmp_path, case, solver, as_json):
    argv = ["fit", *hostile_args(tmp_path, case), "--solver", solver] + (["--json"] if as_json else [])
    code, out, err = run(capfd, argv)
    data = assert_clean(code, out, err, as_json)
    if data is not None:
        assert_failure_explained(data)
        assert data["status"] == "failed"
    elif code == 1:
        assert "NaN or infinite" in out or "not finite" in out


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_model_in_a_race_is_a_status(capfd, tmp_path, case, as_json):
    argv = ["fit", *hostile_args(tmp_path, case), "--solver", "all"] + (["--json"] if as_json else [])
    code, out, err = run(capfd, argv)
    data = assert_clean(code, out, err, as_json)
    if data is not None:
        assert data and all(not r["converged"] for r in data)
        for r in data:
            assert_failure_explained(r)


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_model_in_a_comparison_is_a_status(capfd, tmp_path, case, as_json):
    make, y_expr, model, extra = HOSTILE[case]
    path = make(tmp_path, 8)
    # a second model with the same parameter names (--fix names a and b)
    good = "a*x+b" if "nonlinear" not in case else "a*x+exp(b)"
    argv = (["compare", path, "--model", model, "--model", good] + extra
            + (["-y", y_expr] if y_expr else []) + (["--json"] if as_json else []))
    code, out, err = run(capfd, argv)
    data = assert_clean(code, out, err, as_json)
    if data is not None:
        hostile = data["models"][0]
        assert hostile["label"] == model
        assert_failure_explained(hostile)
        ranked = {row["model"]: row for row in data["ranking"]}
        assert ranked[model]["converged"] is False
        assert ranked[model]["aicc"] is None and ranked[model]["akaike_weight"] == 0
        assert data["ranking"][0]["model"] == good         # a NaN model is never ranked best


@pytest.mark.parametrize("as_json", [True, False])
def test_every_parameter_fixed_on_a_good_model_is_clean(capfd, tmp_path, as_json):
    path = decay_file(tmp_path, 9)
    argv = ["fit", path, "--model", "a*exp(-x/tau)", "--fix", "a=2", "--fix", "tau=1.5"]
    code, out, err = run(capfd, argv + (["--json"] if as_json else []))
    assert_clean(code, out, err, as_json, codes=(0,))
    if as_json:
        data = json.loads(out)
        assert data["converged"] and "every parameter is fixed" in data["message"]
        assert data["statistics"]["sse"] > 0


def test_log_of_partly_negative_y_fits_the_other_rows(capfd, tmp_path):
    path = mixed_file(tmp_path, 10)
    code, out, err = run(capfd, ["fit", path, "-y", "log(y)", "--model", "a*x+b", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert 0 < data["statistics"]["n_used"] < data["statistics"]["n"]
