"""Peaks: Gaussian, Lorentzian, Voigt and pseudo-Voigt, each of height ``amplitude``.

Start values come from the dominant peak of the lightly smoothed data
(:func:`~lsqfit_app.models.guesses.peak_features`): the extreme point is the
height, the midpoint of the half-maximum crossings the centre, the crossings
the width.  :meth:`PeakModel.from_peak` turns those three numbers into the
parameters of each shape, which is also how a sum of models seeds its peaks.
"""
from __future__ import annotations

import math

from lsqfit_app.core.model import ParamHint
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.models.guesses import peak_features
from lsqfit_app.models.library import POSITIVE, LibraryModel

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class PeakModel(LibraryModel):
    """A peak: start values come from its height, centre and half width."""

    kind = "peak"
    _max_points = None

    def _guess(self, x, y):
        return self.from_peak(*peak_features(x, y))

    def from_peak(self, height: float, center: float, hwhm: float) -> dict[str, float]:
        """Parameters of a peak of this shape with the given height, centre and HWHM."""
        raise NotImplementedError


class GaussianModel(PeakModel):
    """Gaussian peak ``amplitude*exp(-(x-center)**2/(2*sigma**2))``."""

    name = "gaussian"
    formula = "amplitude*exp(-(x-center)**2/(2*sigma**2))"
    param_names = ("amplitude", "center", "sigma")
    description = "Gaussian peak; amplitude is the peak height, FWHM = 2.3548*sigma"
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "sigma": ParamHint(min=POSITIVE,
                                 description="standard deviation width (FWHM = 2.3548*sigma)")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "sigma": 1.0}
    _shape = staticmethod(ls.gaussian)
    _shape_jac = staticmethod(ls.gaussian_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "sigma": 2.0 * hwhm / _FWHM_PER_SIGMA}


class LorentzianModel(PeakModel):
    """Lorentzian peak ``amplitude*gamma**2/((x-center)**2 + gamma**2)``."""

    name = "lorentzian"
    formula = "amplitude*gamma**2/((x-center)**2 + gamma**2)"
    param_names = ("amplitude", "center", "gamma")
    description = "Lorentzian (Cauchy) peak; amplitude is the peak height, gamma the HWHM"
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "gamma": ParamHint(min=POSITIVE, description="half width at half maximum")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "gamma": 1.0}
    _shape = staticmethod(ls.lorentzian)
    _shape_jac = staticmethod(ls.lorentzian_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "gamma": hwhm}


class VoigtModel(PeakModel):
    """Voigt peak (Gaussian convolved with Lorentzian) scaled to peak height ``amplitude``."""

    name = "voigt"
    formula = "amplitude*voigt(x-center; sigma, gamma)/voigt(0; sigma, gamma)"
    formula_is_exact = False
    param_names = ("amplitude", "center", "sigma", "gamma")
    description = ("Voigt peak (Gaussian sigma convolved with Lorentzian HWHM gamma, via the "
                   "Faddeeva function); amplitude is the peak height")
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "sigma": ParamHint(min=POSITIVE, description="Gaussian standard deviation"),
              "gamma": ParamHint(min=POSITIVE,
                                 description="Lorentzian half width at half maximum")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "sigma": 1.0, "gamma": 1.0}
    _shape = staticmethod(ls.voigt)
    _shape_jac = staticmethod(ls.voigt_and_jacobian)

    def from_peak(self, height, center, hwhm):
        # Equal Gaussian and Lorentzian FWHM f give a Voigt FWHM of about 1.6376*f
        # (Olivero & Longbothum 1977: 0.5346*fL + sqrt(0.2166*fL**2 + fG**2)).
        f = 2.0 * hwhm / 1.6376
        return {"amplitude": height, "center": center, "sigma": f / _FWHM_PER_SIGMA,
                "gamma": 0.5 * f}


class PseudoVoigtModel(PeakModel):
    """Pseudo-Voigt: a mix of a Lorentzian and a Gaussian of the same height and FWHM."""

    name = "pseudo_voigt"
    formula = ("amplitude*(fraction/(1 + 4*(x-center)**2/fwhm**2)"
               " + (1-fraction)*exp(-4*log(2)*(x-center)**2/fwhm**2))")
    param_names = ("amplitude", "center", "fwhm", "fraction")
    description = ("pseudo-Voigt peak: fraction*Lorentzian + (1-fraction)*Gaussian of equal "
                   "FWHM; amplitude is the peak height")
    _hints = {"amplitude": ParamHint(description="peak height"),
              "center": ParamHint(description="peak position"),
              "fwhm": ParamHint(min=POSITIVE, description="full width at half maximum"),
              "fraction": ParamHint(min=0.0, max=1.0,
                                    description="Lorentzian fraction (0 Gaussian, 1 Lorentzian)")}
    _linear = frozenset({"amplitude"})
    _defaults = {"amplitude": 1.0, "center": 0.0, "fwhm": 1.0, "fraction": 0.5}
    _shape = staticmethod(ls.pseudo_voigt)
    _shape_jac = staticmethod(ls.pseudo_voigt_and_jacobian)

    def from_peak(self, height, center, hwhm):
        return {"amplitude": height, "center": center, "fwhm": 2.0 * hwhm, "fraction": 0.5}
