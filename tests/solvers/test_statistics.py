"""Statistics against independent computations (numpy/scipy written out here)."""
import math

import numpy as np
import pytest
from scipy import stats

from lsqfit_app.core.bands import band
from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models.formula import FormulaModel
from lsqfit_app.solvers import fit

RNG = np.random.default_rng(42)
X = np.linspace(0, 10, 25)
Y = 1.5 * X + 3 + RNG.normal(0, 0.7, X.size)
SIG = np.full(X.size, 0.7) * (1 + 0.5 * (X > 5))


def ols(x, y, w=None):
    A = np.column_stack([x, np.ones_like(x)])
    w = np.ones_like(y) if w is None else w
    Aw = A * np.sqrt(w)[:, None]
    yw = y * np.sqrt(w)
    coef, *_ = np.linalg.lstsq(Aw, yw, rcond=None)
    r = yw - Aw @ coef
    return coef, r, np.linalg.inv(Aw.T @ Aw)


def test_unweighted_line_statistics():
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y))
    coef, r, inv = ols(X, Y)
    n, p = X.size, 2
    sse = r @ r
    s2 = sse / (n - p)
    se = np.sqrt(np.diag(inv) * s2)
    assert res.values == pytest.approx(coef, rel=1e-12)
    assert res.stderrs == pytest.approx(se, rel=1e-10)
    st = res.statistics
    assert st.sse == pytest.approx(sse, rel=1e-12)
    assert st.dof == n - p
    assert st.rmse == pytest.approx(math.sqrt(sse / n))
    assert st.residual_sd == pytest.approx(math.sqrt(s2))
    sst = np.sum((Y - Y.mean()) ** 2)
    assert st.r_squared == pytest.approx(1 - sse / sst, rel=1e-12)
    assert st.adj_r_squared == pytest.approx(1 - (sse / (n - p)) / (sst / (n - 1)), rel=1e-12)
    assert st.chi_squared is None and st.reduced_chi_squared is None
    # information criteria: Gaussian likelihood with estimated variance, k = p + 1
    m2ll = n * math.log(2 * math.pi * sse / n) + n
    assert st.aic == pytest.approx(m2ll + 2 * 3)
    assert st.aicc == pytest.approx(m2ll + 6 + 2 * 3 * 4 / (n - 4))
    assert st.bic == pytest.approx(m2ll + 3 * math.log(n))
    t = stats.t.ppf(0.975, n - p)
    a = res.param("a")
    assert a.ci95 == pytest.approx((coef[0] - t * se[0], coef[0] + t * se[0]))
    assert a.t_value == pytest.approx(coef[0] / se[0])
    assert a.p_value == pytest.approx(2 * stats.t.sf(abs(coef[0] / se[0]), n - p))
    assert "scaled" in res.uncertainty_note
    assert res.correlation[0, 0] == 1.0
    assert res.correlation[0, 1] == pytest.approx(inv[0, 1] / math.sqrt(inv[0, 0] * inv[1, 1]))


def test_sigma_column_gives_absolute_errors_and_chi_square():
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y, sigma=SIG))
    coef, r, inv = ols(X, Y, 1 / SIG**2)
    assert res.values == pytest.approx(coef, rel=1e-12)
    assert res.stderrs == pytest.approx(np.sqrt(np.diag(inv)), rel=1e-10)   # not rescaled
    st = res.statistics
    assert st.chi_squared == pytest.approx(r @ r, rel=1e-12)
    assert st.reduced_chi_squared == pytest.approx((r @ r) / (X.size - 2), rel=1e-12)
    assert "absolute" in res.uncertainty_note


def test_relative_weights_scale_errors_and_give_no_chi_square():
    y = np.abs(Y) + 1
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y, weights="relative"))
    coef, r, inv = ols(X, y, 1 / y**2)
    s2 = (r @ r) / (X.size - 2)
    assert res.values == pytest.approx(coef, rel=1e-12)
    assert res.stderrs == pytest.approx(np.sqrt(np.diag(inv) * s2), rel=1e-10)
    assert res.statistics.chi_squared is None


