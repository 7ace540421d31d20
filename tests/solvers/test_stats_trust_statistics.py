"""Statistics an outside audit checks: weighted R², robust-loss errors, rank-deficient
fits, per-row prediction bands, information criteria, and no native output.

Every expected number is computed here independently with numpy (weighted
least squares written out, R's formulas written out), never read back from
the code under test.
"""
import math

import numpy as np
import pytest
from scipy import optimize, stats

from lsqfit_app.core.bands import band, prediction_variance
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.solvers import fit


def _wls(A, y, w):
    """Weighted least squares: (coef, weighted SSE, (A^T W A)^-1)."""
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    r = (y - A @ coef) * sw
    return coef, float(r @ r), np.linalg.inv((A * w[:, None]).T @ A)


def _quadratic_data(seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.5, 6.0, 30)
    sigma = 0.05 + 0.4 * x ** 1.5          # strongly unequal: the weighted mean is far from the mean
    y = 2.0 + 0.8 * x + 0.6 * x ** 2 + rng.normal(0.0, 1.0, x.size) * sigma
    return x, y, sigma


# ---------------------------------------------------------------- 1. weighted R²

@pytest.mark.parametrize("weights", ["sigma", "poisson", "relative"])
@pytest.mark.parametrize("method", ["auto", "lm", "trf"])
def test_weighted_r_squared_is_centred_on_the_weighted_mean(weights, method):
    x, y, sigma = _quadratic_data(11)
    kw = {"sigma": sigma} if weights == "sigma" else {"weights": weights}
    problem = FitProblem.create(FormulaModel("a + b*x + c*x**2", ("x",)), x, y,
                                {"a": 1.0, "b": 1.0, "c": 1.0}, **kw)
    res = fit(problem, method)
    w = {"sigma": 1 / sigma**2, "poisson": 1 / np.maximum(y, 1.0), "relative": 1 / y**2}[weights]
    A = np.column_stack([np.ones_like(x), x, x**2])
    coef, sse, _ = _wls(A, y, w)
    n, p = x.size, 3
    ybar_w = np.sum(w * y) / np.sum(w)                   # the WEIGHTED mean (statsmodels WLS)
    sst_w = np.sum(w * (y - ybar_w) ** 2)
    st = res.statistics
    assert res.values == pytest.approx(coef, rel=1e-8)
    assert st.r_squared_centered
    assert st.r_squared == pytest.approx(1 - sse / sst_w, rel=1e-10)
    assert st.adj_r_squared == pytest.approx(1 - (sse / (n - p)) / (sst_w / (n - 1)), rel=1e-10)
    # the mutations this must catch: centred on the unweighted mean, or uncentred
    wrong_mean = 1 - sse / np.sum(w * (y - y.mean()) ** 2)
    uncentred = 1 - sse / np.sum(w * y * y)
    assert abs(wrong_mean - st.r_squared) > 1e-3 and abs(uncentred - st.r_squared) > 1e-3


def test_a_fixed_or_literal_constant_term_keeps_r_squared_centred():
    x, y, sigma = _quadratic_data(12)
    w = 1 / sigma**2
    ybar_w = np.sum(w * y) / np.sum(w)
    fixed = fit(FitProblem.create(FormulaModel("a + b*x + c*x**2", ("x",)), x, y,
                                  [Parameter("a", 2.0, fixed=True), Parameter("b", 1.0),
                                   Parameter("c", 1.0)], sigma=sigma))
    A = np.column_stack([x, x**2])
    _, sse, _ = _wls(A, y - 2.0, w)
    assert fixed.statistics.r_squared_centered
    assert fixed.statistics.r_squared == pytest.approx(
        1 - sse / np.sum(w * (y - ybar_w) ** 2), rel=1e-10)
    literal = fit(FitProblem.create(FormulaModel("b*x + c*x**2 + 2", ("x",)), x, y,
                                    {"b": 1.0, "c": 1.0}, sigma=sigma))
    assert literal.statistics.r_squared_centered
    assert literal.statistics.r_squared == pytest.approx(fixed.statistics.r_squared, rel=1e-9)


