"""Progress callbacks and cancel, tested without threads (STYLE.md)."""
import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.solvers import METHODS, SolverOptions, fit


def slow_problem():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 10, 200)
    y = 5 * np.exp(-x / 2.0) + 1 + rng.normal(0, 0.05, x.size)
    return FitProblem.create(FormulaModel("a*exp(-x/tau)+c", ("x",)), x, y,
                             {"a": 1.0, "tau": 20.0, "c": 0.0})


@pytest.mark.parametrize("method", ["lm", "trf", "lbfgs", "gradient-descent", "auto"])
def test_on_iteration_reports_each_iteration(method):
    states = []
    result = fit(slow_problem(), method, on_iteration=states.append)
    assert len(states) >= 2
    assert [s.iteration for s in states] == list(range(len(states)))
    assert [s.objective for s in states] == list(result.history)
    assert all(len(s.values) == 3 for s in states)


@pytest.mark.parametrize("method", ["lm", "trf", "lbfgs", "gradient-descent", "auto"])
def test_cancel_from_callback_stops_within_one_iteration(method):
    token = CancelToken()
    states = []

    def on_iteration(state):
        states.append(state)
        if len(states) == 3:
            token.cancel()

    result = fit(slow_problem(), method, on_iteration=on_iteration, cancel=token)
    assert result.status is FitStatus.CANCELLED
    assert len(states) == 3               # nothing reported after the cancel
    # the best point so far is returned, never worse than the start
    assert result.statistics.sse <= states[0].objective


def test_cancel_before_start_returns_the_start():
    token = CancelToken()
    token.cancel()
    problem = slow_problem()
    result = fit(problem, "lm", cancel=token)
    assert result.status is FitStatus.CANCELLED
    assert result.value("tau") == 20.0


def test_iteration_limit_is_a_status():
    result = fit(slow_problem(), "gradient-descent", options=SolverOptions(max_iterations=5))
    assert result.status is FitStatus.MAX_ITERATIONS
    assert result.iterations == 5
    assert not result.converged


def test_nan_at_start_is_reported():
    x = np.linspace(1, 5, 10)
    problem = FitProblem.create(FormulaModel("a*log(x - b)", ("x",)), x, np.log(x),
                                {"a": 1.0, "b": 10.0})
    result = fit(problem, "lm")
    assert result.status is FitStatus.FAILED
    assert "start" in result.message


def test_overflow_along_the_way_is_a_status_not_an_exception():
    x = np.linspace(0, 50, 30)
    y = np.exp(x / 10)
    problem = FitProblem.create(FormulaModel("exp(k*x)", ("x",)), x, y, {"k": 5.0})
    start = float(np.sum((y - np.exp(5.0 * x)) ** 2))
    for method in ("gradient-descent", "lbfgs", "lm", "trf"):
        result = fit(problem, method)
        assert np.isfinite(result.value("k")), method
        assert result.statistics.sse <= start, method


def test_methods_are_listed():
    assert set(METHODS) == {"auto", "closed-form", "gradient-descent", "lbfgs", "lm", "trf"}