def test_poisson_weights():
    counts = np.array([3, 7, 12, 20, 26, 33, 41, 0, 55, 60.0])
    x = np.arange(counts.size, dtype=float)
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), x, counts, weights="poisson"))
    coef, r, inv = ols(x, counts, 1 / np.maximum(counts, 1))
    assert res.values == pytest.approx(coef, rel=1e-12)
    assert res.statistics.chi_squared == pytest.approx(r @ r, rel=1e-12)


def test_no_intercept_uses_uncentred_r_squared():
    res = fit(FitProblem.create(FormulaModel("a*x", ("x",)), X, Y))
    assert not res.statistics.r_squared_centered
    assert res.statistics.r_squared == pytest.approx(1 - res.statistics.sse / np.sum(Y**2))


def test_fixed_parameter_has_zero_error_and_no_dof():
    params = [Parameter("a", 1.5, fixed=True), Parameter("b", 0.0)]
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y, params))
    assert res.value("a") == 1.5
    assert res.param("a").stderr == 0.0
    assert res.statistics.n_free == 1 and res.statistics.dof == X.size - 1
    assert res.value("b") == pytest.approx(np.mean(Y - 1.5 * X), rel=1e-12)


def test_parameter_at_bound_says_why_no_error():
    params = [Parameter("a", 1.0, min=0.0, max=1.2), Parameter("b", 0.0)]
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y, params))
    a = res.param("a")
    assert a.at_bound and a.value == pytest.approx(1.2)
    assert math.isnan(a.stderr) and "upper bound" in a.stderr_note
    assert math.isfinite(res.param("b").stderr)


def test_singular_jacobian_names_the_parameters():
    res = fit(FitProblem.create(FormulaModel("a*b*x + c", ("x",)), X, Y,
                                {"a": 1.0, "b": 1.0, "c": 0.0}), "lm")
    assert res.converged
    a = res.param("a")
    assert math.isnan(a.stderr) and "singular" in a.stderr_note and "a" in a.stderr_note
    assert res.value("a") * res.value("b") == pytest.approx(ols(X, Y)[0][0], rel=1e-8)


def test_exact_fit_with_no_dof_says_too_few_points():
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X[:2], Y[:2]))
    assert res.statistics.dof == 0
    assert all("too few points" in p.stderr_note for p in res.parameters)


def test_masked_and_missing_rows_are_left_out_and_counted():
    y = Y.copy()
    y[3] = np.nan
    excluded = np.zeros(X.size, dtype=bool)
    excluded[[0, 1]] = True
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y, excluded=excluded))
    keep = ~excluded & np.isfinite(y)
    coef, *_ = ols(X[keep], y[keep])
    assert res.values == pytest.approx(coef, rel=1e-12)
    st = res.statistics
    assert (st.n, st.n_used, st.n_missing, st.n_excluded) == (25, 22, 1, 2)
    assert np.isnan(res.standardized_residuals[0]) and np.isfinite(res.fitted[0])


def test_confidence_and_prediction_bands_match_the_textbook_formula():
    res = fit(FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y))
    x0 = np.array([-1.0, 5.0, 12.0])
    f, lo, hi = band(res, x0)
    coef, r, inv = ols(X, Y)
    s2 = (r @ r) / (X.size - 2)
    G = np.column_stack([x0, np.ones_like(x0)])
    t = stats.t.ppf(0.975, X.size - 2)
    half = t * np.sqrt(np.einsum("ij,jk,ik->i", G, inv * s2, G))
    assert f == pytest.approx(G @ coef)
    assert hi - f == pytest.approx(half, rel=1e-9)
    _, plo, phi = band(res, x0, kind="prediction")
    assert phi - f == pytest.approx(t * np.sqrt(half**2 / t**2 + s2), rel=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    (dict(sigma=np.r_[0.0, np.ones(24)]), "sigma must be positive"),
    (dict(sigma=np.r_[-1.0, np.ones(24)]), "rows 1"),
    (dict(weights="bogus"), "unknown weighting"),
    (dict(loss="l7"), "unknown loss"),
])
def test_bad_problem_settings(kwargs, message):
    with pytest.raises(InputError, match=message):
        FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y, **kwargs)


