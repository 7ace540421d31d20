"""Sums of library models: naming, formulas, Jacobians, start values that fit."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import least_squares

from lsqfit_app.models.composite import SumModel
from lsqfit_app.models.registry import get_library_model, library_model_from_spec

try:
    from lsqfit_app.core.expression_parser import parse_expression
except ImportError:  # pragma: no cover
    parse_expression = None


def _vector(model, values):
    return np.array([values[n] for n in model.param_names], dtype=float)


def _fit(model, x, y, start):
    xs = {"x": x}
    res = least_squares(lambda p: model.eval(p, xs) - y, _vector(model, start),
                        jac=lambda p: model.jacobian(p, xs), method="lm")
    cov = (2 * res.cost / (y.size - res.x.size)) * np.linalg.pinv(res.jac.T @ res.jac)
    return res, dict(zip(model.param_names, res.x)), np.sqrt(np.diag(cov))


def _assert_recovered(model, fitted, stderr, true, k=5.0):
    for j, name in enumerate(model.param_names):
        assert abs(fitted[name] - true[name]) < k * stderr[j], (
            f"{name}: {fitted[name]:.5g} +- {stderr[j]:.2g}, true {true[name]}")


def test_prefixes_repeated_and_single():
    model = library_model_from_spec("gaussian+gaussian+line")
    assert isinstance(model, SumModel)
    assert model.param_names == (
        "gaussian1_amplitude", "gaussian1_center", "gaussian1_sigma",
        "gaussian2_amplitude", "gaussian2_center", "gaussian2_sigma",
        "line_slope", "line_intercept")
    assert model.name == "gaussian+gaussian+line"
    assert model.independent_vars == ("x",)
    single = SumModel([get_library_model("gaussian")])
    assert single.param_names == ("amplitude", "center", "sigma")
    assert library_model_from_spec("gaussian").name == "gaussian"


def test_formula_and_hints_are_prefixed():
    model = library_model_from_spec("gaussian+poly0")
    assert model.formula == ("gaussian_amplitude*exp(-(x-gaussian_center)**2/"
                             "(2*gaussian_sigma**2)) + poly0_c0")
    hints = model.param_hints()
    assert hints["gaussian_sigma"].min == 0.0
    assert model.linear_params == {"gaussian_amplitude", "poly0_c0"}
    assert model.formula_is_exact
    assert not library_model_from_spec("voigt+line").formula_is_exact
    assert library_model_from_spec("line+poly2").is_linear


@pytest.mark.parametrize("spec", ["gaussian+gaussian+line", "lorentzian+exp_decay",
                                  "sine+line", "pseudo_voigt+poly2", "voigt+poly0"])
def test_eval_jacobian_and_formula(spec):
    model = library_model_from_spec(spec)
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0.5, 10, 60))
    xs = {"x": x}
    p = rng.uniform(0.5, 2.0, len(model.param_names))
    f, jac = model.eval_and_jacobian(p, xs)
    expected = sum(c.eval(p[sl], xs) for c, sl in zip(model.components, model._slices))
    np.testing.assert_allclose(f, expected, rtol=1e-14)
    np.testing.assert_allclose(model.eval(p, xs), f, rtol=1e-14)
    np.testing.assert_allclose(model.jacobian(p, xs), jac, rtol=1e-14)
    for j in range(p.size):
        h = 1e-6 * max(abs(p[j]), 1e-2)
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        fd = (model.eval(up, xs) - model.eval(down, xs)) / (2 * h)
        np.testing.assert_allclose(jac[:, j], fd, rtol=1e-6, atol=1e-7 * np.max(np.abs(fd)))
    if model.formula_is_exact:
        env = dict(zip(model.param_names, p), x=x)
        namespace = {"exp": np.exp, "log": np.log, "sin": np.sin, "pi": math.pi,
                     "__builtins__": {}, **env}
        got = eval(model.formula, namespace)  # noqa: S307 - fixed library formulas, test only
        np.testing.assert_allclose(got, f, rtol=1e-12)
        if parse_expression is not None:
            np.testing.assert_allclose(parse_expression(model.formula, ["x"]).evaluate(env), f,
                                       rtol=1e-12)


def test_two_overlapping_gaussians():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200)
    true = {"gaussian1_amplitude": 3.0, "gaussian1_center": 4.2, "gaussian1_sigma": 0.8,
            "gaussian2_amplitude": 2.0, "gaussian2_center": 5.8, "gaussian2_sigma": 0.7}
    model = library_model_from_spec("gaussian+gaussian")
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0, 0.03, x.size)
    start = model.guess({"x": x}, y)
    assert start["gaussian1_center"] < start["gaussian2_center"]
    res, fitted, stderr = _fit(model, x, y, start)
    assert res.success
    _assert_recovered(model, fitted, stderr, true)


def test_two_separated_gaussians_on_a_line():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 20, 300)
    true = {"gaussian1_amplitude": 2.0, "gaussian1_center": 5.0, "gaussian1_sigma": 0.6,
            "gaussian2_amplitude": 4.0, "gaussian2_center": 14.0, "gaussian2_sigma": 1.2,
            "line_slope": 0.15, "line_intercept": 1.0}
    model = library_model_from_spec("gaussian+gaussian+line")
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0, 0.05, x.size)
    order = rng.permutation(x.size)
    start = model.guess({"x": x[order]}, y[order])
    assert start["gaussian1_center"] == pytest.approx(5.0, abs=0.5)
    assert start["gaussian2_center"] == pytest.approx(14.0, abs=0.5)
    res, fitted, stderr = _fit(model, x, y, start)
    assert res.success
    _assert_recovered(model, fitted, stderr, true)


@pytest.mark.parametrize("seed", range(5))
def test_gaussian_on_offset(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 8, 100)
    true = {"gaussian_amplitude": rng.uniform(-3, 3) or 1.0,
            "gaussian_center": rng.uniform(0, 5), "gaussian_sigma": rng.uniform(0.3, 1.5),
            "poly0_c0": rng.uniform(-2, 2)}
    if abs(true["gaussian_amplitude"]) < 0.5:
        true["gaussian_amplitude"] = 1.5
    model = library_model_from_spec("gaussian+poly0")
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0, 0.05, x.size)
    start = model.guess({"x": x}, y)
    assert start["gaussian_center"] == pytest.approx(true["gaussian_center"], abs=0.5)
    res, fitted, stderr = _fit(model, x, y, start)
    _assert_recovered(model, fitted, stderr, true)


def test_lorentzian_and_gaussian_on_exponential_background():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 20, 400)
    model = library_model_from_spec("lorentzian+gaussian+exp_decay")
    true = {"lorentzian_amplitude": 3.0, "lorentzian_center": 6.0, "lorentzian_gamma": 0.4,
            "gaussian_amplitude": 2.0, "gaussian_center": 13.0, "gaussian_sigma": 0.8,
            "exp_decay_amplitude": 5.0, "exp_decay_tau": 4.0, "exp_decay_offset": 0.5}
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0, 0.03, x.size)
    res, fitted, stderr = _fit(model, x, y, model.guess({"x": x}, y))
    _assert_recovered(model, fitted, stderr, true)


def test_sine_on_a_line():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 20, 150)
    model = library_model_from_spec("sine+line")
    true = {"sine_amplitude": 1.0, "sine_frequency": 0.4, "sine_phase": 0.3,
            "sine_offset": 0.0, "line_slope": 0.5, "line_intercept": 2.0}
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0, 0.05, x.size)
    res, fitted, stderr = _fit(model, x, y, model.guess({"x": x}, y))
    # sine_offset and line_intercept are the same direction: check the curve instead
    assert math.sqrt(2 * res.cost / x.size) < 0.06
    assert fitted["sine_frequency"] == pytest.approx(0.4, rel=0.01)
    assert fitted["line_slope"] == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("spec", ["gaussian+gaussian+line", "exp_decay+exp_decay", "sine+poly0",
                                  "voigt+pseudo_voigt+poly3", "hill+michaelis_menten"])
@pytest.mark.parametrize("data", ["constant", "three", "one", "noise"])
def test_guess_is_finite_on_awkward_data(spec, data):
    rng = np.random.default_rng(8)
    x, y = {
        "constant": (np.linspace(0, 1, 20), np.ones(20)),
        "three": (np.array([1.0, 3.0, 2.0]), np.array([1.0, -1.0, 0.5])),
        "one": (np.array([1.0]), np.array([1.0])),
        "noise": (rng.uniform(0, 1, 40), rng.normal(size=40)),
    }[data]
    model = library_model_from_spec(spec)
    start = model.guess({"x": x}, y)
    assert list(start) == list(model.param_names)
    assert all(isinstance(v, float) and math.isfinite(v) for v in start.values())
    for name, hint in model.param_hints().items():
        assert hint.min <= start[name] <= hint.max


def test_sum_of_lineshapes_from_floats_matches_the_general_path():
    model = library_model_from_spec("gaussian+lorentzian+poly0")
    assert model._shapes is not None
    x = np.linspace(-4, 4, 37)
    p = np.array([2.0, -1.0, 0.7, 1.5, 1.2, 0.4, 0.3])
    fast_f, fast_J = model.eval_and_jacobian(p, {"x": x})        # floats, shapes in place
    slow_f, slow_J = model.eval_and_jacobian(p, x)               # a bare array: per part
    np.testing.assert_array_equal(fast_f, slow_f)
    np.testing.assert_array_equal(fast_J, slow_J)
    # a width of exactly 0 divides by zero in floats: the general path's inf/NaN instead
    p[2] = 0.0
    with np.errstate(all="ignore"):     # fits run inside one errstate like this
        f, J = model.eval_and_jacobian(p, {"x": x})
    assert not np.isfinite(J).all()
