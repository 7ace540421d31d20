"""The objective history's log axis: readable labels over a short range and over decades."""
import numpy as np
import pytest

from lsqfit_app.gui.plots import LogLabelAxis, _nice_step


@pytest.mark.parametrize("raw, step", [(0.7, 1.0), (1.0, 1.0), (1.3, 2.0), (3.1, 5.0),
                                       (0.0021, 0.005), (60.0, 100.0)])
def test_nice_step(raw, step):
    assert _nice_step(raw) == pytest.approx(step)


def test_short_range_gets_round_linear_ticks_with_distinct_labels(qtbot):
    axis = LogLabelAxis(orientation="left")
    axis.setLogMode(False, True)
    lo, hi = np.log10(49.0), np.log10(52.5)
    axis.setRange(lo, hi)
    (spacing, values), = axis.tickValues(lo, hi, 200)
    assert 10 ** np.array(values) == pytest.approx([49.0, 50.0, 51.0, 52.0])
    labels = axis.tickStrings(values, 1.0, spacing)
    assert labels == ["49", "50", "51", "52"]


def test_decades_keep_pyqtgraph_ticks_and_only_decade_labels(qtbot):
    axis = LogLabelAxis(orientation="left")
    axis.setLogMode(False, True)
    axis.setRange(-2.0, 3.0)
    levels = axis.tickValues(-2.0, 3.0, 300)
    values = [v for _spacing, vs in levels for v in vs]
    labels = axis.tickStrings(values, 1.0, 1.0)
    shown = [v for v, t in zip(values, labels) if t]
    assert all(abs(v - round(v)) < 1e-6 for v in shown) and len(shown) >= 3
