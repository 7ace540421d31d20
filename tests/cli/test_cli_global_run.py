"""``lsqfit-app global`` end to end: the JSON of DESIGN.md 4.4 and exit codes."""
import json

import numpy as np
import pytest

pytest.importorskip("lsqfit_app.batch.global_fit")

from lsqfit_app.cli import main  # noqa: E402
from lsqfit_app.io import read_table  # noqa: E402


def _kinetics(rng, path, tau=1.7, k=3, n=50):
    x = np.linspace(0.0, 10.0, n)
    amps = 2.0 + np.arange(k)
    lines = ["t," + ",".join(f"conc{j}" for j in range(k))]
    ys = [a * np.exp(-x / tau) + 0.1 * j + rng.normal(0, 0.01, n) for j, a in enumerate(amps)]
    lines += [",".join([repr(float(x[i]))] + [repr(float(y[i])) for y in ys]) for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, amps


def test_global_json_marks_shared_and_per_curve_parameters(tmp_path, capsys):
    rng = np.random.default_rng(401)
    path, amps = _kinetics(rng, tmp_path / "k.csv")
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    ids = ["conc0", "conc1", "conc2"]
    assert data["curves"] == ids
    assert [c["id"] for c in data["per_curve"]] == ids
    for c in data["per_curve"]:
        assert c["n_used"] == 50 and c["sse"] >= 0
    for key in ("model", "converged", "message", "iterations", "parameters", "statistics",
                "covariance"):
        assert key in data
    shared = [p for p in data["parameters"] if p["curve"] is None]
    assert [p["name"] for p in shared] == ["tau"]
    assert shared[0]["value"] == pytest.approx(1.7, rel=0.01)
    local = [p for p in data["parameters"] if p["curve"] is not None]
    assert sorted({p["curve"] for p in local}) == ids
    assert len(local) == 2 * 3
    got = {p["curve"]: p["value"] for p in local if p["name"] == "amplitude"}
    np.testing.assert_allclose([got[i] for i in ids], amps, rtol=0.02)
    n_free = len(data["parameters"])
    assert np.array(data["covariance"]).shape == (n_free, n_free)


def test_global_out_csv_repeats_the_shared_value(tmp_path, capsys):
    rng = np.random.default_rng(402)
    path, _ = _kinetics(rng, tmp_path / "k.csv")
    out_path = tmp_path / "g.csv"
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau", "--out",
                 str(out_path)])
    assert code == 0, capsys.readouterr().err
    table = read_table(out_path).table
    assert table.names[:2] == ["id", "status"]
    taus = table.column("tau").values
    assert np.all(taus == taus[0])


def test_global_not_converged_is_exit_1(tmp_path, capsys):
    rng = np.random.default_rng(403)
    path, _ = _kinetics(rng, tmp_path / "k.csv")
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau",
                 "--param", "tau=80", "--max-iterations", "1", "--json"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["converged"] is False


def test_a_fixed_parameter_is_one_entry_and_the_text_says_fixed(tmp_path, capsys):
    rng = np.random.default_rng(404)
    path, _ = _kinetics(rng, tmp_path / "k.csv")
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau",
                 "--fix", "offset=0.1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    offsets = [p for p in json.loads(out)["parameters"] if p["name"] == "offset"]
    assert len(offsets) == 1 and offsets[0]["fixed"] and offsets[0]["curve"] is None
    assert offsets[0]["value"] == 0.1
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau",
                 "--fix", "offset=0.1"])
    text = capsys.readouterr().out
    assert code == 0
    assert any(line.split()[:2] == ["offset", "fixed"] for line in text.splitlines())
    assert any(line.split()[:2] == ["tau", "shared"] for line in text.splitlines())


def test_compare_adds_the_f_test_against_separate_fits(tmp_path, capsys):
    pytest.importorskip("lsqfit_app.batch.engine")
    rng = np.random.default_rng(405)
    path, _ = _kinetics(rng, tmp_path / "k.csv")
    code = main(["global", str(path), "--model", "exp_decay", "--share", "tau", "--compare",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    comparison = json.loads(out)["comparison"]
    # one shared tau instead of three: 2 degrees of freedom in the numerator
    assert comparison["df_numerator"] == 2
    # the curves do share tau, so the F test should not reject sharing
    assert comparison["f_test_prefers"] == "global"
