"""The compiled power sums agree with the numpy passes they replace."""
import numpy as np
import pytest

from lsqfit_app.core import polynomial as _polynomial, power_sums as _power_sums
from lsqfit_app.core.polynomial import solve_polynomial

pytestmark = pytest.mark.skipif(not _power_sums.available(), reason="numba is not importable")


@pytest.mark.parametrize("n", [1, 255, 256, 257, 5000])
@pytest.mark.parametrize("degree", [0, 1, 2, 5, 10])
def test_power_sums_match_the_numpy_passes(n, degree):
    rng = np.random.default_rng(n + degree)
    x = rng.uniform(-3, 9, n)
    y = rng.normal(size=n)
    mid, half = 3.0, 6.0
    S, M = _power_sums.power_sums(x, y, degree, mid, half)
    G, b = _polynomial._hankel_sums(x, y, degree, mid, half)
    S_numpy = np.concatenate([G[0], G[-1][1:]])
    assert S.shape == (2 * degree + 1,) and M.shape == (degree + 1,)
    assert S == pytest.approx(S_numpy, rel=1e-12, abs=1e-12 * n)
    assert M == pytest.approx(b, rel=1e-12, abs=1e-12 * n)


def test_threads_split_big_arrays_and_still_agree():
    # above 2**20 points the work is split over threads; the sums must not change
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (1 << 20) + 12345)
    y = rng.normal(size=x.size)
    S, M = _power_sums.power_sums(x, y, 3, 0.5, 0.5)
    G, b = _polynomial._hankel_sums(x, y, 3, 0.5, 0.5)
    assert S == pytest.approx(np.concatenate([G[0], G[-1][1:]]), rel=1e-11)
    assert M == pytest.approx(b, rel=1e-11, abs=1e-9)
    assert _power_sums.min_max(x) == (x.min(), x.max())


def test_min_max_of_small_and_one_element_arrays():
    assert _power_sums.min_max(np.array([2.5])) == (2.5, 2.5)
    assert _power_sums.min_max(np.array([3.0, -1.0, 7.0, 0.0])) == (-1.0, 7.0)


@pytest.mark.parametrize("degree", [1, 4])
def test_solve_polynomial_takes_the_compiled_path_and_agrees(monkeypatch, degree):
    rng = np.random.default_rng(11)
    x = rng.uniform(2, 8, 20000)
    y = 1 - 0.5 * x + 0.02 * x**4 + rng.normal(0, 0.1, x.size)
    reference = solve_polynomial(x, y, degree)        # numpy passes (small n)
    calls = []
    original = _power_sums.power_sums
    monkeypatch.setattr(_power_sums, "power_sums", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setattr(_polynomial, "COMPILED_MIN_POINTS", 1000)
    coef, cov = solve_polynomial(x, y, degree)
    assert calls, "the compiled power sums were not used"
    assert coef == pytest.approx(reference[0], rel=1e-9, abs=1e-12)
    assert cov == pytest.approx(reference[1], rel=1e-8)


@pytest.mark.parametrize("n", [1, 7, 5000, (1 << 20) + 3])
def test_polyval_matches_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-3, 3, n)
    coef = rng.normal(size=6)
    assert _power_sums.polyval(x, coef) == pytest.approx(
        np.polynomial.polynomial.polyval(x, coef), rel=1e-12, abs=1e-12)
    assert _power_sums.polyval(x, coef[:1]) == pytest.approx(np.full(n, coef[0]))
