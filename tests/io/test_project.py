"""Project files: exact round trip, atomic saves, clear refusals that change nothing."""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table
from lsqfit_app.io.project import Project, load_project, project_to_dict, save_project

ODD_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000ABC))[0]


def make_project() -> Project:
    x = np.array([0.1, -0.0, 5e-324, 1.7976931348623157e308, np.nan, np.inf, -np.inf, ODD_NAN])
    t = Table([("x", x, "s"), ("y", np.arange(8.0) / 3.0, "mV")])
    t.add_computed_column("y2", "y*2")
    t.set_mask([1, 4], "outlier")
    t.set_mask([7], "saturated")
    return Project(t, roles={"x": ["x"], "y": "y", "sigma": None}, model="a*exp(-x/tau)+c",
                   parameters=[{"name": "a", "value": 0.1 + 0.2, "min": -np.inf, "max": np.nan,
                                "fixed": False}],
                   solver={"method": "lm", "tol": 1e-12},
                   result={"sse": 1 / 3, "history": [np.inf, 2.5, 1e-300], "covariance": [[1.0]]},
                   metadata={"source": "data.csv"})


def test_round_trip_is_bit_exact(tmp_path):
    p = make_project()
    path = tmp_path / "a.lsqfit"
    save_project(p, path)
    q = load_project(path)
    for name in ("x", "y", "y2"):
        a, b = p.table.column(name).values, q.table.column(name).values
        assert a.view(np.uint64).tolist() == b.view(np.uint64).tolist()
    assert q.table.names == p.table.names and q.table.units == p.table.units
    assert q.table.mask_reasons() == {1: "outlier", 4: "outlier", 7: "saturated"}
    assert q.table.column("y2").formula == "y*2"
    assert q.roles == p.roles and q.model == p.model and q.solver == p.solver
    assert q.parameters[0]["value"] == 0.1 + 0.2
    assert q.parameters[0]["min"] == -np.inf and np.isnan(q.parameters[0]["max"])
    assert q.result["history"][0] == np.inf and q.result["sse"] == 1 / 3
    json.loads(path.read_text(encoding="utf-8"))  # strict JSON: no NaN tokens


def test_text_columns_round_trip(tmp_path):
    t = Table.from_columns(["label", "v"], [np.full(2, np.nan), np.array([1.0, 2.0])],
                           numeric=[False, True], texts=[np.array(["a", "b"]), None])
    save_project(Project(t), tmp_path / "t.lsqfit")
    q = load_project(tmp_path / "t.lsqfit")
    assert q.table.column("label").text.tolist() == ["a", "b"]
    assert not q.table.column("label").numeric


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "a.lsqfit"
    save_project(make_project(), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    # the atomic writer names the file (InputError) instead of a bare OSError
    with pytest.raises(InputError, match="a.lsqfit.*disk full"):
        save_project(Project(Table({"z": [1.0]})), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.lsqfit"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not an lsqfit project"),
    (b"x,y\n1,2\n", "not an lsqfit project"),
    (b'{"hello": 1}', "not an lsqfit project"),
    (b'{"format": "lsqfit-project", "version": 99}', "newer lsqfit-app"),
    (b'{"format": "lsqfit-project", "version": 1, "table": {"rows": 2, "columns": [{"name": "x"}]}}',
     "damaged"),
    (b'{"format": "lsqfit-project", "version": 1, "table": {"rows": 1, "columns": [], '
     b'"masks": [{"row": 5}]}}', "damaged"),
    (b'{"format": "lsqfit-project", "version": 1, "x": NaN}', "corrupted"),
    (b'{"format": "lsqfit-project", "version": 1, "x": [1, 2}', "corrupted"),
])
def test_bad_project_files(tmp_path, content, message):
    path = tmp_path / "bad.lsqfit"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_project(path)
    assert str(path) in str(info.value) and message in str(info.value)
    assert path.read_bytes() == content  # nothing changed


def test_truncated_file(tmp_path):
    path = tmp_path / "a.lsqfit"
    save_project(make_project(), path)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 5):
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match="truncated"):
            load_project(path)


def test_loading_never_executes_code(tmp_path):
    doc = project_to_dict(make_project())
    doc["model"] = "__import__('os').system('touch pwned')"
    doc["table"]["columns"][2]["formula"] = "__import__('os').system('touch pwned')"
    path = tmp_path / "evil.lsqfit"
    path.write_text(json.dumps(doc), encoding="utf-8")
    q = load_project(path)
    assert q.model.startswith("__import__")
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
