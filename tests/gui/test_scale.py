"""A million rows: the table stays virtual and the plots draw a few thousand items."""
import numpy as np

from lsqfit_app.core.table import Table
from lsqfit_app.gui.plots import MAX_BARS


def test_million_rows_table_and_plots(qtbot, window):
    n = 1_000_000
    rng = np.random.default_rng(0)
    x = np.linspace(0, 100, n)
    y = 3 * np.exp(-x / 20) + 0.5 + rng.normal(0, 0.05, n)
    window.set_table(Table([("t", x, "s"), ("signal", y, "V")]), "big.csv")
    window.set_model("exp_decay")
    window.refresh_data()
    qtbot.wait(20)
    assert window.table_model.rowCount() == n
    assert window.data_panel.status_label.text() == f"{n} points, 0 excluded, 0 missing"
    # the scatter item gets each pixel column's extremes over a density image, not a million points
    shown = window.plots.data_item.scatter.data
    assert 0 < len(shown) < 20000 and window.plots.is_dense()
    # a residual curve from some parameter values: binned bars keep the extremes
    model = window.fit_panel.model
    values = np.array([2.9, 20.5, 0.5])
    residuals = y - model.eval(values, {"x": x})
    window.plots.set_data(x, y, None, np.zeros(n, dtype=bool))
    window.plots.set_residuals(residuals)
    # many residuals: a density with each column's extremes as dots, no bars
    assert len(window.plots.residual_bars.opts["x"]) == 0
    _px, pr = window.plots.residual_points.getData()
    assert np.max(np.abs(pr)) == np.max(np.abs(residuals))
    # zooming in (after the range rests) draws the points near the view themselves
    window.plots.fit_view.setXRange(10, 10.15, padding=0)
    qtbot.waitUntil(lambda: not window.plots.is_dense(), timeout=5000)
    xs = window.plots.data_item.getData()[0]
    assert xs.min() >= 9.9 and xs.max() <= 10.25
    bx = window.plots.residual_bars.opts["x"]
    assert 0 < len(bx) <= MAX_BARS
    # the table scrolls to the end without materialising rows
    window.data_panel.view.scrollToBottom()
    qtbot.wait(10)
    assert window.table_model.data(window.table_model.index(n - 1, 0)) == "100"
