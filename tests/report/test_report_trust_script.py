"""The reproducing script is safe for any file, sheet, column or model name.

Names from files and users enter the script only as Python literals, so a
hostile name can neither run code nor break the syntax; the script still
reproduces the fit.
"""
from __future__ import annotations

import ast
from dataclasses import replace

import numpy as np
import pytest

from lsqfit_app.report import ReportContext, write_script
from lsqfit_app.report.script import py_literal, script_text
from script_checks import check_same, run_script_file

PWN = "__import__('os').system('touch PWNED')"

HOSTILE_FILES = [
    'x""";__import__("os").system("touch PWNED");""".csv',
    "back\\slash \\N{BULLET} \\u0041 end\\.csv",
    f"new\nline\n{PWN}\n'''.csv",
    f"sep\u2028{PWN}\u2029 and \x85 {PWN}.csv",
    f"# comment\n{PWN}\n#.csv",
    "bidi \u202e}{ \ufeff.csv",
]
HOSTILE_HEADERS = [f"t # \n{PWN}", "$\\frac{", 'y """ \\N{', f"s\u2028{PWN}"]


def _write_csv(path, x, y, s, header) -> None:
    def q(h):  # a CSV field with quotes, commas and newlines allowed
        return '"' + h.replace('"', '""') + '"'

    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(q(h) for h in header) + "\n")
        for row in zip(x, y, s):
            fh.write(",".join(repr(float(v)) for v in row) + "\n")


def _fit_file(path, sheet=None):
    from lsqfit_app.io import read_table
    from lsqfit_app.session.roles import Roles, make_problem
    from lsqfit_app.solvers import fit

    read = read_table(str(path), sheet=sheet)
    problem = make_problem(read.table, Roles(x=("1",), y="2", sigma="3"), "a*exp(-x/tau)+c", [])
    result = fit(problem)
    return read, problem, result


def _data(seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 5.0, 35)
    s = np.full(x.size, 0.05)
    y = 2.5 * np.exp(-x / 1.4) + 0.3 + rng.normal(0.0, 0.05, x.size)
    return x, y, s


@pytest.mark.parametrize("index", range(len(HOSTILE_FILES)))
def test_hostile_file_and_column_names_run_no_code(index, tmp_path):
    name = HOSTILE_FILES[index]
    x, y, s = _data(100 + index)
    data = tmp_path / name
    header = [HOSTILE_HEADERS[0], HOSTILE_HEADERS[1 + index % 3], HOSTILE_HEADERS[(index + 2) % 4]]
    _write_csv(data, x, y, s, header)
    read, problem, result = _fit_file(data)
    assert result.converged
    context = ReportContext.from_read(read, problem, source=str(data))
    script = tmp_path / "reproduce.py"
    write_script(result, problem, script, context=context)
    text = script.read_text(encoding="utf-8")
    printed = run_script_file(script, tmp_path)
    assert not (tmp_path / "PWNED").exists()
    check_same(result, printed)
    # the names are recorded exactly, as data, and nowhere else
    tree = ast.parse(text)
    consts = {t.targets[0].id: ast.literal_eval(t.value) for t in tree.body
              if isinstance(t, ast.Assign) and isinstance(t.targets[0], ast.Name)
              and t.targets[0].id in ("DATA_FILE", "COLUMNS")}
    assert consts["DATA_FILE"] == name
    # (the reader may tidy whitespace in headers: compare with the names it made)
    assert set(consts["COLUMNS"].values()) >= set(read.table.names[:2])
    assert name not in ast.get_docstring(tree) and "Data:" not in ast.get_docstring(tree)
    for line in text.splitlines():
        assert not any(c in line for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\u202e")


def test_hostile_sheet_names_run_no_code(tmp_path):
    from openpyxl import Workbook

    x, y, s = _data(31)
    wb = Workbook()
    ws = wb.active
    ws.title = 'S""" #\'N{x}'  # workbooks forbid \ * ? : / [ ] in sheet names
    ws.append(["x", "y", "s"])
    for row in zip(x, y, s):
        ws.append([float(v) for v in row])
    data = tmp_path / 'book""".xlsx'
    wb.save(data)
    read, problem, result = _fit_file(data, sheet=ws.title)
    context = ReportContext.from_read(read, problem, source=str(data))
    assert context.sheet == ws.title
    # a sheet name no workbook allows, as an API caller could pass it
    for sheet in (context.sheet, f"a\n{PWN}\n#\u2028\\", None):
        script = tmp_path / "reproduce.py"
        write_script(result, problem, script, context=replace(context, sheet=sheet))
        check_same(result, run_script_file(script, tmp_path))
        assert not (tmp_path / "PWNED").exists()
        tree = ast.parse(script.read_text(encoding="utf-8"))
        sheets = [ast.literal_eval(t.value) for t in tree.body if isinstance(t, ast.Assign)
                  and getattr(t.targets[0], "id", "") == "SHEET"]
        assert sheets == [sheet]


def test_hostile_title_notes_and_versions(formula_fit, tmp_path):
    result, problem = formula_fit
    context = replace(ReportContext.minimal(problem), source_name=f'"""\n{PWN}\n"""',
                      created=f"'''\n{PWN}", versions=(("x\n" + PWN, '"""'),))
    script = tmp_path / "reproduce.py"
    write_script(result, problem, script, context=context)
    check_same(result, run_script_file(script, tmp_path))
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("value", [
    "", "a'b\"c", '"""', "'''", "\\", "\\N{", "x\ny\r\n", "\u2028\u2029\x85", "\udc80 bytes",
    "\x00\x1b[31m", "tab\there", "# c", ["a", ("b",), {"k": None}], {"x\n": True}, 1.5, -3,
])
def test_py_literal_round_trips_on_one_line(value):
    code = py_literal(value)
    assert "\n" not in code and code.isprintable()
    assert ast.literal_eval(code) == value


def test_unknown_name_is_never_echoed_into_code():
    from lsqfit_app.core.errors import InputError
    from lsqfit_app.report.script import _Namer

    namer = _Namer(("a",), ("x",))
    with pytest.raises(InputError):
        namer("__import__('os')")


def test_unicode_parameter_names(tmp_path):
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import fit

    rng = np.random.default_rng(8)
    x = np.linspace(0.0, 4.0, 30)
    y = 1.7 * np.exp(-x / 0.9) + rng.normal(0.0, 0.02, x.size)
    problem = FitProblem.create(make_model("α*exp(-x/τ)"), x, y, {"α": 1.0, "τ": 1.0})
    result = fit(problem)
    text = script_text(result, problem)
    assert "α" in text
    script = tmp_path / "reproduce.py"
    script.write_text(text, encoding="utf-8")
    check_same(result, run_script_file(script, tmp_path))