@pytest.mark.parametrize("weights", ["sigma", "poisson"])
def test_a_weighted_model_through_the_origin_is_uncentred(weights):
    x, y, sigma = _quadratic_data(13)
    kw = {"sigma": sigma} if weights == "sigma" else {"weights": weights}
    res = fit(FitProblem.create(FormulaModel("b*x + c*x**2", ("x",)), x, y,
                                {"b": 1.0, "c": 1.0}, **kw))
    w = 1 / sigma**2 if weights == "sigma" else 1 / np.maximum(y, 1.0)
    _, sse, _ = _wls(np.column_stack([x, x**2]), y, w)
    assert not res.statistics.r_squared_centered
    assert res.statistics.r_squared == pytest.approx(1 - sse / np.sum(w * y * y), rel=1e-10)


# ---------------------------------------------------------------- 2. robust losses

def _robust_replicates(loss, f_scale, noise, reps, seed, absolute=False):
    """(slopes, reported slope errors, first replicate's y) of a line with 3 gross outliers."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 10.0, 50)
    model = FormulaModel("a*x + b", ("x",))
    slopes, errors = [], []
    first = None
    for _ in range(reps):
        y = 2.0 * x + 1.0 + rng.normal(0.0, noise, x.size)
        y[[4, 23, 41]] += [8.0, -9.0, 10.0]          # gross: far beyond f_scale and the noise
        first = y if first is None else first
        kw = {"sigma": np.full(x.size, noise)} if absolute else {}
        res = fit(FitProblem.create(model, x, y, {"a": 1.0, "b": 0.0}, loss=loss,
                                    f_scale=f_scale, **kw))
        slopes.append(res.value("a"))
        errors.append(res.param("a").stderr)
    return np.array(slopes), np.array(errors), x, first


@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy", "arctan"])
def test_robust_standard_errors_match_the_monte_carlo_spread(loss):
    # f_scale = 1 (scipy's default) is 5x the scatter: the per-point sandwich
    # (and the old objective/dof scale) count the outliers' saturated loss as noise
    slopes, errors, _, _ = _robust_replicates(loss, 1.0, 0.2, 200, seed=21)
    sd = np.std(slopes, ddof=1)
    assert 0.5 * sd < np.median(errors) < 1.5 * sd, (loss, np.median(errors) / sd)
    assert np.all(np.isfinite(errors)) and np.all(errors > 0)


@pytest.mark.parametrize("loss", ["huber", "cauchy"])
def test_robust_errors_with_absolute_sigma_match_the_monte_carlo_spread(loss):
    # sigma given: the scale is 1 in units of sigma, not estimated
    slopes, errors, _, _ = _robust_replicates(loss, 1.5, 0.5, 150, seed=22, absolute=True)
    sd = np.std(slopes, ddof=1)
    assert 0.5 * sd < np.median(errors) < 1.5 * sd
    assert np.ptp(errors) < 1e-12 * errors[0]   # the same design and sigma: the same error


@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy", "arctan"])
def test_robust_fitted_values_are_scipys(loss):
    _, _, x, y = _robust_replicates(loss, 1.0, 0.2, 1, seed=23)
    res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, {"a": 1.0, "b": 0.0},
                                loss=loss, f_scale=1.0))
    ref = optimize.least_squares(lambda t: t[0] * x + t[1] - y, [1.0, 0.0], loss=loss,
                                 f_scale=1.0, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert res.values == pytest.approx(ref.x, rel=1e-7, abs=1e-9)


# ---------------------------------------------------------------- 3. rank deficiency

def _collinear(seed, n=30):
    rng = np.random.default_rng(seed)
    x1 = np.linspace(0.0, 5.0, n)
    x2 = rng.uniform(-1.0, 1.0, n)
    y = 1.0 + 0.5 * x1 - 0.7 * x2 + rng.normal(0.0, 0.2, n)
    return x1, x2, y


@pytest.mark.parametrize("method", ["auto", "lm", "trf"])
def test_collinear_predictors_count_the_rank_and_keep_the_estimable_errors(method):
    x1, _, y = _collinear(31)
    x2 = 2.0 * x1
    model = FormulaModel("a + b*x1 + c*x2", ("x1", "x2"))
    res = fit(FitProblem.create(model, {"x1": x1, "x2": x2}, y, {"a": 0.0, "b": 0.0, "c": 0.0}),
              method)
    # independent: the same column space with the redundant column dropped
    A = np.column_stack([np.ones_like(x1), x1])
    coef, sse, inv = _wls(A, y, np.ones_like(y))
    n, rank = y.size, 2
    s2 = sse / (n - rank)
    st = res.statistics
    assert (st.rank, st.dof, st.n_free) == (2, n - 2, 3)
    assert st.residual_sd == pytest.approx(math.sqrt(s2), rel=1e-9)
    sst = np.sum((y - y.mean()) ** 2)
    assert st.adj_r_squared == pytest.approx(1 - s2 / (sst / (n - 1)), rel=1e-9)
    k = rank + 1
    assert st.aic == pytest.approx(n * math.log(2 * math.pi * sse / n) + n + 2 * k, rel=1e-9)
    a = res.param("a")
    assert a.value == pytest.approx(coef[0], rel=1e-8)
    assert a.stderr == pytest.approx(math.sqrt(s2 * inv[0, 0]), rel=1e-8)
    tq = stats.t.ppf(0.975, n - rank)
    assert a.ci95 == pytest.approx((coef[0] - tq * a.stderr, coef[0] + tq * a.stderr), rel=1e-8)
    for name in ("b", "c"):
        p = res.param(name)
        assert math.isnan(p.stderr) and "b, c cannot be determined" in p.stderr_note
    assert res.value("b") + 2 * res.value("c") == pytest.approx(coef[1], rel=1e-8)


def test_an_estimable_slope_beside_two_collinear_ones_gets_its_error():
    x1, x2, y = _collinear(32)
    x3 = 3.0 * x2
    model = FormulaModel("a + b*x1 + c*x2 + d*x3", ("x1", "x2", "x3"))
    res = fit(FitProblem.create(model, {"x1": x1, "x2": x2, "x3": x3}, y))
    A = np.column_stack([np.ones_like(x1), x1, x2])
    coef, sse, inv = _wls(A, y, np.ones_like(y))
    s2 = sse / (y.size - 3)
    assert res.statistics.rank == 3 and res.statistics.dof == y.size - 3
    for i, name in enumerate("ab"):
        assert res.value(name) == pytest.approx(coef[i], rel=1e-8)
        assert res.param(name).stderr == pytest.approx(math.sqrt(s2 * inv[i, i]), rel=1e-8)
    assert res.correlation[0, 1] == pytest.approx(inv[0, 1] / math.sqrt(inv[0, 0] * inv[1, 1]),
                                                  rel=1e-7)
    for name in "cd":
        assert math.isnan(res.param(name).stderr) and "c, d" in res.param(name).stderr_note
    assert np.isnan(res.correlation[0, 2])


def test_estimability_follows_the_row_space_of_the_jacobian():
    from lsqfit_app.core.statistics import svd_curvature
    rng = np.random.default_rng(33)
    J = rng.normal(size=(40, 4))
    J[:, 3] = J[:, 1] - 2.0 * J[:, 2]       # null vector (0, 1, -2, -1)
    found = svd_curvature(J, list("abcd"))
    assert found.rank == 3
    assert [bool(n) for n in found.notes] == [False, True, True, True]
    # a (estimable) has the variance of any generalised inverse: drop column 3
    inv = np.linalg.inv(J[:, :3].T @ J[:, :3])
    assert found.covariance[0, 0] == pytest.approx(inv[0, 0], rel=1e-9)
    hat = np.einsum("ij,jk,ik->i", J[:, :3], inv, J[:, :3])
    assert found.leverage == pytest.approx(hat, rel=1e-9)


# ---------------------------------------------------------------- 4. prediction bands

def _weighted_line(seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(1.0, 10.0, 25)
    sigma = 0.1 * x ** 1.3
    y = 3.0 * x + 2.0 + rng.normal(0.0, 1.0, x.size) * sigma
    return x, y, sigma


def test_prediction_band_at_the_rows_adds_each_rows_own_sigma():
    x, y, sigma = _weighted_line(41)
    res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, sigma=sigma))
    A = np.column_stack([x, np.ones_like(x)])
    coef, _, inv = _wls(A, y, 1 / sigma**2)
    z = stats.norm.ppf(0.975)           # absolute sigma: the variance is known
    var_fit = np.einsum("ij,jk,ik->i", A, inv, A)
    f, lo, hi = band(res, x, kind="prediction")
    assert f == pytest.approx(A @ coef, rel=1e-10)
    assert hi - f == pytest.approx(z * np.sqrt(var_fit + sigma**2), rel=1e-9)
    _, clo, chi = band(res, x)
    assert chi - f == pytest.approx(z * np.sqrt(var_fit), rel=1e-9)
    assert prediction_variance(res, x) == "each row's own sigma²"
    assert prediction_variance(res) == "each row's own sigma²"
    # a new point between rows: sigma interpolated, not the median
    x0 = np.array([0.5 * (x[3] + x[4]), x[-1]])
    g = np.column_stack([x0, np.ones_like(x0)])
    sig0 = np.interp(x0, x, sigma)
    _, _, hi0 = band(res, x0, kind="prediction")
    assert hi0 - g @ coef == pytest.approx(
        z * np.sqrt(np.einsum("ij,jk,ik->i", g, inv, g) + sig0**2), rel=1e-9)
    assert prediction_variance(res, x0) == "sigma² interpolated between the rows"


def test_relative_and_unweighted_prediction_bands_scale_by_s2():
    x, y, _ = _weighted_line(42)
    A = np.column_stack([x, np.ones_like(x)])
    res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, weights="relative"))
    w = 1 / y**2
    coef, sse, inv = _wls(A, y, w)
    s2 = sse / (x.size - 2)
    tq = stats.t.ppf(0.975, x.size - 2)
    f, _, hi = band(res, x, kind="prediction")
    assert hi - f == pytest.approx(
        tq * np.sqrt(s2 * np.einsum("ij,jk,ik->i", A, inv, A) + s2 * y**2), rel=1e-9)
    assert prediction_variance(res, x) == "s² × each row's own sigma²"
    plain = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y))
    coef, sse, inv = _wls(A, y, np.ones_like(y))
    s2 = sse / (x.size - 2)
    f, _, hi = band(plain, x, kind="prediction")
    assert hi - f == pytest.approx(
        tq * np.sqrt(s2 * np.einsum("ij,jk,ik->i", A, inv, A) + s2), rel=1e-9)
    assert prediction_variance(plain, x) == "residual variance s²"


def test_poisson_prediction_band_off_the_rows_uses_the_count_variance():
    rng = np.random.default_rng(43)
    x = np.arange(1.0, 21.0)
    y = rng.poisson(5.0 + 3.0 * x).astype(float)
    res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, weights="poisson"))
    A = np.column_stack([x, np.ones_like(x)])
    coef, _, inv = _wls(A, y, 1 / np.maximum(y, 1.0))
    x0 = np.array([2.5, 30.0])
    g = np.column_stack([x0, np.ones_like(x0)])
    f0 = g @ coef
    _, _, hi = band(res, x0, kind="prediction")
    z = stats.norm.ppf(0.975)
    assert hi - f0 == pytest.approx(
        z * np.sqrt(np.einsum("ij,jk,ik->i", g, inv, g) + np.maximum(f0, 1.0)), rel=1e-9)
    _, _, hi_rows = band(res, x, kind="prediction")
    assert hi_rows - A @ coef == pytest.approx(
        z * np.sqrt(np.einsum("ij,jk,ik->i", A, inv, A) + np.maximum(y, 1.0)), rel=1e-9)


# ---------------------------------------------------------------- 5. information criteria

def test_information_criteria_are_rs_aic_of_lm():
    x, y, sigma = _quadratic_data(51)
    A = np.column_stack([np.ones_like(x), x, x**2])
    model = FormulaModel("a + b*x + c*x**2", ("x",))
    n, p = x.size, 3
    # R: AIC(lm(y ~ x + I(x^2))) = n log(2 pi SSE/n) + n + 2k, k = p + 1
    _, sse, _ = _wls(A, y, np.ones_like(y))
    st = fit(FitProblem.create(model, x, y)).statistics
    k = p + 1
    aic = n * math.log(2 * math.pi * sse / n) + n + 2 * k
    assert st.aic == pytest.approx(aic, rel=1e-12)
    assert st.aicc == pytest.approx(aic + 2 * k * (k + 1) / (n - k - 1), rel=1e-12)
    assert st.bic == pytest.approx(aic - 2 * k + k * math.log(n), rel=1e-12)
    # R with weights w: logLik = 0.5 (sum log w - n (log 2 pi + 1 - log n + log sum w r^2))
    w = 1 / y**2
    _, sse_w, _ = _wls(A, y, w)
    loglik = 0.5 * (np.sum(np.log(w)) - n * (math.log(2 * math.pi) + 1 - math.log(n)
                                             + math.log(sse_w)))
    st = fit(FitProblem.create(model, x, y, weights="relative")).statistics
    assert st.log_likelihood == pytest.approx(loglik, rel=1e-12)
    assert st.aic == pytest.approx(-2 * loglik + 2 * k, rel=1e-12)
    # absolute sigma: nothing estimated for the variance, k = p
    _, chi2, _ = _wls(A, y, 1 / sigma**2)
    st = fit(FitProblem.create(model, x, y, sigma=sigma)).statistics
    m2ll = chi2 + np.sum(np.log(2 * math.pi * sigma**2))
    assert st.aic == pytest.approx(m2ll + 2 * p, rel=1e-12)


def test_intervals_use_the_normal_quantile_with_absolute_sigma():
    x, y, sigma = _weighted_line(52)
    res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, sigma=sigma))
    a = res.param("a")
    z = stats.norm.ppf(0.975)
    assert a.ci95 == pytest.approx((a.value - z * a.stderr, a.value + z * a.stderr), rel=1e-12)
    assert a.p_value == pytest.approx(2 * stats.norm.sf(abs(a.value / a.stderr)), rel=1e-9)


# ---------------------------------------------------------------- 7. no native output

@pytest.mark.parametrize("method", ["auto", "closed-form", "lm", "trf", "lbfgs"])
def test_an_overflowing_model_prints_nothing_and_raises_nothing(method, capfd):
    x = np.linspace(0.0, 1.0, 20)
    y = np.exp(x)
    formula = "a*exp(1e6*x)" if method == "closed-form" else "a*exp(1e6*b*x)"
    start = {"a": 1.0} if method == "closed-form" else {"a": 1.0, "b": 1.0}
    res = fit(FitProblem.create(FormulaModel(formula, ("x",)), x, y, start), method)
    out = capfd.readouterr()
    assert out.out == "" and "On entry to" not in out.err
    assert all(math.isnan(p.stderr) and p.stderr_note for p in res.parameters)
    st = res.statistics
    if not math.isfinite(st.sse):   # no likelihood: n/a, never -inf (the best model)
        assert all(math.isnan(v) for v in (st.aic, st.aicc, st.bic))
    res.to_dict()


def test_an_all_fixed_model_prints_nothing(capfd):
    x = np.linspace(0.0, 1.0, 20)
    y = 1.0 + 2.0 * x
    params = [Parameter("a", 2.0, fixed=True), Parameter("b", 1.0, fixed=True)]
    for weights in ("none", "poisson"):
        res = fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y, params,
                                    weights=weights))
        assert res.statistics.rank == 0 and res.statistics.dof == x.size
        assert all(p.stderr == 0.0 for p in res.parameters)
        band(res, x, kind="prediction")
    out = capfd.readouterr()
    assert out.out == "" and "On entry to" not in out.err


def test_statistics_of_non_finite_or_empty_jacobians_make_no_lapack_call(capfd):
    from lsqfit_app.core import statistics
    J = np.ones((5, 2))
    J[2, 1] = np.nan
    found = statistics.svd_curvature(J, ["a", "b"])
    assert found.rank is None and "not finite" in found.notes[0]
    assert statistics.svd_curvature(np.zeros((5, 0)), []).rank == 0
    assert not statistics.has_intercept(J)
    found = statistics.svd_curvature(np.full((4, 2), np.inf), ["a", "b"])
    assert np.isnan(found.covariance).all() and "not finite" in found.notes[1]
    assert capfd.readouterr().out == ""


def test_prediction_band_between_rows_is_the_same_for_sorted_and_shuffled_data():
    """Off the rows, sigma is interpolated in x: the rows' order must not matter."""
    rng = np.random.default_rng(2718)
    x = np.linspace(0.0, 10.0, 40)
    sigma = 0.05 + 0.05 * x                      # sigma grows with x: interpolation shows
    y = 2.0 * x + 1.0 + rng.normal(0.0, sigma)
    grid = np.linspace(0.3, 9.7, 17)             # between the rows
    bands = []
    for order in (np.arange(x.size), rng.permutation(x.size)):
        problem = FitProblem.create(FormulaModel("a*x + b", ("x",)), x[order], y[order],
                                    {"a": 1.0, "b": 0.0}, sigma=sigma[order])
        _f, lo, hi = band(fit(problem), grid, kind="prediction")
        bands.append(hi - lo)
    np.testing.assert_allclose(bands[0], bands[1], rtol=1e-9)
    expected_sigma = np.interp(grid, x, sigma)   # the band widens with the local sigma
    assert np.all(np.diff(bands[0]) > 0) and np.all(bands[0] > 2 * 1.9 * expected_sigma)
