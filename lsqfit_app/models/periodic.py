"""Periodic models: a sinusoid and an exponentially damped sinusoid.

Start values: the frequency from a floating-mean least-squares periodogram
(generalised Lomb-Scargle, Zechmeister & Kuerster 2009), which handles
unsorted, unevenly spaced x; amplitude, phase and offset from the
least-squares sinusoid at that frequency.  For the damped sine the decay rate
and the frequency are found in turn, each with the other fixed.

Reference: M. Zechmeister, M. Kuerster, "The generalised Lomb-Scargle
periodogram", A&A 496, 577 (2009).
"""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.model import ParamHint
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.models.guesses import safe_exp, scan, x_span
from lsqfit_app.models.library import POSITIVE, LibraryModel


def _periodogram_peak(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Frequency (cycles per x unit) of the strongest sinusoid with a floating mean.

    For each trial frequency the reduction of the squared error by fitting
    a*sin + b*cos + c is computed in closed form (generalised Lomb-Scargle),
    first on a grid ~5 times finer than 1/span, then on a fine grid around
    the best value.  ``weights`` (an envelope) multiplies the sin/cos columns.
    """
    span = x_span(x)
    dx = np.diff(x)
    dx = dx[dx > 0]
    step = float(np.median(dx)) if dx.size else span
    f_max = 0.5 / step
    f_min = 0.25 / span
    n_freq = int(min(max(5.0 * span * (f_max - f_min), 16), 3000))
    freqs = np.linspace(f_min, f_max, n_freq)
    power = _ls_power(x, y, freqs, weights)
    best = int(np.argmax(power))
    df = freqs[1] - freqs[0]
    fine = np.linspace(max(freqs[best] - df, 1e-3 * f_min), freqs[best] + df, 21)
    power_fine = _ls_power(x, y, fine, weights)
    return float(fine[int(np.argmax(power_fine))])


def _ls_power(x, y, freqs, weights=None) -> np.ndarray:
    arg = (2.0 * math.pi) * np.outer(freqs, x)
    s, c = np.sin(arg), np.cos(arg)
    if weights is not None:
        s *= weights
        c *= weights
    # Centring the columns is what fits the mean jointly with the sinusoid.
    s -= s.mean(axis=1, keepdims=True)
    c -= c.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    ss, cc, sc = (s * s).sum(1), (c * c).sum(1), (s * c).sum(1)
    ys, ycos = s @ yc, c @ yc
    det = ss * cc - sc * sc
    with np.errstate(divide="ignore", invalid="ignore"):
        power = (cc * ys * ys - 2.0 * sc * ys * ycos + ss * ycos * ycos) / det
    return np.where((det > 1e-9 * (ss * cc + 1e-300)) & np.isfinite(power), power, 0.0)


def _sine_coefficients(x, y, frequency, envelope=None):
    """(amplitude >= 0, phase, offset) of the least-squares sinusoid at a frequency."""
    arg = (2.0 * math.pi * frequency) * x
    s, c = np.sin(arg), np.cos(arg)
    if envelope is not None:
        s, c = s * envelope, c * envelope
    bases = np.stack([s, c, np.ones_like(x)])[None]
    _, (a, b, offset), _ = scan(bases, y)
    # amplitude*sin(arg + phase) = amplitude*cos(phase)*sin(arg) + amplitude*sin(phase)*cos(arg)
    return math.hypot(a, b), math.atan2(b, a), float(offset)


class SineModel(LibraryModel):
    """Sinusoid ``amplitude*sin(2*pi*frequency*x + phase) + offset``."""

    name = "sine"
    formula = "amplitude*sin(2*pi*frequency*x + phase) + offset"
    param_names = ("amplitude", "frequency", "phase", "offset")
    description = "sinusoid; frequency in cycles per unit of x, phase in radians"
    _hints = {"amplitude": ParamHint(description="half the peak-to-peak height"),
              "frequency": ParamHint(min=POSITIVE, description="cycles per unit of x"),
              "phase": ParamHint(description="phase at x = 0, radians"),
              "offset": ParamHint(description="mean level")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "offset": 0.0}
    _shape = staticmethod(ls.sine)
    _shape_jac = staticmethod(ls.sine_and_jacobian)

    def _guess(self, x, y):
        if x.size < 4:
            return {"amplitude": 0.5 * float(np.ptp(y)), "frequency": 1.0 / x_span(x),
                    "phase": 0.0, "offset": float(np.mean(y))}
        f = _periodogram_peak(x, y)
        a, phase, offset = _sine_coefficients(x, y, f)
        return {"amplitude": a, "frequency": f, "phase": phase, "offset": offset}


class DampedSineModel(LibraryModel):
    """Damped sinusoid ``amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset``."""

    name = "damped_sine"
    formula = "amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset"
    param_names = ("amplitude", "frequency", "phase", "decay", "offset")
    description = ("exponentially damped sinusoid; decay is a rate (1/x units, 0 = undamped), "
                   "amplitude the envelope at x = 0")
    _hints = {"amplitude": ParamHint(description="envelope height at x = 0"),
              "frequency": ParamHint(min=POSITIVE, description="cycles per unit of x"),
              "phase": ParamHint(description="phase at x = 0, radians"),
              "decay": ParamHint(description="damping rate, 1/x units (1/decay is the 1/e time)"),
              "offset": ParamHint(description="level the oscillation decays to")}
    _linear = frozenset({"amplitude", "offset"})
    _defaults = {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "decay": 0.0, "offset": 0.0}
    _shape = staticmethod(ls.damped_sine)
    _shape_jac = staticmethod(ls.damped_sine_and_jacobian)

    def _guess(self, x, y):
        span = x_span(x)
        if x.size < 5:
            return {"amplitude": 0.5 * float(np.ptp(y)), "frequency": 1.0 / span, "phase": 0.0,
                    "decay": 0.0, "offset": float(np.mean(y))}
        x0 = float(x[0])
        xr = x - x0
        decays = np.concatenate([[0.0], np.geomspace(0.1, 30.0, 20), -np.geomspace(0.1, 3.0, 6)])
        decays /= span
        f = _periodogram_peak(x, y)
        decay = 0.0
        # Alternate: frequency with the envelope fixed, envelope with the frequency fixed.
        for _ in range(2):
            arg = (2.0 * math.pi * f) * x
            env = np.exp(-np.outer(decays, xr))
            bases = np.stack([env * np.sin(arg), env * np.cos(arg),
                              np.broadcast_to(1.0, env.shape)], axis=1)
            best, _, _ = scan(bases, y)
            decay = float(decays[best])
            f = _periodogram_peak(x, y, np.exp(-decay * xr))
        a, phase, offset = _sine_coefficients(x, y, f, np.exp(-decay * xr))
        return {"amplitude": a * safe_exp(decay * x0), "frequency": f, "phase": phase,
                "decay": decay, "offset": offset}
