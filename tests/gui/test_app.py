"""Start-up, files and robustness: run_gui, recovery, drag-and-drop, exception hook."""
import sys

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from lsqfit_app.gui import files
from lsqfit_app.gui.main_window import MainWindow


def _start(qtbot, argv, monkeypatch):
    from lsqfit_app.gui import app as gui_app
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)   # start_gui installs its own
    window = gui_app.start_gui(argv)
    window._quiet = True
    return window


def _close(qtbot, window):
    window.controller.shutdown()
    window._closing = True
    window.close()
    window.deleteLater()
    qtbot.wait(10)


def test_start_gui_opens_the_given_file(qtbot, peak_csv, monkeypatch):
    window = _start(qtbot, [str(peak_csv)], monkeypatch)
    qtbot.waitUntil(lambda: window.table.n_rows == 61, timeout=5000)
    assert window.windowTitle() == "lsqfit-app - peak.csv"
    assert window.isVisible()
    _close(qtbot, window)


def test_start_gui_without_file_shows_the_fitted_example(qtbot, monkeypatch):
    window = _start(qtbot, [], monkeypatch)
    qtbot.waitUntil(lambda: window.result is not None, timeout=30000)
    assert window.result.converged
    assert window.fit_panel.model_spec() == "gaussian+line"
    assert not window.is_modified          # nothing to save: closing does not ask
    _close(qtbot, window)


def test_recovery_is_offered_after_a_crash(qtbot, window, peak_csv, monkeypatch):
    from lsqfit_app.gui.app import offer_recovery
    window.open_path(str(peak_csv), ask=False)
    window.table_model.setData(window.table_model.index(0, 1), "42")
    window.autosave()                      # then the process "crashes": no close
    assert files.recovery_path().exists()
    fresh = MainWindow()
    fresh._quiet = True
    fresh.show()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    assert offer_recovery(fresh)
    assert fresh.table.cell(0, 2) == 42
    assert fresh.windowTitle().endswith("*")
    fresh._closing = True
    fresh.close()
    fresh.deleteLater()
    qtbot.wait(20)


def test_drop_a_file_opens_it(qtbot, window, peak_csv):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(peak_csv))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    assert window.table.n_rows == 61
    assert files.recent_files()[0].endswith("peak.csv")


def test_bad_file_gives_a_message_and_keeps_the_data(qtbot, window, peak_csv, tmp_path):
    window.open_path(str(peak_csv), ask=False)
    before = window.table.snapshot()
    bad = tmp_path / "broken.lsqfit"
    bad.write_text("{not json", encoding="utf-8")
    assert not window.open_path(str(bad), ask=False)
    assert window.table == before
    assert "broken.lsqfit" in window.status_message.text()


def test_excepthook_reports_and_keeps_running(qtbot, window, peak_csv, monkeypatch):
    from lsqfit_app.gui.app import install_excepthook
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    window.open_path(str(peak_csv), ask=False)
    before = window.table.snapshot()
    install_excepthook(window)
    try:
        raise RuntimeError("slot blew up")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert "slot blew up" in window.status_message.text()
    assert window.table == before


def test_compare_dialog_opens_on_current_data(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_roles("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
    window.set_model("gaussian+line")
    dialog = window.open_compare_dialog()
    assert dialog.isVisible()
    assert "gaussian+line" in dialog.model_specs()
    problem = window.build_problem("poly2")
    assert problem.model.param_names == ("c0", "c1", "c2")


def test_import_preview_detects_and_overrides(qtbot, tmp_path):
    from lsqfit_app.gui.import_dialog import ImportDialog
    path = tmp_path / "comma.csv"
    path.write_text("t;U\ns;V\n0,5;1,25\n1,5;2,5\n2,5;x\n", encoding="utf-8")
    dialog = ImportDialog(str(path))
    qtbot.addWidget(dialog)
    assert dialog.result.dialect.decimal == ","
    assert dialog.preview.rowCount() == 3
    assert dialog.preview.item(0, 1).text() == "1.25"
    assert dialog.preview.horizontalHeaderItem(1).text() == "U [V]"
    assert "not numbers" in dialog.problems_label.text()
    # override: no header rows -> names become data, cells not numbers
    dialog.header_spin.setValue(0)
    dialog.reread()
    assert dialog.result.dialect.header_rows == 0
    assert dialog.options() == {"header_rows": 0}


def test_start_removes_a_dead_autosaves_temporary(qtbot, monkeypatch):
    """An autosave killed mid-write leaves its temporary; the next start tidies it."""
    import subprocess

    from lsqfit_app.core.atomic import PREFIX, SUFFIX

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                      # a pid that has just exited: nobody writes with it
    folder = files.recovery_path().parent
    orphan = folder / f"{PREFIX}autosave.lsqfit.{gone.pid}.abc123{SUFFIX}"
    orphan.write_text("half an autosave")
    keep = folder / "notes.txt"      # not ours: never touched
    keep.write_text("the user's file")
    window = _start(qtbot, [], monkeypatch)
    qtbot.waitUntil(lambda: not orphan.exists(), timeout=5000)
    assert keep.read_text() == "the user's file"
    _close(qtbot, window)
