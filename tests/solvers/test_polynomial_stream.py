"""The streamed polynomial path for big data agrees with the QR path."""
import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit
from lsqfit_app.solvers import _closed_form
from lsqfit_app.core.polynomial import solve_polynomial


@pytest.mark.parametrize("degree", [0, 1, 3, 5])
def test_matches_numpy_polyfit(degree):
    rng = np.random.default_rng(degree)
    x = rng.uniform(-3, 7, 5000)
    y = np.polynomial.polynomial.polyval(x, rng.normal(size=degree + 1)) + rng.normal(0, 0.1, x.size)
    coef, cov = solve_polynomial(x, y, degree)
    ref = np.polynomial.polynomial.polyfit(x, y, degree)
    assert coef == pytest.approx(ref, rel=1e-9, abs=1e-12)
    V = np.vander(x, degree + 1, increasing=True)
    assert cov == pytest.approx(np.linalg.inv(V.T @ V), rel=1e-8, abs=1e-18)


@pytest.mark.parametrize("spec", ["poly3", "line", "c0 + c1*x + c2*x**2 + c3*x**3"])
def test_fit_streams_big_polynomials_and_agrees(monkeypatch, spec):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 10, 4000)
    y = 1 + 0.5 * x - 0.02 * x**3 + rng.normal(0, 0.3, x.size)
    sigma = np.full(x.size, 0.3)
    model = make_model(spec)
    small = fit(FitProblem.create(model, x, y, sigma=sigma), "closed-form")
    monkeypatch.setattr(_closed_form, "STREAM_LIMIT", 100)
    big = fit(FitProblem.create(model, x, y, sigma=sigma), "closed-form")
    assert big.streamed and not small.streamed
    assert big.values == pytest.approx(small.values, rel=1e-9, abs=1e-12)
    assert big.stderrs == pytest.approx(small.stderrs, rel=1e-9)
    assert big.statistics.sse == pytest.approx(small.statistics.sse, rel=1e-12)
    # the streamed covariance and leverages replace the Jacobian's: same statistics
    assert big.covariance == pytest.approx(small.covariance, rel=1e-8, abs=1e-20)
    assert big.standardized_residuals == pytest.approx(small.standardized_residuals, rel=1e-8)
    assert big.statistics.r_squared == pytest.approx(small.statistics.r_squared, rel=1e-12)


def test_formula_with_offset_is_not_streamed():
    assert make_model("a*x + 3").polynomial_powers() is None
    assert make_model("a*x + b*x**2").polynomial_powers() == (1, 2)


@pytest.mark.parametrize("weighted", [False, True])
def test_streamed_leverage_matches_the_hat_matrix(weighted):
    from lsqfit_app.core.polynomial import fit_polynomial
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 5, 3000)
    w = rng.uniform(0.5, 2.0, x.size) if weighted else None
    V = np.vander(x, 4, increasing=True)
    Vw = V * np.sqrt(w)[:, None] if weighted else V
    hat = np.einsum("ij,ji->i", Vw, np.linalg.solve(Vw.T @ Vw, Vw.T))
    y = np.sin(x)
    assert fit_polynomial(x, y, 3, w).leverage(x, w) == pytest.approx(hat, rel=1e-9)
