"""The fused evaluations of a fit own their arrays.

A sum of lineshapes evaluated at fixed predictors (``Model.jacobian_at``)
writes every Jacobian into one buffer; the Objective weighs it into arrays of
its own at once, so an evaluation it keeps (the last one, the one LM last
accepted, a linearisation) never changes when the next one is made.  The best
point seen is kept apart from the solver's own (reused) parameter buffer.
"""
from __future__ import annotations

import numpy as np

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.solvers._objective import Objective


def _problem(seed: int, spec: str = "gaussian+poly0"):
    rng = np.random.default_rng(seed)
    x = np.linspace(-4.0, 4.0, 60)
    y = 3.0 * np.exp(-0.5 * (x - 0.4) ** 2 / 0.8 ** 2) + 0.2 + rng.normal(0, 0.05, x.size)
    model = make_model(spec)
    start = dict(zip(model.param_names, rng.uniform(0.5, 1.5, len(model.param_names))))
    return FitProblem.create(model, x, y, start)


def test_kept_evaluations_do_not_change_when_the_next_is_made():
    problem = _problem(11)
    obj = Objective(problem, np.array([p.value for p in problem.params]), solver="auto")
    first_theta = obj.theta0
    first = obj.fused_evaluation(first_theta)
    kept_jr, kept_r, kept_f = first.Jr.copy(), first.r.copy(), first.f.copy()
    second = obj.fused_evaluation(first_theta * 1.1)
    obj.fused_evaluation(first_theta * 0.9)
    assert first.Jr.tobytes() == kept_jr.tobytes()
    assert first.r.tobytes() == kept_r.tobytes() and first.f.tobytes() == kept_f.tobytes()
    assert not np.shares_memory(first.Jr, second.Jr)
    # and each is the model's own Jacobian, negated (dr/dtheta of r = y - f)
    for theta, evaluation in ((first_theta, first), (first_theta * 1.1, second)):
        f, J = problem.model.eval_and_jacobian(theta, problem.x)
        assert evaluation.Jr.tobytes() == (-J).tobytes()
        assert evaluation.f.tobytes() == f.tobytes()


def test_the_evaluator_at_fixed_x_agrees_with_a_fresh_evaluation_bit_for_bit():
    rng = np.random.default_rng(12)
    x = {"x": np.sort(rng.uniform(-3, 3, 40))}
    for spec in ("gaussian+poly0", "gaussian+lorentzian+poly0", "gaussian+line", "lorentzian"):
        model = make_model(spec)
        evaluate = model.jacobian_at(x)
        for _ in range(3):
            p = rng.uniform(0.3, 2.0, len(model.param_names))
            f, J = evaluate(p)
            f_ref, J_ref = model.eval_and_jacobian(p, x)
            assert f.tobytes() == f_ref.tobytes(), spec
            assert np.ascontiguousarray(J).tobytes() == np.ascontiguousarray(J_ref).tobytes(), spec


def test_a_zero_width_gives_the_same_non_finite_values_through_the_evaluator():
    model = make_model("gaussian+poly0")
    x = {"x": np.linspace(-1, 1, 9)}
    p = np.array([2.0, 0.0, 0.0, 0.5])          # sigma exactly 0
    with np.errstate(all="ignore"):
        f, J = model.jacobian_at(x)(p)
        f_parts, J_parts = model._eval_parts(p, x)
    assert np.array_equal(f, f_parts, equal_nan=True)
    assert np.array_equal(J, J_parts, equal_nan=True)
    assert not np.isfinite(J).all()


def test_best_theta_is_the_lowest_point_seen_not_the_solvers_buffer():
    problem = _problem(13)
    obj = Objective(problem, np.array([p.value for p in problem.params]), solver="lm")
    residuals, _jacobian_rows = obj.minpack_callbacks()
    rng = np.random.default_rng(14)
    buffer = obj.theta0            # one array the "solver" overwrites, as MINPACK does
    points, objectives = [], []
    for _ in range(6):
        buffer[:] = obj.theta0 * rng.uniform(0.7, 1.3, buffer.size)
        r = residuals(buffer)
        points.append(buffer.copy())
        objectives.append(float(r @ r))
    buffer[:] = 0.0
    best = int(np.argmin(objectives))
    assert obj.best_objective == objectives[best]
    assert obj.best_theta.tobytes() == points[best].tobytes()
    assert obj.best_theta is not obj.best_theta   # each caller gets its own copy
