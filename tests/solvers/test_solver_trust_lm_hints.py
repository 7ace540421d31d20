"""An explicit Levenberg-Marquardt runs within the model's own bound hints
(widths > 0) as auto does, and says which bound is in its way otherwise."""
import math

import numpy as np
import pytest

from lsqfit_app.solvers.compare import race
from lsqfit_app.core.errors import InputError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit

X = np.linspace(0.2, 10, 150)

#: peak and decay models with hints, and a curve each that keeps the hints inactive
CURVES = {
    "gaussian": lambda x: 3 * np.exp(-(x - 5) ** 2 / (2 * 0.8**2)),
    "lorentzian": lambda x: 2 / (1 + ((x - 4) / 0.7) ** 2),
    "voigt": lambda x: 2 * np.exp(-(x - 5) ** 2 / (2 * 0.5**2)) + 1.5 / (1 + ((x - 5) / 0.6) ** 2),
    "pseudo_voigt": lambda x: 2 * (0.4 / (1 + 4 * (x - 5) ** 2 / 1.5**2)
                                   + 0.6 * np.exp(-4 * np.log(2) * (x - 5) ** 2 / 1.5**2)),
    "exp_decay": lambda x: 4 * np.exp(-x / 2) + 0.5,
    "double_exp_decay": lambda x: 3 * np.exp(-x / 0.5) + 2 * np.exp(-x / 4) + 0.1,
    "gaussian+gaussian+line": lambda x: (3 * np.exp(-(x - 3) ** 2 / (2 * 0.5**2))
                                         + 2 * np.exp(-(x - 7) ** 2 / (2 * 0.9**2)) + 0.1 * x),
    "michaelis_menten": lambda x: 5 * x / (1.5 + x),
}


def problem_for(name, seed, **params):
    rng = np.random.default_rng(seed)
    y = CURVES[name](X) + rng.normal(0, 0.03, X.size)
    return FitProblem.create(make_model(name), X, y, params or None)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", sorted(CURVES))
def test_explicit_lm_runs_within_the_models_hints(name, seed):
    problem = problem_for(name, seed)
    assert any(p.bounded for p in problem.params)          # the hints are there
    lm = fit(problem, "lm")
    auto = fit(problem, "auto")
    assert lm.solver == "lm"
    assert lm.status is FitStatus.CONVERGED, lm.message
    assert auto.converged
    assert lm.statistics.sse == pytest.approx(auto.statistics.sse, rel=1e-9)
    for p in lm.parameters:                                  # strictly inside them
        assert p.min < p.value < p.max


def test_a_bound_the_user_set_is_refused_naming_it():
    problem = problem_for("gaussian", 3, amplitude=Parameter("amplitude", 2.0, False, 0.0, 10.0))
    with pytest.raises(InputError) as err:
        fit(problem, "lm")
    text = str(err.value)
    assert "'amplitude'" in text and "min 0" in text and "max 10" in text
    assert "sigma" not in text                               # the hint is not the user's
    assert "trf" in text


def test_a_user_bound_beside_a_hint_is_named_alone():
    # sigma keeps its hint min 0 but gets a max from the user
    problem = problem_for("gaussian", 3, sigma=Parameter("sigma", 1.0, False, 0.0, 5.0))
    with pytest.raises(InputError) as err:
        fit(problem, "lm")
    assert "'sigma' has max 5" in str(err.value) and "min" not in str(err.value).split("has")[1]


def test_a_removed_hint_lets_lm_run_unbounded():
    problem = problem_for("gaussian", 4, sigma=Parameter("sigma", 1.0, False, -math.inf, math.inf))
    result = fit(problem, "lm")
    assert result.status is FitStatus.CONVERGED


@pytest.mark.parametrize("seed", [3, 4])
def test_an_active_hint_is_a_status_naming_the_bound(seed):
    # "more Lorentzian than a Lorentzian": the pseudo-Voigt's unconstrained
    # minimum has fraction 1.3, above the model's hint max 1
    rng = np.random.default_rng(seed)
    u = (X - 5) / 1.5
    y = 2 * (1.3 / (1 + 4 * u**2) - 0.3 * np.exp(-4 * np.log(2) * u**2))
    problem = FitProblem.create(make_model("pseudo_voigt"), X, y + rng.normal(0, 0.01, X.size))
    lm = fit(problem, "lm")
    fraction = lm.parameters[3]
    assert fraction.value == pytest.approx(1.3, abs=0.02)     # LM ignored the hint
    assert lm.status is FitStatus.NOT_CONVERGED
    assert "fraction = 1.3" in lm.message and "above its max 1" in lm.message
    assert "trf" in lm.message
    auto = fit(problem, "auto")
    assert auto.converged and auto.parameters[3].value <= 1


def test_the_race_runs_lm_within_hints_without_a_bounds_ignored_note():
    problem = problem_for("gaussian", 5)
    results = {r.solver: r for r in race(problem)}
    assert results["lm"].converged
    assert "bounds ignored" not in results["lm"].message
    assert results["lm"].statistics.sse == pytest.approx(results["trf"].statistics.sse, rel=1e-9)


def test_the_race_still_runs_lm_without_user_bounds_and_says_so():
    problem = problem_for("gaussian", 5, amplitude=Parameter("amplitude", 2.0, False, 0.0, 10.0))
    results = {r.solver: r for r in race(problem)}
    assert "bounds ignored" in results["lm"].message
