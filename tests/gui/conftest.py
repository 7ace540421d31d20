"""GUI test set-up: offscreen Qt, isolated settings, no QThread left running."""
import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"   # before any Qt import

import gc  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths, QThread  # noqa: E402

from lsqfit_app.core.table import Table  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Settings and the recovery file go to a temporary folder."""
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    from lsqfit_app.gui import files
    recovery = tmp_path / "recovery" / "autosave.lsqfit"
    recovery.parent.mkdir()
    monkeypatch.setattr(files, "recovery_path", lambda: recovery)
    yield


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """Fail a test that leaves a QThread running (STYLE.md, threading rule 2)."""
    yield
    qapp.processEvents()
    gc.collect()
    running = [t for t in gc.get_objects()
               if isinstance(t, QThread) and _alive(t) and t.isRunning()]
    assert not running, f"QThreads still running after the test: {running}"


def _alive(thread) -> bool:
    import shiboken6
    return shiboken6.isValid(thread)


@pytest.fixture
def window(qtbot):
    """A main window with message boxes silenced; torn down without prompts."""
    from lsqfit_app.gui.main_window import MainWindow
    w = MainWindow()
    w._quiet = True
    # not qtbot.addWidget: its teardown would close the window before ours and
    # meet the unsaved-changes prompt
    w.resize(1400, 900)
    w.show()
    yield w
    w.controller.shutdown()
    w._closing = True
    w.close()
    # destroyed now, in order, rather than by the garbage collector mid-way
    # through a later test (pyqtgraph items then see half-built layouts)
    w.deleteLater()
    qtbot.wait(10)


@pytest.fixture
def peak_csv(tmp_path):
    """A small peak-on-a-line CSV with names, units and sigma."""
    rng = np.random.default_rng(3)
    x = np.linspace(400, 600, 61)
    y = 12 * np.exp(-(x - 497) ** 2 / (2 * 13.5 ** 2)) + 0.01 * x - 2 + rng.normal(0, 0.5, x.size)
    path = tmp_path / "peak.csv"
    lines = ["wavelength (nm),intensity (counts/s),sigma (counts/s)"]
    lines += [f"{a:.4f},{b:.6f},0.5" for a, b in zip(x, y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def slow_table(n: int = 5000) -> Table:
    """Data whose gradient-descent fit from poor starts runs for many seconds."""
    rng = np.random.default_rng(1)
    x = np.linspace(400, 600, n)
    y = 12 * np.exp(-(x - 497) ** 2 / (2 * 13.5 ** 2)) + 0.01 * x - 2 + rng.normal(0, 0.8, n)
    return Table([("x", x, "nm"), ("y", y, "counts")])


SLOW_STARTS = {"gaussian_amplitude": 5.0, "gaussian_center": 470.0, "gaussian_sigma": 30.0,
               "line_slope": 0.0, "line_intercept": 0.0}


def prepare_slow_fit(window):
    """Set ``window`` up for a long gradient-descent fit (shared with bench_gui.py)."""
    window.set_table(slow_table(), "slow.csv")
    window.set_roles("x", "y", None)
    window.set_model("gaussian+line")
    window.fit_panel.parameters.set_starts(SLOW_STARTS)
    window.fit_panel.set_method("gradient-descent")
    window.fit_panel.iterations_spin.setValue(10_000_000)
    # let the window draw the new data before the fit starts (a one-off cost)
    window.refresh_data()
    qapp = __import__("PySide6.QtWidgets", fromlist=["QApplication"]).QApplication.instance()
    for _ in range(5):
        qapp.processEvents()
    return window


@pytest.fixture
def slow_window(window):
    """A window set up for a long gradient-descent fit."""
    return prepare_slow_fit(window)