def test_infinite_values_name_the_rows():
    y = Y.copy()
    y[[4, 9]] = np.inf
    with pytest.raises(InputError, match="rows 5, 10"):
        FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y)


def test_huge_finite_values_are_not_infinite():
    # finite however large (a sum of squares would overflow): every row is used
    y = Y * 1e200
    problem = FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y)
    assert problem.n_used == X.size and problem.used.all()
    y[[2, 7]] = [np.nan, -np.inf]
    with pytest.raises(InputError, match="column 'y' has infinite values in rows 8$"):
        FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y)
    y[7] = 1.0
    assert FitProblem.create(FormulaModel("a*x+b", ("x",)), X, y).n_missing == 1


@pytest.mark.parametrize("start, message", [
    (math.nan, "start value nan is not finite"),
    (math.inf, "start value inf is not finite"),
    (-1.0, r"start value -1 is outside its bounds \[0, inf\]"),
])
def test_bad_bare_start_values(start, message):
    from lsqfit_app.models import make_model
    with pytest.raises(ParameterError, match=message):
        FitProblem.create(make_model("gaussian"), X, Y, {"sigma": start})


def test_too_few_points():
    with pytest.raises(InputError, match="too few points: 2 usable points for 3"):
        FitProblem.create(FormulaModel("a*x**2+b*x+c", ("x",)), X[:2], Y[:2])


@pytest.mark.parametrize("param, message", [
    (Parameter("a", 1.0, min=2.0, max=1.0), "min 2 is greater than max 1"),
    (Parameter("a", 5.0, min=0.0, max=1.0), "outside its bounds"),
    (Parameter("zz", 1.0), "unknown parameter 'zz'"),
])
def test_bad_parameters(param, message):
    with pytest.raises(ParameterError, match=message):
        FitProblem.create(FormulaModel("a*x+b", ("x",)), X, Y, [param])


def test_robust_loss_downweights_an_outlier():
    y = 2 * X + 1 + RNG.normal(0, 0.1, X.size)
    y[5] += 50
    model = FormulaModel("a*x+b", ("x",))
    plain = fit(FitProblem.create(model, X, y, {"a": 1.0, "b": 0.0}), "trf")
    robust = fit(FitProblem.create(model, X, y, {"a": 1.0, "b": 0.0}, loss="soft_l1",
                                   f_scale=0.3), "trf")
    assert abs(robust.value("a") - 2) < 0.05 < abs(plain.value("a") - 2) + 0.05
    assert abs(robust.value("a") - 2) < abs(plain.value("a") - 2)
    for method in ("lbfgs", "gradient-descent"):
        other = fit(FitProblem.create(model, X, y, {"a": 1.0, "b": 0.0}, loss="soft_l1",
                                      f_scale=0.3), method)
        assert other.value("a") == pytest.approx(robust.value("a"), abs=1e-4)


def test_leverage_matches_the_hat_matrix_streamed_or_not(monkeypatch):
    from lsqfit_app.core import statistics

    rng = np.random.default_rng(3)
    J = rng.normal(size=(3000, 4)) * np.array([1e-3, 1.0, 1e4, 7.0])
    hat = np.einsum("ij,jk,ik->i", J, np.linalg.inv(J.T @ J), J)
    assert statistics.svd_curvature(J, list("abcd")).leverage == pytest.approx(hat, rel=1e-9)
    monkeypatch.setattr(statistics, "QR_CHUNK", 256)       # force the streamed TSQR path
    assert statistics.svd_curvature(J, list("abcd")).leverage == pytest.approx(hat, rel=1e-9)
    R = statistics.r_factor(J / statistics.column_scale(J))
    found = statistics.svd_curvature(J, list("abcd"), R=R)
    assert found.covariance == pytest.approx(np.linalg.inv(J.T @ J), rel=1e-8)
    assert found.notes == [""] * 4 and found.rank == 4
