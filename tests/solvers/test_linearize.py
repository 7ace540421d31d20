"""The shared end-of-fit factorisation, the fused LM evaluations and the lean statistics."""
import numpy as np
import pytest

from lsqfit_app.core import statistics
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit
from lsqfit_app.solvers._linearize import linearize
from lsqfit_app.solvers._objective import Objective


def _gauss_problem(sigma=None, fixed=None):
    rng = np.random.default_rng(5)
    x = np.linspace(-4, 4, 60)
    y = 3 * np.exp(-(x - 0.3) ** 2 / 2) + 0.5 + rng.normal(0, 0.05, x.size)
    model = make_model("gaussian+poly0")
    params = dict(zip(model.param_names, (2.5, 0.1, 1.2, 0.3)))
    if fixed:
        from lsqfit_app.core.parameters import Parameter
        params[fixed] = Parameter(fixed, params[fixed], fixed=True)
    return FitProblem.create(model, x, y, params, sigma=sigma)


@pytest.mark.parametrize("weighted", [False, True])
def test_gauss_newton_step_matches_lstsq(weighted):
    problem = _gauss_problem(sigma=np.full(60, 0.05) if weighted else None)
    obj = Objective(problem, np.array([2.5, 0.1, 1.2, 0.3]), solver="auto")
    theta = np.array([2.9, 0.25, 1.05, 0.45])
    lin = linearize(obj, theta)
    J = problem.model.jacobian(theta, obj.x) * obj.inv_sigma[:, None]
    r = (obj.y - problem.model.eval(theta, obj.x)) * obj.inv_sigma
    expected = np.linalg.lstsq(J, r, rcond=None)[0]
    assert lin.gauss_newton_step() == pytest.approx(expected, rel=1e-10)
    assert lin.r == pytest.approx(r, rel=1e-14)
    # R^T R is (J/scale)^T (J/scale): singular values agree with J's
    assert lin.singular_values(np.ones(4)) == pytest.approx(
        np.linalg.svd(J, compute_uv=False), rel=1e-10)


def test_linearize_gives_no_factor_for_a_non_finite_jacobian():
    problem = _gauss_problem()
    obj = Objective(problem, np.array([2.5, 0.1, 1.2, 0.3]), solver="auto")
    lin = linearize(obj, np.array([np.inf, 0.1, 1.0, 0.3]))   # an infinite amplitude
    assert not lin.finite and lin.gauss_newton_step() is None


def test_fused_evaluation_is_cached_and_agrees_with_separate_calls():
    problem = _gauss_problem(fixed="gaussian_center")
    obj = Objective(problem, np.array([2.5, 0.1, 1.2, 0.3]), solver="lm")
    theta = np.array([2.8, 1.1, 0.4])            # the three free parameters
    r = obj.residuals_and_cached_jacobian(theta)
    evaluations = obj.nfev
    r_again = obj.residuals_and_cached_jacobian(theta.copy())
    assert r_again is r and obj.nfev == evaluations          # served from the cache
    hit = obj.cached(theta)
    assert hit is not None and hit.objective == pytest.approx(float(r @ r))
    assert hit.Jr == pytest.approx(obj.jacobian(theta), rel=1e-14)
    assert r == pytest.approx(obj.residuals(theta), rel=1e-14)
    assert obj.cached(theta + 1e-3) is None


def test_statistics_from_the_shared_factor_match_a_fresh_computation():
    problem = _gauss_problem()
    result = fit(problem)
    J = problem.model.jacobian(result.values, problem.x)
    cov, notes = statistics.covariance_unscaled(J, list(problem.param_names))
    s2 = result.statistics.sse / result.statistics.dof
    assert result.covariance == pytest.approx(cov * s2, rel=1e-8)
    hat = np.einsum("ij,ji->i", J, np.linalg.solve(J.T @ J, J.T))
    assert statistics.leverage(J) == pytest.approx(hat, rel=1e-9)
    expected = result.residuals / (np.sqrt(s2) * np.sqrt(1 - hat))
    assert result.standardized_residuals == pytest.approx(expected, rel=1e-8)
    assert notes == [""] * 4


def test_vectorised_p_values_match_the_scalar_ones():
    t = np.array([0.3, -2.5, 40.0, np.nan])
    got = statistics.p_values(t, 17)
    for ti, pi in zip(t, got):
        ref = statistics.p_value(float(ti), 17)
        assert (np.isnan(pi) and np.isnan(ref)) or pi == pytest.approx(ref, rel=1e-14)
    assert np.isnan(statistics.p_values(t, 0)).all()


def test_column_scale_is_a_power_of_two_near_the_norm():
    J = np.array([[3.0, 0.0, np.inf, 1e-100], [4.0, 0.0, 1.0, 0.0]])
    scale = statistics.column_scale(J)
    assert scale[0] == 8.0          # norm 5 -> 2**3
    assert scale[1] == 1.0 and scale[2] == 1.0   # zero and non-finite columns
    assert np.log2(scale[3]) == np.round(np.log2(scale[3]))
    assert 0.5 <= 1e-100 / scale[3] <= 1.0


@pytest.mark.parametrize("spec, width", [("gaussian", "sigma"), ("lorentzian", "gamma"),
                                         ("voigt", "sigma")])
def test_a_width_fixed_at_zero_is_a_status_not_a_traceback(spec, width):
    from lsqfit_app.core.parameters import Parameter
    model = make_model(spec)
    x = np.linspace(-3, 3, 30)
    problem = FitProblem.create(model, x, np.exp(-x**2),
                                {width: Parameter(width, 0.0, True, 0.0, np.inf)})
    result = fit(problem)
    assert not result.status.converged
    assert "NaN or infinite" in result.message


def test_kept_evaluation_outlives_a_later_one():
    problem = _gauss_problem()
    obj = Objective(problem, np.array([2.5, 0.1, 1.2, 0.3]), solver="lm")
    accepted, trial = np.array([2.9, 0.2, 1.1, 0.4]), np.array([3.1, 0.25, 1.0, 0.45])
    obj.fused_evaluation(accepted)
    obj.fused_evaluation(trial)
    assert obj.cached(accepted) is None              # only the last one, unless kept
    obj.fused_evaluation(accepted)
    obj.keep(accepted)
    obj.fused_evaluation(trial)
    evaluations = obj.nfev
    assert obj.cached(accepted) is not None and obj.cached(trial) is not None
    linearize(obj, accepted)                         # served from the kept evaluation
    assert obj.nfev == evaluations
