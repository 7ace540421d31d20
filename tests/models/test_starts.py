"""Start values from data: variable projection + multi-start (models/starts.py)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.model import Model, ParamHint
from lsqfit_app.core.expression_parser import compile_column_expression
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.models.starts import find_starts

STRD = Path(__file__).resolve().parents[3] / "shared" / "nist" / "strd.json"


def _sse(model, p, x, y):
    return float(np.sum((y - model.eval(p, x)) ** 2))


def _fit_sse(model, p0, x, y):
    res = least_squares(lambda p: y - model.eval(p, x), p0, jac=lambda p: -model.jacobian(p, x),
                        method="lm", x_scale="jac", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return 2 * res.cost


CASES = [
    ("a*exp(-x/tau)+c", {"a": 5.0, "tau": 2.5, "c": 1.0}, np.linspace(0, 10, 100)),
    ("a*sin(w*x+phi)+c", {"a": 2.0, "w": 3.7, "phi": 0.8, "c": 0.5}, np.linspace(0, 10, 100)),
    ("a*cos(2*pi*x/period) + b", {"a": 1.5, "period": 2.3, "b": -1.0}, np.linspace(0, 12, 120)),
    ("A/(1+exp(-(x-x0)/w))", {"A": 3.0, "x0": 6.0, "w": 0.7}, np.linspace(0, 10, 100)),
    ("a*x**n", {"a": 2.0, "n": 1.7}, np.linspace(0.1, 10, 100)),
    ("a*exp(-(x-m)**2/(2*s**2))", {"a": 4.0, "m": 3.3, "s": 0.6}, np.linspace(0, 10, 100)),
]


@pytest.mark.parametrize("text, true, x", CASES, ids=[c[0] for c in CASES])
def test_starts_reach_the_global_minimum(text, true, x):
    model = FormulaModel(text, ("x",))
    p_true = np.array([true[n] for n in model.param_names])
    rng = np.random.default_rng(7)
    y = model.eval(p_true, x) + 0.1 * rng.standard_normal(x.size)
    starts = find_starts(model, x, y)
    assert set(starts) == set(model.param_names)
    p0 = np.array([starts[n] for n in model.param_names])
    assert np.all(np.isfinite(p0))
    best = _fit_sse(model, p_true, x, y)
    # the polished starts already sit at the minimum, and a fit from them too
    assert _sse(model, p0, x, y) == pytest.approx(best, rel=1e-6)
    assert _fit_sse(model, p0, x, y) == pytest.approx(best, rel=1e-9)


def test_linear_model_is_solved_exactly():
    model = FormulaModel("a + b*x + c*x**2", ("x",))
    x = np.linspace(-1, 2, 30)
    y = 1 - 2 * x + 0.5 * x**2
    starts = find_starts(model, x, y)
    assert [starts[n] for n in "abc"] == pytest.approx([1, -2, 0.5], abs=1e-10)


def test_sigma_weights_the_projection():
    model = FormulaModel("a*x + b", ("x",))
    x = np.arange(5.0)
    y = np.array([0.0, 1.0, 2.0, 3.0, 40.0])
    sigma = np.array([1, 1, 1, 1, 1e6])
    starts = find_starts(model, x, y, sigma=sigma)
    assert starts["a"] == pytest.approx(1.0, abs=1e-6)
    assert starts["b"] == pytest.approx(0.0, abs=1e-6)


def test_given_and_fixed_are_returned_unchanged_and_held():
    model = FormulaModel("a*exp(-x/tau)+c", ("x",))
    x = np.linspace(0, 10, 50)
    y = 5 * np.exp(-x / 2.5) + 1
    starts = find_starts(model, x, y, fixed={"c": 0.75}, given={"tau": 3.0})
    assert starts["c"] == 0.75 and starts["tau"] == 3.0
    # a is the best amplitude with tau and c held
    g = np.exp(-x / 3.0)
    assert starts["a"] == pytest.approx(g @ (y - 0.75) / (g @ g), rel=1e-6)


def test_bounds_are_respected():
    model = FormulaModel("a*exp(-x/tau)+c", ("x",))
    x = np.linspace(0, 10, 50)
    y = 5 * np.exp(-x / 2.5) + 1
    bounds = {"tau": (3.0, 10.0), "a": (-1.0, 4.0)}
    starts = find_starts(model, x, y, bounds=bounds)
    assert 3.0 <= starts["tau"] <= 10.0
    assert -1.0 <= starts["a"] <= 4.0


@pytest.mark.parametrize("y", [
    np.zeros(20), np.full(20, np.nan), np.r_[np.full(10, np.inf), np.ones(10)], np.ones(20) * 1e300,
])
def test_always_finite(y):
    model = FormulaModel("a*exp(-x/tau)+c*sin(w*x)", ("x",))
    starts = find_starts(model, np.linspace(0, 1, 20), y)
    assert all(math.isfinite(v) for v in starts.values())


def test_empty_data_gives_finite_defaults():
    model = FormulaModel("a*exp(b*x)", ("x",))
    starts = find_starts(model, np.array([]), np.array([]), bounds={"b": (2.0, 3.0)})
    assert starts == {"a": 1.0, "b": 2.0}


def test_cancel_returns_quickly_with_finite_values():
    model = FormulaModel("a*exp(-(x-m)**2/(2*s**2)) + b*exp(-(x-n)**2/(2*t**2))", ("x",))
    x = np.linspace(0, 10, 100)
    token = CancelToken()
    token.cancel()
    starts = find_starts(model, x, np.exp(-(x - 3) ** 2), cancel=token)
    assert all(math.isfinite(v) for v in starts.values())


class _Decay(Model):
    """A hand-written model (no expression) with hints: find_starts must not need formulas."""

    name = formula = "decay"
    param_names = ("amp", "rate")
    independent_vars = ("t",)

    def eval(self, p, x):
        return p[0] * np.exp(-p[1] * x["t"])

    def jacobian(self, p, x):
        e = np.exp(-p[1] * x["t"])
        return np.column_stack([e, -p[0] * x["t"] * e])

    def guess(self, x, y):
        return find_starts(self, x, y)

    def param_hints(self):
        return {"rate": ParamHint(min=0.0)}

    @property
    def linear_params(self):
        return frozenset({"amp"})


def test_any_model_with_hints():
    model = _Decay()
    t = np.linspace(0, 400, 40)
    y = 7 * np.exp(-0.013 * t)
    starts = model.guess({"t": t}, y)
    assert starts["rate"] == pytest.approx(0.013, rel=1e-6)
    assert starts["amp"] == pytest.approx(7, rel=1e-6)


def test_multivariable_start():
    model = FormulaModel("b1 - b2*x1*exp(-b3*x2)", ("x1", "x2"))
    rng = np.random.default_rng(3)
    xs = {"x1": rng.uniform(1, 10, 60), "x2": rng.uniform(0, 50, 60)}
    p = np.array([2.5, 0.02, -0.05])
    y = model.eval(p, xs) + 0.01 * rng.standard_normal(60)
    starts = find_starts(model, xs, y)
    p0 = np.array([starts[n] for n in model.param_names])
    assert _sse(model, p0, xs, y) == pytest.approx(_fit_sse(model, p, xs, y), rel=1e-6)


def _strd_problems():
    if not STRD.exists():
        return []
    return [p for p in json.loads(STRD.read_text())["problems"] if p["kind"] == "nonlinear"]


# Problems find_starts solves from no start values today (see the module
# report); a regression on any of these is a real loss.
_SOLVED = {"Misra1a", "Chwirut2", "Chwirut1", "DanWood", "Misra1b", "Nelson", "Misra1c",
           "Misra1d", "BoxBOD", "Eckerle4", "MGH09", "Rat43", "Roszman1",
           "Gauss1", "Gauss2", "Gauss3"}   # two peaks on a decay: the location/width scans


@pytest.mark.skipif(not STRD.exists(), reason="NIST StRD data not available")
@pytest.mark.parametrize("problem", [p for p in _strd_problems() if p["name"] in _SOLVED],
                         ids=lambda p: p["name"])
def test_nist_from_no_starts(problem):
    model = FormulaModel(problem["model_python"], problem["predictors"])
    data = {k: np.array(v, dtype=float) for k, v in problem["data"].items()}
    y = compile_column_expression(problem["response"], list(data)).evaluate(data)
    xs = {k: data[k] for k in model.independent_vars}
    starts = find_starts(model, xs, y)
    p0 = np.array([starts[n] for n in model.param_names])
    certified = problem["residual_sum_of_squares"]
    assert _fit_sse(model, p0, xs, y) == pytest.approx(certified, rel=5e-7)


def test_peak_roles_find_locations_and_widths():
    from lsqfit_app.models.starts import _peak_roles
    x = {"x": np.arange(5.0)}
    for formula, roles in [
            ("b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
             {"b4": "b5", "b7": "b8"}),
            ("a*exp(-(x-c)**2/(2*w**2)) + d", {"c": "w"}),
            ("a*exp(-(x-c)/t)", {"c": "t"}),
            ("b1 - b2*x - arctan(b3/(x-b4))/pi", {"b4": None}),
            ("a*g**2/((x-c)**2+g**2) + d", {"c": "g"}),
            ("a*x + b", {})]:
        model = FormulaModel(formula, ["x"])
        assert _peak_roles(model, model.param_names, x) == roles, formula


def test_two_lorentzians_on_an_offset_fit_from_no_starts():
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.solvers import fit
    rng = np.random.default_rng(4)
    x = np.linspace(0, 100, 400)
    y = (8 * 3**2 / ((x - 35) ** 2 + 3**2) + 5 * 6**2 / ((x - 62) ** 2 + 6**2) + 1.0
         + rng.normal(0, 0.05, x.size))
    model = FormulaModel("a1*g1**2/((x-c1)**2+g1**2) + a2*g2**2/((x-c2)**2+g2**2) + d", ["x"])
    result = fit(FitProblem.create(model, x, y))
    assert result.status.converged
    centers = sorted([result.value("c1"), result.value("c2")])
    assert centers == pytest.approx([35, 62], abs=0.5)
    assert result.statistics.residual_sd == pytest.approx(0.05, rel=0.2)
