"""Big scatters look like their data: a density image of every point plus each column's extremes."""
import numpy as np
import pytest

from lsqfit_app.gui.plot_density import DRAW_ALL
from lsqfit_app.gui.plots import MAX_BARS, PlotsWidget


def _gaussian(rng, n):
    x = rng.uniform(0, 100, n)
    y = 10 * np.exp(-(x - 50) ** 2 / (2 * 8 ** 2)) + 1 + rng.normal(0, 1.0, n)
    return x, y


@pytest.fixture
def plots(qtbot):
    w = PlotsWidget()
    qtbot.addWidget(w)
    w.resize(1000, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_million_points_are_a_density_of_all_points_not_two_bands(qtbot, plots):
    rng = np.random.default_rng(101)
    n = 1_000_000
    x, y = _gaussian(rng, n)
    plots.set_data(x, y, None, np.zeros(n, dtype=bool))
    assert plots.is_dense()
    counts = plots.density_counts()
    (x0, x1), (y0, y1) = plots.fit_view.viewRange()
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    assert counts.sum() == np.count_nonzero(inside)          # every point, none twice
    # the image's mean per column follows the data's mean there (peak
    # downsampling drew only the bins' minima and maxima: two bands, no middle)
    cols = counts.shape[0]
    yc = y0 + (np.arange(counts.shape[1]) + 0.5) * (y1 - y0) / counts.shape[1]
    sample = rng.choice(n, 20000, replace=False)            # the subsample to compare with
    xs, ys = x[sample], y[sample]
    checked = 0
    for c in range(0, cols, 40):
        lo = x0 + c * (x1 - x0) / cols
        hi = x0 + (c + 1) * (x1 - x0) / cols
        if lo < 1 or hi > 99:
            continue        # the view's padding, beyond the data
        checked += 1
        near = (xs >= lo - 1) & (xs <= hi + 1)
        image_mean = np.sum(counts[c] * yc) / counts[c].sum()
        assert image_mean == pytest.approx(np.mean(ys[near]), abs=0.35)
    assert checked >= 8
    # drawn markers: each pixel column's lowest and highest point, the outliers included
    dx, dy = plots.data_item.getData()
    assert len(dx) <= 2 * plots.fit_view.width() + 2
    assert dy.max() == y.max() and dy.min() == y.min()
    assert plots.data_item.opts["autoDownsample"] is False


def test_zooming_in_draws_the_points_themselves(qtbot, plots):
    rng = np.random.default_rng(102)
    n = 400_000
    x, y = _gaussian(rng, n)
    plots.set_data(x, y, None, np.zeros(n, dtype=bool))
    assert plots.is_dense()
    plots.fit_view.setRange(xRange=(40, 41), yRange=(-5, 20), padding=0)
    qtbot.waitUntil(lambda: not plots.is_dense(), timeout=5000)
    dx, dy = plots.data_item.getData()
    near = (x >= 39.5) & (x <= 41.5) & (y >= -17.5) & (y <= 32.5)
    assert len(dx) == np.count_nonzero(near) <= DRAW_ALL
    assert np.array_equal(np.sort(dx), np.sort(x[near]))
    plots.fit_view.autoRange()
    qtbot.waitUntil(plots.is_dense, timeout=5000)


def test_many_residuals_are_a_density_not_min_max_bars(qtbot, plots):
    rng = np.random.default_rng(103)
    n = 300_000
    x, y = _gaussian(rng, n)
    plots.set_data(x, y, None, np.zeros(n, dtype=bool))
    r = rng.normal(0, 1.0, n)
    plots.set_residuals(r)
    layer = plots._residual_layer
    assert layer.dense and layer.density_counts().sum() > 0.99 * n
    assert len(plots.residual_bars.opts["x"]) == 0
    px, pr = plots.residual_points.getData()
    assert pr.max() == r.max() and pr.min() == r.min()
    # few residuals stay bars, one per point
    m = MAX_BARS // 2
    plots.set_data(x[:m], y[:m], None, np.zeros(m, dtype=bool))
    plots.set_residuals(r[:m])
    assert len(plots.residual_bars.opts["x"]) == m
