"""The 40 real files of ../shared/corpus read as MANIFEST.json expects, with no options.

The corpus lives beside the checkout (CI lays ``shared/`` next to the repo);
these tests skip with a reason when it is absent.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lsqfit_app.io import read_table

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
MANIFEST = CORPUS / "MANIFEST.json"

if MANIFEST.exists():
    ENTRIES = json.loads(MANIFEST.read_text(encoding="utf-8"))
else:  # pragma: no cover - depends on the checkout
    ENTRIES = []

pytestmark = pytest.mark.skipif(not MANIFEST.exists(),
                                reason=f"corpus not found at {CORPUS} (../shared/corpus)")


def _same(actual: float, expected) -> bool:
    if expected is None:
        return math.isnan(actual)
    return math.isclose(actual, float(expected), rel_tol=1e-12, abs_tol=1e-300)


def test_manifest_has_40_files():
    assert len(ENTRIES) == 40


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_file(entry):
    expected = entry["expected"]
    result = read_table(CORPUS / "files" / entry["file"])
    if entry["kind"] == "workbook":
        assert result.sheet == expected["sheet"]
    table = result.table
    assert table.n_rows == expected["data_rows"]
    for col in expected["columns"]:
        values = table.column(col["name"]).values
        assert _same(values[0], col["first"]), (col["name"], values[0])
        assert _same(values[-1], col["last"]), (col["name"], values[-1])
        if "last_non_missing" in col:
            present = values[~np.isnan(values)]
            assert _same(present[-1], col["last_non_missing"])


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["kind"] == "workbook"],
                         ids=[e["file"] for e in ENTRIES if e["kind"] == "workbook"])
def test_corpus_workbook_with_sheet_named(entry):
    expected = entry["expected"]
    result = read_table(CORPUS / "files" / entry["file"], sheet=expected["sheet"])
    assert result.table.n_rows == expected["data_rows"]


def test_corpus_cli_json(capsys):
    from lsqfit_app.cli import main

    entry = next(e for e in ENTRIES if e["file"] == "xylib__test3.csv")
    assert main(["table", str(CORPUS / "files" / entry["file"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in doc["columns"]]
    assert names == ["my;x", "my,y"]
    assert doc["dialect"]["delimiter"] == ";" and doc["dialect"]["decimal"] == ","
    assert len(doc["columns"][0]["values"]) == entry["expected"]["data_rows"]
