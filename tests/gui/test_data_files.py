"""Opening, saving and recovering as a user meets it: filters, questions, messages, modes."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox

from lsqfit_app.gui import window_files


def _csv(path, seed: int, n: int = 11):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, n)
    y = 2 * x + 1 + rng.normal(0, 0.2, n)
    path.write_text("x;y\n" + "".join(f"{a:.3f};{b:.6f}\n".replace(".", ",")
                                       for a, b in zip(x, y)), encoding="utf-8")
    return path


class _Questions:
    """Stands in for the modal question box: records the questions and answers ``answer``."""

    def __init__(self, monkeypatch, answer):
        self.asked = []

        def question(parent, title, text, *args, **kwargs):
            self.asked.append(text)
            return answer

        monkeypatch.setattr(window_files.QMessageBox, "question", staticmethod(question))


def test_open_dialog_default_filter_lists_every_readable_type(window, monkeypatch):
    from lsqfit_app.io.registry import readers
    seen = {}

    def fake(parent, caption, folder, filters, *args, **kwargs):
        seen["filters"] = filters.split(";;")
        return "", ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake))
    window.open_action.trigger()
    default = seen["filters"][0]
    suffixes = {s for r in readers() for s in r.suffixes}
    for suffix in (*suffixes, ".lsqfit"):
        assert f"*{suffix}" in default.split("(")[1].rstrip(")").split(), suffix
    for needed in (".xlsm", ".xlsb", ".xy", ".mpt", ".tab", ".asc", ".prn"):
        assert needed in suffixes
    assert "lsqfit projects (*.lsqfit)" in seen["filters"]
    assert seen["filters"][-1] == "All files (*)"
    assert any(f.startswith("Workbooks (") for f in seen["filters"])


def test_the_unsaved_work_question_says_a_project_is_saved_not_the_data(window, tmp_path,
                                                                     monkeypatch):
    first = _csv(tmp_path / "messung_de.csv", 21)
    second = _csv(tmp_path / "next.csv", 22)
    assert window.open_path(str(first), ask=False)
    window.table_model.setData(window.table_model.index(0, 1), "5")
    questions = _Questions(monkeypatch, QMessageBox.Cancel)
    assert not window.open_path(str(second))
    text = questions.asked[0]
    assert text.startswith("Save your work on messung_de.csv as a project (.lsqfit)?")
    assert "data file itself is never changed" in text
    assert window.document.name == "messung_de.csv" and window.table.cell(0, 2) == 5.0


def test_an_unreadable_next_file_leaves_the_work_and_asks_nothing(window, tmp_path,
                                                                  monkeypatch):
    first = _csv(tmp_path / "good.csv", 23)
    assert window.open_path(str(first), ask=False)
    window.table_model.setData(window.table_model.index(1, 1), "7")
    before = window.table.snapshot()
    questions = _Questions(monkeypatch, QMessageBox.Discard)
    bad = tmp_path / "words.csv"
    bad.write_text("just some words\nand more words\n", encoding="utf-8")
    assert not window.open_path(str(bad))
    assert questions.asked == []              # never offered to discard for a bad file
    assert window.table == before and window.is_modified
    assert "words.csv" in window.status_message.text()
    broken = tmp_path / "broken.lsqfit"
    broken.write_text('{"format": "lsqfit-project", "version": 1, "table": {', encoding="utf-8")
    assert not window.open_path(str(broken))
    assert questions.asked == [] and window.table == before
    assert "broken.lsqfit" in window.status_message.text()


def test_read_message_gives_way_to_the_project_and_to_edits(window, tmp_path):
    data = _csv(tmp_path / "d.csv", 24)
    assert window.open_path(str(data), ask=False)
    assert window.status_message.text() == "Read 11 rows from d.csv"
    window.table_model.setData(window.table_model.index(0, 1), "3")
    assert window.status_message.text() == ""     # the table is no longer what was read
    project = tmp_path / "p.lsqfit"
    assert window.save_to(str(project))
    assert window.open_path(str(data), ask=False)
    assert window.open_path(str(project), ask=False)
    text = window.status_message.text()
    assert "Read" not in text and text.startswith("Opened project p.lsqfit: 11 rows")


def test_recovery_names_the_original_file(qtbot, window, tmp_path, monkeypatch):
    from lsqfit_app.gui.app import offer_recovery
    from lsqfit_app.gui.main_window import MainWindow
    data = _csv(tmp_path / "messung_de.csv", 25)
    assert window.open_path(str(data), ask=False)
    window.table_model.setData(window.table_model.index(2, 1), "9")
    window.autosave()
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.Yes))
    fresh = MainWindow()
    fresh._quiet = True
    qtbot.addWidget(fresh)
    assert offer_recovery(fresh)
    assert "messung_de.csv" in asked[0]
    assert fresh.document.name == "messung_de.csv (recovered)"
    assert fresh.table.cell(2, 2) == 9.0
    assert "messung_de.csv (recovered)" in fresh.windowTitle()
    assert fresh.file_actions.default_project_path() == str(tmp_path / "messung_de.lsqfit")
    questions = _Questions(monkeypatch, QMessageBox.Cancel)
    assert not fresh.maybe_save()
    assert "messung_de.csv (recovered)" in questions.asked[0]
    fresh._closing = True


def test_import_preview_enables_only_what_applies_and_speaks_plainly(qtbot, tmp_path):
    from lsqfit_app.gui.import_dialog import ImportDialog
    from lsqfit_app.io.writers import write_xlsx
    from lsqfit_app.core.table import Table
    rng = np.random.default_rng(26)
    text = tmp_path / "de.csv"
    # decimal commas and thousands points, as a German spreadsheet writes 1.234,56
    rows = "".join(f"{i},5;{int(v) // 1000}.{int(v) % 1000:03d},{int(v * 100) % 100:02d}\n"
                   for i, v in enumerate(rng.uniform(1000, 9000, 6)))
    text.write_text("Messung vom 3.5.2022\nGerät: X\n\nZeit;Spannung\ns;mV\n" + rows,
                    encoding="utf-8")
    dialog = ImportDialog(str(text))
    qtbot.addWidget(dialog)
    assert dialog.delimiter_combo.isEnabled() and dialog.decimal_combo.isEnabled()
    assert not dialog.sheet_combo.isEnabled()
    line = dialog.dialect_label.text()
    assert ("2 header rows (names, units), 3 preamble lines skipped, semicolon-separated, "
            "decimal comma, thousands separator '.'") in line
    for internal in ("header_rows", "skip_rows", "detected"):
        assert internal not in line
    book = tmp_path / "b.xlsx"
    write_xlsx(Table([("t", rng.uniform(size=5), "s"), ("u", rng.uniform(size=5), "V")]), book)
    dialog = ImportDialog(str(book))
    qtbot.addWidget(dialog)
    assert not dialog.delimiter_combo.isEnabled() and not dialog.decimal_combo.isEnabled()
    assert dialog.sheet_combo.isEnabled()
    assert "decimal" not in dialog.dialect_label.text()
    assert dialog.buttons.button(QDialogButtonBox.Open).isEnabled()


def test_a_type_code_row_in_a_workbook_is_not_units(tmp_path):
    import openpyxl
    from lsqfit_app.io import read_table
    rng = np.random.default_rng(27)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["a", "b", "c", "d"])
    ws.append(["d", "c", "c", "c"])                # Orange type codes
    ws.append(["meta", "class", None, None])       # flags, sparse
    for row in rng.uniform(size=(6, 3)):
        ws.append(["red", *map(float, row)])
    path = tmp_path / "typed.xlsx"
    wb.save(path)
    table = read_table(path).table
    assert [c.unit for c in table.columns()] == ["", "", "", ""]
    assert table.names == ["a", "b", "c", "d"] and table.n_rows == 6


_MODES = textwrap.dedent("""
    import os, sys
    os.umask(int(sys.argv[1], 8))
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QStandardPaths
    QStandardPaths.setTestModeEnabled(True)
    from lsqfit_app.gui.app import application
    from lsqfit_app.gui import files
    from lsqfit_app.gui.main_window import MainWindow
    from lsqfit_app.io.writers import write_csv
    folder = sys.argv[2]
    files.recovery_path = lambda: __import__("pathlib").Path(folder, "autosave.lsqfit")
    application()
    w = MainWindow(); w._quiet = True
    assert w.open_path(os.path.join(folder, "d.csv"), ask=False)
    w.table_model.setData(w.table_model.index(0, 1), "4")
    w.autosave()
    assert w.save_to(os.path.join(folder, "p.lsqfit"))
    write_csv(w.table, os.path.join(folder, "export.csv"))
    for name in ("p.lsqfit", "autosave.lsqfit", "export.csv"):
        print(name, oct(os.stat(os.path.join(folder, name)).st_mode & 0o777))
    w._closing = True
""")


@pytest.mark.parametrize("umask, mode", [("022", "0o644"), ("077", "0o600")])
def test_projects_and_recovery_files_follow_the_umask_like_exports(tmp_path, umask, mode):
    _csv(tmp_path / "d.csv", 28)
    out = subprocess.run([sys.executable, "-c", _MODES, umask, str(tmp_path)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    modes = dict(line.split() for line in out.stdout.splitlines())
    assert modes == {"p.lsqfit": mode, "autosave.lsqfit": mode, "export.csv": mode}
