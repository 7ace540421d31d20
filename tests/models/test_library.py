"""Library models: Jacobians, start values, recovery of known parameters, formulas."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import least_squares

from lsqfit_app.core.errors import InputError
from lsqfit_app.models import lineshapes
from lsqfit_app.core.model import ParamHint
from lsqfit_app.models.registry import (
    LIBRARY,
    UnknownModelError,
    get_library_model,
    is_library_spec,
    library_model_from_spec,
    list_library_models,
)

try:  # the project's safe formula engine, when present: then the test cross-checks both
    from lsqfit_app.core.expression_parser import parse_expression
except ImportError:  # pragma: no cover - engine not written yet
    parse_expression = None

DESIGN_NAMES = (["line"] + [f"poly{d}" for d in range(11)] + [
    "exp_decay", "exp_growth", "double_exp_decay", "power_law", "logarithmic", "gaussian",
    "lorentzian", "voigt", "pseudo_voigt", "logistic4", "hill", "michaelis_menten", "sine",
    "damped_sine"])

_POLY_TRUE = {d: [0.7, -1.3, 0.9, 0.5, -0.4, 0.3, -0.2, 0.15, -0.1, 0.05, -0.03][: d + 1]
              for d in range(11)}


# name -> (true parameters, x low, x high, n, noise sd, unsorted x)
CASES = {
    "line": ({"slope": 2.0, "intercept": -1.0}, -5, 5, 50, 0.1, True),
    **{f"poly{d}": ({f"c{i}": c for i, c in enumerate(_POLY_TRUE[d])}, -1.0, 1.5, 80, 0.01,
                    d % 2 == 0) for d in range(11)},
    "exp_decay": ({"amplitude": 5.0, "tau": 2.0, "offset": 1.0}, 0, 10, 60, 0.05, True),
    "exp_growth": ({"amplitude": 0.5, "tau": 3.0, "offset": -1.0}, 0, 8, 60, 0.05, False),
    "double_exp_decay": ({"amplitude1": 3.0, "tau1": 0.5, "amplitude2": 2.0, "tau2": 5.0,
                          "offset": 0.5}, 0, 25, 200, 0.01, True),
    "power_law": ({"amplitude": 2.0, "exponent": 1.5}, 0.5, 10, 50, 0.05, True),
    "logarithmic": ({"slope": 3.0, "intercept": 1.0}, 0.1, 10, 50, 0.05, False),
    "gaussian": ({"amplitude": 3.0, "center": 4.0, "sigma": 0.7}, 0, 10, 100, 0.05, True),
    "lorentzian": ({"amplitude": 2.0, "center": 5.0, "gamma": 0.5}, 0, 10, 100, 0.03, False),
    "voigt": ({"amplitude": 2.0, "center": 5.0, "sigma": 0.5, "gamma": 0.3}, 0, 10, 200, 0.01,
              True),
    "pseudo_voigt": ({"amplitude": 2.0, "center": 5.0, "fwhm": 1.0, "fraction": 0.4}, 0, 10, 200,
                     0.01, False),
    "logistic4": ({"bottom": 1.0, "top": 5.0, "x50": 2.0, "slope": 1.5}, -3, 7, 60, 0.05, True),
    "hill": ({"vmax": 10.0, "k": 2.0, "n": 2.5}, 0, 10, 60, 0.1, True),
    "michaelis_menten": ({"vmax": 5.0, "km": 1.5}, 0, 10, 40, 0.05, True),
    "sine": ({"amplitude": 2.0, "frequency": 0.3, "phase": 1.0, "offset": 0.5}, 0, 20, 100, 0.1,
             True),
    "damped_sine": ({"amplitude": 3.0, "frequency": 0.5, "phase": 0.5, "decay": 0.2,
                     "offset": 0.1}, 0, 15, 200, 0.05, True),
}

# Where a model is defined (x > 0 for logs and powers).
DOMAIN = {name: (c[1], c[2]) for name, c in CASES.items()}


def _vector(model, values):
    return np.array([values[n] for n in model.param_names], dtype=float)


def _data(name, seed=0):
    true, lo, hi, n, sd, unsorted = CASES[name]
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n) if unsorted else np.linspace(lo, hi, n)
    model = get_library_model(name)
    y = model.eval(_vector(model, true), {"x": x}) + rng.normal(0.0, sd, n)
    return model, x, y, true


def _finite_difference(model, p, x):
    """Central differences, step scaled to each parameter."""
    jac = np.empty((x["x"].size, p.size))
    for j in range(p.size):
        h = 1e-6 * max(abs(p[j]), 1e-2)
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (model.eval(up, x) - model.eval(down, x)) / (2 * h)
    return jac


def _assert_jacobian(model, p, x):
    exact = model.jacobian(p, x)
    f, both = model.eval_and_jacobian(p, x)
    numeric = _finite_difference(model, p, x)
    assert exact.shape == (x["x"].size, len(model.param_names))
    np.testing.assert_allclose(f, model.eval(p, x), rtol=1e-12, atol=1e-14 * np.max(np.abs(f)))
    np.testing.assert_allclose(both, exact, rtol=1e-13, atol=0)
    scale = np.max(np.abs(numeric), axis=0) + 1e-300
    np.testing.assert_allclose(exact / scale, numeric / scale, rtol=1e-6, atol=1e-6)


def _random_params(name, rng):
    """Random but sensible parameters respecting the hints."""
    model = get_library_model(name)
    true = CASES[name][0]
    p = _vector(model, true) * rng.uniform(0.6, 1.5, len(model.param_names))
    for j, pname in enumerate(model.param_names):
        hint = model.param_hints().get(pname, ParamHint())
        if math.isfinite(hint.max):
            p[j] = min(p[j], 0.95 * hint.max)
    return p


def _normalize(name, values):
    """Fold the symmetries of a model into one representative."""
    v = dict(values)
    if name in ("sine", "damped_sine"):
        if v["amplitude"] < 0:
            v["amplitude"] = -v["amplitude"]
            v["phase"] += math.pi
        v["phase"] = (v["phase"] + math.pi) % (2 * math.pi) - math.pi
    if name == "double_exp_decay" and v["tau1"] > v["tau2"]:
        v["amplitude1"], v["amplitude2"] = v["amplitude2"], v["amplitude1"]
        v["tau1"], v["tau2"] = v["tau2"], v["tau1"]
    return v


# ---------------------------------------------------------------- registry
def test_registry_has_exactly_the_design_names():
    assert list(LIBRARY) == DESIGN_NAMES
    assert [m.name for m in list_library_models()] == DESIGN_NAMES
    assert set(CASES) == set(DESIGN_NAMES)


def test_parameter_names():
    names = {m.name: m.param_names for m in list_library_models()}
    assert names["line"] == ("slope", "intercept")
    assert names["poly3"] == ("c0", "c1", "c2", "c3")
    assert names["gaussian"] == ("amplitude", "center", "sigma")
    assert names["exp_decay"] == ("amplitude", "tau", "offset")
    assert names["voigt"] == ("amplitude", "center", "sigma", "gamma")
    assert names["pseudo_voigt"] == ("amplitude", "center", "fwhm", "fraction")
    assert names["logistic4"] == ("bottom", "top", "x50", "slope")
    assert names["michaelis_menten"] == ("vmax", "km")
    assert names["sine"] == ("amplitude", "frequency", "phase", "offset")
    assert names["damped_sine"] == ("amplitude", "frequency", "phase", "decay", "offset")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownModelError) as info:
        get_library_model("gausian")
    message = str(info.value)
    assert "Did you mean 'gaussian'?" in message
    assert "michaelis_menten" in message
    assert isinstance(info.value, InputError) and isinstance(info.value, KeyError)
    assert not message.startswith("'")
    with pytest.raises(KeyError):
        get_library_model("no_such_model_at_all")


def test_names_are_case_and_space_insensitive():
    assert get_library_model("  Gaussian ").name == "gaussian"


def test_specs():
    assert is_library_spec("gaussian")
    assert is_library_spec("gaussian + gaussian+line")
    assert not is_library_spec("a*exp(-x/tau)+c")
    assert not is_library_spec("gaussian+")
    assert not is_library_spec("")
    assert library_model_from_spec("poly2").name == "poly2"
    assert library_model_from_spec("gaussian + line").name == "gaussian+line"
    with pytest.raises(InputError, match="empty name"):
        library_model_from_spec("gaussian++line")
    with pytest.raises(UnknownModelError, match="lorentzian"):
        library_model_from_spec("gaussian+lorenzian")


# -------------------------------------------------------------- per model
@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_metadata(name):
    model = get_library_model(name)
    assert model.name == name
    assert model.independent_vars == ("x",)
    assert model.description
    hints = model.param_hints()
    assert set(hints) == set(model.param_names)
    assert all(h.description for h in hints.values())
    assert model.linear_params <= frozenset(model.param_names)
    assert model.formula_is_exact == (name != "voigt")


def test_linear_params():
    lin = {m.name: m.linear_params for m in list_library_models()}
    assert lin["poly4"] == frozenset({"c0", "c1", "c2", "c3", "c4"})
    assert get_library_model("poly4").is_linear
    assert get_library_model("line").is_linear
    assert lin["gaussian"] == {"amplitude"}
    assert lin["exp_decay"] == {"amplitude", "offset"}
    assert lin["double_exp_decay"] == {"amplitude1", "amplitude2", "offset"}
    assert lin["logistic4"] == {"bottom", "top"}
    assert lin["sine"] == {"amplitude", "offset"}
    assert lin["logarithmic"] == {"slope", "intercept"}
    assert not get_library_model("gaussian").is_linear


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_linear_params_are_jointly_affine(name):
    """f(p) - f(q) is linear in the linear parameters when the others are equal."""
    model = get_library_model(name)
    rng = np.random.default_rng(3)
    lo, hi = DOMAIN[name]
    x = {"x": np.linspace(lo, hi, 30)}
    p = _random_params(name, rng)
    lin = [j for j, n in enumerate(model.param_names) if n in model.linear_params]
    d1, d2 = np.zeros(p.size), np.zeros(p.size)
    d1[lin] = rng.normal(size=len(lin))
    d2[lin] = rng.normal(size=len(lin))
    f0 = model.eval(p, x)
    lhs = model.eval(p + d1 + d2, x) - f0
    rhs = (model.eval(p + d1, x) - f0) + (model.eval(p + d2, x) - f0)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9 * np.max(np.abs(f0)))


def test_hints():
    hints = get_library_model("gaussian").param_hints()
    assert hints["sigma"].min == 0.0
    assert get_library_model("exp_decay").param_hints()["tau"].min == 0.0
    frac = get_library_model("pseudo_voigt").param_hints()["fraction"]
    assert (frac.min, frac.max) == (0.0, 1.0)
    assert get_library_model("voigt").param_hints()["gamma"].min == 0.0
    assert "height" in hints["amplitude"].description


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_jacobian_matches_finite_differences(name):
    model, x, y, _ = _data(name)
    xs = {"x": x}
    _assert_jacobian(model, _vector(model, model.guess(xs, y)), xs)
    rng = np.random.default_rng(11)
    for _ in range(5):
        _assert_jacobian(model, _random_params(name, rng), xs)


def test_voigt_jacobian_in_the_gaussian_and_lorentzian_limits():
    """Against 40-digit derivatives: finite differences of wofz are too noisy here."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    model = get_library_model("voigt")
    x = np.linspace(-5, 5, 9)

    def shape(xv, c, s, g):
        w = lambda z: mpmath.exp(-z ** 2) * mpmath.erfc(-1j * z)  # noqa: E731
        root2 = mpmath.sqrt(2)
        return mpmath.re(w((xv - c + 1j * g) / (s * root2))) / mpmath.re(w(1j * g / (s * root2)))

    for a, c, s, g in ([1.5, 0.3, 1.0, 1e-4], [1.5, 0.3, 1e-3, 1.0], [-2.0, 0.0, 0.2, 3.0]):
        jac = model.jacobian(np.array([a, c, s, g]), {"x": x})
        args = [mpmath.mpf(v) for v in (c, s, g)]
        for j in range(3):
            ref = np.array([float(a * mpmath.diff(
                lambda t: shape(mpmath.mpf(xv), *(args[:j] + [t] + args[j + 1:])), args[j]))
                for xv in x])
            np.testing.assert_allclose(jac[:, j + 1], ref, rtol=1e-10,
                                       atol=1e-12 * np.max(np.abs(ref)))


