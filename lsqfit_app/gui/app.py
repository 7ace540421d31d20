"""Start the GUI: ``run_gui(argv)`` is what ``lsqfit-app [FILE]`` calls.

``PySide6`` is imported before ``pyqtgraph`` because pyqtgraph picks the
first Qt binding it finds (PyQt6 before PySide6); the assertion below makes
a wrong pick fail loudly instead of mixing two bindings.
"""
from __future__ import annotations

import os
import sys

import PySide6  # noqa: F401 - must precede pyqtgraph (binding selection)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import pyqtgraph

assert pyqtgraph.Qt.QT_LIB == "PySide6", f"pyqtgraph uses {pyqtgraph.Qt.QT_LIB}, not PySide6"

from lsqfit_app.core.atomic import clean_orphans  # noqa: E402
from lsqfit_app.gui import files, platform_check  # noqa: E402
from lsqfit_app.gui.main_window import APP_NAME, MainWindow  # noqa: E402

#: the example shown when the GUI starts without a file
EXAMPLE = "examples/peak.csv"
EXAMPLE_ROLES = ("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
EXAMPLE_MODEL = "gaussian+line"


def application() -> QApplication:
    """The QApplication (created once)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([APP_NAME])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    # antialiasing only where it shows (curves): on thousands of points and bars it
    # costs most of the paint time during live updates
    pyqtgraph.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def open_example(window: MainWindow, fit: bool = True) -> None:
    """Load the bundled peak example with its roles and model, and fit it."""
    from lsqfit_app.io import read_table
    from lsqfit_app.core.resources import resource_path
    read = read_table(resource_path(EXAMPLE))
    window.set_table(read.table, "peak.csv (example)")
    window.set_source(read, resource_path(EXAMPLE))
    window.set_roles(*EXAMPLE_ROLES)
    window.set_model(EXAMPLE_MODEL)
    window.document.mark_saved()
    if fit:
        window.start_fit()


def install_excepthook(window: MainWindow) -> None:
    """Show uncaught exceptions in a dialog and keep running (and the data)."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        try:
            window.report_exception(exc_type, exc, tb)
        except Exception:  # the dialog itself failed: fall back to stderr
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def offer_recovery(window: MainWindow) -> bool:
    """After a crash the recovery file is still there: offer to restore it.

    The question and the restored window name the file the work was on
    ("messung_de.csv (recovered)"); Save as… proposes a project beside it.
    """
    path = files.recovery_path()
    # an autosave killed mid-write leaves its temporary beside the recovery file
    clean_orphans(path.parent)
    if not path.exists():
        return False
    from lsqfit_app.io.project import load_project
    try:
        project = load_project(path)
    except Exception as exc:  # a damaged autosave: say so, start normally
        window.show_message(f"The recovery file {path} could not be read: {exc}", error=True)
        return False
    original = recovered_from(project)
    on = f" on {os.path.basename(original)}" if original else ""
    answer = QMessageBox.question(
        window, APP_NAME, f"lsqfit-app did not close normally last time. Restore the unsaved "
        f"work{on} from the recovery file?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    if answer != QMessageBox.Yes:
        path.unlink(missing_ok=True)
        return False
    try:
        window.apply_project(project)
    except Exception as exc:  # settings a valid project cannot hold: start normally
        window.show_message(f"The recovery file {path} could not be used: {exc}", error=True)
        return False
    window.document.set_name(f"{os.path.basename(original) or 'untitled'} (recovered)")
    window.file_actions.suggested_path = original or None
    window.document.set_modified(True)
    window.show_message(f"Restored the unsaved work{on}; save it as a project to keep it")
    return True


def recovered_from(project) -> str:
    """The file an autosave stands for: its project, else the data file it was read from."""
    meta = project.metadata or {}
    source = meta.get("source")
    name = meta.get("recovered_from")
    name = name if isinstance(name, str) else ""
    if name.lower().endswith(files.PROJECT_SUFFIX) or not isinstance(source, dict):
        return name
    path = source.get("path")
    return path if isinstance(path, str) and path else name


def start_gui(argv: list[str]) -> MainWindow:
    """Create and show the main window; ``argv[0]`` (a data file or project) or
    the example loads as soon as the event loop runs.  :func:`run_gui` runs it."""
    application()
    window = MainWindow()
    install_excepthook(window)
    window.show()
    path = argv[0] if argv else None

    def load():
        if offer_recovery(window):
            return
        if path:
            if not os.path.exists(path):
                window.show_message(f"{path}: no such file", error=True)
                open_example(window)
            elif not window.open_path(path, ask=False):
                open_example(window)
        else:
            open_example(window)

    # after show(): the window paints first, then the file loads and the fit streams in
    QTimer.singleShot(0, load)
    return window


def run_gui(argv: list[str], checked: bool = False) -> int:
    """Open the main window on ``argv[0]`` (a data file or project) or on the example.

    Returns the application's exit status, or 2 with one message on stderr
    when Qt could not start here (no display, missing xcb libraries): Qt
    itself would abort the process in :class:`QApplication`'s constructor.
    ``checked``: the launcher has asked :mod:`platform_check` already.
    """
    if not checked and QApplication.instance() is None:
        problem = platform_check.startup_problem(file=argv[0] if argv else None)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    app = application()
    window = start_gui(argv)   # noqa: F841 - kept alive while the loop runs
    return app.exec()
