"""The fit plot's legend: only what is drawn, in the emptiest corner, movable and hideable."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from lsqfit_app.gui.plots import PlotsWidget

from helpers import drag


@pytest.fixture
def plots(qtbot):
    w = PlotsWidget()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def _covered(plots) -> int:
    """Data points under the legend's rectangle."""
    legend = plots.legend
    rect = legend.mapRectToScene(legend.boundingRect())
    x, y = plots.data_item.getData()
    n = 0
    for a, b in zip(x, y):
        if rect.contains(plots.fit_view.mapViewToScene(QPointF(a, b))):
            n += 1
    return n


def test_legend_lists_only_what_is_drawn(qtbot, plots):
    rng = np.random.default_rng(201)
    x = np.linspace(0, 10, 50)
    y = x + rng.normal(0, 0.3, x.size)
    plots.set_data(x, y, None, np.zeros(x.size, dtype=bool))
    assert plots.legend.names() == ["data"]
    plots.set_curve(x, x)
    assert plots.legend.names() == ["data", "fit"]
    excluded = np.zeros(x.size, dtype=bool)
    excluded[3] = True
    plots.set_data(x, y, None, excluded)
    plots.set_preview(x, 0.9 * x)
    assert plots.legend.names() == ["data", "excluded", "start values", "fit"]
    plots.set_preview(None, None)
    plots.set_data(x, y, None, np.zeros(x.size, dtype=bool))
    assert plots.legend.names() == ["data", "fit"]


def test_legend_starts_where_it_covers_fewest_points(qtbot, plots):
    rng = np.random.default_rng(202)
    x = np.linspace(0, 10, 400)
    y = np.exp(x / 2) + rng.normal(0, 1.0, x.size)     # high at the right: top left is empty
    plots.set_data(x, y, None, np.zeros(x.size, dtype=bool))
    plots.set_curve(x, np.exp(x / 2))
    qtbot.wait(200)
    assert plots.legend.corner == (0, 0)
    assert _covered(plots) == 0


def test_legend_hides_and_moves(qtbot, plots):
    rng = np.random.default_rng(203)
    x = np.linspace(0, 10, 60)
    plots.set_data(x, rng.normal(0, 1, x.size), None, np.zeros(x.size, dtype=bool))
    assert plots.legend.isVisible()
    plots.legend.toggle_action.trigger()
    assert not plots.legend.isVisible()
    plots.legend.toggle_action.trigger()
    assert plots.legend.isVisible()
    # a drag on the legend moves it, and new data leave it where the user put it
    legend = plots.legend
    start = plots.mapFromScene(legend.mapToScene(legend.boundingRect().center()))
    before = legend.pos()
    drag(plots, QPointF(start), QPointF(start) + QPointF(-200, 150), modifiers=Qt.NoModifier)
    assert legend.moved_by_user and (legend.pos() - before).manhattanLength() > 100
    moved = legend.pos()
    plots.set_data(x, 5 + x, None, np.zeros(x.size, dtype=bool))
    qtbot.wait(200)
    assert legend.pos() == moved
