"""Memory on big data: the fit side streams its big computations in row blocks.

Two kinds of tests:

- the blocked computations (double-double residuals and dot products, the
  TSQR factorisation of [J | r], the blocked model evaluation, leverages)
  equal the unblocked ones to rounding when a tiny block size is forced on
  small data;
- a subprocess fits a generated 1M-row problem and reports its peak RSS
  (ru_maxrss): the fit's increase over the data stays under a bound counted
  in vectors of n doubles.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lsqfit_app.core import ddarith, statistics
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.solvers import _linearize, fit
from lsqfit_app.solvers._objective import Objective


def _exact_residual(A, x, b, r=None):
    from fractions import Fraction
    out = []
    for i in range(A.shape[0]):
        s = Fraction(float(b[i])) - (Fraction(float(r[i])) if r is not None else 0)
        for j in range(A.shape[1]):
            s -= Fraction(float(A[i, j])) * Fraction(float(x[j]))
        out.append(float(s))
    return np.array(out)


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 16])
def test_blocked_double_double_matches_exact_for_any_block(monkeypatch, block):
    rng = np.random.default_rng(41)
    A = rng.normal(size=(23, 3)) * np.array([1.0, 1e8, 1e-8])
    x = rng.normal(size=3)
    b = A @ x + rng.normal(size=23) * 1e-9
    r = rng.normal(size=23) * 1e-10
    whole = ddarith.residual_dd(A, x, b, r)
    dots = ddarith.transpose_dot_dd(A, r)
    monkeypatch.setattr(ddarith, "BLOCK_ROWS", block)
    blocked = ddarith.residual_dd(A, x, b, r)
    # elementwise and exactly rounded sums: blocking cannot change a bit
    assert np.array_equal(blocked, whole)
    assert np.array_equal(ddarith.transpose_dot_dd(A, r), dots)
    # accurate to double-double before the last rounding: to the last bits or so
    assert blocked == pytest.approx(_exact_residual(A, x, b, r), rel=1e-14, abs=0)
    from fractions import Fraction
    exact_dots = [float(sum(Fraction(float(a)) * Fraction(float(v)) for a, v in zip(A[:, j], r)))
                  for j in range(3)]
    assert dots.tolist() == exact_dots


def test_tsqr_of_augmented_jacobian_matches_householder(monkeypatch):
    rng = np.random.default_rng(42)
    J = rng.normal(size=(500, 4)) * np.array([1.0, 10.0, 1e-3, 5.0])
    r = rng.normal(size=500)
    R1, q1 = _linearize._factor_augmented(J, r)
    monkeypatch.setattr(statistics, "QR_CHUNK", 16)   # 32 blocks of 16 rows
    assert len(statistics.row_blocks(500)) > 1
    R2, q2 = _linearize._factor_augmented(J, r)
    # unique up to row signs: compare the Gram matrix and the Gauss-Newton step
    assert R2.T @ R2 == pytest.approx(J.T @ J, rel=1e-12)
    assert np.abs(R2) == pytest.approx(np.abs(R1), rel=1e-10, abs=1e-12)
    step1, step2 = np.linalg.solve(R1, q1), np.linalg.solve(R2, q2)
    assert step2 == pytest.approx(step1, rel=1e-10)
    assert step1 == pytest.approx(np.linalg.lstsq(J, r, rcond=None)[0], rel=1e-10)
    # a non-finite row anywhere is seen in its block
    r_bad = r.copy()
    r_bad[433] = np.nan
    assert _linearize._factor_augmented(J, r_bad) == (None, None)


def test_r_factor_and_leverages_blocked_match_whole(monkeypatch):
    rng = np.random.default_rng(43)
    J = rng.normal(size=(300, 3)) * np.array([2.0, 1e4, 1e-2])
    scale = statistics.column_scale(J)
    R_whole = statistics.r_factor(J, scale)
    lev_whole = statistics.svd_curvature(J, list("abc")).leverage
    cov_whole, lev_r = statistics.well_conditioned_curvature(J, np.linalg.qr(J, mode="r"))
    monkeypatch.setattr(statistics, "QR_CHUNK", 8)
    R_blocked = statistics.r_factor(J, scale)
    assert np.abs(R_blocked) == pytest.approx(np.abs(R_whole), rel=1e-12, abs=1e-14)
    assert statistics.svd_curvature(J, list("abc")).leverage == pytest.approx(lev_whole, rel=1e-12)
    cov_b, lev_b = statistics.well_conditioned_curvature(J, np.linalg.qr(J, mode="r"))
    assert lev_b == pytest.approx(lev_r, rel=1e-12)
    assert lev_whole.sum() == pytest.approx(3.0, rel=1e-12)   # trace of the hat matrix
    assert statistics.has_intercept(np.column_stack([J, np.ones(300)]))
    assert not statistics.has_intercept(J)


@pytest.mark.parametrize("spec,fixed", [("gaussian+line", None), ("exp_decay", "offset"),
                                        ("a*exp(-x/tau)+c", None)])
def test_blocked_evaluation_and_fit_match_whole(monkeypatch, spec, fixed):
    rng = np.random.default_rng(44)
    x = np.linspace(0, 10, 3000)
    s = 0.1 + 0.05 * rng.random(x.size)
    y = 3 * np.exp(-(x - 5) ** 2 / 1.0) + 4 * np.exp(-x / 2.5) + 0.5 * x + 1 + rng.normal(0, s)
    model = make_model(spec)
    params = {fixed: 0.0} if fixed else None
    if fixed:
        from lsqfit_app.core.parameters import Parameter
        params = {fixed: Parameter(fixed, 0.0, True)}
    problem = FitProblem.create(model, x, y, params, sigma=s)
    whole = fit(problem)
    start = np.array([p.value for p in whole.parameters])
    ref = Objective(problem, start, solver="auto")
    assert len(ref.row_blocks) == 1 and not ref.lean
    theta = ref.theta0 * 1.01
    e_whole = ref.fused_evaluation(theta)
    monkeypatch.setattr(statistics, "QR_CHUNK", 64)   # 47 blocks
    obj = Objective(problem, start, solver="auto")
    assert obj.lean and len(obj.row_blocks) > 1
    e_blocked = obj.fused_evaluation(theta)
    # the models are elementwise in the rows: the same numbers block by block
    assert np.array_equal(e_blocked.f, e_whole.f)
    assert np.array_equal(e_blocked.r, e_whole.r)
    assert np.array_equal(e_blocked.Jr, e_whole.Jr)
    assert e_blocked.objective == e_whole.objective
    assert np.array_equal(obj.residuals(theta), ref.residuals(theta))
    blocked = fit(problem)
    assert blocked.status == whole.status
    for a, b in zip(blocked.parameters, whole.parameters):
        assert a.value == pytest.approx(b.value, rel=1e-9, abs=1e-12), a.name
        assert a.stderr == pytest.approx(b.stderr, rel=1e-7, abs=1e-14), a.name
    assert blocked.standardized_residuals == pytest.approx(whole.standardized_residuals,
                                                           rel=1e-7, abs=1e-12)


def test_lean_objective_keeps_only_residuals(monkeypatch):
    rng = np.random.default_rng(45)
    x = np.linspace(0, 4, 400)
    y = 2 * np.exp(-x / 1.5) + rng.normal(0, 0.01, x.size)
    problem = FitProblem.create(make_model("exp_decay"), x, y)
    monkeypatch.setattr(statistics, "QR_CHUNK", 50)
    obj = Objective(problem, np.array([1.0, 1.0, 0.0]), solver="lm")
    first = obj.fused_evaluation(obj.theta0)
    _residuals, jacobian_rows = obj.minpack_callbacks()
    jacobian_rows(obj.theta0)                    # LM accepts the point: it is kept
    assert obj._kept.Jr is None and obj._kept.r is first.r
    # a new evaluation drops the Objective's hold on the last one
    obj.fused_evaluation(obj.theta0 * 1.1)
    assert obj.cached(obj.theta0).Jr is None
    again = obj.fused_evaluation(obj.theta0)     # evaluated again, with its Jacobian
    assert np.array_equal(again.Jr, first.Jr)


def test_closed_form_blocked_refinement_is_bit_identical(monkeypatch):
    rng = np.random.default_rng(46)
    x = np.linspace(-1, 3, 700)
    s = 0.5 + rng.random(x.size)
    y = 0.3 * x**3 - x + 2 + rng.normal(0, s)
    problem = FitProblem.create(make_model("poly3"), x, y, sigma=s)
    whole = fit(problem, "closed-form")
    monkeypatch.setattr(ddarith, "BLOCK_ROWS", 5)
    blocked = fit(problem, "closed-form")
    assert [p.value for p in blocked.parameters] == [p.value for p in whole.parameters]
    assert np.array_equal(blocked.covariance, whole.covariance)


_PEAK_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import fit

    spec, n = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(7)
    x = np.linspace(0, 10, n)
    s = 0.1 + 0.05 * rng.random(n)
    y = {"line": 2 * x + 1,
         "poly3": 0.3 * x**3 - 2 * x**2 + x + 1,
         "exp_decay": 4 * np.exp(-x / 2.5) + 1,
         "a*exp(-x/tau)+c": 4 * np.exp(-x / 2.5) + 1,
         "gaussian+line": 3 * np.exp(-(x - 5)**2 / 0.98) + 0.5 * x + 1}[spec]
    y = y + rng.normal(0, s)
    model = make_model(spec)
    params = {"tau": 2.0} if "tau" in model.param_names else None
    problem = FitProblem.create(model, x, y, params, sigma=s)
    del x, y, s
    # warm up imports and lazily loaded code on a small copy of the problem
    small = FitProblem.create(model, problem.x["x"][::1000], problem.y[::1000], params,
                              sigma=problem.sigma[::1000])
    fit(small)

    def peak_kb():
        # VmHWM is this process's own peak; ru_maxrss would start at the peak of
        # the pytest process this child was forked from (Linux keeps it across
        # exec), and a difference of two such values could read 0 however much
        # the fit took
        try:
            with open("/proc/self/status") as fh:
                return int([l for l in fh if l.startswith("VmHWM:")][0].split()[1])
        except (OSError, IndexError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    before = peak_kb()
    result = fit(problem)
    after = peak_kb()
    print(json.dumps({"before_kb": before, "after_kb": after, "status": result.status.value,
                      "solver": result.solver}))
""")

N_BIG = 1_000_000


@pytest.mark.parametrize("spec", ["line", "poly3", "exp_decay", "gaussian+line",
                                  "a*exp(-x/tau)+c"])
def test_fit_of_a_million_rows_stays_within_a_dozen_vectors(spec):
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, spec, str(N_BIG)],
                         capture_output=True, text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"] == "converged", report
    vector_kb = N_BIG * 8 / 1024
    # the peak before the fit already holds the problem (x, y, sigma); the fit
    # itself, result included, may add at most this many vectors of n doubles
    # (before: 25 to 40; a Jacobian of p columns and MINPACK's copy of it are
    # 2p + 2 of them for LM)
    bound = {"gaussian+line": 18, "exp_decay": 14, "a*exp(-x/tau)+c": 14}.get(spec, 12)
    increase = (report["after_kb"] - report["before_kb"]) / vector_kb
    assert increase < bound, f"{spec}: the fit added {increase:.1f} vectors of n doubles"
