"""Global fits against a hand-built joint least_squares, single fits and separate fits."""
import json
import math

import numpy as np
import pytest
from scipy.optimize import least_squares

from lsqfit_app.batch.curves import Curve, CurveSet
from lsqfit_app.batch.global_fit import fit_global
from lsqfit_app.batch.joint_result import global_vs_separate
from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models.registry import library_model_from_spec
from lsqfit_app.solvers import fit


def _decays(rng, taus, n=60, noise=0.05, sigma=False):
    x = np.linspace(0, 10, n)
    curves = []
    for k, tau in enumerate(taus):
        y = (k + 1) * np.exp(-x / tau) + 0.1 * k + rng.normal(0, noise, n)
        curves.append(Curve(f"c{k}", x, y, sigma=np.full(n, noise) if sigma else None))
    return curves


def _joint_reference(model, curves, shared, start, fixed=None, sigma=False):
    """scipy least_squares on the stacked residuals; returns values per curve (K, p),
    standard errors per curve and the SSE."""
    fixed = fixed or {}
    names = model.param_names
    sh = [n for n in names if n in shared and n not in fixed]
    lo = [n for n in names if n not in shared and n not in fixed]
    K = len(curves)

    def full(theta):
        P = np.empty((K, len(names)))
        for k in range(K):
            for n, v in fixed.items():
                P[k, names.index(n)] = v
            for j, n in enumerate(sh):
                P[k, names.index(n)] = theta[j]
            for j, n in enumerate(lo):
                P[k, names.index(n)] = theta[len(sh) + k * len(lo) + j]
        return P

    def resid(theta):
        P = full(theta)
        out = []
        for k, c in enumerate(curves):
            keep = np.ones(len(c.y), bool) if c.excluded is None else ~np.asarray(c.excluded)
            s = 1.0 if c.sigma is None else np.asarray(c.sigma)[keep]
            out.append((np.asarray(c.y)[keep] - model.eval(P[k], {"x": np.asarray(c.x)[keep]})) / s)
        return np.concatenate(out)

    theta0 = np.concatenate([[start[n] for n in sh]] + [[start[n] for n in lo]] * K)
    sol = least_squares(resid, theta0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    J = sol.jac
    sse = float(sol.fun @ sol.fun)
    cov = np.linalg.inv(J.T @ J)
    if not sigma:
        cov *= sse / (J.shape[0] - J.shape[1])
    return full(sol.x), full(np.sqrt(np.diag(cov))), sse, cov


def test_exp_decays_sharing_tau_match_joint_least_squares():
    rng = np.random.default_rng(1)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.5] * 5)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    assert res.status is FitStatus.CONVERGED
    values, errs, sse, _ = _joint_reference(model, curves, ["tau"],
                                            {"amplitude": 1.0, "tau": 1.0, "offset": 0.0})
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)
    assert res.statistics.sse == pytest.approx(sse, rel=1e-9)
    assert res.statistics.dof == 300 - 11
    tau = [p for p in res.parameters if p.name == "tau"]
    assert len(tau) == 1 and tau[0].curve is None
    assert np.all(res.values[:, 1] == res.values[0, 1])


def test_gaussians_sharing_sigma_masks_and_lengths():
    rng = np.random.default_rng(2)
    model = library_model_from_spec("gaussian")
    curves = []
    for k, (n, c) in enumerate([(50, 4.0), (80, 5.0), (65, 6.0)]):
        x = np.linspace(0, 10, n)
        y = (k + 2) * np.exp(-(x - c) ** 2 / (2 * 1.3 ** 2)) + rng.normal(0, 0.03, n)
        excl = np.zeros(n, bool)
        excl[rng.choice(n, 7, replace=False)] = True
        curves.append(Curve(f"g{k}", x, y, excluded=excl))
    res = fit_global(model, CurveSet.from_curves(curves, model), ["sigma"])
    assert res.converged
    values, errs, sse, _ = _joint_reference(model, curves, ["sigma"],
                                            {"amplitude": 2.0, "center": 5.0, "sigma": 1.0})
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)
    np.testing.assert_array_equal(res.curve_n_used, [43, 73, 58])
    assert res.curve_sse.sum() == pytest.approx(sse, rel=1e-9)


