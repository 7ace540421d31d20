"""A first-order stop says how far it may be from the minimum; a result's time is the fit's own."""
import re

import numpy as np

import lsqfit_app.solvers as solvers
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit


def _decay(seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, 40)
    y = 3 * np.exp(-x / 2.5) + 0.4 + rng.normal(0, 0.05, x.size)
    return FitProblem.create(make_model("a*exp(-x/tau)+c"), x, y)


def test_gradient_descent_says_how_far_from_the_minimum_it_may_be():
    problem = _decay(1)
    gd, lm = fit(problem, "gradient-descent"), fit(problem, "lm")
    assert gd.converged
    assert "first-order" in gd.message and "auto or LM" in gd.message
    m = re.search(r"would still change (\w+) by ([0-9.e+-]+) of its value", gd.message)
    assert m, gd.message
    name, said = m.group(1), float(m.group(2))
    actual = np.abs(gd.values / lm.values - 1)
    # the parameter named is the farthest, and the estimate is the right size
    assert problem.param_names[int(np.argmax(actual))] == name
    assert actual.max() / 3 < said < actual.max() * 3


def test_lm_converged_message_has_no_first_order_caveat():
    assert "first-order" not in fit(_decay(2), "lm").message


def test_the_solver_module_is_imported_before_the_clock_starts(monkeypatch):
    # a first use imports the algorithm (scipy's L-BFGS-B: ~0.1 s): not fitting time
    ticks = []
    real_clock = solvers.time.perf_counter
    real_runner = solvers._runner

    class Clock:
        @staticmethod
        def perf_counter():
            ticks.append("clock")
            return real_clock()

    def runner(method):
        ticks.append("runner")
        return real_runner(method)

    monkeypatch.setattr(solvers, "time", Clock)
    monkeypatch.setattr(solvers, "_runner", runner)
    fit(_decay(3), "lbfgs")
    assert ticks[:2] == ["runner", "clock"]
