"""The compiled lineshape kernels agree with the numpy lineshapes, and fits
through them agree with fits through numpy."""
from __future__ import annotations

import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import kernels, make_model
from lsqfit_app.models.library import list_library_models
from lsqfit_app.solvers import fit
from lsqfit_app.solvers._objective import Objective

pytest.importorskip("numba")


@pytest.fixture
def compiled():
    """Kernels loaded and on for one test (the suite runs with them off)."""
    kernels.set_mode("on")
    loaded = kernels._load()
    assert loaded is not None
    yield loaded
    kernels.set_mode("off")


def _data(model, n=60, seed=0):
    """x over a range every library model accepts (x = 0 included), and y
    from the model's own default parameters plus noise."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([[0.0], np.sort(rng.uniform(0.05, 4.0, n - 1))])
    p = np.array([model._defaults.get(name, 0.7) if hasattr(model, "_defaults") else 0.7
                  for name in model.param_names]) * rng.uniform(0.8, 1.2, len(model.param_names))
    with np.errstate(all="ignore"):
        y = model.eval(p, {"x": x}) + rng.normal(0, 0.05, n)
    y[~np.isfinite(y)] = 0.0
    return x, y, p


def _numpy_reference(model, p, x, y, w):
    f, J = model.eval_and_jacobian(p, {"x": x})
    if w is None:
        return f, y - f, -J
    return f, (y - f) * w, J * -w[:, None]


def test_every_kernel_has_a_name_and_a_model():
    from lsqfit_app.models._lineshape_kernels import KERNELS
    assert set(KERNELS) == set(kernels.KERNEL_NAMES)
    planned = {part[0] for m in list_library_models() if m.kernel_plan() is not None
               for part in m.kernel_plan().parts}
    assert planned == set(kernels.KERNEL_NAMES)


def _library_models_with_plans():
    return [m for m in list_library_models() if m.kernel_plan() is not None]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("model", _library_models_with_plans(), ids=lambda m: m.name)
def test_kernel_matches_numpy_lineshape(compiled, model, weighted):
    x, y, p = _data(model)
    w = 1.0 / np.linspace(0.5, 2.0, x.size) if weighted else None
    with np.errstate(all="ignore"):
        plan = model.kernel_plan()
        f, r, jac, sse = kernels.evaluator(plan, compiled, kernels.inputs(plan, x, y, w))(p)
        f0, r0, jac0 = _numpy_reference(model, p, x, y, w)
    np.testing.assert_allclose(f, f0, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(r, r0, rtol=1e-12, atol=1e-14 * np.abs(y).max())
    np.testing.assert_allclose(jac, jac0, rtol=1e-13, atol=1e-300)
    assert sse == pytest.approx(float(r0 @ r0), rel=1e-13)


@pytest.mark.parametrize("name", ["gaussian+lorentzian+poly0", "exp_decay+line",
                                  "poly2+gaussian", "gaussian+poly0+poly0", "poly0"])
def test_sums_match_numpy(compiled, name):
    model = make_model(name)
    x, y, _ = _data(model)
    p = np.linspace(0.6, 1.6, len(model.param_names))
    plan = model.kernel_plan()
    assert plan is not None
    f, r, jac, sse = kernels.evaluator(plan, compiled, kernels.inputs(plan, x, y, None))(p)
    f0, r0, jac0 = _numpy_reference(model, p, x, y, None)
    np.testing.assert_allclose(f, f0, rtol=1e-13)
    np.testing.assert_allclose(jac, jac0, rtol=1e-13, atol=1e-300)
    assert sse == pytest.approx(float(r0 @ r0), rel=1e-12)


def test_models_without_kernels_have_no_plan():
    assert make_model("voigt").kernel_plan() is None
    assert make_model("voigt+poly0").kernel_plan() is None
    assert make_model("a*exp(-x/t)").kernel_plan() is None


def test_zero_width_gives_inf_or_nan_like_numpy(compiled):
    model = make_model("gaussian+poly0")
    x = np.linspace(-1, 1, 11)
    p = np.array([1.0, 0.0, 0.0, 0.5])
    f, r, jac, sse = kernels.evaluator(model.kernel_plan(), compiled,
                                        kernels.inputs(model.kernel_plan(), x, np.zeros(11), None))(p)
    with np.errstate(all="ignore"):
        f0, J0 = model.eval_and_jacobian(p, {"x": x})
    np.testing.assert_array_equal(np.isnan(f), np.isnan(f0))
    np.testing.assert_array_equal(np.isfinite(jac), np.isfinite(J0))


def _gauss_problem(**kw):
    rng = np.random.default_rng(3)
    x = np.linspace(-5, 5, 100)
    y = 5 * np.exp(-(x - 0.2) ** 2 / 2) + 0.3 + rng.normal(0, 0.2, x.size)
    model = make_model("gaussian+poly0")
    start = dict(zip(model.param_names, (4.0, 0.5, 1.3, 0.0)))
    return FitProblem.create(model, x, y, kw.pop("params", start), **kw)


@pytest.mark.parametrize("case", ["plain", "sigma", "fixed", "robust"])
def test_fits_through_kernels_match_numpy_fits(compiled, case):
    from lsqfit_app.core.parameters import Parameter
    kw = {}
    if case == "sigma":
        kw["sigma"] = np.linspace(0.1, 0.4, 100)
    elif case == "fixed":
        kw["params"] = {"gaussian_amplitude": 4.0, "gaussian_center": 0.5,
                        "gaussian_sigma": 1.3, "poly0_c0": Parameter("poly0_c0", 0.3, fixed=True)}
    elif case == "robust":
        kw["loss"] = "soft_l1"
    problem = _gauss_problem(**kw)
    with_kernels = fit(problem)
    kernels.set_mode("off")
    with_numpy = fit(problem)
    assert with_kernels.converged and with_numpy.converged
    # TRF under a robust loss stops on the objective, with the parameters known
    # to ~1e-8: rounding-level differences in the evaluations show there
    rtol = 1e-6 if case == "robust" else 1e-9
    np.testing.assert_allclose(with_kernels.values, with_numpy.values, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(with_kernels.stderrs, with_numpy.stderrs, rtol=100 * rtol, atol=1e-12)
    np.testing.assert_allclose(with_kernels.fitted, with_numpy.fitted, rtol=rtol)


@pytest.mark.parametrize("method", ["trf", "lbfgs"])
def test_other_solvers_through_kernels_match_numpy(compiled, method):
    problem = _gauss_problem()
    with_kernels = fit(problem, method)
    kernels.set_mode("off")
    with_numpy = fit(problem, method)
    assert with_kernels.converged and with_numpy.converged
    np.testing.assert_allclose(with_kernels.values, with_numpy.values, rtol=1e-6)


def test_plain_residuals_come_from_the_kernels_too(compiled):
    """Line searches compare residual-only and fused objectives: one path for both."""
    theta = np.array([4.0, 0.5, 1.3, 0.1])
    with np.errstate(all="ignore"):
        obj = Objective(_gauss_problem(), theta, solver="lbfgs")
        r = obj.residuals(theta).copy()
        obj._last = None
        fused = obj.fused_evaluation(theta)
    np.testing.assert_array_equal(r, fused.r)


def test_a_fit_uses_the_kernels_when_they_are_on(compiled):
    with np.errstate(all="ignore"):
        obj = Objective(_gauss_problem(), np.array([4.0, 0.5, 1.3, 0.0]), solver="lm")
        assert obj._compiled() is not None
        kernels.set_mode("off")
        obj = Objective(_gauss_problem(), np.array([4.0, 0.5, 1.3, 0.0]), solver="lm")
        assert obj._compiled() is None


def test_auto_mode_loads_after_many_fits_without_making_a_fit_wait(monkeypatch):
    monkeypatch.setitem(kernels._state, "kernels", None)
    monkeypatch.setitem(kernels._state, "fits", 0)
    monkeypatch.setitem(kernels._state, "loader", None)
    monkeypatch.setattr(kernels, "AUTO_AFTER_FITS", 3)
    kernels.set_mode("auto")
    try:
        # the third fit starts the load in the background and goes on with numpy
        assert [kernels.note_fit() is not None for _ in range(3)] == [False, False, False]
        assert kernels._state["loader"] is not None
        assert kernels.wait_for_loading(timeout=600)
        assert kernels.note_fit() is not None          # later fits use them
        loader = kernels._state["loader"]
        kernels.note_fit()
        assert kernels._state["loader"] is loader      # loaded once
    finally:
        kernels.set_mode("off")
    assert kernels.active() is None        # off: not used even when loaded


def test_off_mode_never_loads(monkeypatch):
    monkeypatch.setitem(kernels._state, "kernels", None)
    monkeypatch.setattr(kernels, "AUTO_AFTER_FITS", 1)
    kernels.set_mode("off")
    assert kernels.note_fit() is None and kernels.warm_up() is False
    assert kernels._state["kernels"] is None


def test_mode_names_are_checked():
    with pytest.raises(ValueError, match="auto, on, off"):
        kernels.set_mode("fast")


def test_plan_numbers_kernels_as_evaluate_plan_does():
    from lsqfit_app.models._lineshape_kernels import KERNELS
    assert kernels.KERNEL_ORDER == tuple(KERNELS)