def test_absolute_sigma_errors_not_rescaled():
    rng = np.random.default_rng(3)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 4, sigma=True)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    values, errs, sse, _ = _joint_reference(model, curves, ["tau"],
                                            {"amplitude": 1.0, "tau": 1.0, "offset": 0.0},
                                            sigma=True)
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)
    assert res.statistics.chi_squared == pytest.approx(sse, rel=1e-9)
    assert res.statistics.absolute_sigma
    # normal quantile for known variance
    p = res.parameters[0]
    assert (p.ci95[1] - p.value) / p.stderr == pytest.approx(1.959964, rel=1e-6)


def test_all_shared_equals_one_fit_of_the_concatenated_data():
    rng = np.random.default_rng(4)
    model = library_model_from_spec("exp_decay")
    x = np.linspace(0, 8, 40)
    curves = [Curve(f"c{k}", x + 0.05 * k, 3 * np.exp(-x / 1.7) + 0.2 + rng.normal(0, 0.04, 40))
              for k in range(4)]
    res = fit_global(model, CurveSet.from_curves(curves, model), model.param_names)
    single = fit(FitProblem.create(model, np.concatenate([c.x for c in curves]),
                                   np.concatenate([c.y for c in curves])))
    np.testing.assert_allclose(res.values[0], single.values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs[0], single.stderrs, rtol=1e-6)
    for key in ("sse", "r_squared", "adj_r_squared", "aic", "aicc", "bic", "dof"):
        assert getattr(res.statistics, key) == pytest.approx(getattr(single.statistics, key),
                                                             rel=1e-8), key
    np.testing.assert_allclose(res.covariance, single.covariance, rtol=1e-6, atol=1e-14)
    assert all(p.curve is None for p in res.parameters)


def test_no_shared_equals_separate_fits():
    rng = np.random.default_rng(5)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [1.5, 2.5, 3.5])
    res = fit_global(model, CurveSet.from_curves(curves, model), [])
    s2_joint = res.statistics.variance_factor
    for k, c in enumerate(curves):
        single = fit(FitProblem.create(model, c.x, c.y))
        np.testing.assert_allclose(res.values[k], single.values, rtol=1e-6)
        assert res.curve_sse[k] == pytest.approx(single.statistics.sse, rel=1e-8)
        assert res.curve_r_squared[k] == pytest.approx(single.statistics.r_squared, rel=1e-8)
        # the joint fit pools the scatter of all curves: errors differ by sqrt(s2 ratio)
        ratio = math.sqrt(single.statistics.variance_factor / s2_joint)
        np.testing.assert_allclose(res.stderrs[k] * ratio, single.stderrs, rtol=1e-6)


def test_fixed_parameter_is_not_an_unknown():
    rng = np.random.default_rng(6)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 3)
    params = {"offset": Parameter("offset", 0.1, fixed=True)}
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"], params)
    values, errs, sse, _ = _joint_reference(model, curves, ["tau"],
                                            {"amplitude": 1.0, "tau": 1.0}, fixed={"offset": 0.1})
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs[:, :2], errs[:, :2], rtol=1e-6)
    assert np.all(res.stderrs[:, 2] == 0)
    off = [p for p in res.parameters if p.name == "offset"]
    assert len(off) == 1 and off[0].fixed and off[0].stderr == 0 and off[0].curve is None
    assert res.statistics.n_free == 1 + 3


def test_shared_start_and_bounds():
    rng = np.random.default_rng(7)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 3)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"],
                     {"tau": Parameter("tau", 3.0, min=2.5, max=10.0)})
    tau = [p for p in res.parameters if p.name == "tau"][0]
    assert tau.value == pytest.approx(2.5) and tau.at_bound and math.isnan(tau.stderr)
    assert tau.start == 3.0
    assert res.to_dict()["parameters"][0]["stderr"] is None


