"""`lsqfit-app fit PROJECT.lsqfit`: the saved setup refitted, options over the project's."""
import json

import numpy as np
import pytest

from lsqfit_app.cli import main
from lsqfit_app.core.table import Table
from lsqfit_app.io.project import save_project
from lsqfit_app.session.document import Document


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write_data(tmp_path, seed: int):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, 60)
    y = 3.0 * np.exp(-t / 2.5) + 0.5 + rng.normal(0, 0.04, t.size)
    y[[7, 30]] += 2.0                                  # two spikes to mask
    table = Table([("t", t, "s"), ("y", y, "V"), ("s", np.full(t.size, 0.04), "V")])
    csv = tmp_path / "decay.csv"
    lines = ["t,y,s"] + [f"{a!r},{b!r},{c!r}" for a, b, c in
                         zip(t.tolist(), y.tolist(), table.values("s").tolist())]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv, table


def _project(tmp_path, table, *, masks=(), fit_range=None, name="decay.lsqfit"):
    doc = Document(table)
    doc.set_roles("t", "y", "s")
    doc.set_model("a*exp(-t/tau)+c")
    doc.edit_parameter("tau", min=0.1, max=50.0)
    doc.edit_parameter("tau", value=1.0)
    doc.edit_parameter("c", value=0.5)
    doc.edit_parameter("c", fixed=True)
    doc.set_solver(method="trf", max_iterations=400)
    if masks:
        doc.table.set_mask(list(masks), "spike")
    doc.set_fit_range(fit_range)
    path = tmp_path / name
    save_project(doc.to_project(), path)
    return path


def _params(out: str) -> dict:
    return {p["name"]: p["value"] for p in json.loads(out)["parameters"]}


def test_fit_of_a_project_equals_the_data_file_command_with_the_same_options(capsys, tmp_path):
    csv, table = _write_data(tmp_path, 41)
    project = _project(tmp_path, table)
    code, out, err = run(capsys, "fit", project, "--json")
    assert code == 0, err
    from_project = json.loads(out)
    code, out, err = run(capsys, "fit", csv, "-x", "t", "-y", "y", "--sigma", "s",
                         "--model", "a*exp(-t/tau)+c", "--param", "tau=1:0.1:50",
                         "--fix", "c=0.5", "--solver", "trf", "--max-iterations", "400",
                         "--json")
    assert code == 0, err
    from_file = json.loads(out)
    # the same problem, the same solver: the same numbers, bit for bit
    assert _params(json.dumps(from_project)) == _params(json.dumps(from_file))
    assert from_project["statistics"] == from_file["statistics"]
    assert from_project["solver"] == from_file["solver"] == "trf"
    assert from_project["input"]["file"] == str(project)


def test_masks_and_the_fit_range_of_a_project_are_applied(capsys, tmp_path):
    csv, table = _write_data(tmp_path, 42)
    project = _project(tmp_path, table, masks=(7, 30), fit_range=(0.5, 9.0))
    code, out, err = run(capsys, "fit", project, "--json")
    assert code == 0, err
    data = json.loads(out)
    t = table.values("t")
    keep = (t >= 0.5) & (t <= 9.0)
    keep[[7, 30]] = False
    assert data["statistics"]["n_used"] == int(keep.sum())
    # the same fit on only the rows kept, written as a data file
    kept = tmp_path / "kept.csv"
    rows = ["t,y,s"] + [f"{a!r},{b!r},{c!r}" for a, b, c in
                        zip(t[keep].tolist(), table.values("y")[keep].tolist(),
                            table.values("s")[keep].tolist())]
    kept.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "fit", kept, "-x", "t", "-y", "y", "--sigma", "s",
                         "--model", "a*exp(-t/tau)+c", "--param", "tau=1:0.1:50",
                         "--fix", "c=0.5", "--solver", "trf", "--json")
    assert code == 0, err
    expected = _params(out)
    for name, value in _params(json.dumps(data)).items():
        assert value == pytest.approx(expected[name], rel=1e-9)


def test_options_given_override_the_project(capsys, tmp_path):
    csv, table = _write_data(tmp_path, 43)
    project = _project(tmp_path, table)
    # another model, solver and a freed parameter: as the data file command with them
    code, out, err = run(capsys, "fit", project, "--model", "exp_decay",
                         "--solver", "lbfgs", "--json")
    assert code == 0, err
    # the setting of tau, a name both models have, and the iteration limit stay
    code2, out2, err2 = run(capsys, "fit", csv, "-x", "t", "-y", "y", "--sigma", "s",
                            "--model", "exp_decay", "--solver", "lbfgs",
                            "--param", "tau=1:0.1:50", "--max-iterations", "400", "--json")
    assert code2 == 0, err2
    assert _params(out) == _params(out2)
    assert json.loads(out)["solver"] == "lbfgs"
    # a --fix over the project's free parameter, and -y / --sigma of other columns
    code, out, err = run(capsys, "fit", project, "--fix", "tau=2.5", "--json")
    assert code == 0, err
    params = {p["name"]: p for p in json.loads(out)["parameters"]}
    assert params["tau"]["fixed"] and params["tau"]["value"] == 2.5
    assert params["c"]["fixed"] and params["c"]["value"] == 0.5     # kept from the project
    code, out, err = run(capsys, "fit", project, "-y", "log(y)", "--model", "line", "--json")
    assert code == 0, err
    assert json.loads(out)["input"]["columns"]["y"] == "log(y)"


def test_project_refusals_are_usage_errors_naming_the_file(capsys, tmp_path):
    _csv, table = _write_data(tmp_path, 44)
    project = _project(tmp_path, table)
    for argv, words in (
            (["--decimal", ","], "--decimal does not apply"),
            (["--sheet", "2", "--encoding", "utf-8"], "--sheet, --encoding do not apply"),
            (["--param", "tau=500"], "tau: start 500 is outside the bounds"),
            (["--param", "k=1"], "unknown parameter 'k'"),
            (["-x", "nope"], "nope"),
            (["--weights", "poisson"], "either a sigma column or --weights")):
        code, out, err = run(capsys, "fit", project, *argv)
        assert code == 2 and out == "", (argv, err)
        assert words in err and "Traceback" not in err, (argv, err)
    empty = Document(table)
    path = tmp_path / "nomodel.lsqfit"
    save_project(empty.to_project(), path)
    code, out, err = run(capsys, "fit", path)
    assert code == 2 and "has no model; give one with --model" in err and str(path) in err


def test_a_data_file_still_needs_a_model(capsys, tmp_path):
    csv, _table = _write_data(tmp_path, 45)
    code, out, err = run(capsys, "fit", csv)
    assert code == 2 and out == "" and "--model is required for a data file" in err


def test_compare_on_a_project_uses_its_roles_and_masks(capsys, tmp_path):
    _csv, table = _write_data(tmp_path, 46)
    project = _project(tmp_path, table, masks=(7, 30))
    code, out, err = run(capsys, "compare", project, "--model", "exp_decay",
                         "--model", "line", "--json")
    assert code in (0, 1), err
    data = json.loads(out)
    assert {r["model"] for r in data["ranking"]} == {"exp_decay", "line"}
    assert {m["statistics"]["n_used"] for m in data["models"]} == {table.n_rows - 2}


def test_help_says_what_a_project_does(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a .lsqfit project: a project is refitted with its saved roles" in text
    assert "overrides the project's" in text
    assert "Import options do not apply to a project" in text
    with pytest.raises(SystemExit):
        main(["table", "--help"])
    assert "'lsqfit-app fit PROJECT.lsqfit' refits it" in " ".join(
        capsys.readouterr().out.split())