def test_voigt_is_peak_normalised_and_matches_scipy():
    from scipy.special import voigt_profile

    x = np.linspace(-4, 6, 101)
    p = np.array([2.5, 1.0, 0.6, 0.4])
    f = get_library_model("voigt").eval(p, {"x": x})
    ref = voigt_profile(x - 1.0, 0.6, 0.4)
    np.testing.assert_allclose(f, 2.5 * ref / voigt_profile(0.0, 0.6, 0.4), rtol=1e-10)
    assert abs(get_library_model("voigt").eval(p, {"x": np.array([1.0])})[0] - 2.5) < 1e-12


def test_peak_amplitude_is_the_height():
    x = {"x": np.array([1.0])}
    for name, p in [("gaussian", [2.0, 1.0, 0.3]), ("lorentzian", [2.0, 1.0, 0.3]),
                    ("pseudo_voigt", [2.0, 1.0, 0.3, 0.3])]:
        assert get_library_model(name).eval(np.array(p), x)[0] == pytest.approx(2.0)


def test_jacobian_is_finite_at_x_zero_for_power_and_hill():
    x = {"x": np.array([0.0, 0.5, 2.0])}
    for name, p in [("power_law", [2.0, 1.5]), ("hill", [3.0, 1.0, 2.0])]:
        model = get_library_model(name)
        assert np.all(np.isfinite(model.jacobian(np.array(p), x)))
        assert np.all(np.isfinite(model.eval(np.array(p), x)))


