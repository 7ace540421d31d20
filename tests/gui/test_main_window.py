"""The main window end to end: open, roles, fit, plotted curve, cancel, close."""
import time

import numpy as np
import pyqtgraph
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from lsqfit_app.core.result import FitStatus
from lsqfit_app.gui.undo_commands import SetMaskCommand


def test_pyqtgraph_uses_pyside6():
    import lsqfit_app.gui.app  # noqa: F401 - the import order under test
    assert pyqtgraph.Qt.QT_LIB == "PySide6"


def _fit(qtbot, window, timeout=30000):
    with qtbot.waitSignal(window.controller.fit_finished, timeout=timeout) as blocker:
        assert window.start_fit()
    return blocker.args[0]


def test_open_set_roles_fit_and_curve_equals_model(qtbot, window, peak_csv):
    assert window.open_path(str(peak_csv), ask=False)
    assert window.windowTitle() == "lsqfit-app - peak.csv"
    window.set_roles("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
    window.set_model("gaussian+line")
    result = _fit(qtbot, window)
    assert result.status is FitStatus.CONVERGED
    assert window.result is result
    assert abs(result.value("gaussian_center") - 497) < 2
    # the red curve is the model at the result on the dense grid
    gx, gy = window.plots.curve_item.getData()
    expected = result.model.eval(result.values, {"x": gx})
    np.testing.assert_allclose(gy, expected, rtol=1e-12, atol=1e-12)
    # residual bars are y - f at every used point
    heights = window.plots.residual_bars.opts["height"]
    y = window.table.values("intensity (counts/s)")
    np.testing.assert_allclose(heights, y - result.fitted, rtol=1e-9, atol=1e-9)
    # axis labels carry the units; a band is drawn; the history has the run
    assert "counts/s" in window.plots.fit_plot.getAxis("left").labelText
    assert "nm" in window.plots.residual_plot.getAxis("bottom").labelText
    assert window.plots.band.isVisible()
    assert window.plots.run_count == 1
    np.testing.assert_allclose(window.plots.history_values(), result.history)
    # results panel
    assert window.results_panel.table.rowCount() == 5
    assert "absolute" in window.results_panel.note_label.text().lower()


def test_example_opens_fitted(qtbot, window):
    from lsqfit_app.gui.app import open_example
    with qtbot.waitSignal(window.controller.fit_finished, timeout=30000):
        open_example(window)
    assert window.result.converged
    assert window.windowTitle().startswith("lsqfit-app - peak.csv")
    assert window.data_panel.roles() == ("wavelength (nm)", "intensity (counts/s)",
                                         "sigma (counts/s)")


def test_cancel_slow_fit_within_100_ms_keeps_best_point(qtbot, slow_window):
    window = slow_window
    from lsqfit_app.solvers import fit
    returned = []

    def timed_fit(*args, **kwargs):
        result = fit(*args, **kwargs)
        returned.append(time.perf_counter())
        return result

    window.controller._fit_function = timed_fit
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=10000):
        assert window.start_fit()
    assert window.fit_panel.fit_button.text() == "Cancel"
    qtbot.wait(300)
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.controller.fit_finished, timeout=5000) as blocker:
        window.fit_panel.fit_button.click()
    shown = time.perf_counter() - t0
    stopped = returned[0] - t0
    result = blocker.args[0]
    assert result.status is FitStatus.CANCELLED
    # the solver stops within 100 ms; the window shows the result soon after
    assert stopped < 0.1, f"the fit stopped {stopped * 1000:.0f} ms after Cancel"
    assert shown < 1.0, f"the window showed the cancelled fit after {shown * 1000:.0f} ms"
    assert window.fit_panel.fit_button.text() == "Fit"
    # the best point so far is shown, better than the start
    assert result.statistics.objective < result.history[0]
    assert not window.controller.is_running


def test_event_loop_keeps_answering_during_long_fit(qtbot, slow_window):
    """A 10 ms timer keeps firing while the fit streams in (gaps < 100 ms)."""
    window = slow_window
    gaps = []
    last = [None]

    def tick():
        now = time.perf_counter()
        if last[0] is not None:
            gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    progressed = []
    window.controller.fit_progressed.connect(progressed.append)
    # measured from the first live update on: the set-up of a run is not "during"
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=10000):
        assert window.start_fit()
    timer.start()
    qtbot.wait(1500)
    timer.stop()
    window.controller.cancel()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5000)
    assert len(gaps) > 50
    # The window must answer within 100 ms.  A shared CI machine can stall any
    # process for a moment, so one late tick is tolerated, a freeze is not: a
    # fit on the GUI thread would show as one gap of the whole fit (> 1 s).
    gaps_ms = sorted(g * 1000 for g in gaps)
    assert gaps_ms[int(0.95 * len(gaps_ms))] < 100, f"95th percentile gap {gaps_ms[int(0.95 * len(gaps_ms))]:.0f} ms"
    assert sum(g > 100 for g in gaps_ms) <= 2, f"gaps over 100 ms: {[g for g in gaps_ms if g > 100]}"
    assert gaps_ms[-1] < 250, f"event loop blocked for {gaps_ms[-1]:.0f} ms"
    # live updates arrived, throttled to about 30 per second
    assert 10 <= len(progressed) <= 60
    assert window.plots.history_values().size >= 10


