"""Polynomial least squares on very many points in one streaming pass.

For n in the millions, forming the n x (d+1) Vandermonde matrix and its QR
costs gigabytes and seconds.  Instead x is mapped to t = (x - mid)/half in
[-1, 1] and the normal equations in t**0..t**d are accumulated chunk by chunk
(each chunk in cache, one GEMM per chunk), then solved by Cholesky.  Scaling
to [-1, 1] keeps the Gram matrix's condition modest for the degrees users
fit on big data (about 1e3 for degree 5 on uniform x), where the raw powers
of x would be hopeless; the coefficients in t are then mapped to
coefficients in x (T, a triangular change of basis), as is the covariance:
C_x = T C_t T^T.  The small NIST problems never come here: they take the QR
path with double-double refinement.
"""
from __future__ import annotations

import numpy as np
from numpy.polynomial import polynomial as _poly

CHUNK = 1 << 16


def _legendre_to_monomial(degree: int, lo: float, hi: float) -> np.ndarray:
    """T with monomial coefficients (in x, increasing) = T @ Legendre coefficients."""
    T = np.empty((degree + 1, degree + 1))
    mid, half = (hi + lo) / 2, (hi - lo) / 2
    for j in range(degree + 1):
        e = np.zeros(degree + 1)
        e[j] = 1.0
        in_t = _leg.leg2poly(e)
        # substitute t = (x - mid) / half
        p = np.zeros(1)
        power = np.ones(1)
        step = np.array([-mid / half, 1.0 / half])
        for c in in_t:
            p = _poly.polyadd(p, c * power)
            power = _poly.polymul(power, step)
        T[:, j] = np.pad(p, (0, degree + 1 - p.size))[: degree + 1]
    return T


def gram_polynomial(x: np.ndarray, y: np.ndarray, degree: int, w: np.ndarray | None = None):
    """Normal equations in the scaled monomials t**k, accumulated over chunks.

    Returns (G, b, T): G = V W V^T and b = V W y with V the rows t**0..t**d,
    and T mapping coefficients in t to monomial coefficients in x.  One
    chunk of V plus y is stacked so that a single GEMM gives G and b.
    """
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi == lo:
        hi = lo + 1.0
    mid, half = (hi + lo) / 2, (hi - lo) / 2
    k = degree + 1
    acc = np.zeros((k + 1, k + 1))
    V = np.empty((k + 1, CHUNK))
    for start in range(0, x.size, CHUNK):
        xs = x[start:start + CHUNK]
        m = xs.size
        Vm = V[:, :m]
        Vm[0] = 1.0
        if degree >= 1:
            np.subtract(xs, mid, out=Vm[1])
            Vm[1] *= 1.0 / half
        for j in range(2, k):
            np.multiply(Vm[j - 1], Vm[1], out=Vm[j])
        Vm[k] = y[start:start + CHUNK]
        if w is not None:
            acc += (Vm * w[start:start + CHUNK]) @ Vm.T
        else:
            acc += Vm @ Vm.T
    return acc[:k, :k], acc[:k, k], _scaled_to_monomial(degree, mid, half)


def _scaled_to_monomial(degree: int, mid: float, half: float) -> np.ndarray:
    """T with (coefficients in x) = T @ (coefficients in t = (x - mid)/half)."""
    T = np.zeros((degree + 1, degree + 1))
    step = np.array([-mid / half, 1.0 / half])
    power = np.ones(1)
    for j in range(degree + 1):
        T[: power.size, j] = power
        power = _poly.polymul(power, step)
    return T


def solve_polynomial(x: np.ndarray, y: np.ndarray, degree: int, w: np.ndarray | None = None):
    """Monomial coefficients c_0..c_d (increasing) of the weighted LS polynomial.

    Returns (coefficients, unscaled covariance (X^T W X)^-1 in the monomial
    basis); raises LinAlgError when the points cannot determine the degree.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    G, b, T = gram_polynomial(x, y, degree, w)
    L = np.linalg.cholesky(G)
    c_t = np.linalg.solve(L.T, np.linalg.solve(L, b))
    inv_L = np.linalg.inv(L)
    return T @ c_t, T @ (inv_L.T @ inv_L) @ T.T
