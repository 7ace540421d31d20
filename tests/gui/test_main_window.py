"""The main window end to end: open, roles, fit, plotted curve, cancel, close."""
import numpy as np
import pyqtgraph
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from lsqfit_app.core.result import FitStatus
from lsqfit_app.gui.undo_commands import SetMaskCommand

# How fast Cancel acts, how long the event loop may stall and how long closing
# takes are measured, not asserted: tests/benchmarks/bench_gui.py runs these same
# scenarios and prints the figures against DESIGN.md section 5.  The tests here
# hold the behaviour by counts and order.  Their wait timeouts only stop a hung
# test; they are many times any expected duration.
HANG_GUARD_MS = 60_000


def test_pyqtgraph_uses_pyside6():
    import lsqfit_app.gui.app  # noqa: F401 - the import order under test
    assert pyqtgraph.Qt.QT_LIB == "PySide6"


def _fit(qtbot, window, timeout=HANG_GUARD_MS):
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
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS):
        open_example(window)
    assert window.result.converged
    assert window.windowTitle().startswith("lsqfit-app - peak.csv")
    assert window.data_panel.roles() == ("wavelength (nm)", "intensity (counts/s)",
                                         "sigma (counts/s)")


def _counting_fit(late: list, calls: list):
    """``solvers.fit`` that records the iterations the solver reports after Cancel."""
    from lsqfit_app.solvers import fit

    def counting_fit(problem, method, on_iteration=None, cancel=None, options=None):
        def watch(state):
            if cancel.cancelled:
                late.append(state.iteration)
            on_iteration(state)
        calls.append(method)
        return fit(problem, method, on_iteration=watch, cancel=cancel, options=options)
    return counting_fit


def test_cancel_slow_fit_stops_the_solver_and_keeps_best_point(qtbot, slow_window):
    window = slow_window
    late, calls = [], []
    window.controller._fit_function = _counting_fit(late, calls)
    progressed = []
    window.controller.fit_progressed.connect(progressed.append)
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        assert window.start_fit()
    assert window.fit_panel.fit_button.text() == "Cancel"
    qtbot.waitUntil(lambda: len(progressed) >= 5, timeout=HANG_GUARD_MS)
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS) as blocker:
        window.fit_panel.fit_button.click()
    result = blocker.args[0]
    assert calls == ["gradient-descent"]
    assert result.status is FitStatus.CANCELLED
    # the token is polled at every model evaluation: at most the iteration under way
    # when Cancel came is still reported, none after it
    assert len(late) <= 1, f"iterations reported after Cancel: {late}"
    assert window.fit_panel.fit_button.text() == "Fit"
    # the best point so far is shown, better than the start
    assert result.statistics.objective < result.history[0]
    assert window.result is result
    assert not window.controller.is_running


def test_event_loop_keeps_answering_during_long_fit(qtbot, slow_window):
    """A 10 ms timer keeps firing while the fit streams in.

    Ordered events, not durations: a fit that blocked the GUI thread would
    deliver its queued progress signals in one burst after the fit, with no
    timer tick between them and no tick while the fit runs.
    """
    window = slow_window
    events = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: events.append("tick" if window.controller.is_running
                                                else "tick after"))
    window.controller.fit_progressed.connect(lambda state: events.append("progress"))
    # counted from the first live update on: the set-up of a run is not "during"
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        assert window.start_fit()
    timer.start()
    qtbot.waitUntil(lambda: events.count("progress") >= 20, timeout=HANG_GUARD_MS)
    timer.stop()
    assert window.controller.is_running          # the fit is still going: all this was "during"
    window.controller.cancel()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=HANG_GUARD_MS)
    assert "tick after" not in events
    ticks = events.count("tick")
    assert ticks >= 20, f"the timer fired {ticks} times during 20 live updates"
    # ticks fall between live updates, not only before or after them all
    first = events.index("progress")
    last = len(events) - 1 - events[::-1].index("progress")
    gaps_with_a_tick, in_gap = 0, False
    for event in events[first:last + 1]:
        if event == "progress":
            in_gap = False
        elif not in_gap:
            gaps_with_a_tick, in_gap = gaps_with_a_tick + 1, True
    assert gaps_with_a_tick >= 5, f"ticks fell in only {gaps_with_a_tick} of the gaps: {events}"
    # live updates arrived and reached the history plot
    assert window.plots.history_values().size >= 10


def test_closing_during_fit_cancels_and_waits(qtbot, slow_window):
    window = slow_window
    late, calls = [], []
    window.controller._fit_function = _counting_fit(late, calls)
    finished = []
    window.controller.fit_finished.connect(finished.append)
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        window.start_fit()
    window._closing = True           # no unsaved-changes prompt here
    window.close()
    # close() returns only after the worker has stopped: nothing runs on, nothing
    # is reported after Cancel, and the window is gone
    assert not window.controller.is_running
    assert len(late) <= 1
    assert not window.isVisible()
    qtbot.wait(10)
    assert all(r.status is FitStatus.CANCELLED for r in finished)


def test_one_fit_at_a_time(qtbot, slow_window):
    window = slow_window
    assert window.start_fit()
    assert not window.start_fit()
    window.controller.cancel()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=HANG_GUARD_MS)


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
    with qtbot.waitSignal(window.controller.fit_failed, timeout=HANG_GUARD_MS):
        window.start_fit()
    assert "boom" in window.results_panel.status_label.text()
    assert not window.controller.is_running


def test_guess_and_use_result_as_start(qtbot, window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_model("gaussian+line")
    with qtbot.waitSignal(window._guess_runner.finished, timeout=HANG_GUARD_MS):
        assert window.guess_starts()          # off the GUI thread, like a fit
    starts = window.fit_panel.parameters.starts()
    assert all(s is not None for s in starts)
    qtbot.waitUntil(lambda: window.plots.preview_item.getData()[0] is not None,
                    timeout=HANG_GUARD_MS)
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
    with qtbot.waitSignal(window._guess_runner.finished, timeout=HANG_GUARD_MS):
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
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        window.start_fit()
    y_before = window.table.values("y")
    window.table_model.setData(window.table_model.index(0, 1), "1e6")   # typed during the fit
    window.undo_stack.push(SetMaskCommand(window.table_model, [1, 2], True))
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS) as blocker:
        window.controller.cancel()
    result = blocker.args[0]
    # the worker fitted the snapshot: row 0 as it was, rows 1-2 used
    assert result.residuals[0] == pytest.approx(y_before[0] - result.fitted[0])
    assert result.used[1] and result.used[2]
    assert window.table.cell(0, "y") == 1e6 and window.table.mask[1]
