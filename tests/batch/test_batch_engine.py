"""Batch fits against single fits, curve by curve: values, errors, statuses, statistics."""
import json
import math

import numpy as np
import pytest

from lsqfit_app.batch import BatchProgress, fit_batch
from lsqfit_app.batch.curves import Curve, CurveSet
from lsqfit_app.batch.evaluate import batch_eval, batch_eval_and_jacobian
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import FitStatus
from lsqfit_app.models import make_model
from lsqfit_app.solvers import fit


def _close(a, b, rtol=1e-6, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    both_nan = np.isnan(a) & np.isnan(b)
    ok = both_nan | (np.abs(a - b) <= rtol * np.abs(b) + atol)
    return bool(ok.all())


def _compare(model, curves, batch, method="lm", weights="none", params=None, skip=()):
    """Every curve of ``batch`` against its single fit."""
    for i, c in enumerate(curves):
        if i in skip:
            continue
        single = fit(FitProblem.create(model, c.x, c.y, params, sigma=c.sigma, weights=weights,
                                       excluded=c.excluded), method=method)
        assert batch.status[i] is single.status, (i, batch.messages[i], single.message)
        if not single.converged:
            continue
        scale = np.max(np.abs(single.values))
        assert _close(batch.values[i], single.values, 1e-6, 1e-9 * scale), (i, batch.values[i], single.values)
        assert _close(batch.stderrs[i], single.stderrs, 1e-6, 1e-12), (i, batch.stderrs[i], single.stderrs)
        st = single.statistics
        for name in ("sse", "rmse", "r_squared", "adj_r_squared", "aic", "aicc", "bic"):
            assert _close(getattr(batch, name)[i], getattr(st, name), 1e-8, 1e-12), name
        assert int(batch.dof[i]) == st.dof and int(batch.n_used[i]) == st.n_used
        red = st.reduced_chi_squared
        assert (math.isnan(batch.reduced_chi_squared[i]) if red is None
                else _close(batch.reduced_chi_squared[i], red, 1e-8))
        for j, pr in enumerate(single.parameters):
            assert _close([batch.ci_low[i, j], batch.ci_high[i, j]], pr.ci95, 1e-6, 1e-9 * scale)


def _peaks(rng, k, n=100, noise=0.2):
    x = np.linspace(-5, 5, n)
    out = []
    for i in range(k):
        y = rng.uniform(2, 10) * np.exp(-(x - rng.uniform(-1, 1)) ** 2
                                        / (2 * rng.uniform(0.5, 1.5) ** 2))
        out.append(Curve(f"p{i}", x, y + rng.uniform(-1, 1) + rng.normal(0, noise, n)))
    return out


def test_gaussian_offset_batch_matches_single_fits():
    rng = np.random.default_rng(1601)
    model = make_model("gaussian+poly0")
    curves = _peaks(rng, 50)
    batch = fit_batch(model, CurveSet.from_curves(curves, model), chunk_size=16)
    assert batch.n_converged == 50 and batch.converged.all()
    _compare(model, curves, batch)


def test_exp_decay_formula_and_sum_of_two_peaks():
    rng = np.random.default_rng(1602)
    x = np.linspace(0, 10, 60)
    decay = make_model("exp_decay")
    curves = [Curve(f"d{i}", x, rng.uniform(1, 5) * np.exp(-x / rng.uniform(1, 4))
                    + rng.uniform(-0.5, 0.5) + rng.normal(0, 0.05, x.size)) for i in range(12)]
    _compare(decay, curves, fit_batch(decay, CurveSet.from_curves(curves, decay)))

    formula = make_model("a*exp(-x/tau) + c")
    _compare(formula, curves, fit_batch(formula, CurveSet.from_curves(curves, formula)))

    two = make_model("gaussian+gaussian+line")
    xs = np.linspace(0, 20, 200)
    peaks = [Curve(f"t{i}", xs, 3 * np.exp(-(xs - 6 - rng.uniform(0, 1)) ** 2 / 2)
                   + 2 * np.exp(-(xs - 13) ** 2 / 3) + 0.05 * xs + rng.normal(0, 0.05, xs.size))
             for i in range(6)]
    _compare(two, peaks, fit_batch(two, CurveSet.from_curves(peaks, two)))


def test_bounds_and_fixed_parameters():
    rng = np.random.default_rng(1603)
    model = make_model("gaussian+poly0")
    curves = _peaks(rng, 12)
    # a fixed offset, and a bound on the width that is active for the wide peaks
    params = {"poly0_c0": Parameter("poly0_c0", 0.0, fixed=True),
              "gaussian_sigma": Parameter("gaussian_sigma", 0.7, min=0.1, max=1.0)}
    batch = fit_batch(model, CurveSet.from_curves(curves, model), params)
    j_off = model.param_names.index("poly0_c0")
    j_sig = model.param_names.index("gaussian_sigma")
    assert (batch.values[:, j_off] == 0.0).all() and (batch.stderrs[:, j_off] == 0.0).all()
    assert (batch.values[:, j_sig] <= 1.0).all()
    at_bound = np.abs(batch.values[:, j_sig] - 1.0) < 1e-6
    assert at_bound.any() and not at_bound.all()
    assert np.isnan(batch.stderrs[at_bound, j_sig]).all()
    # with a bound the single fit's reference is the bounded solver (auto)
    for i, c in enumerate(curves):
        single = fit(FitProblem.create(model, c.x, c.y, params), method="auto")
        assert single.converged and batch.converged[i]
        assert _close(batch.values[i], single.values, 1e-6, 1e-7), (i, batch.values[i], single.values)
        if not at_bound[i]:
            assert _close(batch.stderrs[i], single.stderrs, 1e-5, 1e-12)


def test_sigma_columns_and_weights():
    rng = np.random.default_rng(1604)
    x = np.linspace(0.5, 10, 50)
    model = make_model("exp_decay")
    curves = []
    for i in range(8):
        s = 0.02 + 0.05 * rng.random(x.size)
        y = 3 * np.exp(-x / rng.uniform(1, 3)) + 1.0 + rng.normal(0, 1, x.size) * s
        curves.append(Curve(f"s{i}", x, y, sigma=s))
    batch = fit_batch(model, CurveSet.from_curves(curves, model))
    assert np.isfinite(batch.chi_squared).all()
    _compare(model, curves, batch)
    plain = [Curve(c.id, c.x, c.y) for c in curves]
    for weights in ("poisson", "relative"):
        b = fit_batch(model, CurveSet.from_curves(plain, model), weights=weights)
        _compare(model, plain, b, weights=weights)
        assert np.isnan(b.chi_squared).all() == (weights == "relative")


def test_masks_and_curves_of_different_lengths():
    rng = np.random.default_rng(1605)
    model = make_model("gaussian+poly0")
    curves = []
    for i in range(10):
        n = int(rng.integers(40, 120))
        x = np.sort(rng.uniform(-5, 5, n))
        y = 5 * np.exp(-(x - rng.uniform(-1, 1)) ** 2 / 2) + 0.3 + rng.normal(0, 0.1, n)
        excluded = rng.random(n) < 0.1
        y[excluded] += 50.0          # outliers the mask removes
        if i % 3 == 0:
            y[int(rng.integers(0, n))] = np.nan   # a missing value
        curves.append(Curve(f"m{i}", x, y, excluded=excluded))
    cs = CurveSet.from_curves(curves, model)
    assert len(set(cs.lengths.tolist())) > 1
    batch = fit_batch(model, cs)
    _compare(model, curves, batch)


def test_a_failing_curve_fails_alone():
    rng = np.random.default_rng(1606)
    model = make_model("gaussian+poly0")
    curves = _peaks(rng, 6)
    x = curves[0].x
    curves.insert(2, Curve("empty", x, np.full(x.size, np.nan)))
    curves.insert(4, Curve("few", x[:3], np.ones(3)))
    batch = fit_batch(model, CurveSet.from_curves(curves, model))
    assert batch.status[2] is FitStatus.FAILED and "too few points" in batch.messages[2]
    assert batch.status[4] is FitStatus.FAILED
    good = [i for i in range(len(curves)) if i not in (2, 4)]
    assert batch.converged[good].all()
    _compare(model, curves, batch, skip=(2, 4))
    d = batch.to_dict()
    assert d["curves"][2]["statistics"]["sse"] is None


def test_cancel_from_progress_leaves_finished_curves_converged():
    rng = np.random.default_rng(1607)
    model = make_model("gaussian+poly0")
    curves = _peaks(rng, 40)
    token = CancelToken()
    seen = []

    def on_progress(p):
        assert isinstance(p, BatchProgress)
        seen.append(p)
        if p.done >= 4:
            token.cancel()

    batch = fit_batch(model, CurveSet.from_curves(curves, model), on_progress=on_progress,
                      cancel=token, chunk_size=4)
    kinds = {s for s in batch.status}
    assert kinds <= {FitStatus.CONVERGED, FitStatus.CANCELLED}
    assert FitStatus.CANCELLED in kinds and 4 <= batch.n_converged < 40
    assert seen and seen[-1].total == 40
    done = [i for i in range(40) if batch.converged[i]]
    _compare(model, [curves[i] for i in done],
             _subset_result(batch, done))


def _subset_result(batch, rows):
    class View:
        pass
    v = View()
    for name in ("values", "stderrs", "ci_low", "ci_high", "sse", "rmse", "r_squared",
                 "adj_r_squared", "aic", "aicc", "bic", "dof", "n_used", "reduced_chi_squared"):
        setattr(v, name, getattr(batch, name)[rows])
    v.status = [batch.status[i] for i in rows]
    v.messages = [batch.messages[i] for i in rows]
    return v


def test_previous_starts_and_curve_result():
    rng = np.random.default_rng(1608)
    x = np.linspace(0, 10, 80)
    model = make_model("exp_decay")
    curves = [Curve(f"T{i}", x, 2 * np.exp(-x / (1 + 0.1 * i)) + 0.2 + rng.normal(0, 0.02, x.size))
              for i in range(8)]
    cs = CurveSet.from_curves(curves, model)
    batch = fit_batch(model, cs, starts="previous")
    assert batch.converged.all()
    assert np.allclose(batch.starts[1:], batch.values[:-1])
    _compare(model, curves, batch)
    one = batch.curve_result(3, cs)
    assert _close(one.values, batch.values[3], 1e-12)
    assert _close(one.stderrs, batch.stderrs[3], 1e-6)


def test_json_and_table_follow_the_batch_contract():
    rng = np.random.default_rng(1609)
    model = make_model("gaussian+poly0")
    curves = _peaks(rng, 3)
    batch = fit_batch(model, CurveSet.from_curves(curves, model))
    d = json.loads(json.dumps(batch.to_dict(), allow_nan=False))
    assert {"model", "n_curves", "n_converged", "curves"} <= set(d)
    assert d["model"] == {"name": model.name, "formula": model.formula}
    assert d["n_curves"] == 3 and d["n_converged"] == 3
    c = d["curves"][0]
    assert {"id", "source", "status", "converged", "message", "iterations", "parameters",
            "statistics"} <= set(c)
    assert {"name", "value", "stderr", "ci95"} <= set(c["parameters"][0])
    assert {"n_used", "dof", "sse", "r_squared", "aicc", "reduced_chi_squared"} <= set(c["statistics"])
    assert c["statistics"]["reduced_chi_squared"] is None and c["status"] == "converged"
    header, rows = batch.table()
    names = list(model.param_names)
    assert header[:2] == ["id", "status"] and header[-3:] == ["sse", "r_squared", "aicc"]
    assert header[2:4] == [names[0], f"{names[0]}_stderr"] and len(rows) == 3
    assert rows[1][0] == curves[1].id and rows[1][2] == pytest.approx(batch.values[1, 0])


@pytest.mark.parametrize("spec", ["gaussian", "voigt", "pseudo_voigt", "hill", "logistic4",
                                  "damped_sine", "poly3", "gaussian+line+poly0",
                                  "a*exp(-(x-b)**2/w) + c*log(x)"])
def test_batch_evaluation_is_the_single_evaluation(spec):
    rng = np.random.default_rng(1610)
    model = make_model(spec)
    K, n, p = 5, 40, len(model.param_names)
    X = np.sort(rng.uniform(0.2, 5, (K, n)), axis=1)
    P = rng.uniform(0.5, 2, (K, p))
    F, J = batch_eval_and_jacobian(model, P, {"x": X})
    assert F.shape == (K, n) and J.shape == (K, n, p)
    assert np.array_equal(batch_eval(model, P, {"x": X}), F)
    for k in range(K):
        f, j = model.eval_and_jacobian(P[k], {"x": X[k]})
        assert np.allclose(F[k], f, rtol=1e-14, atol=1e-14)
        assert np.allclose(J[k], j, rtol=1e-14, atol=1e-14)