def test_cancel_returns_the_best_point_so_far():
    rng = np.random.default_rng(8)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 4)
    token = CancelToken()
    seen = []

    def progress(state):
        seen.append(state)
        if state.iteration >= 1:
            token.cancel()

    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"],
                     on_progress=progress, cancel=token)
    assert res.status is FitStatus.CANCELLED
    assert res.iterations == 1 and len(res.history) == 2
    assert seen[0].iteration == 0 and len(seen[0].values) == len(res.parameters)
    token2 = CancelToken()
    token2.cancel()
    res2 = fit_global(model, CurveSet.from_curves(curves, model), ["tau"], cancel=token2)
    assert res2.status is FitStatus.CANCELLED and res2.iterations == 0


def _separate(model, curves):
    fits = [fit(FitProblem.create(model, c.x, c.y)) for c in curves]
    return sum(f.statistics.sse for f in fits), sum(f.statistics.rank for f in fits)


def test_f_test_prefers_global_when_sharing_is_true():
    rng = np.random.default_rng(9)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 5)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    sse_s, k_s = _separate(model, curves)
    out = global_vs_separate(res, sse_s, k_s)
    assert out["df_numerator"] == 4 and out["df_denominator"] == 300 - 15
    f = ((res.statistics.sse - sse_s) / 4) / (sse_s / (300 - 15))
    assert out["f"] == pytest.approx(f, rel=1e-12)
    assert out["p_value"] > 0.05 and out["f_test_prefers"] == "global"
    assert out["global"]["aicc"] == pytest.approx(res.statistics.aicc, rel=1e-12)
    assert out["aicc_prefers"] == "global"


def test_f_test_rejects_sharing_when_taus_differ():
    rng = np.random.default_rng(10)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [1.0, 2.0, 3.0, 4.0])
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    out = global_vs_separate(res, *_separate(model, curves))
    assert out["p_value"] < 1e-10 and out["f_test_prefers"] == "separate"
    assert out["aicc_prefers"] == "separate" and out["probability_global"] < 1e-6


def test_json_keys_and_covariance_blocks():
    rng = np.random.default_rng(11)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 3)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    for key in ("model", "solver", "loss", "converged", "message", "iterations", "evaluations",
                "parameters", "statistics", "covariance", "history", "curves", "per_curve"):
        assert key in d, key
    assert d["curves"] == ["c0", "c1", "c2"]
    assert set(d["per_curve"][0]) >= {"id", "sse", "n_used", "r_squared"}
    for entry in d["parameters"]:
        assert set(entry) >= {"name", "value", "stderr", "ci95", "fixed", "at_bound", "curve"}
    assert [e["curve"] for e in d["parameters"]] == [None] + ["c0"] * 2 + ["c1"] * 2 + ["c2"] * 2
    assert set(d["statistics"]) >= {"n", "n_used", "dof", "sse", "rmse", "residual_sd",
                                    "r_squared", "adj_r_squared", "chi_squared",
                                    "reduced_chi_squared", "aic", "aicc", "bic"}
    # the full covariance equals the reference's (both order tau, then each curve's
    # amplitude and offset)
    _v, _e, _sse, cov = _joint_reference(model, curves, ["tau"],
                                         {"amplitude": 1.0, "tau": 1.0, "offset": 0.0})
    np.testing.assert_allclose(np.array(d["covariance"]), cov,
                               rtol=1e-6, atol=1e-14)
    assert d["covariance_shared"][0][0] == pytest.approx(cov[0, 0], rel=1e-6)
    header, rows = res.table()
    assert header == ["id", "status", "amplitude", "amplitude_stderr", "tau", "tau_stderr",
                      "offset", "offset_stderr", "sse", "r_squared", "aicc"]
    assert len(rows) == 3 and rows[0][4] == rows[2][4]


