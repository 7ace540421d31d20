"""Fits shared by the report tests (built once per session)."""
from __future__ import annotations

import numpy as np
import pytest

from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.core.resources import resource_path
from lsqfit_app.solvers import fit


def _decay_data():
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 5.0, 40)
    y = 3.0 * np.exp(-x / 1.2) + 0.5 + rng.normal(0.0, 0.05, x.size)
    return x, y


@pytest.fixture(scope="session")
def formula_fit():
    x, y = _decay_data()
    excluded = np.zeros(x.size, dtype=bool)
    excluded[[5, 17]] = True
    problem = FitProblem.create(make_model("a*exp(-x/tau)+c"), x, y,
                                {"a": 1.0, "tau": 1.0, "c": 0.0}, excluded=excluded,
                                labels={"x": "t (s)", "y": "signal (V)"})
    return fit(problem), problem


@pytest.fixture(scope="session")
def peak_read():
    from lsqfit_app.io import read_table

    return read_table(str(resource_path("examples/peak.csv")))


@pytest.fixture(scope="session")
def library_fit(peak_read):
    from lsqfit_app.session.roles import Roles, make_problem

    problem = make_problem(peak_read.table, Roles(x=("1",), y="2", sigma="3"), "gaussian+line", [])
    return fit(problem), problem


@pytest.fixture(scope="session")
def weighted_fit():
    rng = np.random.default_rng(3)
    x = np.linspace(1.0, 10.0, 30)
    sigma = 0.05 + 0.02 * x
    y = 2.0 * x**0.7 + rng.normal(0.0, 1.0, x.size) * sigma
    problem = FitProblem.create(make_model("a*x**b"), x, y, {"a": 1.0, "b": 1.0}, sigma=sigma)
    return fit(problem), problem


@pytest.fixture(scope="session")
def fixed_fit():
    x, y = _decay_data()
    problem = FitProblem.create(make_model("a*exp(-x/tau)+c"), x, y,
                                [Parameter("a", 1.0), Parameter("tau", 1.0),
                                 Parameter("c", 0.5, fixed=True)])
    return fit(problem), problem


@pytest.fixture(scope="session")
def bounded_fit():
    x, y = _decay_data()
    problem = FitProblem.create(make_model("a*exp(-x/tau)+c"), x, y,
                                [Parameter("a", 1.0, min=0.0, max=10.0),
                                 Parameter("tau", 1.0, min=0.1, max=5.0), Parameter("c", 0.0)])
    return fit(problem), problem
