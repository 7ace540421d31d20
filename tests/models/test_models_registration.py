"""A library model defined in this file alone (lineshape + class) is found by name."""
import math

import numpy as np
import pytest

from lsqfit_app.core.model import ParamHint
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.models.library import POSITIVE, LibraryModel, unregister
from lsqfit_app.models.peaks import PeakModel
from lsqfit_app.models.registry import LIBRARY, UnknownModelError, list_library_models
from lsqfit_app.solvers import fit

# sech(u)**2 = 1/2 at u = acosh(sqrt(2)): the half width at half maximum in units of ``width``
_HWHM_PER_WIDTH = math.acosh(math.sqrt(2.0))


def sech2(x, amplitude=1.0, center=0.0, width=1.0):
    """``amplitude/cosh((x - center)/width)**2``."""
    return amplitude / np.cosh((x - center) / width) ** 2


def sech2_and_jacobian(x, amplitude=1.0, center=0.0, width=1.0, out=None):
    u = (x - center) / width
    s2 = 1.0 / np.cosh(u) ** 2
    f = amplitude * s2
    jac = np.empty((3, x.size)) if out is None else out
    jac[0] = s2
    jac[1] = 2.0 * f * np.tanh(u) / width
    jac[2] = jac[1] * u
    return f, jac.T


def _define():
    class Sech2Model(PeakModel):
        """A sech-squared peak."""

        name = "sech2_peak"
        formula = "amplitude/cosh((x-center)/width)**2"
        param_names = ("amplitude", "center", "width")
        description = "sech-squared peak; amplitude is the peak height"
        _hints = {"amplitude": ParamHint(description="peak height"),
                  "center": ParamHint(description="peak position"),
                  "width": ParamHint(min=POSITIVE, description="u-scale of sech((x-center)/width)")}
        _linear = frozenset({"amplitude"})
        _defaults = {"amplitude": 1.0, "center": 0.0, "width": 1.0}
        _shape = staticmethod(sech2)
        _shape_jac = staticmethod(sech2_and_jacobian)

        def from_peak(self, height, center, hwhm):
            return {"amplitude": height, "center": center, "width": hwhm / _HWHM_PER_WIDTH}

    return Sech2Model


@pytest.fixture
def sech2_model():
    names_before = list(LIBRARY)
    cls = _define()
    yield cls
    unregister("sech2_peak")
    assert list(LIBRARY) == names_before


def test_the_lineshape_pair_of_this_file_is_consistent():
    rng = np.random.default_rng(61)
    x = np.sort(rng.uniform(-4.0, 4.0, 50))
    p = (1.7, 0.3, 0.8)
    f, jac = sech2_and_jacobian(x, *p)
    np.testing.assert_allclose(f, sech2(x, *p), rtol=1e-14)
    for j in range(3):
        h = 1e-6 * max(abs(p[j]), 1.0)
        up, down = list(p), list(p)
        up[j] += h
        down[j] -= h
        np.testing.assert_allclose(jac[:, j], (sech2(x, *up) - sech2(x, *down)) / (2 * h),
                                   rtol=1e-6, atol=1e-9)


def test_a_model_class_defined_in_a_test_is_found_by_name_then_unregistered(sech2_model):
    model = make_model("sech2_peak")
    assert type(model) is sech2_model
    assert list(LIBRARY)[-1] == "sech2_peak"  # after the families
    assert "sech2_peak" in [m.name for m in list_library_models()]
    assert make_model("  Sech2_Peak ").name == "sech2_peak"

    rng = np.random.default_rng(62)
    x = np.linspace(-10.0, 10.0, 201)
    true = {"sech2_peak_amplitude": 4.0, "sech2_peak_center": 1.5, "sech2_peak_width": 1.2,
            "line_slope": 0.05, "line_intercept": 0.5}
    y = sech2(x, 4.0, 1.5, 1.2) + 0.05 * x + 0.5 + rng.normal(0.0, 0.02, x.size)
    total = make_model("sech2_peak+line")
    assert total.param_names == tuple(true)
    result = fit(FitProblem.create(total, x, y))
    assert result.status.converged, result.message
    for name, value in true.items():
        assert result.value(name) == pytest.approx(value, abs=0.05)


def test_an_unregistered_model_is_unknown_again():
    _define()
    unregister("sech2_peak")
    assert "sech2_peak" not in LIBRARY
    with pytest.raises(UnknownModelError, match="sech2_peak"):
        make_model("sech2_peak")


def test_a_taken_or_malformed_name_is_refused_when_the_class_is_defined():
    with pytest.raises(ValueError, match="'gaussian' is taken by lsqfit_app.models.peaks"):
        type("Clash", (PeakModel,), {"name": "gaussian"})
    for bad in ("Sech2", "sech2+line", "sech 2", ""):
        with pytest.raises(ValueError, match="lower-case identifier"):
            type("Bad", (LibraryModel,), {"name": bad})
    assert "gaussian" in LIBRARY and LIBRARY["gaussian"].__module__ == "lsqfit_app.models.peaks"
