"""The textbook line x = 1..4, y = 2x: every solver must find a = 2, b = 0."""
import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.solvers import fit

X = np.array([1.0, 2.0, 3.0, 4.0])
Y = np.array([2.0, 4.0, 6.0, 8.0])


@pytest.mark.parametrize("method, tol", [
    ("closed-form", 1e-10), ("lm", 1e-10), ("trf", 1e-10), ("auto", 1e-10),
    ("gradient-descent", 1e-6), ("lbfgs", 1e-6),
])
def test_every_solver_finds_the_line(method, tol):
    model = FormulaModel("a*x+b", ("x",))
    problem = FitProblem.create(model, X, Y, {"a": 1.0, "b": 1.0})
    result = fit(problem, method)
    assert result.converged, result.message
    assert abs(result.value("a") - 2.0) <= tol
    assert abs(result.value("b") - 0.0) <= tol
    assert result.statistics.sse <= 1e-10


def test_auto_uses_closed_form_for_linear_models():
    problem = FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y)
    result = fit(problem)
    assert result.solver == "closed-form"
    assert result.iterations == 1


def test_fit_does_not_mutate_inputs():
    x, y = X.copy(), Y.copy()
    problem = FitProblem.create(FormulaModel("a*x+b", ("x",)), x, y, {"a": 1.0, "b": 1.0})
    x[0] = 99.0   # the problem holds its own snapshot
    before = problem.params
    fit(problem, "lm")
    assert problem.params == before
    assert problem.x["x"][0] == 1.0


def test_history_starts_at_the_start_value_and_decreases():
    model = FormulaModel("a*exp(-x/tau)", ("x",))
    x = np.linspace(0, 5, 30)
    y = 3 * np.exp(-x / 1.5) + 0.01 * np.sin(7 * x)
    result = fit(FitProblem.create(model, x, y, {"a": 1.0, "tau": 0.3}), "lm")
    start_obj = float(np.sum((y - 1.0 * np.exp(-x / 0.3)) ** 2))
    assert result.history[0] == pytest.approx(start_obj)
    assert result.history[-1] == pytest.approx(result.statistics.sse, rel=1e-9)
    assert min(result.history) >= result.statistics.sse * (1 - 1e-12)


def test_restore_result_reproduces_a_saved_fit():
    import json

    from lsqfit_app.solvers import restore_result

    x = np.linspace(0, 5, 30)
    y = 3 * np.exp(-x / 1.5) + 0.2 + 0.01 * np.cos(9 * x)
    model = FormulaModel("a*exp(-x/tau)+c", ("x",))
    problem = FitProblem.create(model, x, y, {"a": 1.0, "tau": 1.0, "c": 0.0})
    original = fit(problem)
    saved = json.loads(json.dumps(original.to_dict()))
    restored = restore_result(problem, saved)
    assert restored.values.tolist() == original.values.tolist()
    assert restored.stderrs == pytest.approx(original.stderrs, rel=1e-12)
    assert restored.status is original.status and restored.history == original.history
    assert restored.iterations == original.iterations and restored.solver == original.solver
    assert restored.statistics.aicc == pytest.approx(original.statistics.aicc, rel=1e-12)
