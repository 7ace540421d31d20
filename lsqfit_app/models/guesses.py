"""Shared steps of the start-value guesses of the library models and their sums.

Data are brought to one form first (:func:`prepare`: finite pairs sorted by
x, thinned evenly when a guess needs only the shape), then the guesses use:

* :func:`poly_fit`: linear least squares for polynomials, and for whatever a
  transformation makes a straight line (log-log for a power law, the logit of
  a sigmoid's rise);
* :func:`scan`: a *variable projection scan*.  For each value on a grid of the
  nonlinear parameters (time constants, km, k and n, a decay rate) the linear
  ones (amplitudes, offset, vmax) follow in closed form; the grid point of
  least squared error wins.  Unlike a log-linear fit this needs no offset
  estimate and survives noise, negative values and data that never reach
  their asymptote;
* :func:`peak_features`: height, centre and half width of the dominant peak,
  from the lightly :func:`smooth`-ed data.

Reference: G. H. Golub, V. Pereyra, "Separable nonlinear least squares: the
variable projection method and its applications", Inverse Problems 19, R1 (2003).
"""
from __future__ import annotations

import math

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.model import as_predictors

# Above this many points a polynomial guess streams (see poly_fit).
_STREAM_GUESS_POINTS = 1 << 16


def x_of(x) -> np.ndarray:
    """The 'x' array of predictors; a plain dict of arrays is the hot path of solvers."""
    if type(x) is dict:
        v = x["x"]
        if type(v) is np.ndarray and v.dtype == np.float64:
            return v
    return as_predictors(x, ("x",))["x"]


