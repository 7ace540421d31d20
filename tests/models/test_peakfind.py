"""Our peak finder gives scipy.signal's peaks, prominences and half-height widths."""
import numpy as np
import pytest
from scipy import signal

from lsqfit_app.models import peakfind


def _signals():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 10, 400)
    yield np.exp(-(x - 3) ** 2) + 0.6 * np.exp(-(x - 6) ** 2 / 0.3) + rng.normal(0, 0.02, x.size)
    yield np.convolve(rng.normal(size=500), np.ones(9) / 9, mode="same")
    yield np.round(np.sin(x) * 4) / 4                       # flat tops and plateaus
    yield np.array([0.0, 1.0, 1.0, 1.0, 0.5, 2.0, 2.0, 0.0, 3.0])
    yield np.array([1.0, 2.0, 3.0])                          # no interior maximum
    yield np.zeros(10)


@pytest.mark.parametrize("y", list(_signals()))
@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3])
def test_matches_scipy_find_peaks_and_peak_widths(y, fraction):
    min_prom = fraction * float(np.ptp(y))
    idx, prom, left_base, right_base = peakfind.find_peaks(y, min_prom)
    ref_idx, props = signal.find_peaks(y, prominence=min_prom)
    assert idx.tolist() == ref_idx.tolist()
    assert prom == pytest.approx(props["prominences"], rel=1e-12)
    assert left_base.tolist() == props["left_bases"].tolist()
    assert right_base.tolist() == props["right_bases"].tolist()
    if idx.size:
        left, right = peakfind.half_widths(y, idx, prom, left_base, right_base)
        ref = signal.peak_widths(y, idx, rel_height=0.5)
        assert left == pytest.approx(ref[2], rel=1e-12)
        assert right == pytest.approx(ref[3], rel=1e-12)


def test_two_peak_sum_guess_finds_both_peaks():
    from lsqfit_app.models import make_model
    x = np.linspace(0, 10, 300)
    y = 3 * np.exp(-(x - 3) ** 2 / 0.5) + 2 * np.exp(-(x - 7) ** 2 / 0.8) + 0.1
    guess = make_model("gaussian+gaussian+poly0").guess(x, y)
    centers = sorted([guess["gaussian1_center"], guess["gaussian2_center"]])
    assert centers == pytest.approx([3, 7], abs=0.3)
