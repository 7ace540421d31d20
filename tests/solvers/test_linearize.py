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
    # R^T R is J^T J: singular values agree with J's
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
    r = obj.fused_evaluation(theta).r
    evaluations = obj.nfev
    r_again = obj.fused_evaluation(theta.copy()).r
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
    cov, notes, _rank, lev = statistics.svd_curvature(J, list(problem.param_names))
    s2 = result.statistics.sse / result.statistics.dof
    assert result.covariance == pytest.approx(cov * s2, rel=1e-8)
    hat = np.einsum("ij,ji->i", J, np.linalg.solve(J.T @ J, J.T))
    assert lev == pytest.approx(hat, rel=1e-9)
    expected = result.residuals / (np.sqrt(s2) * np.sqrt(1 - hat))
    assert result.standardized_residuals == pytest.approx(expected, rel=1e-8)
    assert notes == [""] * 4


def test_p_values_are_two_sided_tails_of_t_or_the_normal():
    from scipy import stats
    t = np.array([0.3, -2.5, 40.0, np.nan])
    got = statistics.p_values(t, 17)
    assert got[:3] == pytest.approx(2 * stats.t.sf(np.abs(t[:3]), 17), rel=1e-12)
    assert np.isnan(got[3])
    known = statistics.p_values(t, 17, known_variance=True)
    assert known[:3] == pytest.approx(2 * stats.norm.sf(np.abs(t[:3])), rel=1e-12)
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
    _residuals, jacobian_rows = obj.minpack_callbacks()
    jacobian_rows(accepted)                          # LM accepts it: kept
    obj.fused_evaluation(trial)
    evaluations = obj.nfev
    assert obj.cached(accepted) is not None and obj.cached(trial) is not None
    linearize(obj, accepted)                         # served from the kept evaluation
    assert obj.nfev == evaluations


def test_lm_callbacks_report_accepted_points_and_count_evaluations():
    problem = _gauss_problem()
    states = []
    result = fit(problem, on_iteration=states.append)
    assert result.solver == "lm"
    assert result.status.converged
    assert [s.iteration for s in states] == list(range(len(states)))
    objectives = [s.objective for s in states]
    assert all(b <= a for a, b in zip(objectives, objectives[1:]))   # LM accepts only descents
    assert result.evaluations >= len(states)


def test_curvature_of_r_matches_the_svd_route_and_keeps_the_estimable_part():
    rng = np.random.default_rng(3)
    J = rng.normal(size=(40, 4)) * np.array([1e-3, 1.0, 1e4, 5.0])
    names = ["a", "b", "c", "d"]
    R = np.linalg.qr(J, mode="r")
    cov, notes, rank, lev = statistics.curvature_of_r(J, R, names)
    ref = statistics.svd_curvature(J, names)
    assert notes == ref.notes == [""] * 4 and rank == ref.rank == 4
    assert cov == pytest.approx(ref.covariance, rel=1e-9)
    assert cov == pytest.approx(np.linalg.inv(J.T @ J), rel=1e-8)
    assert lev == pytest.approx(ref.leverage, rel=1e-9)
    # a column that is a multiple of another: the SVD route names the parameters
    # and keeps the variances of the estimable ones (a and c)
    J[:, 3] = 2 * J[:, 1]
    R = np.linalg.qr(J, mode="r")
    cov, notes, rank, lev = statistics.curvature_of_r(J, R, names)
    assert rank == 3
    assert notes[1].startswith("singular Jacobian: b, d cannot be determined")
    assert notes[0] == notes[2] == ""
    assert np.isnan(cov[1]).all() and np.isnan(cov[3]).all()
    kept = J[:, :3]
    assert cov[0, 0] == pytest.approx(np.linalg.inv(kept.T @ kept)[0, 0], rel=1e-7)
    assert lev.sum() == pytest.approx(3.0, rel=1e-9)


def test_inside_uses_only_finite_bounds():
    from lsqfit_app.core.parameters import Parameter
    problem = _gauss_problem()
    problem = problem.with_params({"gaussian_sigma": Parameter("gaussian_sigma", 1.2, min=0.0)})
    obj = Objective(problem, np.array([2.5, 0.1, 1.2, 0.3]), solver="auto")
    assert len(obj.bounds) == 1
    assert obj.inside(np.array([1e9, -1e9, 0.5, 3.0]))
    assert not obj.inside(np.array([1.0, 0.0, 0.0, 0.0]))      # on the bound is not inside
    assert not obj.inside(np.array([1.0, 0.0, np.nan, 0.0]))


def test_a_fit_leaves_no_reference_cycles():
    """A cycle (say, a closure over the Objective stored on it) would leave every
    fit's arrays to the cyclic garbage collector: measurably slower over many fits."""
    import gc
    problem = _gauss_problem()
    fit(problem)
    gc.collect()
    gc.disable()
    try:
        fit(problem)
        fit(problem, "trf")
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_rank_check_decides_as_the_svd_does():
    """The triangular-inverse shortcut of _auto._rank_deficient gives the SVD's
    answer on either side of the edge, and defers to it near the edge."""
    from lsqfit_app.solvers._auto import RANK_RTOL, _rank_deficient
    from lsqfit_app.solvers._linearize import Linearization
    rng = np.random.default_rng(11)
    decided = {True: 0, False: 0}
    for trial in range(400):
        p = int(rng.integers(1, 7))
        Q, _ = np.linalg.qr(rng.normal(size=(p, p)))
        # singular values from 1 down to 10**-(0..14): both sides of 1e-10
        s = np.logspace(0, -rng.uniform(0, 14), p)
        R = np.linalg.qr((Q * s) @ np.linalg.qr(rng.normal(size=(p, p)))[0], mode="r")
        theta = rng.choice([-2.0, 0.5, 1.0, 3.0], size=p)
        lin = Linearization(theta, None, None, None, R, np.zeros(p), 1.0)
        sv = np.linalg.svd(R * np.abs(theta), compute_uv=False)
        expected = bool(sv[-1] <= RANK_RTOL * sv[0])
        assert _rank_deficient(lin) == expected, (trial, sv[-1] / sv[0])
        decided[expected] += 1
    assert min(decided.values()) > 50      # both answers were exercised
    zero = Linearization(np.ones(3), None, None, None, np.zeros((3, 3)), np.zeros(3), 1.0)
    assert _rank_deficient(zero)