def test_closing_during_fit_cancels_and_waits(qtbot, slow_window):
    window = slow_window
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=10000):
        window.start_fit()
    window._closing = True           # no unsaved-changes prompt here
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 1.0
    assert not window.controller.is_running


def test_one_fit_at_a_time(qtbot, slow_window):
    window = slow_window
    assert window.start_fit()
    assert not window.start_fit()
    window.controller.cancel()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5000)


def test_fit_errors_appear_in_the_window(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.fit_panel.model_edit.setText("a*exp(-x/tau")
    assert window.fit_panel.model is None
    assert "^" in window.fit_panel.formula_label.text()
    assert not window.fit_panel.fit_button.isEnabled()
    assert not window.start_fit()
    window.set_model("exp_decay")
    window.fit_panel.set_method("closed-form")
    assert not window.start_fit()
    assert "closed-form" in window.results_panel.status_label.text()


def test_engine_exception_reaches_the_window(qtbot, window, peak_csv):
    def broken_fit(*args, **kwargs):
        raise RuntimeError("boom")
    window.controller._fit_function = broken_fit
    window.open_path(str(peak_csv), ask=False)
    window.set_model("gaussian+line")
    with qtbot.waitSignal(window.controller.fit_failed, timeout=5000):
        window.start_fit()
    assert "boom" in window.results_panel.status_label.text()
    assert not window.controller.is_running


def test_guess_and_use_result_as_start(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_model("gaussian+line")
    with qtbot.waitSignal(window._guess_runner.finished, timeout=10000):
        assert window.guess_starts()          # off the GUI thread, like a fit
    starts = window.fit_panel.parameters.starts()
    assert all(s is not None for s in starts)
    qtbot.waitUntil(lambda: window.plots.preview_item.getData()[0] is not None, timeout=2000)
    gx, gy = window.plots.preview_item.getData()
    assert len(gx) > 100
    model = window.fit_panel.model
    np.testing.assert_allclose(gy, model.eval(np.array(starts), {"x": gx}))
    result = _fit(qtbot, window)
    window.use_result_as_start()
    np.testing.assert_allclose(window.fit_panel.parameters.starts(), result.values)


def test_guess_starts_for_a_formula_runs_in_the_background(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_model("A*exp(-(x-m)**2/(2*s**2)) + k*x + b")
    with qtbot.waitSignal(window._guess_runner.finished, timeout=30000):
        assert window.guess_starts()
        assert window._guess_runner.is_running   # the call returned at once
    starts = dict(zip(window.fit_panel.model.param_names, window.fit_panel.parameters.starts()))
    assert abs(starts["m"] - 497) < 10


def test_unsaved_changes_prompt(qtbot, window, peak_csv, monkeypatch):
    window.open_path(str(peak_csv), ask=False)
    window.table_model.setData(window.table_model.index(0, 1), "7.5")
    assert window.windowTitle().endswith("*")
    asked = []

    def answer(result):
        def question(*args, **kwargs):
            asked.append(args)
            return result
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.Cancel))
    window.close()
    assert asked and window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.Discard))
    window.close()
    assert len(asked) == 2 and not window.isVisible()


def test_save_and_reopen_project(qtbot, window, peak_csv, tmp_path):
    window.open_path(str(peak_csv), ask=False)
    window.set_roles("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
    window.set_model("gaussian+line")
    _fit(qtbot, window)
    window.undo_stack.push(SetMaskCommand(window.table_model, [3, 4], True))
    path = tmp_path / "p.lsqfit"
    assert window.save_to(str(path))
    assert window.windowTitle() == "lsqfit-app - p.lsqfit"
    table = window.table.snapshot()
    saved = window.result
    assert window.open_path(str(path), ask=False)
    # the saved result is shown as saved, without a refit
    assert not window.controller.is_running
    np.testing.assert_allclose(window.result.values, saved.values, rtol=1e-12)
    assert window.table == table
    assert window.data_panel.roles()[2] == "sigma (counts/s)"
    assert window.fit_panel.model_spec() == "gaussian+line"
    assert window.result.statistics.n_excluded == 2


def test_autosave_writes_recovery_file(qtbot, window, peak_csv):
    from lsqfit_app.gui import files
    window.open_path(str(peak_csv), ask=False)
    window.table_model.setData(window.table_model.index(0, 1), "7.5")
    window.autosave()
    assert files.recovery_path().exists()
    window._closing = True
    window.close()
    assert not files.recovery_path().exists()


def test_uncaught_exception_is_reported_and_data_kept(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    before = window.table.snapshot()
    try:
        raise ValueError("unexpected")
    except ValueError as exc:
        window.report_exception(type(exc), exc, exc.__traceback__)
    assert "unexpected" in window.status_message.text()
    assert window.table == before


def test_edits_during_a_fit_do_not_reach_it(qtbot, slow_window):
    window = slow_window
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=10000):
        window.start_fit()
    y_before = window.table.values("y")
    window.table_model.setData(window.table_model.index(0, 1), "1e6")   # typed during the fit
    window.undo_stack.push(SetMaskCommand(window.table_model, [1, 2], True))
    with qtbot.waitSignal(window.controller.fit_finished, timeout=5000) as blocker:
        window.controller.cancel()
    result = blocker.args[0]
    # the worker fitted the snapshot: row 0 as it was, rows 1-2 used
    assert result.residuals[0] == pytest.approx(y_before[0] - result.fitted[0])
    assert result.used[1] and result.used[2]
    assert window.table.cell(0, "y") == 1e6 and window.table.mask[1]
