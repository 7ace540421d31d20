"""The goodness-of-fit formulas on arrays of curves are the single fit's formulas."""
import numpy as np
import pytest

from lsqfit_app.core.statistics import curve_sums, fit_criteria, goodness_of_fit


@pytest.mark.parametrize("absolute, weighted, centered", [
    (False, False, True), (False, False, False), (True, True, True), (False, True, True)])
def test_criteria_of_many_curves_equal_those_of_each(absolute, weighted, centered):
    rng = np.random.default_rng(1611)
    K, n = 6, 40
    y = rng.normal(3, 1, (K, n))
    r = rng.normal(0, 0.2, (K, n))
    sigma = 0.1 + rng.random((K, n))
    used = rng.random((K, n)) > 0.2
    n_free = 3
    w = 1.0 / sigma**2 if weighted else None
    sums = curve_sums(y, w, used, sigma, absolute, weighted)
    sse = np.einsum("kn,kn->k", np.where(used, r, 0), np.where(used, r, 0))
    sst = sums["sst_centered"] if centered else sums["sst_uncentered"]
    many = fit_criteria(sums["n"], np.full(K, n_free), sse, sst, np.full(K, centered), absolute,
                        weighted, sums["log_sigma2"], sums["log_w"])
    for k in range(K):
        u = used[k]
        one = goodness_of_fit(y[k, u], None if w is None else w[k, u], r[k, u], n_free,
                              absolute, weighted, centered, sigma[k, u])
        for key, value in one.items():
            if value is None:
                assert np.isnan(many[key][k]), key
            else:
                assert many[key][k] == pytest.approx(value, rel=1e-12), key
