"""The objective-history plot: runs numbered per file, a few kept, integer iterations from 0."""
import numpy as np
import pytest

from lsqfit_app.gui.plot_history import MAX_RUNS
from lsqfit_app.gui.plots import PlotsWidget


def _plots(qtbot):
    w = PlotsWidget()
    qtbot.addWidget(w)
    w.resize(900, 720)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_runs_are_numbered_from_one_after_a_new_file_and_only_the_last_few_are_kept(qtbot):
    rng = np.random.default_rng(301)
    plots = _plots(qtbot)
    for _ in range(6):
        plots.start_fit_run("lm")
        plots.set_history(np.cumsum(rng.uniform(0, 1, 12))[::-1] + 1)
    labels = plots.history.labels()
    assert len(labels) == plots.run_count == MAX_RUNS
    assert labels[-1] == "run 6 (lm)" and labels[0] == f"run {7 - MAX_RUNS} (lm)"
    # the key above the plot names exactly the drawn runs, in one line, covering no curve
    title = plots.history_plot.titleLabel
    assert title.isVisible() and all(name in title.text for name in labels)
    assert "run 1 " not in title.text and "run 2 " not in title.text
    assert title.boundingRect().height() < 2.5 * title.item.font().pointSizeF() * 1.6 + 10
    plots.clear_history()
    assert plots.start_fit_run("trf") == "run 1 (trf)"


def test_a_new_file_restarts_the_run_numbers(qtbot, window, tmp_path):
    from lsqfit_app.core.table import Table
    rng = np.random.default_rng(302)
    x = np.linspace(0, 5, 40)
    for name in ("a.csv", "b.csv"):
        window.set_table(Table([("x", x, ""), ("y", 2 * x + 1 + rng.normal(0, 0.1, x.size), "")]),
                         name)
        window.set_roles("x", "y", None)
        window.set_model("poly1")
        for _ in range(2):
            with qtbot.waitSignal(window.controller.fit_finished, timeout=20000):
                assert window.start_fit()
    assert [t.split(" (")[0] for t in window.plots.history.labels()] == ["run 1", "run 2"]


def test_iterations_are_whole_numbers_from_zero(qtbot):
    plots = _plots(qtbot)
    plots.start_fit_run("lm")
    axis = plots.history_plot.getAxis("bottom")
    for k, value in enumerate([50.0, 49.5, 49.2]):
        plots.append_history(value)
        qtbot.wait(30)
        lo, hi = axis.range
        ticks = [v for _s, vs in axis.tickValues(lo, hi, axis.width() or 600) for v in vs]
        assert ticks and all(v == int(v) and v >= 0 for v in ticks)
        assert ticks[0] == 0
        x, _y = plots.history.runs[-1].item.getData()
        assert list(x) == list(range(k + 1))


def test_a_run_of_zero_iterations_is_a_marker(qtbot):
    plots = _plots(qtbot)
    plots.start_fit_run("closed-form")
    plots.set_history([12.5])
    item = plots.history.runs[-1].item
    x, y = item.getData()
    assert list(x) == [0] and 10 ** y[0] == pytest.approx(12.5)   # y is drawn as log10
    assert item.opts["symbol"] == "o"
