"""The compiled LM and factorisation (solvers/_compiled.py) against their
references: scipy's MINPACK lmder driven through the same compiled model
evaluations, and LAPACK's dgeqrf."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import lapack

from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models import kernels, make_model
from lsqfit_app.solvers import SolverOptions, fit
from lsqfit_app.solvers._lm import run_lm
from lsqfit_app.solvers._objective import Objective

pytest.importorskip("numba")


@pytest.fixture
def compiled():
    """Kernels loaded and on for one test (the suite runs with them off)."""
    kernels.set_mode("on")
    assert kernels._load() is not None
    yield
    kernels.set_mode("off")


def _problem(name, start, *, seed=0, sigma=False, fixed=None, n=80, scale=1.15):
    """Data from the model at ``start`` times ``scale`` plus noise, fitted from ``start``."""
    model = make_model(name)
    rng = np.random.default_rng(seed)
    x = np.linspace(0.1, 6.0, n)
    truth = np.array(start) * scale
    with np.errstate(all="ignore"):
        y = model.eval(truth, {"x": x}) + rng.normal(0, 0.05, n)
    params = dict(zip(model.param_names, start))
    if fixed:
        params[fixed] = Parameter(fixed, params[fixed] * 1.15, fixed=True)
    return FitProblem.create(model, x, y, params,
                             sigma=np.linspace(0.03, 0.08, n) if sigma else None)


CASES = [
    ("gaussian+poly0", (4.0, 3.0, 1.0, 0.2), {}),
    ("gaussian+poly0", (4.0, 3.0, 1.0, 0.2), {"sigma": True}),
    ("gaussian+poly0", (4.0, 3.0, 1.0, 0.2), {"fixed": "poly0_c0"}),
    ("lorentzian+line", (3.0, 2.5, 0.7, 0.1, 0.5), {}),
    ("exp_decay", (5.0, 1.5, 0.3), {}),
    ("double_exp_decay", (3.0, 0.5, 2.0, 3.0, 0.1), {"seed": 4}),
    ("damped_sine", (2.0, 0.8, 0.3, 0.2, 0.1), {}),
    ("logistic4", (0.2, 4.0, 3.0, 2.0), {}),
    ("poly0", (1.0,), {}),
    # far starts: rejected steps, step-bound cuts, the LM parameter at work
    ("gaussian+poly0", (2.0, 1.5, 2.5, 0.0), {"scale": 1.8}),
    # (not exp_decay+poly0: its two offsets are one, and along that flat valley
    # a last-digit difference in the data, as numpy's SIMD exp gives depending
    # on alignment, sends each run elsewhere)
    ("exp_decay", (1.0, 0.3, 0.5), {"scale": 3.0}),
]


def _run(problem, monkeypatch, compiled_lm, options=None, **objective_kw):
    """run_lm through the compiled lmder, or through scipy's lmder with the
    same compiled evaluations (``compiled_inputs`` hidden from run_lm)."""
    obj = Objective(problem, np.array([p.value for p in problem.params]), solver="lm",
                    **objective_kw)
    with monkeypatch.context() as patch:
        if not compiled_lm:
            patch.setattr(Objective, "compiled_inputs", lambda self: None)
        with np.errstate(all="ignore"):
            outcome = run_lm(obj, options or SolverOptions())
    return outcome, obj


@pytest.mark.parametrize("name,start,kw", CASES, ids=lambda c: str(c))
def test_compiled_lmder_takes_the_steps_minpack_takes(compiled, monkeypatch, name, start, kw):
    problem = _problem(name, start, **kw)
    ours, obj = _run(problem, monkeypatch, True)
    ref, ref_obj = _run(problem, monkeypatch, False)
    assert obj._kernel_inputs is not None    # the compiled path ran
    assert ours.status == ref.status
    assert ours.extra["minpack_info"] == ref.extra["minpack_info"]
    # the same operations in the same order: the same iterates to rounding
    np.testing.assert_allclose(ours.theta, ref.theta, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(obj.history, ref_obj.history, rtol=1e-12)
    assert (obj.nfev, obj.njev, obj.iterations) == (ref_obj.nfev, ref_obj.njev, ref_obj.iterations)
    np.testing.assert_allclose(obj.best_theta, ref_obj.best_theta, rtol=1e-13, atol=1e-15)
    # the final point's evaluation is cached for linearize, as MINPACK's path leaves it
    hit = obj.cached(ours.theta)
    assert hit is not None and hit.Jr is not None
    np.testing.assert_allclose(hit.Jr, ref_obj.fused_evaluation(ref.theta).Jr, rtol=1e-12)


def test_compiled_lmder_reports_each_iteration_to_a_watcher(compiled, monkeypatch):
    problem = _problem(*CASES[0][:2])
    seen = {True: [], False: []}
    for compiled_lm in (True, False):
        _run(problem, monkeypatch, compiled_lm,
             on_iteration=lambda state, key=compiled_lm: seen[key].append(
                 (state.iteration, state.objective, state.values)))
    assert len(seen[True]) == len(seen[False]) > 3
    for (i, f, v), (i0, f0, v0) in zip(seen[True], seen[False]):
        assert i == i0
        assert f == pytest.approx(f0, rel=1e-12)
        np.testing.assert_allclose(v, v0, rtol=1e-12)


def test_cancel_stops_the_compiled_lmder_within_an_iteration(compiled):
    problem = _problem(*CASES[0][:2])
    token = CancelToken()
    states = []

    def on_iteration(state):
        states.append(state)
        if state.iteration == 2:
            token.cancel()

    result = fit(problem, on_iteration=on_iteration, cancel=token)
    assert result.status is FitStatus.CANCELLED
    assert len(states) == 3          # the start, iterations 1 and 2
    assert result.statistics.sse <= states[-1].objective * (1 + 1e-12)


def test_iteration_limit_and_evaluation_limit_in_the_compiled_lmder(compiled, monkeypatch):
    problem = _problem(*CASES[0][:2])
    limited = fit(problem, options=SolverOptions(max_iterations=2))
    assert limited.status is FitStatus.MAX_ITERATIONS and limited.iterations == 2
    few = SolverOptions(max_evaluations=4)
    ours, obj = _run(problem, monkeypatch, True, options=few)
    ref, ref_obj = _run(problem, monkeypatch, False, options=few)
    assert ours.status == ref.status == "max_evaluations"
    np.testing.assert_allclose(ours.theta, ref.theta, rtol=1e-13)


def test_fits_with_the_compiled_lmder_match_numpy_fits(compiled):
    problem = _problem(*CASES[1][:2], sigma=True)
    with_kernels = fit(problem)
    kernels.set_mode("off")
    with_numpy = fit(problem)
    assert with_kernels.solver == with_numpy.solver == "lm"
    np.testing.assert_allclose(with_kernels.values, with_numpy.values, rtol=1e-10)
    np.testing.assert_allclose(with_kernels.stderrs, with_numpy.stderrs, rtol=1e-8)
    np.testing.assert_allclose(with_kernels.covariance, with_numpy.covariance, rtol=1e-8)
    np.testing.assert_allclose(with_kernels.standardized_residuals,
                               with_numpy.standardized_residuals, rtol=1e-8)


@pytest.mark.parametrize("m,p", [(100, 4), (10, 3), (50, 7), (6, 5), (5, 5)])
def test_factor_matches_lapack_up_to_row_signs(compiled, m, p):
    from lsqfit_app.solvers._compiled import factor
    rng = np.random.default_rng(m * p)
    for _ in range(20):
        J = rng.normal(size=(m, p)) * 10.0 ** rng.uniform(-3, 3, p)
        r = rng.normal(size=m)
        R, qtr = factor(np.ascontiguousarray(J.T), r)
        qr = lapack.dgeqrf(np.asfortranarray(np.column_stack([J, r])))[0]
        R0, qtr0 = np.triu(qr[:p, :p]), qr[:p, p]
        # rows may differ in sign (LAPACK leaves a 1-row last reflection out)
        signs = np.sign(np.diag(R)) * np.sign(np.diag(R0))
        np.testing.assert_allclose(R, signs[:, None] * R0, rtol=0, atol=1e-13 * np.abs(R0).max())
        np.testing.assert_allclose(qtr, signs * qtr0, rtol=0, atol=1e-13 * np.abs(qtr0).max())
        assert np.all(np.tril(R, -1) == 0)


def test_factor_says_when_its_input_is_not_finite(compiled):
    from lsqfit_app.solvers._compiled import factor
    J = np.ones((3, 10))
    J[1, 4] = np.nan
    assert factor(J, np.ones(10))[0].size == 0
    assert factor(np.ones((3, 10)), np.full(10, np.inf))[0].size == 0


@pytest.mark.parametrize("name,start,kw", CASES[:8], ids=lambda c: str(c))
@pytest.mark.parametrize("offset", [0.0, 1e-7, 1e-3])
def test_compiled_polish_matches_the_python_polish(compiled, monkeypatch, name, start, kw,
                                                    offset):
    """From LM's end point (offset 0) and from points off it, so that the
    polish takes several steps (or stops on a non-contracting one)."""
    from lsqfit_app.solvers._auto import polish
    from lsqfit_app.solvers._linearize import linearize
    problem = _problem(name, start, **kw)
    end = _run(problem, monkeypatch, True)[0].theta * (1 + offset)
    results = []
    for compiled_polish in (True, False):
        obj = Objective(problem, np.array([p.value for p in problem.params]), solver="auto")
        with monkeypatch.context() as patch:
            if not compiled_polish:
                patch.setattr(Objective, "compiled_inputs", lambda self: None)
            with np.errstate(all="ignore"):
                lin = polish(obj, linearize(obj, end))
        results.append((lin, obj.nfev, obj.best_objective))
    (ours, nfev, best), (ref, ref_nfev, ref_best) = results
    assert nfev == ref_nfev
    np.testing.assert_allclose(ours.theta, ref.theta, rtol=1e-12, atol=1e-15)
    assert ours.objective == pytest.approx(ref.objective, rel=1e-12)
    assert best == pytest.approx(ref_best, rel=1e-12)
    np.testing.assert_allclose(np.abs(ours.R), np.abs(ref.R), rtol=1e-10, atol=1e-13 * np.abs(ref.R).max())
    np.testing.assert_allclose(ours.Jr, ref.Jr, rtol=1e-13)


def test_compiled_curvature_matches_numpy(compiled):
    from lsqfit_app.core.statistics import well_conditioned_curvature as numpy_version
    from lsqfit_app.solvers._compiled import well_conditioned_curvature
    rng = np.random.default_rng(7)
    for m, p in [(100, 4), (12, 5), (3, 3), (40, 1)]:
        J = np.asfortranarray(rng.normal(size=(m, p)) * 10.0 ** rng.uniform(-2, 2, p))
        R = np.linalg.qr(J, mode="r")
        cov, lev = well_conditioned_curvature(J, R)
        cov0, lev0 = numpy_version(J, R)
        np.testing.assert_allclose(cov, cov0, rtol=1e-11, atol=1e-14 * np.abs(cov0).max())
        np.testing.assert_allclose(lev, lev0, rtol=1e-11, atol=1e-15)
    # nearly dependent columns: both hand the same ones over to the SVD (None)
    handed_over = 0
    for closeness in (1e-4, 1e-8, 1e-12, 1e-14, 1e-16, 0.0):
        J = rng.normal(size=(50, 3))
        J[:, 2] = J[:, 0] + closeness * rng.normal(size=50)
        R = np.linalg.qr(J, mode="r")
        ours, reference = well_conditioned_curvature(J, R), numpy_version(J, R)
        assert (ours is None) == (reference is None), closeness
        handed_over += ours is None
    assert handed_over >= 2
    R[1, 1] = 0.0
    assert well_conditioned_curvature(J, R) is None and numpy_version(J, R) is None


def _settle_both_ways(problem, theta, monkeypatch, **patches):
    """_auto._settle at theta through the compiled kernels and through numpy's
    path (``compiled_inputs`` hidden), each on a fresh Objective."""
    from lsqfit_app.solvers import _auto
    results = []
    for compiled_path in (True, False):
        obj = Objective(problem, np.array([p.value for p in problem.params]), solver="auto")
        with monkeypatch.context() as patch:
            for name, value in patches.items():
                patch.setattr(_auto, name, value)
            if not compiled_path:
                patch.setattr(Objective, "compiled_inputs", lambda self: None)
            with np.errstate(all="ignore"):
                lin, deficient = _auto._settle(obj, np.array(theta, dtype=float),
                                               SolverOptions())
        results.append((lin, deficient, obj.nfev, obj.best_objective))
    return results


@pytest.mark.parametrize("name,start,kw", CASES[:8], ids=lambda c: str(c))
@pytest.mark.parametrize("undecided", [False, True])
def test_compiled_settle_matches_the_python_one(compiled, monkeypatch, name, start, kw,
                                               undecided):
    """Linearise, rank check and polish at (a point near) LM's end; with
    ``undecided`` the condition bound is made unable to decide, so the SVD
    and the separate polish take over as they would near the edge."""
    problem = _problem(name, start, **kw)
    end = _run(problem, monkeypatch, True)[0].theta * (1 + 1e-7)
    patches = {"_rank_limits": lambda p: (0.0, np.inf)} if undecided else {}
    (lin, deficient, nfev, best), (ref, ref_deficient, ref_nfev, ref_best) = \
        _settle_both_ways(problem, end, monkeypatch, **patches)
    assert deficient == ref_deficient is False
    assert nfev == ref_nfev
    assert lin.compiled and not ref.compiled
    np.testing.assert_allclose(lin.theta, ref.theta, rtol=1e-12, atol=1e-15)
    assert lin.objective == pytest.approx(ref.objective, rel=1e-12)
    assert best == pytest.approx(ref_best, rel=1e-12)
    np.testing.assert_allclose(np.abs(lin.R), np.abs(ref.R), rtol=1e-10,
                               atol=1e-13 * np.abs(ref.R).max())


def test_compiled_settle_finds_the_rank_deficiency_numpy_finds(compiled, monkeypatch):
    """A Gaussian far outside the data: its columns vanish."""
    problem = _problem(*CASES[0][:2])
    (lin, deficient, nfev, _), (ref, ref_deficient, ref_nfev, _) = \
        _settle_both_ways(problem, (1.0, 200.0, 1.0, 0.3), monkeypatch)
    assert deficient and ref_deficient
    assert nfev == ref_nfev == 1          # the point's evaluation; no polish
    np.testing.assert_array_equal(lin.theta, ref.theta)


def test_the_polish_stays_inside_the_bounds(compiled, monkeypatch):
    """A start off the minimum, with a bound the Gauss-Newton steps would
    cross: both paths stop at the last step inside."""
    from lsqfit_app.core.parameters import Parameter
    problem = _problem(*CASES[0][:2])
    end = _run(problem, monkeypatch, True)[0].theta
    start = end * (1 + 1e-4)
    # the sigma bound just below the end point: LM's minimum is outside
    bound = 0.5 * (start[2] + end[2])
    params = list(problem.params)
    params[2] = Parameter(params[2].name, float(start[2]), min=bound)
    bounded = problem.with_params(params)
    (lin, _, _, _), (ref, _, _, _) = _settle_both_ways(bounded, start, monkeypatch)
    assert lin.theta[2] > bound and ref.theta[2] > bound
    np.testing.assert_allclose(lin.theta, ref.theta, rtol=1e-12)


def test_loading_the_kernels_loads_the_compiled_loops_as_fits_call_them(compiled):
    """kernels.warm_up() runs _compiled.load_all: each compiled function is
    loaded once, with the argument types fits pass (none compiles again)."""
    from lsqfit_app.solvers import _compiled
    functions = [_compiled.lm_slice, _compiled.settle_loop, _compiled.polish_loop,
                 _compiled.factor, _compiled._curvature]
    assert all(len(f.signatures) == 1 for f in functions)
    for kw in ({}, {"sigma": True}, {"fixed": "poly0_c0"}):
        fit(_problem(*CASES[0][:2], **kw))
    assert all(len(f.signatures) == 1 for f in functions)
