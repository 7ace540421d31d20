"""A fit's result dataclasses are complete, equal to what their __init__ builds, and frozen;
a problem's default parameters follow the model's hints."""
import dataclasses
import math

import numpy as np
import pytest

from lsqfit_app.core.errors import ParameterError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitStatistics
from lsqfit_app.models import make_model
from lsqfit_app.core.model import Model, ParamHint
from lsqfit_app.solvers import fit

@pytest.mark.parametrize("fixed", [False, True])
def test_fit_result_instances_are_complete(fixed):
    x = np.linspace(-5, 5, 60)
    y = 5 * np.exp(-x**2 / 2) + 0.3 + np.random.default_rng(0).normal(0, 0.1, x.size)
    model = make_model("gaussian+poly0")
    names = model.param_names
    params = dict(zip(names, (4.0, 0.2, 1.3, 0.0)))
    if fixed:
        params[names[3]] = Parameter(names[3], 0.3, True)
    res = fit(FitProblem.create(model, x, y, params))
    for obj in (res, res.statistics, *res.parameters):
        # replace() reads every field and runs the real __init__ on them
        assert set(vars(obj)) == {f.name for f in dataclasses.fields(obj)}
        copy = dataclasses.replace(obj)
        for f in dataclasses.fields(obj):
            a, b = getattr(obj, f.name), getattr(copy, f.name)
            assert a is b
    assert isinstance(res.statistics, FitStatistics)
    assert res.statistics == dataclasses.replace(res.statistics)
    assert res.parameters == tuple(dataclasses.replace(p) for p in res.parameters)



def test_problem_parameters_equal_the_init_ones():
    # defaults cached per model
    model = make_model("gaussian+poly0")
    names = model.param_names
    hints = model.param_hints()
    for _ in range(2):   # the second create reuses the model's cached defaults
        problem = FitProblem.create(model, np.arange(10.0), np.ones(10), {names[0]: 3})
        for name, p in zip(names, problem.params):
            assert set(vars(p)) == {f.name for f in dataclasses.fields(p)}
            hint = hints.get(name)
            lo, hi = (hint.min, hint.max) if hint else (-math.inf, math.inf)
            value = 3.0 if name == names[0] else None
            assert p == Parameter(name, value, False, lo, hi)
        assert type(problem.params[0].value) is float


class _Hinted(Model):
    """A model whose hints change after construction: the cached defaults must follow."""

    name = formula = "hinted"
    param_names = ("a", "b")

    def __init__(self):
        self.hints = {}

    def eval(self, p, x):
        return p[0] + p[1] * x["x"]

    def jacobian(self, p, x):
        return np.column_stack([np.ones_like(x["x"]), x["x"]])

    def guess(self, x, y):
        return {"a": 0.0, "b": 0.0}

    def param_hints(self):
        return self.hints   # its own dict, edited in place below


def test_default_parameters_follow_changed_hints():
    model = _Hinted()
    x, y = np.arange(5.0), np.arange(5.0)
    assert FitProblem.create(model, x, y).params[0].min == -math.inf
    model.hints["a"] = ParamHint(min=1.0)
    assert FitProblem.create(model, x, y).params[0].min == 1.0
    with pytest.raises(ParameterError, match="outside its bounds"):
        FitProblem.create(model, x, y, {"a": 0.5})
    model.hints["b"] = ParamHint(min=2.0, max=1.0)   # crossed: an error whenever used
    for _ in range(2):
        with pytest.raises(ParameterError, match="parameter b: min 2 is greater than max 1"):
            FitProblem.create(model, x, y)
    # a bad given value is reported first, in model order, as before the cache
    with pytest.raises(ParameterError, match="parameter a: start value"):
        FitProblem.create(model, x, y, {"a": 0.5})
    model.param_names = ("a", "b", "c")   # a new names tuple: defaults rebuilt
    model.hints = {}
    assert [p.name for p in FitProblem.create(model, x, y).params] == ["a", "b", "c"]
