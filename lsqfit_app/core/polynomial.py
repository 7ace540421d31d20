"""Polynomial least squares on very many points in one streaming pass.

For n in the millions, forming the n x (d+1) Vandermonde matrix and its QR
costs gigabytes and seconds.  Instead x is mapped to t = (x - mid)/half in
[-1, 1] and the normal equations in t**0..t**d are accumulated chunk by chunk
(each chunk in cache; unweighted, only the 2d+1 power sums of the Hankel
Gram matrix and d+1 moments: in one compiled pass (``_power_sums``, numba)
on big data, or by BLAS dot products), then solved by Cholesky.  Scaling
to [-1, 1] keeps the Gram matrix's condition modest for the degrees users
fit on big data (about 1e3 for degree 5 on uniform x), where the raw powers
of x would be hopeless; the coefficients in t are then mapped to
coefficients in x (T, a triangular change of basis), as is the covariance:
C_x = T C_t T^T.  The small NIST problems never come here: they take the QR
path with double-double refinement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import polynomial as _poly

CHUNK = 1 << 15


def _powers(xs: np.ndarray, buf: np.ndarray, degree: int, mid: float, half: float) -> np.ndarray:
    """Rows t**0..t**degree of a chunk, t = (x - mid)/half, written into ``buf``."""
    out = buf[: degree + 1, : xs.size]
    out[0] = 1.0
    if degree >= 1:
        np.subtract(xs, mid, out=out[1])
        out[1] *= 1.0 / half
    for j in range(2, degree + 1):
        np.multiply(out[j - 1], out[1], out=out[j])
    return out


def _accumulate(x, y, w, degree, mid, half):
    """Sum of [V; y] W [V; y]^T over all rows, chunk by chunk."""
    k = degree + 1
    acc = np.zeros((k + 1, k + 1))
    V = np.empty((k + 1, CHUNK))
    for start in range(0, x.size, CHUNK):
        stop = start + CHUNK
        m = _powers(x[start:stop], V, degree, mid, half).shape[1]
        Vm = V[:, :m]     # the powers, and below them y
        Vm[k] = y[start:stop]
        if w is not None:
            acc += (Vm * w[start:stop]) @ Vm.T
        else:
            acc += Vm @ Vm.T
    return acc


def _hankel_sums(x, y, degree, mid, half):
    """Power sums S_k = sum t**k (k = 0..2d) and moments M_k = sum t**k y.

    Unweighted normal equations in monomials are a Hankel matrix,
    G[i, j] = S_{i+j}: 3d+2 dot products per chunk instead of a GEMM that
    computes the same sums several times.
    """
    k = degree + 1
    S = np.zeros(2 * degree + 1)
    M = np.zeros(k)
    P = np.empty((k, CHUNK))
    for start in range(0, x.size, CHUNK):
        Pm = _powers(x[start:start + CHUNK], P, degree, mid, half)
        m = Pm.shape[1]
        M += Pm @ y[start:start + CHUNK]
        S[0] += m
        if degree >= 1:
            S[1] += Pm[1].sum()
        for p in range(2, 2 * degree + 1):
            a = p // 2
            S[p] += Pm[a] @ Pm[p - a]
    return _hankel(S, M)


def _hankel(S: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gram matrix G[i, j] = S[i + j] and the right-hand side M."""
    k = M.size
    G = np.empty((k, k))
    for i in range(k):
        G[i] = S[i:i + k]
    return G, M


#: below this many points the chunked numpy passes serve: importing numba and
#: its cached code costs ~0.5 s and ~100 MB of memory, more than the numpy
#: passes take for one fit of a few million points (and, on a 1M-row file,
#: more memory than its data).  The choice depends on n alone, never on what
#: the process loaded before, so a fit gives the same digits in any process.
COMPILED_MIN_POINTS = 1 << 23


def _compiled_for(n: int):
    """The compiled power-sum module for big data when numba is there, else None."""
    if n < COMPILED_MIN_POINTS:
        return None
    from lsqfit_app.core import power_sums as _power_sums
    return _power_sums if _power_sums.available() else None


def gram_polynomial(x: np.ndarray, y: np.ndarray, degree: int, w: np.ndarray | None = None):
    """Normal equations in the scaled monomials t**k, accumulated over chunks.

    Returns (G, b, mid, half): G = V W V^T and b = V W y with V the rows
    t**0..t**d of t = (x - mid)/half.  Unweighted data take the Hankel
    power-sum path; weighted data stack a chunk of V with y so that one GEMM
    per chunk gives G and b.
    """
    loops = _compiled_for(x.size)
    mid, half = _mid_half(x)
    k = degree + 1
    if w is None:
        sums = loops.power_sums(x, y, degree, mid, half) if loops else None
        G, b = _hankel(*sums) if sums is not None else _hankel_sums(x, y, degree, mid, half)
        return G, b, mid, half
    acc = _accumulate(x, y, w, degree, mid, half)
    return acc[:k, :k], acc[:k, k], mid, half


