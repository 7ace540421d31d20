"""A fit's result dataclasses are built without their __init__ (core.result.frozen_instance):
they must still be complete, equal to what the __init__ builds, and frozen."""
import dataclasses
import math

import numpy as np
import pytest

from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitStatistics, ParameterResult, frozen_instance
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit

VALUES = dict(name="a", value=1.0, stderr=0.1, ci95=(0.8, 1.2), t_value=10.0, p_value=1e-5,
              fixed=False, at_bound=False, start=0.5, min=-math.inf, max=math.inf,
              stderr_note="")


def test_frozen_instance_equals_init():
    made = frozen_instance(ParameterResult, **VALUES)
    assert type(made) is ParameterResult
    assert made == ParameterResult(**VALUES)
    assert hash(made) == hash(ParameterResult(**VALUES))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.value = 2.0


def test_frozen_instance_needs_exactly_the_fields():
    partial = dict(VALUES)
    del partial["stderr_note"]    # has a default, which frozen_instance does not fill in
    with pytest.raises(TypeError, match="missing \\['stderr_note'\\]"):
        frozen_instance(ParameterResult, **partial)
    with pytest.raises(TypeError, match="unknown \\['bogus'\\]"):
        frozen_instance(ParameterResult, bogus=1, **VALUES)


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
