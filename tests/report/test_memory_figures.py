"""Big-data figure reductions work block by block and give the one-pass answer."""
import numpy as np
import pytest

from lsqfit_app.report import figures


def _data(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 7.0, n)
    y = np.round(rng.normal(0.0, 1.0, n), 1)  # rounded: many ties within a column
    y[rng.choice(n, 30, replace=False)] = np.nan
    x[rng.choice(n, 30, replace=False)] = np.inf
    y[rng.choice(n, 5, replace=False)] += 50.0  # outliers
    return x, y


@pytest.mark.parametrize("block", [997, 4096])
def test_column_extremes_blocks_match_one_pass(monkeypatch, block):
    x, y = _data(11, 30_000)
    monkeypatch.setattr(figures, "BLOCK", 10 ** 9)
    whole = figures.column_extremes(x, y, columns=300)
    monkeypatch.setattr(figures, "BLOCK", block)
    blocked = figures.column_extremes(x, y, columns=300)
    np.testing.assert_array_equal(blocked, whole)
    assert np.all(np.isfinite(x[blocked]) & np.isfinite(y[blocked]))
    # every outlier is kept
    assert set(np.flatnonzero(y > 40)) <= set(blocked.tolist())


def test_column_extremes_ties_first_low_last_high(monkeypatch):
    monkeypatch.setattr(figures, "BLOCK", 100)
    n = 1000
    x = np.linspace(0.0, 1.0, n)
    y = np.zeros(n)
    # one column: every y equal -> first row is the lowest, last the highest
    keep = figures.column_extremes(x, y, columns=1)
    np.testing.assert_array_equal(keep, [0, n - 1])


def test_density_blocks_match_histogram2d(monkeypatch):
    x, y = _data(12, 20_000)
    finite = np.isfinite(x) & np.isfinite(y)
    bounds = (float(x[finite].min()), float(x[finite].max()),
              float(y[finite].min()), float(y[finite].max()))
    expect, _, _ = np.histogram2d(x[finite], y[finite], bins=figures.DENSITY_BINS,
                                  range=(bounds[:2], bounds[2:]))
    monkeypatch.setattr(figures, "BLOCK", 1234)
    np.testing.assert_array_equal(figures._density(x, y, finite, bounds), expect)
    assert figures._masked_range(x, finite) == bounds[:2]
