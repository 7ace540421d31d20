"""A model that is NaN or infinite ends the fit with a status whose message
says where: the rows (numbered as the data rows) and, for a derivative, the
parameter."""
import numpy as np
import pytest

from lsqfit_app.solvers.compare import race
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.solvers import METHODS, fit


def problem(formula, x, y, params=None, excluded=None):
    return FitProblem.create(FormulaModel(formula, ("x",)), x, y, params, excluded=excluded)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "closed-form"])
def test_nan_rows_at_the_start_are_named(method):
    rng = np.random.default_rng(21)
    x = np.linspace(-1, 4, 26)            # rows 1-5 have x < 0, row 6 has x = 0
    y = np.log(np.abs(x) + 1) + rng.normal(0, 0.01, x.size)
    result = fit(problem("a*log(x*b)", x, y, {"a": 1.0, "b": 1.0}), method)
    assert result.status is FitStatus.FAILED
    assert "rows 1, 2, 3 and 3 more" in result.message
    assert "x = -1" in result.message and "a = 1, b = 1" in result.message


def test_rows_are_data_rows_when_some_are_masked():
    x = np.linspace(-1, 4, 26)
    excluded = np.zeros(x.size, dtype=bool)
    excluded[:3] = True                    # rows 4, 5 (x < 0) and 6 (x = 0) stay
    result = fit(problem("a*log(x*b)", x, np.ones(x.size), {"a": 1.0, "b": 1.0},
                         excluded=excluded), "lm")
    assert result.status is FitStatus.FAILED
    assert "rows 4, 5, 6 (x = -0.4, -0.2, 0)" in result.message


def test_a_derivative_that_is_not_finite_names_the_parameter():
    rng = np.random.default_rng(22)
    x = np.linspace(0, 5, 30)              # d(x**b)/db = x**b log x is NaN at x = 0
    y = 2 * x**1.5 + rng.normal(0, 0.05, x.size)
    result = fit(problem("a*x**b", x, y, {"a": 2.0, "b": 1.5}), "lm")
    assert result.status is FitStatus.FAILED
    assert "derivative with respect to b" in result.message and "row 1 (x = 0)" in result.message


@pytest.mark.parametrize("formula", ["a*exp(1e6*x)", "a/(x-x)", "a*x**1e308+b"])
def test_a_linear_model_that_is_never_finite_says_so(formula):
    x = np.linspace(0.5, 3, 12)
    result = fit(problem(formula, x, np.ones(x.size)), "auto")
    assert result.solver == "closed-form"
    assert result.status is FitStatus.FAILED
    assert "whatever the parameter values" in result.message and "row" in result.message


def test_every_parameter_fixed_is_a_fit_of_nothing():
    rng = np.random.default_rng(23)
    x = np.linspace(0, 5, 30)
    y = 2 * np.exp(-x / 1.5) + rng.normal(0, 0.02, x.size)
    params = {"a": Parameter("a", 2.0, fixed=True), "tau": Parameter("tau", 1.5, fixed=True)}
    for method in ("auto", "lm", "trf", "lbfgs", "gradient-descent"):
        result = fit(problem("a*exp(-x/tau)", x, y, params), method)
        assert result.status is FitStatus.CONVERGED, method
        assert "every parameter is fixed" in result.message
        assert result.iterations == 0
        assert result.statistics.sse == pytest.approx(float(np.sum((y - 2 * np.exp(-x / 1.5)) ** 2)))


def test_every_parameter_fixed_where_the_model_is_nan_fails():
    x = np.linspace(-2, -1, 10)
    params = {"a": Parameter("a", 1.0, fixed=True)}
    result = fit(problem("a*log(x)", x, np.ones(x.size), params), "auto")
    assert result.status is FitStatus.FAILED
    assert "rows 1, 2, 3 and 7 more" in result.message


def test_a_race_on_a_nan_model_fails_in_every_lane():
    x = np.linspace(-2, -1, 10)
    results = race(problem("a*log(x)+exp(b)", x, np.ones(x.size)))
    assert results and all(r.status is FitStatus.FAILED for r in results)
    assert all("row" in r.message for r in results)
