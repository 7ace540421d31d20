"""``lsqfit-app table``: text and JSON output, options, exit status."""
from __future__ import annotations

import argparse
import json

import pytest

from lsqfit_app.cli import main
from lsqfit_app.core.errors import InputError
from lsqfit_app.io.options import add_import_arguments, read_options_from_args


@pytest.fixture
def german(tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("Messung vom 1.2.2024\nZeit;Spannung\ns;V\n0,5;1,25\n1,0;n/a\n1,5;3,75\n",
                    encoding="cp1252")
    return path


def test_json_document(german, capsys):
    assert main(["table", str(german), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"dialect", "sheet", "columns", "problems"} <= set(doc)
    assert doc["sheet"] is None
    assert doc["dialect"]["delimiter"] == ";" and doc["dialect"]["decimal"] == ","
    assert doc["dialect"]["header_rows"] == 2 and doc["dialect"]["skip_rows"] == 1
    assert doc["columns"][0] == {"name": "Zeit", "unit": "s", "values": [0.5, 1.0, 1.5],
                                 "numeric": True}
    assert doc["columns"][1]["values"] == [1.25, None, 3.75]
    assert doc["problems"] == [{"row": 5, "column": "Spannung", "text": "n/a"}]


def test_text_output(german, capsys):
    assert main(["table", str(german)]) == 0
    out = capsys.readouterr().out
    assert "semicolon" in out and "comma" in out and "Spannung [V]" in out
    assert "row 5, column 'Spannung': 'n/a'" in out


def test_overrides(tmp_path, capsys):
    path = tmp_path / "a.txt"
    path.write_text("1;2\n3;4\n", encoding="utf-8")
    assert main(["table", str(path), "--delimiter", "semicolon", "--header-rows", "0",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["columns"]] == ["col1", "col2"]
    assert "delimiter" in doc["dialect"]["overridden"]
    # a wrong delimiter leaves no numbers: a clear refusal, not a crash
    assert main(["table", str(path), "--delimiter", "tab", "--json"]) == 2
    assert "no numbers" in capsys.readouterr().err


def test_skip_rows_override(tmp_path, capsys):
    path = tmp_path / "a.txt"
    path.write_text("junk 1 2 3\nmore junk\nx y\n1 2\n3 4\n", encoding="utf-8")
    assert main(["table", str(path), "--skip-rows", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["columns"]] == ["x", "y"]
    assert doc["columns"][1]["values"] == [2.0, 4.0]


@pytest.mark.parametrize("argv, fragment", [
    (["--decimal", ";"], "--decimal"),
    (["--delimiter", "ab"], "--delimiter"),
    (["--encoding", "no-such-codec"], "unknown encoding"),
    (["--header-rows", "7"], "header-rows"),
])
def test_bad_options_exit_2(german, argv, fragment, capsys):
    assert main(["table", str(german), *argv]) == 2
    assert fragment in capsys.readouterr().err


def test_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["table", "x.csv", "--header-rows", "-1"])
    assert info.value.code == 2


def test_workbook_sheet_option(tmp_path, capsys):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["nothing here"])
    data = wb.create_sheet("Data")
    for row in (["x", "y"], [1, 2], [3, 4]):
        data.append(row)
    path = tmp_path / "w.xlsx"
    wb.save(path)
    assert main(["table", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sheet"] == "Data"
    assert main(["table", str(path), "--sheet", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sheet"] == "Data"
    assert main(["table", str(path), "--sheet", "Nope"]) == 2
    assert "Notes, Data" in capsys.readouterr().err


def test_options_helper_for_other_commands():
    parser = argparse.ArgumentParser()
    add_import_arguments(parser)
    args = parser.parse_args(["--delimiter", "\\t", "--decimal", "comma", "--skip-rows", "3",
                              "--sheet", "Data", "--thousands", "none"])
    assert read_options_from_args(args) == {"delimiter": "\t", "decimal": ",", "skip_rows": 3,
                                            "sheet": "Data", "thousands": None}
    assert read_options_from_args(parser.parse_args([])) == {}
    with pytest.raises(InputError):
        read_options_from_args(parser.parse_args(["--decimal", "x"]))
