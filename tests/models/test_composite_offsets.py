"""A constant offset in a sum is added as a scalar; values and Jacobian must not change."""
import numpy as np
import pytest

from lsqfit_app.models import make_model


@pytest.mark.parametrize("spec", ["gaussian+poly0", "poly0+lorentzian", "poly0+poly0+gaussian",
                                  "gaussian+poly0+gaussian", "poly0"])
def test_sum_with_offsets_matches_its_components(spec):
    model = make_model(spec)
    rng = np.random.default_rng(1)
    x = np.linspace(-3, 3, 41)
    p = rng.uniform(0.5, 2.0, len(model.param_names))
    total = sum(c.eval(p[sl], {"x": x}) for c, sl in zip(model.components, model._slices)) \
        if hasattr(model, "components") else model.eval(p, {"x": x})
    f, J = model.eval_and_jacobian(p, {"x": x})
    assert f == pytest.approx(total, rel=1e-14)
    assert model.eval(p, {"x": x}) == pytest.approx(total, rel=1e-14)
    h = 1e-6
    for j in range(p.size):
        dp = np.zeros_like(p)
        dp[j] = h
        numeric = (model.eval(p + dp, {"x": x}) - model.eval(p - dp, {"x": x})) / (2 * h)
        assert J[:, j] == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    assert model.jacobian(p, {"x": x}) == pytest.approx(J, rel=1e-14)