def prepare(x, y, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Finite (x, y) pairs sorted by x, optionally thinned evenly to ``max_points``."""
    xv = np.asarray(x_of(x), dtype=float).ravel()
    yv = np.asarray(y, dtype=float).ravel()
    if xv.size != yv.size:
        raise InputError(f"x has {xv.size} values but y has {yv.size}")
    # x + y is finite exactly when both are (barring overflow, which is harmless here).
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.isfinite(xv + yv)
    if not ok.all():
        xv, yv = xv[ok], yv[ok]
    # Sorting unconditionally is cheaper than testing whether it is needed.
    order = np.argsort(xv, kind="stable")
    xv, yv = xv[order], yv[order]
    if max_points is not None and xv.size > max_points:
        idx = np.linspace(0, xv.size - 1, max_points).astype(int)
        xv, yv = xv[idx], yv[idx]
    return xv, yv


def x_span(x: np.ndarray) -> float:
    """Width of the range of sorted x, or max(|x[0]|, 1) when all x are equal: never 0."""
    span = float(x[-1] - x[0]) if x.size > 1 else 0.0
    if not span > 0:
        span = max(abs(float(x[0])) if x.size else 0.0, 1.0)
    return span


def smooth(y: np.ndarray) -> np.ndarray:
    """A [1, 2, 1]/4 filter: enough to stop single noisy points from being the peak."""
    if y.size < 7:
        return y
    out = y.copy()
    out[1:-1] = 0.25 * (y[:-2] + y[2:]) + 0.5 * y[1:-1]
    return out


def _solve_batched(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve stacked small normal equations; singular ones get a tiny ridge."""
    m = gram.shape[-1]
    scale = np.einsum("kii->ki", gram).mean(axis=1)
    ridge = 1e-12 * np.where(scale > 0, scale, 1.0)
    gram = gram + ridge[:, None, None] * np.eye(m)
    try:
        return np.linalg.solve(gram, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("kij,kj->ki", np.linalg.pinv(gram), rhs)


def scan(bases: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Least squares of y on each stack of columns ``bases[k]`` (shape (K, m, n)).

    Returns the index of the best stack, its coefficients and all K squared errors.
    """
    gram = np.einsum("kmn,kpn->kmp", bases, bases)
    rhs = bases @ y
    coef = _solve_batched(gram, rhs)
    sse = float(y @ y) - np.einsum("km,km->k", coef, rhs)
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = int(np.argmin(sse))
    return best, coef[best], sse


def safe_exp(v: float) -> float:
    return math.exp(min(max(v, -700.0), 700.0))


def peak_features(x: np.ndarray, y: np.ndarray,
                   sign: float | None = None) -> tuple[float, float, float]:
    """(height, center, half width at half maximum) of the dominant peak of sorted data.

    The peak may point up or down: unless ``sign`` says which, the extreme
    further from the level at the two ends wins.  The centre is the midpoint
    of the half-maximum crossings (less noisy than the arg-max), the height
    the smoothed extreme.  Written for speed: a handful of numpy calls.
    """
    n = x.size
    if n == 0:
        return 1.0, 0.0, 1.0
    if n == 1:
        return float(y[0]), float(x[0]), 1.0
    ys = smooth(y)
    i_max = int(ys.argmax())
    i_min = int(ys.argmin())
    if sign is None:
        ref = 0.5 * float(ys[0] + ys[-1])
        sign = 1.0 if float(ys[i_max]) - ref >= ref - float(ys[i_min]) else -1.0
    ip = i_max if sign > 0 else i_min
    height = float(ys[ip])
    half = 0.5 * height
    below = ys < half if sign > 0 else ys > half
    left = np.flatnonzero(below[:ip])
    right = np.flatnonzero(below[ip + 1:])
    xp = float(x[ip])
    x_left = x_right = None
    if left.size:
        i = int(left[-1])
        x_left = float(x[i] + (half - ys[i]) * (x[i + 1] - x[i]) / (ys[i + 1] - ys[i]))
    if right.size:
        j = ip + 1 + int(right[0])
        x_right = float(x[j - 1] + (half - ys[j - 1]) * (x[j] - x[j - 1]) / (ys[j] - ys[j - 1]))
    span = x_span(x)
    center = xp
    if x_left is not None and x_right is not None:
        hwhm = 0.5 * (x_right - x_left)
        center = 0.5 * (x_right + x_left)
    elif x_left is not None:
        hwhm = xp - x_left
    elif x_right is not None:
        hwhm = x_right - xp
    else:
        hwhm = 0.25 * span
    min_width = span / (4.0 * n)
    if not hwhm > min_width:
        hwhm = min_width
    return height, center, hwhm


def poly_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomial coefficients in powers of x (length degree + 1).

    Solved in t = (x - mid)/half in [-1, 1], which keeps the Vandermonde
    matrix well conditioned for x far from 0 or high degree (what
    ``numpy.polynomial.Polynomial.fit`` does, at a fraction of its overhead),
    then expanded back to powers of x by Horner's rule on coefficient arrays.
    """
    coef = np.zeros(degree + 1)
    if x.size == 0:
        return coef
    if x.size == 1 or x[-1] == x[0] or degree == 0:
        coef[0] = float(np.mean(y))
        return coef
    deg = min(degree, x.size - 1)
    if x.size > _STREAM_GUESS_POINTS:
        # millions of points (a polynomial scans them all): the solver's
        # chunked normal equations in the same scaled basis, instead of an
        # n x (d+1) Vandermonde matrix and lstsq's copies of it
        from lsqfit_app.core.polynomial import solve_polynomial
        try:
            coef[: deg + 1] = solve_polynomial(x, y, deg)[0]
            return coef
        except np.linalg.LinAlgError:
            pass   # repeated x: lstsq's minimum-norm solution below
    mid = 0.5 * float(x[0] + x[-1])
    half = 0.5 * float(x[-1] - x[0])
    vander = np.vander((x - mid) / half, deg + 1, increasing=True)
    # lstsq gives the minimum-norm solution when repeated x make it rank deficient
    c_t = np.linalg.lstsq(vander, y, rcond=None)[0]
    # p(x) = sum c_k t**k with t = -mid/half + x/half
    out = np.array([c_t[-1]])
    step = np.array([-mid / half, 1.0 / half])
    for c in c_t[-2::-1]:
        out = np.convolve(out, step)
        out[0] += c
    coef[: out.size] = out
    return coef
