"""The numba-compiled lineshape kernels of ``kernels`` (imported only to load them).

Each is ``kernel(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)``:
it reads ``p[start:stop]``, writes its values plus ``c`` to ``f`` (or adds
them to ``f`` when ``add``: the second and later terms of a sum) and its
derivatives to rows ``start:stop`` of ``jac``; the formulas and their order
of operations are those of ``lineshapes.py``.  The ``last`` kernel of a sum
also turns each point into residuals as it goes (``_finish``): r = (y - f) w
and the residuals' Jacobian -jac w, and returns r @ r.  So a lineshape with
an offset, the commonest model, is one call per evaluation, and nothing is
filled beforehand.  Importing this module imports numba (about 0.3 s).

Every kernel repeats the same loop around its formulas on purpose.  One
shared loop taking per-lineshape ``setup``/``point`` functions gives
identical results, but numba then either cannot cache the kernels (a call
with functions as arguments is not cacheable: each process would compile
them again, seconds) or, with the loop inlined, runs them ~40% slower
(4.4 against 3.2 µs for a Gaussian on 100 points; measured).
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


@njit(inline="always")
def _finish(i, y, w, f, jac, ones, r):
    """Point i of the last kernel of a sum: r_i = (y_i - f_i) w_i, the Jacobian
    column of the residuals (offset rows ``ones`` set to 1 first), r_i**2."""
    for k in ones:
        jac[k, i] = 1.0
    if w.size:
        wi = w[i]
        ri = (y[i] - f[i]) * wi
        for k in range(jac.shape[0]):
            jac[k, i] = jac[k, i] * -wi
    else:
        ri = y[i] - f[i]
        for k in range(jac.shape[0]):
            jac[k, i] = -jac[k, i]
    r[i] = ri
    return ri * ri


@jit
def expit(z):
    return 1.0 / (1.0 + math.exp(-z))


@jit
def line(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    slope, intercept = p[start], p[start + 1]
    total = 0.0
    for i in range(x.size):
        f[i] = (f[i] if add else c) + (slope * x[i] + intercept)
        jac[start, i] = x[i]
        jac[start + 1, i] = 1.0
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def polynomial(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    total = 0.0
    for i in range(x.size):
        power = 1.0
        value = 0.0
        for k in range(start, stop):
            jac[k, i] = power
            value += p[k] * power
            power *= x[i]
        f[i] = (f[i] if add else c) + value
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def exp_decay(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, tau, offset = p[start], p[start + 1], p[start + 2]
    tau2 = tau * tau
    total = 0.0
    for i in range(x.size):
        e = math.exp(-x[i] / tau)
        ae = amplitude * e
        f[i] = (f[i] if add else c) + (ae + offset)
        jac[start, i] = e
        jac[start + 1, i] = ae * x[i] / tau2
        jac[start + 2, i] = 1.0
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def exp_growth(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, tau, offset = p[start], p[start + 1], p[start + 2]
    tau2 = tau * tau
    total = 0.0
    for i in range(x.size):
        e = math.exp(x[i] / tau)
        ae = amplitude * e
        f[i] = (f[i] if add else c) + (ae + offset)
        jac[start, i] = e
        jac[start + 1, i] = -ae * x[i] / tau2
        jac[start + 2, i] = 1.0
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def double_exp_decay(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    a1, tau1, a2, tau2, offset = p[start], p[start + 1], p[start + 2], p[start + 3], p[start + 4]
    t1, t2 = tau1 * tau1, tau2 * tau2
    total = 0.0
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
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def power_law(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, exponent = p[start], p[start + 1]
    total = 0.0
    for i in range(x.size):
        xp = x[i] ** exponent
        v = amplitude * xp
        f[i] = (f[i] if add else c) + v
        jac[start, i] = xp
        # d/dexponent x**b = x**b log x, which is 0 (not 0*-inf) at x = 0
        jac[start + 1, i] = v * math.log(x[i] if x[i] > 0 else 1.0)
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def logarithmic(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    slope, intercept = p[start], p[start + 1]
    total = 0.0
    for i in range(x.size):
        logx = np.log(x[i])   # np.log: NaN for x < 0, as numpy, where math.log raises
        f[i] = (f[i] if add else c) + (slope * logx + intercept)
        jac[start, i] = logx
        jac[start + 1, i] = 1.0
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def gaussian(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, center, sigma = p[start], p[start + 1], p[start + 2]
    inv_s2 = 1.0 / (sigma * sigma)
    k = -0.5 * inv_s2
    inv_s = 1.0 / sigma
    total = 0.0
    for i in range(x.size):
        d = x[i] - center
        g = math.exp(d * d * k)
        v = amplitude * g
        f[i] = (f[i] if add else c) + v
        dc = v * d * inv_s2
        jac[start, i] = g
        jac[start + 1, i] = dc
        jac[start + 2, i] = dc * d * inv_s
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def lorentzian(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, center, gamma = p[start], p[start + 1], p[start + 2]
    g2 = gamma * gamma
    total = 0.0
    for i in range(x.size):
        d = x[i] - center
        shape = g2 / (d * d + g2)
        v = amplitude * shape
        t = 2.0 * v * shape * d / g2
        f[i] = (f[i] if add else c) + v
        jac[start, i] = shape
        jac[start + 1, i] = t
        jac[start + 2, i] = t * d / gamma
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def pseudo_voigt(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, center, fwhm, fraction = p[start], p[start + 1], p[start + 2], p[start + 3]
    lor_q = -4.0 * fraction
    gau_q = FOUR_LN2 * (1.0 - fraction)
    step = -2.0 / fwhm
    total = 0.0
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
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def logistic4(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    bottom, top, x50, slope = p[start], p[start + 1], p[start + 2], p[start + 3]
    span = top - bottom
    total = 0.0
    for i in range(x.size):
        d = x[i] - x50
        s = expit(slope * d)
        ds = span * s * (1.0 - s)
        f[i] = (f[i] if add else c) + (bottom + span * s)
        jac[start, i] = 1.0 - s
        jac[start + 1, i] = s
        jac[start + 2, i] = -slope * ds
        jac[start + 3, i] = ds * d
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def hill(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    vmax, k, n = p[start], p[start + 1], p[start + 2]
    log_k = math.log(k) if k > 0 else 0.0
    total = 0.0
    for i in range(x.size):
        # x**n/(k**n + x**n) = expit(n*log(x/k)); log(0) = -inf gives 0 at x = 0
        lx = np.log(x[i]) - log_k if k > 0 else np.log(x[i] / k)
        h = expit(n * lx)
        hh = vmax * h * (1.0 - h)
        f[i] = (f[i] if add else c) + (vmax * h)
        jac[start, i] = h
        jac[start + 1, i] = -hh * n / k
        jac[start + 2, i] = hh * (lx if math.isfinite(lx) else 0.0)
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def michaelis_menten(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    vmax, km = p[start], p[start + 1]
    total = 0.0
    for i in range(x.size):
        inv = 1.0 / (km + x[i])
        shape = x[i] * inv
        v = vmax * shape
        f[i] = (f[i] if add else c) + v
        jac[start, i] = shape
        jac[start + 1, i] = -v * inv
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def sine(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, frequency, phase, offset = p[start], p[start + 1], p[start + 2], p[start + 3]
    omega = TWO_PI * frequency
    total = 0.0
    for i in range(x.size):
        arg = omega * x[i] + phase
        s = math.sin(arg)
        ac = amplitude * math.cos(arg)
        f[i] = (f[i] if add else c) + (amplitude * s + offset)
        jac[start, i] = s
        jac[start + 1, i] = TWO_PI * x[i] * ac
        jac[start + 2, i] = ac
        jac[start + 3, i] = 1.0
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def damped_sine(x, p, start, stop, f, jac, c, add, last, y, w, ones, r):
    amplitude, frequency, phase = p[start], p[start + 1], p[start + 2]
    decay, offset = p[start + 3], p[start + 4]
    omega = TWO_PI * frequency
    total = 0.0
    for i in range(x.size):
        arg = omega * x[i] + phase
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
        if last:
            total += _finish(i, y, w, f, jac, ones, r)
    return total


@jit
def residualize(y, w, f, jac, ones, r):
    """What the last kernel of a sum does (``_finish``), for a model of offsets
    alone (no kernel to do it): r = (y - f) w, jac = -jac w; returns r @ r."""
    total = 0.0
    for i in range(y.size):
        total += _finish(i, y, w, f, jac, ones, r)
    return total


#: every lineshape kernel by the name models give in their ``kernel_plan``; a
#: kernel's position here is its number in ``evaluate_plan``
KERNELS = {"line": line, "polynomial": polynomial, "exp_decay": exp_decay,
           "exp_growth": exp_growth, "double_exp_decay": double_exp_decay,
           "power_law": power_law, "logarithmic": logarithmic, "gaussian": gaussian,
           "lorentzian": lorentzian, "pseudo_voigt": pseudo_voigt, "logistic4": logistic4,
           "hill": hill, "michaelis_menten": michaelis_menten, "sine": sine,
           "damped_sine": damped_sine}


@jit
def evaluate_plan(kinds, starts, stops, offsets, ones, x, p, f, jac, y, w, r):
    """A whole model in one call: its kernels in turn (``kinds``: positions in
    KERNELS, each over parameters ``starts[k]:stops[k]``), its constant offsets
    ``p[offsets]`` added to every point, then residuals r = (y - f) w and their
    Jacobian; returns r @ r.  One dispatch from Python however many terms the
    model has, and callable from other compiled code (the compiled LM)."""
    c = 0.0
    for o in offsets:
        c += p[o]
    n = kinds.size
    if n == 0:   # offsets only
        for i in range(f.size):
            f[i] = c
        return residualize(y, w, f, jac, ones, r)
    total = 0.0
    for k in range(n):
        kind, start, stop, add, last = kinds[k], starts[k], stops[k], k > 0, k == n - 1
        if kind == 0:
            total = line(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 1:
            total = polynomial(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 2:
            total = exp_decay(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 3:
            total = exp_growth(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 4:
            total = double_exp_decay(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 5:
            total = power_law(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 6:
            total = logarithmic(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 7:
            total = gaussian(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 8:
            total = lorentzian(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 9:
            total = pseudo_voigt(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 10:
            total = logistic4(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 11:
            total = hill(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 12:
            total = michaelis_menten(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        elif kind == 13:
            total = sine(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
        else:
            total = damped_sine(x, p, start, stop, f, jac, c, add, last, y, w, ones, r)
    return total


def load_all() -> dict:
    """Compile (or load from numba's cache) the kernels now, not in the middle of a fit."""
    x = np.array([0.5, 1.0, 2.0])
    p = np.array([1.0, 0.5, 1.5, 0.3, 2.0])
    f = np.zeros(3)
    jac = np.empty((5, 3))
    r = np.empty(3)
    index = np.array([0])
    evaluate_plan(index, index, np.array([4]), np.array([4]), np.array([4]), x, p, f, jac, x, x, r)
    return {"evaluate_plan": evaluate_plan}
