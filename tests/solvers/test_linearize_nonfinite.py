"""The linearised fit's QR says "not finite" for any NaN or inf in [J | r],
read off the small factor (no pass over the tall matrix)."""
import numpy as np
import pytest

from lsqfit_app.solvers._linearize import _factor_augmented


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_anywhere_gives_no_factor(bad):
    rng = np.random.default_rng(41)
    for _ in range(2000):
        m = int(rng.integers(4, 40))
        p = int(rng.integers(1, min(m, 6) + 1))
        J, r = rng.normal(size=(m, p)), rng.normal(size=m)
        if rng.random() < 0.3:
            J[:, rng.integers(p)] = 0.0        # reflectors that leave a column alone
        if rng.random() < 0.3:
            J[rng.integers(1, m):, 0] = 0.0
        if rng.random() < 0.5:
            J[rng.integers(m), rng.integers(p)] = bad
        else:
            r[rng.integers(m)] = bad
        assert _factor_augmented(J, r) == (None, None)


def test_a_finite_matrix_is_factorised_as_numpy_does():
    rng = np.random.default_rng(42)
    J, r = rng.normal(size=(50, 3)), rng.normal(size=50)
    R, qtr = _factor_augmented(J, r)
    assert np.allclose(np.abs(R), np.abs(np.linalg.qr(J, mode="r")))
    step = np.linalg.solve(R, qtr)
    assert np.allclose(step, np.linalg.lstsq(J, r, rcond=None)[0])   # row signs cancel


def test_a_nan_in_a_later_row_block_of_big_data_gives_no_factor():
    rng = np.random.default_rng(43)
    J, r = rng.normal(size=(300_000, 2)), rng.normal(size=300_000)
    assert _factor_augmented(J, r)[0] is not None
    J[250_000, 1] = np.nan
    assert _factor_augmented(J, r) == (None, None)
