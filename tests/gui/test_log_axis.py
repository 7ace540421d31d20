"""Log axes: distinct, enough labels over any range, in one style."""
import numpy as np
import pytest

from lsqfit_app.gui.plot_axes import LogLabelAxis, log_tick_values, nice_step, tick_labels


@pytest.mark.parametrize("raw, step", [(0.7, 1.0), (1.0, 1.0), (1.3, 2.0), (3.1, 5.0),
                                       (0.0021, 0.005), (60.0, 100.0)])
def test_nice_step(raw, step):
    assert nice_step(raw) == pytest.approx(step)


def _labels(axis, lo, hi, size):
    axis.setRange(lo, hi)
    levels = axis.tickValues(lo, hi, size)
    shown = []
    for spacing, values in levels:
        for v, t in zip(values, axis.tickStrings(values, 1.0, spacing)):
            if t:
                shown.append((v, t))
    return shown


RANGES = [(0.0232100, 0.0232150), (49.0, 52.5), (49.1800, 49.1846), (60.0, 49.0), (1e-3, 1e4),
          (2.0, 9.0), (20.0, 300.0), (6e5, 9e5), (3e5, 8e5), (1e-12, 1e12), (7.0, 7.0000001),
          (0.9, 1.1), (1e-8, 3e-8)]


@pytest.mark.parametrize("lo, hi", RANGES)
@pytest.mark.parametrize("size", [90, 160, 400])
def test_labels_are_distinct_and_enough_for_any_range(qtbot, lo, hi, size):
    axis = LogLabelAxis(orientation="left")
    axis.setLogMode(False, True)
    shown = _labels(axis, np.log10(min(lo, hi)), np.log10(max(lo, hi)), size)
    texts = [t for _v, t in shown]
    assert len(texts) >= (3 if size >= 160 else 2)
    assert len(set(texts)) == len(texts)
    # inside the range, and one style: no "3e+05" next to "8·10⁵"
    values = [10 ** v for v, _t in shown]
    assert min(values) >= min(lo, hi) * (1 - 1e-9) and max(values) <= max(lo, hi) * (1 + 1e-9)
    assert not any("e+" in t or "e-" in t for t in texts)


def test_one_style_per_axis():
    assert tick_labels([6e5, 7e5, 8e5]) == ["6·10⁵", "7·10⁵", "8·10⁵"]
    assert tick_labels([1e-3, 1e0, 1e3]) == ["0.001", "1", "1000"]
    assert tick_labels([1e-6, 1e0, 1e6]) == ["10⁻⁶", "10⁰", "10⁶"]
    assert tick_labels([0.023210, 0.023212, 0.023214], same_decimals=True) == [
        "0.023210", "0.023212", "0.023214"]


def test_decades_when_the_range_holds_several():
    values, decades = log_tick_values(-2.0, 3.0, 10)
    assert decades and list(np.log10(values)) == pytest.approx([-2, -1, 0, 1, 2, 3])