@pytest.mark.parametrize("name", DESIGN_NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_guess_then_fit_recovers_the_truth(name, seed):
    model, x, y, true = _data(name, seed)
    xs = {"x": x}
    start = model.guess(xs, y)
    assert list(start) == list(model.param_names)
    p0 = _vector(model, start)
    res = least_squares(lambda p: model.eval(p, xs) - y, p0,
                        jac=lambda p: model.jacobian(p, xs), method="lm")
    assert res.success
    dof = y.size - p0.size
    s2 = 2 * res.cost / dof
    cov = s2 * np.linalg.inv(res.jac.T @ res.jac)
    stderr = np.sqrt(np.diag(cov))
    fitted = _normalize(name, dict(zip(model.param_names, res.x)))
    true = _normalize(name, true)
    for j, pname in enumerate(model.param_names):
        assert abs(fitted[pname] - true[pname]) < 5 * stderr[j] + 1e-9, (
            f"{name}.{pname}: fitted {fitted[pname]:.6g} +- {stderr[j]:.3g}, true {true[pname]}"
            f" (start {start})")
    # the noise level: the fit found the global minimum, not a local one
    assert math.sqrt(s2) < 1.3 * CASES[name][4]


@pytest.mark.parametrize("name", [n for n in DESIGN_NAMES if not n.startswith("poly")]
                         + ["poly2"])
def test_guess_is_already_close(name):
    """The start alone explains most of the variance (no fit needed to see the shape)."""
    model, x, y, _ = _data(name)
    xs = {"x": x}
    resid = model.eval(_vector(model, model.guess(xs, y)), xs) - y
    assert np.sum(resid ** 2) < 0.5 * np.sum((y - y.mean()) ** 2)


AWKWARD = {
    "constant": (np.linspace(0, 5, 20), np.full(20, 3.0)),
    "zeros": (np.linspace(0, 5, 20), np.zeros(20)),
    "three points": (np.array([2.0, 0.5, 1.0]), np.array([1.0, 3.0, 2.0])),
    "two points": (np.array([1.0, 2.0]), np.array([1.0, 3.0])),
    "one point": (np.array([1.0]), np.array([2.0])),
    "negative": (np.linspace(0, 5, 30), -np.exp(-np.linspace(0, 5, 30)) - 2.0),
    "repeated x": (np.repeat([1.0, 2.0, 3.0], 4), np.arange(12.0)),
    "with nan": (np.array([0.0, 1.0, np.nan, 3.0, 4.0, 5.0]),
                 np.array([1.0, np.inf, 2.0, 0.5, 0.2, 0.1])),
    "huge x": (np.linspace(1e6, 1e6 + 10, 40), np.exp(-np.linspace(0, 10, 40))),
    "negative x": (np.linspace(-10, -1, 40), np.linspace(-1, 1, 40) ** 2),
    "noise": (np.random.default_rng(5).uniform(0, 1, 50), np.random.default_rng(6).normal(size=50)),
}


@pytest.mark.parametrize("name", DESIGN_NAMES)
@pytest.mark.parametrize("case", list(AWKWARD))
def test_guess_is_finite_on_awkward_data(name, case):
    x, y = AWKWARD[case]
    model = get_library_model(name)
    with _no_warnings():
        start = model.guess({"x": x}, y)
    assert list(start) == list(model.param_names)
    assert all(isinstance(v, float) and math.isfinite(v) for v in start.values()), start
    for pname, hint in model.param_hints().items():
        assert hint.min < start[pname] < hint.max or (
            hint.min == -math.inf and hint.max == math.inf), (pname, start[pname])


class _no_warnings:
    """Any warning escaping guess() fails the test."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def test_guess_accepts_bare_arrays_and_many_points():
    x = np.linspace(0, 10, 200_000)
    y = 5 * np.exp(-x / 2) + 1
    start = get_library_model("exp_decay").guess(x, y)
    assert start["tau"] == pytest.approx(2.0, rel=0.2)
    assert start["offset"] == pytest.approx(1.0, abs=0.2)


def test_polynomial_guess_is_the_least_squares_solution_far_from_zero():
    x = np.linspace(1000, 1010, 50)
    c = np.array([3.0, -2.0, 0.01])
    y = c[0] + c[1] * x + c[2] * x ** 2
    start = get_library_model("poly2").guess({"x": x}, y)
    np.testing.assert_allclose([start["c0"], start["c1"], start["c2"]], c, rtol=1e-5)


def test_sine_guess_with_uneven_unsorted_x():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 30, 70)
    y = 1.5 * np.sin(2 * np.pi * 0.7 * x + 2.0) + 3.0 + rng.normal(0, 0.1, 70)
    start = get_library_model("sine").guess({"x": x}, y)
    assert start["frequency"] == pytest.approx(0.7, rel=0.02)
    assert start["amplitude"] == pytest.approx(1.5, rel=0.15)
    assert start["offset"] == pytest.approx(3.0, abs=0.2)


def test_peak_guess_finds_negative_peaks_on_an_offset():
    x = np.linspace(-5, 5, 101)
    y = -2.0 * np.exp(-(x - 1.0) ** 2 / (2 * 0.5 ** 2))
    start = get_library_model("gaussian").guess({"x": x}, y)
    assert start["amplitude"] == pytest.approx(-2.0, rel=0.05)
    assert start["center"] == pytest.approx(1.0, abs=0.05)
    assert start["sigma"] == pytest.approx(0.5, rel=0.1)


def test_decreasing_logistic_and_hill_guesses():
    x = np.linspace(-4, 4, 50)
    y = lineshapes.logistic4(x, bottom=0.5, top=3.0, x50=1.0, slope=-2.0)
    start = get_library_model("logistic4").guess({"x": x}, y)
    f = lineshapes.logistic4(x, **start)
    assert np.max(np.abs(f - y)) < 0.3
    xh = np.linspace(0, 10, 40)
    yh = lineshapes.hill(xh, vmax=4.0, k=3.0, n=3.0)
    start = get_library_model("hill").guess({"x": xh}, yh)
    assert np.max(np.abs(lineshapes.hill(xh, **start) - yh)) < 0.5


def test_polynomial_double_double_jacobian():
    model = get_library_model("poly10")
    x = np.linspace(-8.781, -3.1234, 7)
    hi, lo = model.jacobian_dd(np.zeros(11), {"x": x})
    assert hi.shape == lo.shape == (7, 11)
    from fractions import Fraction
    for i, xv in enumerate(x):
        for k in range(11):
            exact = Fraction(xv) ** k
            # double-double: about 100 correct bits (a double has 53)
            assert abs(Fraction(hi[i, k]) + Fraction(lo[i, k]) - exact) <= abs(exact) / 2 ** 100
    np.testing.assert_allclose(hi, model.jacobian(np.zeros(11), {"x": x}), rtol=1e-15)
    line_hi, line_lo = get_library_model("line").jacobian_dd(np.zeros(2), {"x": x})
    np.testing.assert_array_equal(line_hi, np.column_stack([x, np.ones_like(x)]))
    assert not line_lo.any()


# ------------------------------------------------------------------ formulas
_NUMPY_ENV = {name: getattr(np, name) for name in (
    "exp", "log", "log10", "sqrt", "abs", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "tanh")}


def _python_eval_formula(text, env):
    """Test-only evaluator: numpy functions through Python's eval (never used on user text)."""
    from scipy.special import erf, erfc

    namespace = dict(_NUMPY_ENV, erf=erf, erfc=erfc, pi=math.pi, e=math.e, __builtins__={})
    namespace.update(env)
    return eval(text, namespace)  # noqa: S307 - fixed library formulas in a test


@pytest.mark.parametrize("name", [n for n in DESIGN_NAMES if n != "voigt"])
def test_formula_evaluates_to_the_model(name):
    model = get_library_model(name)
    lo, hi = DOMAIN[name]
    x = np.linspace(lo, hi, 37)
    x = x[x > 0] if lo >= 0 else x
    rng = np.random.default_rng(7)
    for _ in range(3):
        p = _random_params(name, rng)
        env = dict(zip(model.param_names, p), x=x)
        expected = model.eval(p, {"x": x})
        got = np.broadcast_to(_python_eval_formula(model.formula, env), x.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)
        if parse_expression is not None:
            engine = np.broadcast_to(parse_expression(model.formula, ["x"]).evaluate(env), x.shape)
            np.testing.assert_allclose(engine, expected, rtol=1e-11, atol=1e-12)


def test_voigt_formula_is_descriptive():
    model = get_library_model("voigt")
    assert not model.formula_is_exact
    assert "voigt(" in model.formula


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_jacobian_rows_written_in_place_match_eval_and_jacobian(name):
    model = get_library_model(name)
    x = {"x": np.linspace(0.5, 4.0, 23)}
    p = np.array([0.9 + 0.1 * k for k in range(len(model.param_names))])
    f, J = model.eval_and_jacobian(p, x)
    rows = np.full((len(model.param_names), 23), np.nan)
    values = model.eval_and_jacobian_rows(p, x, rows)
    np.testing.assert_array_equal(values, f)
    np.testing.assert_array_equal(rows, J.T)
