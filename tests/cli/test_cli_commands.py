"""The first word of ``lsqfit-app WORD ...``: a command, a file for the GUI, or a usage error.

None of these errors needs a GUI: they are decided before Qt is imported.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from lsqfit_app import cli, launcher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gui_calls(monkeypatch, tmp_path):
    """Record what would open the GUI instead of opening it; run in an empty folder."""
    calls = []
    monkeypatch.setattr(launcher, "run_gui", lambda argv: calls.append(list(argv)) or 0)
    monkeypatch.chdir(tmp_path)
    return calls


@pytest.mark.parametrize("word, suggestion", [
    ("fti", "fit"), ("Fit", "fit"), ("tabel", "table"), ("model", "models"),
    ("verfy", "verify"), ("compre", "compare"),
])
def test_a_mistyped_command_is_a_usage_error_with_a_suggestion(gui_calls, capsys, word,
                                                               suggestion):
    assert launcher.main([word, "data.csv"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    expected = f"lsqfit-app: error: unknown command '{word}'; did you mean '{suggestion}'?"
    assert err.strip() == expected
    assert gui_calls == []


def test_an_unknown_word_lists_the_commands(gui_calls, capsys):
    assert launcher.main(["zzz"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'zzz'" in err
    for command in cli.COMMANDS:
        assert command in err
    assert "did you mean" not in err
    assert gui_calls == []


@pytest.mark.parametrize("path", ["data.csv", "fti.csv", "sub/data", "./peak", "results.lsqfit"])
def test_a_missing_file_is_named(gui_calls, capsys, path):
    assert launcher.main([path]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"lsqfit-app: error: no such file: {path}"
    assert gui_calls == []


def test_a_folder_is_not_a_file(gui_calls, capsys, tmp_path):
    (tmp_path / "runs").mkdir()
    assert launcher.main(["runs"]) == 2
    assert "runs is a folder" in capsys.readouterr().err
    assert gui_calls == []


def test_extra_arguments_after_the_gui_file_are_refused(gui_calls, capsys, tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n2,3\n", encoding="utf-8")
    assert launcher.main(["data.csv", "--model", "x"]) == 2
    err = capsys.readouterr().err
    assert "--model x" in err and "data.csv" in err
    assert "lsqfit-app fit data.csv --model x" in err      # what was probably meant
    assert launcher.main(["data.csv", "other.csv"]) == 2
    assert "other.csv" in capsys.readouterr().err
    assert gui_calls == []


def test_an_existing_file_and_no_argument_open_the_gui(gui_calls, tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n2,3\n", encoding="utf-8")
    (tmp_path / "notes").write_text("x y\n1 2\n", encoding="utf-8")   # no suffix, still a file
    assert launcher.main(["data.csv"]) == 0
    assert launcher.main(["notes"]) == 0
    assert launcher.main([]) == 0
    assert gui_calls == [["data.csv"], ["notes"], []]


def test_commands_and_options_still_go_to_the_parser(gui_calls, capsys):
    assert launcher.main(["models"]) == 0
    assert "gaussian" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:        # argparse's own exit, status 2
        launcher.main(["--bogus"])
    assert stop.value.code == 2
    assert "--bogus" in capsys.readouterr().err
    assert gui_calls == []


def test_python_m_gives_the_same_usage_error():
    # the timeout only stops a hang (the former behaviour offscreen); it is no measure
    proc = subprocess.run([sys.executable, "-m", "lsqfit_app", "fti", "data.csv"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "lsqfit-app: error: unknown command 'fti'; did you mean 'fit'?"
    assert "Traceback" not in proc.stderr


def test_the_headless_commands_never_open_the_window(gui_calls, capsys):
    # lsqfit_app.cli.main runs commands only; choosing the window is the launcher's
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.main(["data.csv"])
    assert stop.value.code == 2
    assert gui_calls == []
