"""Lineshapes: plain numpy functions of x whose keyword names are the parameters.

Every shape ``f`` comes with ``f_and_jacobian(x, ...) -> (values, J)`` giving
the values and the exact analytic partial derivatives, J[:, j] = df/dp_j in
the order of the keyword arguments.  The work shared between the value and the
derivatives (an exponential, a Faddeeva function) is computed once.  Most take
``out``, a (parameters x points) buffer to build J^T in: a sum of models
passes its rows, so the Jacobian is written once, in place, and never copied.

Shapes (d = x - center)
-----------------------
line               slope*x + intercept
exp_decay          amplitude*exp(-x/tau) + offset
exp_growth         amplitude*exp(x/tau) + offset
double_exp_decay   amplitude1*exp(-x/tau1) + amplitude2*exp(-x/tau2) + offset
power_law          amplitude*x**exponent
logarithmic        slope*log(x) + intercept
gaussian           amplitude*exp(-d**2/(2*sigma**2))              (amplitude = peak height)
lorentzian         amplitude*gamma**2/(d**2 + gamma**2)            (gamma = half width at half max)
voigt              amplitude*Re w(z)/Re w(z0),  z = (d + i*gamma)/(sigma*sqrt(2)),
                   z0 = i*gamma/(sigma*sqrt(2)), w the Faddeeva function; the Voigt
                   profile scaled to peak height ``amplitude`` at ``center``.
pseudo_voigt       amplitude*(fraction*L + (1-fraction)*G), L = 1/(1 + 4*d**2/fwhm**2),
                   G = exp(-4*ln2*d**2/fwhm**2): both of height 1 and width ``fwhm``.
logistic4          bottom + (top - bottom)/(1 + exp(-slope*(x - x50)))
hill               vmax*x**n/(k**n + x**n)
michaelis_menten   vmax*x/(km + x)
sine               amplitude*sin(2*pi*frequency*x + phase) + offset
damped_sine        amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset

The Jacobian is returned as the transpose of a (k, n) C-ordered buffer: its
rows are written contiguously, and the column-major result is what MINPACK
and the QR factorisations of the solvers want anyway.

Many curves at once
-------------------
The same functions evaluate K curves in one call: x of shape (K, n) and
each parameter a (K, 1) column broadcast along its curve, with ``out`` a
(k, K, n) buffer (J is then (K, n, k)).  Nothing in a shape assumes a
scalar parameter, so a batch fit and a single fit run the same arithmetic.  (The polynomials have
no pair here: :class:`~lsqfit_app.models.polynomials.PolynomialModel`
evaluates any degree with its Vandermonde matrix.)

Adding a lineshape
------------------
Write ``shape(x, p1=..., ...)`` and ``shape_and_jacobian(x, p1=..., ...,
out=None)`` here, each parameter a keyword with a default; the pair is the
only implementation of the function and its derivatives.  Then define its
model class, with its guess, in the family module (``peaks.py``,
``growth.py``, ...): setting ``name`` there registers it (see the package
docstring of :mod:`lsqfit_app.models`).

Voigt derivatives
-----------------
With w'(z) = -2 z w(z) + 2i/sqrt(pi) (Abramowitz & Stegun 7.1.20), the chain
rule dz/dcenter = -1/(sigma*sqrt(2)), dz/dgamma = i/(sigma*sqrt(2)), and for
sigma the heat equation of the Gaussian convolution, dV/dsigma = sigma*V_xx,
which gives d(V/V0)/dsigma = [Re w''(z) - (V/V0)*Re w''(z0)]/(2*sigma*Re w(z0)).
The normaliser Re w(z0) = erfcx(gamma/(sigma*sqrt(2))) is differentiated with
the rest, so the peak-height scaling is exact.  For |z| >= 8 the derivatives
of w come from its asymptotic series (the recurrences cancel there).

References
----------
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions*, ch. 7 (1964).
lmfit ``lineshapes.py`` for the convention that keyword names are parameter names.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, expit, wofz

_SQRT2 = math.sqrt(2.0)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
_FOUR_LN2 = 4.0 * math.log(2.0)
_TWO_PI = 2.0 * math.pi


def _columns(jac: np.ndarray) -> np.ndarray:
    """J with the parameters last: (n, p) from a (p, n) buffer, (K, n, p) from (p, K, n)."""
    return jac.T if jac.ndim == 2 else jac.transpose(1, 2, 0)


# --------------------------------------------------------------------- linear
def line(x, slope=1.0, intercept=0.0):
    """Straight line ``slope*x + intercept``."""
    return slope * x + intercept


def line_and_jacobian(x, slope=1.0, intercept=0.0, out=None):
    jac = np.empty((2, *x.shape)) if out is None else out
    jac[0] = x
    jac[1] = 1.0
    return slope * x + intercept, _columns(jac)


# --------------------------------------------------------------- exponentials
def exp_decay(x, amplitude=1.0, tau=1.0, offset=0.0):
    """``amplitude*exp(-x/tau) + offset``."""
    return amplitude * np.exp(-x / tau) + offset


def exp_decay_and_jacobian(x, amplitude=1.0, tau=1.0, offset=0.0, out=None):
    e = np.exp(-x / tau)
    ae = amplitude * e
    jac = np.empty((3, *x.shape)) if out is None else out
    jac[0] = e
    jac[1] = ae * x / (tau * tau)
    jac[2] = 1.0
    return ae + offset, _columns(jac)


def exp_growth(x, amplitude=1.0, tau=1.0, offset=0.0):
    """``amplitude*exp(x/tau) + offset``."""
    return amplitude * np.exp(x / tau) + offset


def exp_growth_and_jacobian(x, amplitude=1.0, tau=1.0, offset=0.0, out=None):
    e = np.exp(x / tau)
    ae = amplitude * e
    jac = np.empty((3, *x.shape)) if out is None else out
    jac[0] = e
    jac[1] = -ae * x / (tau * tau)
    jac[2] = 1.0
    return ae + offset, _columns(jac)


def double_exp_decay(x, amplitude1=1.0, tau1=1.0, amplitude2=1.0, tau2=10.0, offset=0.0):
    """``amplitude1*exp(-x/tau1) + amplitude2*exp(-x/tau2) + offset``."""
    return amplitude1 * np.exp(-x / tau1) + amplitude2 * np.exp(-x / tau2) + offset


def double_exp_decay_and_jacobian(x, amplitude1=1.0, tau1=1.0, amplitude2=1.0, tau2=10.0,
                                  offset=0.0, out=None):
    e1 = np.exp(-x / tau1)
    e2 = np.exp(-x / tau2)
    a1 = amplitude1 * e1
    a2 = amplitude2 * e2
    jac = np.empty((5, *x.shape)) if out is None else out
    jac[0] = e1
    jac[1] = a1 * x / (tau1 * tau1)
    jac[2] = e2
    jac[3] = a2 * x / (tau2 * tau2)
    jac[4] = 1.0
    return a1 + a2 + offset, _columns(jac)


def power_law(x, amplitude=1.0, exponent=1.0):
    """``amplitude*x**exponent`` (defined for x > 0)."""
    return amplitude * x ** exponent


def power_law_and_jacobian(x, amplitude=1.0, exponent=1.0, out=None):
    xp = x ** exponent
    f = amplitude * xp
    # d/dexponent of x**b is x**b*log(x); at x = 0 it is 0 for b > 0, not 0*(-inf).
    with np.errstate(divide="ignore", invalid="ignore"):
        logx = np.log(np.where(x > 0, x, 1.0))
    jac = np.empty((2, *x.shape)) if out is None else out
    jac[0] = xp
    jac[1] = f * logx
    return f, _columns(jac)


def logarithmic(x, slope=1.0, intercept=0.0):
    """``slope*log(x) + intercept`` (natural log, x > 0)."""
    return slope * np.log(x) + intercept


def logarithmic_and_jacobian(x, slope=1.0, intercept=0.0, out=None):
    logx = np.log(x)
    jac = np.empty((2, *x.shape)) if out is None else out
    jac[0] = logx
    jac[1] = 1.0
    return slope * logx + intercept, _columns(jac)


# ---------------------------------------------------------------------- peaks
def gaussian(x, amplitude=1.0, center=0.0, sigma=1.0):
    """``amplitude*exp(-(x-center)**2/(2*sigma**2))``; amplitude is the peak height."""
    d = x - center
    return amplitude * np.exp(-0.5 * d * d / (sigma * sigma))


def gaussian_and_jacobian(x, amplitude=1.0, center=0.0, sigma=1.0, out=None):
    # The commonest term of sums of peaks: in-place ufuncs into the Jacobian rows,
    # one exponential, no temporaries beyond d and the returned values.
    d = x - center
    inv_s2 = 1.0 / (sigma * sigma)
    jac = np.empty((3, *x.shape)) if out is None else out
    g, dc, ds = jac[0], jac[1], jac[2]   # indexing: unpacking iterates, 2.5x slower
    np.multiply(d, d, out=g)
    g *= -0.5 * inv_s2
    np.exp(g, out=g)
    f = amplitude * g
    np.multiply(f, d, out=dc)
    dc *= inv_s2
    np.multiply(dc, d, out=ds)
    ds *= 1.0 / sigma
    return f, _columns(jac)


def lorentzian(x, amplitude=1.0, center=0.0, gamma=1.0):
    """``amplitude*gamma**2/((x-center)**2 + gamma**2)``; peak height, half width gamma."""
    d = x - center
    g2 = gamma * gamma
    return amplitude * g2 / (d * d + g2)


def lorentzian_and_jacobian(x, amplitude=1.0, center=0.0, gamma=1.0, out=None):
    d = x - center
    g2 = gamma * gamma
    shape = g2 / (d * d + g2)
    f = amplitude * shape
    # dL/dcenter = 2 d L^2/gamma^2, dL/dgamma = 2 d^2 L^2/gamma^3
    t = 2.0 * f * shape * d / g2
    jac = np.empty((3, *x.shape)) if out is None else out
    jac[0] = shape
    jac[1] = t
    jac[2] = t * d / gamma
    return f, _columns(jac)


def voigt(x, amplitude=1.0, center=0.0, sigma=1.0, gamma=1.0):
    """Voigt profile of Gaussian ``sigma`` and Lorentzian half width ``gamma``,
    scaled to peak height ``amplitude`` at ``center``."""
    scale = 1.0 / (sigma * _SQRT2)
    z = ((x - center) + 1j * gamma) * scale
    return amplitude * wofz(z).real / erfcx(gamma * scale)


def _faddeeva_with_derivatives(z):
    """w(z), w'(z), w''(z) for Im z >= 0, accurate also for large |z|.

    The recurrences w' = -2 z w + 2i/sqrt(pi) and w'' = -2 w - 2 z w' lose
    about log10(|z|**2) digits to cancellation, so for |z| >= 8 the derivatives
    come from the asymptotic series w(z) ~ (i/sqrt(pi)) sum_k a_k z**-(2k+1),
    a_k = (2k-1)!!/2**k, differentiated term by term (A&S 7.1.23; the terms
    shrink at least by 25/128 each up to the 14 used).
    """
    w = wofz(z)
    wp = -2.0 * z * w + 2j / math.sqrt(math.pi)
    wpp = -2.0 * w - 2.0 * z * wp
    big = (np.abs(z) >= 8.0) & (z.imag >= 0.0)
    if big.any():
        u = 1.0 / z[big]
        u2 = u * u
        d1 = np.zeros_like(u)
        d2 = np.zeros_like(u)
        for k in range(len(_ASYMPTOTIC) - 1, -1, -1):
            d1 = d1 * u2 - _ASYMPTOTIC[k] * (2 * k + 1)
            d2 = d2 * u2 + _ASYMPTOTIC[k] * (2 * k + 1) * (2 * k + 2)
        c = 1j / math.sqrt(math.pi)
        wp[big] = c * d1 * u2
        wpp[big] = c * d2 * u2 * u
    return w, wp, wpp


_ASYMPTOTIC = [math.prod(range(1, 2 * k, 2)) / 2.0 ** k for k in range(14)]


def voigt_and_jacobian(x, amplitude=1.0, center=0.0, sigma=1.0, gamma=1.0, out=None):
    scale = 1.0 / (sigma * _SQRT2)
    z = np.asarray(((x - center) + 1j * gamma) * scale)
    w, wp, wpp = _faddeeva_with_derivatives(z)
    z0 = np.array([1j * gamma * scale])
    _, wp0, wpp0 = _faddeeva_with_derivatives(z0)
    r0 = erfcx(gamma * scale)  # Re w(z0), w(iy) = erfcx(y)
    shape = w.real / r0
    f = amplitude * shape
    a_r0 = amplitude / r0
    jac = np.empty((4, *x.shape)) if out is None else out
    jac[0] = shape
    jac[1] = -a_r0 * scale * wp.real
    # d/dsigma through the heat equation dV/dsigma = sigma*d2V/dx2 of the Voigt
    # profile: no cancellation of O(1/sigma) terms in the Lorentzian limit.
    jac[2] = (0.5 * a_r0 / sigma) * (wpp.real - shape * wpp0.real[0])
    # d/dgamma: dz/dgamma = i*scale for z and z0 alike
    jac[3] = -a_r0 * scale * (wp.imag - shape * wp0.imag[0])
    return f, _columns(jac)


def pseudo_voigt(x, amplitude=1.0, center=0.0, fwhm=1.0, fraction=0.5):
    """``amplitude*(fraction*L + (1-fraction)*G)``, L and G of height 1 and width fwhm."""
    u = (x - center) / fwhm
    u2 = u * u
    return amplitude * (fraction / (1.0 + 4.0 * u2) + (1.0 - fraction) * np.exp(-_FOUR_LN2 * u2))


def pseudo_voigt_and_jacobian(x, amplitude=1.0, center=0.0, fwhm=1.0, fraction=0.5, out=None):
    u = (x - center) / fwhm
    u2 = u * u
    lor = 1.0 / (1.0 + 4.0 * u2)
    gau = np.exp(-_FOUR_LN2 * u2)
    shape = fraction * lor + (1.0 - fraction) * gau
    # q = d(amplitude*shape)/d(u**2); du**2/dcenter = -2u/fwhm, du**2/dfwhm = -2u**2/fwhm
    q = amplitude * (-4.0 * fraction * lor * lor - _FOUR_LN2 * (1.0 - fraction) * gau)
    jac = np.empty((4, *x.shape)) if out is None else out
    jac[0] = shape
    jac[1] = q * (-2.0 / fwhm) * u
    jac[2] = q * (-2.0 / fwhm) * u2
    jac[3] = amplitude * (lor - gau)
    return amplitude * shape, _columns(jac)


# ------------------------------------------------------------------- sigmoids
def logistic4(x, bottom=0.0, top=1.0, x50=0.0, slope=1.0):
    """Four-parameter logistic ``bottom + (top-bottom)/(1 + exp(-slope*(x-x50)))``."""
    return bottom + (top - bottom) * expit(slope * (x - x50))


def logistic4_and_jacobian(x, bottom=0.0, top=1.0, x50=0.0, slope=1.0, out=None):
    d = x - x50
    s = expit(slope * d)
    span = top - bottom
    ds = span * s * (1.0 - s)
    jac = np.empty((4, *x.shape)) if out is None else out
    jac[0] = 1.0 - s
    jac[1] = s
    jac[2] = -slope * ds
    jac[3] = ds * d
    return bottom + span * s, _columns(jac)


def _hill_parts(x, k, n):
    # x**n/(k**n + x**n) = expit(n*log(x/k)): no overflow of x**n for large n;
    # log(0) = -inf gives exactly 0 at x = 0 (n > 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(k, np.ndarray):   # a column of k per curve (a batch)
            lx = np.log(x) - np.log(k) if np.all(k > 0) else np.log(x / k)
        else:
            lx = np.log(x) - math.log(k) if k > 0 else np.log(x / k)
        h = expit(n * lx)
    return h, lx


def hill(x, vmax=1.0, k=1.0, n=1.0):
    """Hill equation ``vmax*x**n/(k**n + x**n)`` (x >= 0, k > 0)."""
    return vmax * _hill_parts(x, k, n)[0]


def hill_and_jacobian(x, vmax=1.0, k=1.0, n=1.0, out=None):
    h, lx = _hill_parts(x, k, n)
    hh = vmax * h * (1.0 - h)
    jac = np.empty((3, *x.shape)) if out is None else out
    jac[0] = h
    jac[1] = -hh * n / k
    # at x = 0 the n-derivative is 0 (h = 0), not 0*(-inf)
    jac[2] = hh * np.where(np.isfinite(lx), lx, 0.0)
    return vmax * h, _columns(jac)


def michaelis_menten(x, vmax=1.0, km=1.0):
    """Michaelis-Menten ``vmax*x/(km + x)``."""
    return vmax * x / (km + x)


def michaelis_menten_and_jacobian(x, vmax=1.0, km=1.0, out=None):
    r = 1.0 / (km + x)
    shape = x * r
    f = vmax * shape
    jac = np.empty((2, *x.shape)) if out is None else out
    jac[0] = shape
    jac[1] = -f * r
    return f, _columns(jac)


# ------------------------------------------------------------------ periodics
def sine(x, amplitude=1.0, frequency=1.0, phase=0.0, offset=0.0):
    """``amplitude*sin(2*pi*frequency*x + phase) + offset`` (frequency in cycles per x unit)."""
    return amplitude * np.sin(_TWO_PI * frequency * x + phase) + offset


def sine_and_jacobian(x, amplitude=1.0, frequency=1.0, phase=0.0, offset=0.0, out=None):
    arg = _TWO_PI * frequency * x + phase
    s = np.sin(arg)
    ac = amplitude * np.cos(arg)
    jac = np.empty((4, *x.shape)) if out is None else out
    jac[0] = s
    jac[1] = _TWO_PI * x * ac
    jac[2] = ac
    jac[3] = 1.0
    return amplitude * s + offset, _columns(jac)


def damped_sine(x, amplitude=1.0, frequency=1.0, phase=0.0, decay=0.0, offset=0.0):
    """``amplitude*exp(-decay*x)*sin(2*pi*frequency*x + phase) + offset``."""
    return amplitude * np.exp(-decay * x) * np.sin(_TWO_PI * frequency * x + phase) + offset


def damped_sine_and_jacobian(x, amplitude=1.0, frequency=1.0, phase=0.0, decay=0.0, offset=0.0,
                             out=None):
    arg = _TWO_PI * frequency * x + phase
    e = np.exp(-decay * x)
    es = e * np.sin(arg)
    aec = amplitude * e * np.cos(arg)
    f = amplitude * es
    jac = np.empty((5, *x.shape)) if out is None else out
    jac[0] = es
    jac[1] = _TWO_PI * x * aec
    jac[2] = aec
    jac[3] = -x * f
    jac[4] = 1.0
    return f + offset, _columns(jac)
