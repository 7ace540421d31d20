"""The numba-compiled lineshape kernels of ``kernels`` (imported only to load them).

Each is ``kernel(x, p, start, stop, f, jac, c, add)``: it reads
``p[start:stop]``, writes its values plus ``c`` to ``f`` (or adds them to
``f`` when ``add``, for the second and later terms of a sum) and its
derivatives to rows ``start:stop`` of ``jac``; the formulas and their order
of operations are those of ``lineshapes.py``.  Writing rather than adding
first saves the caller filling the arrays beforehand.  Importing this module imports numba (about 0.3 s).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

FOUR_LN2 = 4.0 * math.log(2.0)
TWO_PI = 2.0 * math.pi

# nogil: a fit in a worker thread leaves the GUI thread free to run.
# error_model="numpy": a zero width gives inf/NaN, as in numpy, not an
# exception.  No fastmath: the same operations in the same order as numpy.
jit = njit(cache=True, nogil=True, error_model="numpy")


@jit
def expit(z):
    return 1.0 / (1.0 + math.exp(-z))


@jit
def line(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    slope, intercept = p[start], p[start + 1]
    for i in range(x.size):
        f[i] = (f[i] if add else c) + (slope * x[i] + intercept)
        jac[start, i] = x[i]
        jac[start + 1, i] = 1.0


@jit
def polynomial(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    for i in range(x.size):
        power = 1.0
        total = 0.0
        for k in range(start, stop):
            jac[k, i] = power
            total += p[k] * power
            power *= x[i]
        f[i] = (f[i] if add else c) + total


@jit
def exp_decay(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, tau, offset = p[start], p[start + 1], p[start + 2]
    tau2 = tau * tau
    for i in range(x.size):
        e = math.exp(-x[i] / tau)
        ae = amplitude * e
        f[i] = (f[i] if add else c) + (ae + offset)
        jac[start, i] = e
        jac[start + 1, i] = ae * x[i] / tau2
        jac[start + 2, i] = 1.0


@jit
def exp_growth(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, tau, offset = p[start], p[start + 1], p[start + 2]
    tau2 = tau * tau
    for i in range(x.size):
        e = math.exp(x[i] / tau)
        ae = amplitude * e
        f[i] = (f[i] if add else c) + (ae + offset)
        jac[start, i] = e
        jac[start + 1, i] = -ae * x[i] / tau2
        jac[start + 2, i] = 1.0


@jit
def double_exp_decay(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    a1, tau1, a2, tau2, offset = p[start], p[start + 1], p[start + 2], p[start + 3], p[start + 4]
    t1, t2 = tau1 * tau1, tau2 * tau2
    for i in range(x.size):
        e1 = math.exp(-x[i] / tau1)
        e2 = math.exp(-x[i] / tau2)
        v1 = a1 * e1
        v2 = a2 * e2
        f[i] = (f[i] if add else c) + (v1 + v2 + offset)
        jac[start, i] = e1
        jac[start + 1, i] = v1 * x[i] / t1
        jac[start + 2, i] = e2
        jac[start + 3, i] = v2 * x[i] / t2
        jac[start + 4, i] = 1.0


@jit
def power_law(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, exponent = p[start], p[start + 1]
    for i in range(x.size):
        xp = x[i] ** exponent
        v = amplitude * xp
        f[i] = (f[i] if add else c) + v
        jac[start, i] = xp
        # d/dexponent x**b = x**b log x, which is 0 (not 0*-inf) at x = 0
        jac[start + 1, i] = v * math.log(x[i] if x[i] > 0 else 1.0)


@jit
def logarithmic(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    slope, intercept = p[start], p[start + 1]
    for i in range(x.size):
        logx = np.log(x[i])   # np.log: NaN for x < 0, as numpy, where math.log raises
        f[i] = (f[i] if add else c) + (slope * logx + intercept)
        jac[start, i] = logx
        jac[start + 1, i] = 1.0


@jit
def gaussian(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, center, sigma = p[start], p[start + 1], p[start + 2]
    inv_s2 = 1.0 / (sigma * sigma)
    k = -0.5 * inv_s2
    inv_s = 1.0 / sigma
    for i in range(x.size):
        d = x[i] - center
        g = math.exp(d * d * k)
        v = amplitude * g
        f[i] = (f[i] if add else c) + v
        dc = v * d * inv_s2
        jac[start, i] = g
        jac[start + 1, i] = dc
        jac[start + 2, i] = dc * d * inv_s


@jit
def lorentzian(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, center, gamma = p[start], p[start + 1], p[start + 2]
    g2 = gamma * gamma
    for i in range(x.size):
        d = x[i] - center
        shape = g2 / (d * d + g2)
        v = amplitude * shape
        t = 2.0 * v * shape * d / g2
        f[i] = (f[i] if add else c) + v
        jac[start, i] = shape
        jac[start + 1, i] = t
        jac[start + 2, i] = t * d / gamma


@jit
def pseudo_voigt(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, center, fwhm, fraction = p[start], p[start + 1], p[start + 2], p[start + 3]
    lor_q = -4.0 * fraction
    gau_q = FOUR_LN2 * (1.0 - fraction)
    step = -2.0 / fwhm
    for i in range(x.size):
        u = (x[i] - center) / fwhm
        u2 = u * u
        lor = 1.0 / (1.0 + 4.0 * u2)
        gau = math.exp(-FOUR_LN2 * u2)
        shape = fraction * lor + (1.0 - fraction) * gau
        q = amplitude * (lor_q * lor * lor - gau_q * gau)
        f[i] = (f[i] if add else c) + (amplitude * shape)
        jac[start, i] = shape
        jac[start + 1, i] = q * step * u
        jac[start + 2, i] = q * step * u2
        jac[start + 3, i] = amplitude * (lor - gau)


@jit
def logistic4(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    bottom, top, x50, slope = p[start], p[start + 1], p[start + 2], p[start + 3]
    span = top - bottom
    for i in range(x.size):
        d = x[i] - x50
        s = expit(slope * d)
        ds = span * s * (1.0 - s)
        f[i] = (f[i] if add else c) + (bottom + span * s)
        jac[start, i] = 1.0 - s
        jac[start + 1, i] = s
        jac[start + 2, i] = -slope * ds
        jac[start + 3, i] = ds * d


@jit
def hill(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    vmax, k, n = p[start], p[start + 1], p[start + 2]
    log_k = math.log(k) if k > 0 else 0.0
    for i in range(x.size):
        # x**n/(k**n + x**n) = expit(n*log(x/k)); log(0) = -inf gives 0 at x = 0
        lx = np.log(x[i]) - log_k if k > 0 else np.log(x[i] / k)
        h = expit(n * lx)
        hh = vmax * h * (1.0 - h)
        f[i] = (f[i] if add else c) + (vmax * h)
        jac[start, i] = h
        jac[start + 1, i] = -hh * n / k
        jac[start + 2, i] = hh * (lx if math.isfinite(lx) else 0.0)


@jit
def michaelis_menten(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    vmax, km = p[start], p[start + 1]
    for i in range(x.size):
        r = 1.0 / (km + x[i])
        shape = x[i] * r
        v = vmax * shape
        f[i] = (f[i] if add else c) + v
        jac[start, i] = shape
        jac[start + 1, i] = -v * r


@jit
def sine(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, frequency, phase, offset = p[start], p[start + 1], p[start + 2], p[start + 3]
    w = TWO_PI * frequency
    for i in range(x.size):
        arg = w * x[i] + phase
        s = math.sin(arg)
        ac = amplitude * math.cos(arg)
        f[i] = (f[i] if add else c) + (amplitude * s + offset)
        jac[start, i] = s
        jac[start + 1, i] = TWO_PI * x[i] * ac
        jac[start + 2, i] = ac
        jac[start + 3, i] = 1.0


@jit
def damped_sine(x, p, start, stop, f, jac, c, add):   # pragma: no cover - compiled
    amplitude, frequency, phase = p[start], p[start + 1], p[start + 2]
    decay, offset = p[start + 3], p[start + 4]
    w = TWO_PI * frequency
    for i in range(x.size):
        arg = w * x[i] + phase
        e = math.exp(-decay * x[i])
        es = e * math.sin(arg)
        aec = amplitude * e * math.cos(arg)
        v = amplitude * es
        f[i] = (f[i] if add else c) + (v + offset)
        jac[start, i] = es
        jac[start + 1, i] = TWO_PI * x[i] * aec
        jac[start + 2, i] = aec
        jac[start + 3, i] = -x[i] * v
        jac[start + 4, i] = 1.0


@jit
def residualize(y, w, f, jac, ones, r):   # pragma: no cover - compiled
    """r = (y - f) * w and jac *= -w (w empty: unweighted), after setting the
    rows ``ones`` (constant offsets) to 1; returns r @ r."""
    n = y.size
    for k in ones:
        for i in range(n):
            jac[k, i] = 1.0
    total = 0.0
    if w.size:
        for i in range(n):
            ri = (y[i] - f[i]) * w[i]
            r[i] = ri
            total += ri * ri
        for k in range(jac.shape[0]):
            for i in range(n):
                jac[k, i] = jac[k, i] * -w[i]
    else:
        for i in range(n):
            ri = y[i] - f[i]
            r[i] = ri
            total += ri * ri
        for k in range(jac.shape[0]):
            for i in range(n):
                jac[k, i] = -jac[k, i]
    return total


#: every lineshape kernel by the name models give in their ``kernel_plan``
KERNELS = {"line": line, "polynomial": polynomial, "exp_decay": exp_decay,
           "exp_growth": exp_growth, "double_exp_decay": double_exp_decay,
           "power_law": power_law, "logarithmic": logarithmic, "gaussian": gaussian,
           "lorentzian": lorentzian, "pseudo_voigt": pseudo_voigt, "logistic4": logistic4,
           "hill": hill, "michaelis_menten": michaelis_menten, "sine": sine,
           "damped_sine": damped_sine}


def load_all() -> dict:
    """Compile (or load from numba's cache) every kernel now, not in the middle of a fit."""
    x = np.array([0.5, 1.0, 2.0])
    p = np.array([1.0, 0.5, 1.5, 0.3, 2.0])
    f = np.zeros(3)
    jac = np.empty((5, 3))
    ones = np.array([4])
    for kernel in KERNELS.values():
        kernel(x, p, 0, 5, f, jac, 0.5, False)
        kernel(x, p, 0, 5, f, jac, 0.5, True)
    residualize(x, x, f, jac, ones, np.empty(3))
    residualize(x, np.empty(0), f, jac, ones[:0], np.empty(3))
    return dict(KERNELS, residualize=residualize)