def test_large_fit_keeps_only_the_blocks():
    rng = np.random.default_rng(12)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 120, n=30)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    assert res.converged and res.covariance is None
    d = res.to_dict()
    assert d["covariance"] is None and len(d["covariance_shared"]) == 1
    assert res.covariance_local.shape == (120, 2, 2)
    values, errs, _sse, _ = _joint_reference(model, curves, ["tau"],
                                             {"amplitude": 1.0, "tau": 1.0, "offset": 0.0})
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)


def test_bad_input_names_the_problem():
    model = library_model_from_spec("exp_decay")
    x = np.linspace(0, 5, 10)
    curves = CurveSet.from_curves([Curve("a", x, np.exp(-x)),
                                   Curve("b", x, np.exp(-x), excluded=np.ones(10, bool))], model)
    with pytest.raises(ParameterError, match="'rate'"):
        fit_global(model, curves, ["rate"])
    with pytest.raises(InputError, match="'b'"):
        fit_global(model, curves, ["tau"])
    zero = CurveSet.from_curves([Curve("z", x, np.where(x > 1, np.exp(-x), 0.0))], model)
    with pytest.raises(InputError, match="curve 'z'.*row 1"):
        fit_global(model, zero, ["tau"], weights="relative")


def test_far_start_converges_like_least_squares():
    rng = np.random.default_rng(13)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 4)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"], {"tau": 40.0})
    assert res.converged
    values, errs, _sse, _ = _joint_reference(model, curves, ["tau"],
                                             {"amplitude": 1.0, "tau": 1.0, "offset": 0.0})
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    assert res.history[0] > res.history[-1]
    assert all(b <= a for a, b in zip(res.history, res.history[1:]))


def test_iteration_limit_is_a_status():
    from lsqfit_app.core.result import SolverOptions
    rng = np.random.default_rng(14)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 3)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"], {"tau": 40.0},
                     options=SolverOptions(max_iterations=2))
    assert res.status is FitStatus.MAX_ITERATIONS and res.iterations == 2
    assert "iteration limit" in res.message


def test_poisson_weights_match_the_weighted_reference():
    rng = np.random.default_rng(15)
    model = library_model_from_spec("gaussian")
    x = np.linspace(0, 10, 70)
    curves = []
    for k in range(3):
        mu = (50 + 30 * k) * np.exp(-(x - 4 - k) ** 2 / (2 * 1.1 ** 2)) + 3
        curves.append(Curve(f"p{k}", x, rng.poisson(mu).astype(float)))
    res = fit_global(model, CurveSet.from_curves(curves, model), ["sigma"], weights="poisson")
    weighted = [Curve(c.id, c.x, c.y, sigma=np.sqrt(np.maximum(c.y, 1.0))) for c in curves]
    values, errs, sse, _ = _joint_reference(model, weighted, ["sigma"],
                                            {"amplitude": 50.0, "center": 5.0, "sigma": 1.0},
                                            sigma=True)
    np.testing.assert_allclose(res.values, values, rtol=1e-6)
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)
    assert res.statistics.chi_squared == pytest.approx(sse, rel=1e-9)
    assert res.weighting == "poisson"


def test_compare_separate_reads_the_per_curve_arrays_of_separate_fits():
    from types import SimpleNamespace
    rng = np.random.default_rng(16)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [1.0, 3.0, 5.0])
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"])
    fits = [fit(FitProblem.create(model, c.x, c.y)) for c in curves]
    # the BatchResult fields compare_separate reads, from real single fits
    separate = SimpleNamespace(ids=tuple(c.id for c in curves),
                               sse=np.array([f.statistics.sse for f in fits]),
                               n_used=np.array([f.statistics.n_used for f in fits]),
                               dof=np.array([f.statistics.dof for f in fits]))
    out = res.compare_separate(separate)
    assert out == global_vs_separate(res, *_separate(model, curves))
    assert out["f_test_prefers"] == "separate"
    with pytest.raises(ValueError):
        res.compare_separate(SimpleNamespace(ids=("x", "y", "z"), sse=separate.sse,
                                             n_used=separate.n_used, dof=separate.dof))