def _mid_half(x: np.ndarray) -> tuple[float, float]:
    """Centre and half-width of x's range: t = (x - mid)/half lies in [-1, 1]."""
    loops = _compiled_for(x.size)
    lo, hi = loops.min_max(x) if loops else (float(np.min(x)), float(np.max(x)))
    if hi == lo:
        hi = lo + 1.0
    return (hi + lo) / 2, (hi - lo) / 2


def _scaled_to_monomial(degree: int, mid: float, half: float) -> np.ndarray:
    """T with (coefficients in x) = T @ (coefficients in t = (x - mid)/half)."""
    T = np.zeros((degree + 1, degree + 1))
    step = np.array([-mid / half, 1.0 / half])
    power = np.ones(1)
    for j in range(degree + 1):
        T[: power.size, j] = power
        power = _poly.polymul(power, step)
    return T


@dataclass
class PolynomialFit:
    """A weighted least-squares polynomial from one pass over the data.

    ``coef`` and ``covariance`` (the unscaled (X^T W X)^-1) are in the
    monomial basis; the Cholesky factor of the Gram matrix in the scaled
    basis is kept for :meth:`leverage`.
    """

    coef: np.ndarray
    covariance: np.ndarray
    inv_L: np.ndarray      # L^-1, G = L L^T in the scaled basis t = (x - mid)/half
    mid: float
    half: float

    def leverage(self, x: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        """Diagonal of the hat matrix, h_i = w_i |L^-1 v_i|^2 with v_i = t_i**0..t_i**d.

        A small GEMM per chunk: the n x (d+1) design matrix is never formed.
        """
        degree = self.inv_L.shape[0] - 1
        h = np.empty(x.size)
        P = np.empty((degree + 1, CHUNK))
        for start in range(0, x.size, CHUNK):
            Pm = _powers(x[start:start + CHUNK], P, degree, self.mid, self.half)
            Z = self.inv_L @ Pm
            h[start:start + Pm.shape[1]] = np.einsum("ij,ij->j", Z, Z)
        if w is not None:
            h *= w
        return h


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int,
                   w: np.ndarray | None = None) -> PolynomialFit:
    """The Gram-matrix path of :func:`solve_polynomial`, with what leverages need."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    G, b, mid, half = gram_polynomial(x, y, degree, w)
    L = np.linalg.cholesky(G)
    c_t = np.linalg.solve(L.T, np.linalg.solve(L, b))
    inv_L = np.linalg.inv(L)
    T = _scaled_to_monomial(degree, mid, half)
    return PolynomialFit(T @ c_t, T @ (inv_L.T @ inv_L) @ T.T, inv_L, mid, half)


def solve_polynomial(x: np.ndarray, y: np.ndarray, degree: int, w: np.ndarray | None = None):
    """Monomial coefficients c_0..c_d (increasing) of the weighted LS polynomial.

    Returns (coefficients, unscaled covariance (X^T W X)^-1 in the monomial
    basis); raises LinAlgError when the points cannot determine the degree.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if degree == 1 and w is None and _compiled_for(x.size) is None:
        # four BLAS passes; with the compiled loop one pass does better
        fast = _line_by_dots(x, y)
        if fast is not None:
            return fast
    fit = fit_polynomial(x, y, degree, w)
    return fit.coef, fit.covariance


def polyval(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """The polynomial with increasing coefficients ``coef`` at x (one compiled pass on big data)."""
    loops = _compiled_for(x.size)
    return loops.polyval(x, coef) if loops else np.polynomial.polynomial.polyval(x, coef)


def _line_by_dots(x: np.ndarray, y: np.ndarray):
    """A straight line from four BLAS passes: sum x, sum y, x.x, x.y.

    The centred sums follow by the usual updates, which cancel when the
    mean of x is large against its spread: the relative error of Sxx_c is
    about eps * (1 + mean^2 / var).  Beyond mean^2/var = 1e6 (fewer than ~10
    digits left) return None and let the chunked, centred path do it.
    """
    n = x.size
    if n < 2:
        return None
    sx, sy = float(np.sum(x)), float(np.sum(y))
    sxx, sxy = float(x @ x), float(x @ y)
    mx, my = sx / n, sy / n
    sxx_c = sxx - sx * mx
    if not (sxx_c > 0) or mx * mx * n > 1e6 * sxx_c:
        return None
    sxy_c = sxy - sx * my
    slope = sxy_c / sxx_c
    intercept = my - slope * mx
    # (X^T X)^-1 for columns [1, x]
    det = n * sxx_c
    cov = np.array([[sxx / det, -sx / det], [-sx / det, n / det]])
    return np.array([intercept, slope]), cov