@pytest.mark.parametrize("spec, shared, start", [
    ("formula", ["k"], {"a": 1.0, "k": 1.0, "c": 0.0}),
    ("gaussian+line", ["gaussian_center", "gaussian_sigma"],
     {"gaussian_amplitude": 2.0, "gaussian_center": 5.0, "gaussian_sigma": 1.0,
      "line_slope": 0.0, "line_intercept": 0.0}),
])
def test_formulas_and_sums_match_joint_least_squares(spec, shared, start):
    from lsqfit_app.models.formula import FormulaModel
    rng = np.random.default_rng(17)
    x = np.linspace(0, 10, 80)
    if spec == "formula":
        model = FormulaModel("a*exp(-k*x) + c")
        ys = [(k + 1) * np.exp(-0.6 * x) + 0.1 * k for k in range(4)]
    else:
        model = library_model_from_spec(spec)
        ys = [(k + 2) * np.exp(-(x - 5.2) ** 2 / (2 * 0.9 ** 2)) + 0.02 * k * x - 0.1 * k
              for k in range(4)]
    curves = [Curve(f"c{k}", x, y + rng.normal(0, 0.03, x.size)) for k, y in enumerate(ys)]
    res = fit_global(model, CurveSet.from_curves(curves, model), shared)
    assert res.converged
    values, errs, sse, _ = _joint_reference(model, curves, shared, start)
    np.testing.assert_allclose(res.values, values, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(res.stderrs, errs, rtol=1e-6)


def test_an_undetermined_local_parameter_is_nan_with_a_note():
    rng = np.random.default_rng(18)
    model = library_model_from_spec("line")
    x = np.linspace(0, 5, 30)
    curves = [Curve("a", x, 2 * x + 1 + rng.normal(0, 0.02, 30)),
              Curve("b", x, 3 * x + 1 + rng.normal(0, 0.02, 30)),
              Curve("z", np.zeros(30), 1 + rng.normal(0, 0.02, 30))]   # slope has no effect
    res = fit_global(model, CurveSet.from_curves(curves, model), ["intercept"])
    by = {(p.name, p.curve): p for p in res.parameters}
    z = by[("slope", "z")]
    assert math.isnan(z.stderr) and "curve 'z'" in z.stderr_note
    assert res.statistics.rank == 3 and res.statistics.dof == 90 - 3
    assert np.isnan(res.covariance[3]).all() and np.isnan(res.covariance[:, 3]).all()
    # z's points still weigh in on the shared intercept, which stays determined
    assert math.isfinite(by[("intercept", None)].stderr)
    assert math.isfinite(by[("slope", "a")].stderr)


def test_a_local_parameter_at_its_bound():
    rng = np.random.default_rng(19)
    model = library_model_from_spec("exp_decay")
    curves = _decays(rng, [2.0] * 3)
    res = fit_global(model, CurveSet.from_curves(curves, model), ["tau"],
                     {"offset": Parameter("offset", 0.2, min=0.15)})
    off = [p for p in res.parameters if p.name == "offset"]
    held = [p for p in off if p.at_bound]
    assert held and all(p.value == pytest.approx(0.15) and math.isnan(p.stderr) for p in held)
    assert all(math.isfinite(p.stderr) for p in off if not p.at_bound)
    assert res.converged


def test_every_parameter_fixed_is_the_single_fits_status():
    model = library_model_from_spec("line")
    x = np.linspace(0, 5, 30)
    cs = CurveSet.from_curves([Curve("a", x, 2 * x + 1), Curve("b", x, 3 * x)], model)
    res = fit_global(model, cs, [], {"slope": Parameter("slope", 2.0, fixed=True),
                                     "intercept": Parameter("intercept", 1.0, fixed=True)})
    assert res.status is FitStatus.CONVERGED and "every parameter is fixed" in res.message
    np.testing.assert_allclose(res.curve_sse, [0.0, np.sum((x - 1) ** 2)], atol=1e-12)
