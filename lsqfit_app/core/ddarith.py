"""Double-double arithmetic for accurate residuals of linear least squares.

Iterative refinement of a least-squares solution only helps when the
residuals it feeds back are computed more accurately than the working
precision (Björck 1967; Higham, *Accuracy and Stability of Numerical
Algorithms*, ch. 20).  numpy has no portable extended type (long double is
80-bit on x86-64 Linux, plain double on Windows and MSVC builds), so we use
error-free transformations in float64 (Dekker 1971; Ogita, Rump & Oishi 2005,
"Accurate sum and dot product"): TwoProduct by Veltkamp splitting and TwoSum,
vectorised over rows.  The result is as accurate as if computed in ~106-bit
arithmetic and rounded once.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from lsqfit_app.core.statistics import row_blocks

_SPLITTER = 134217729.0  # 2**27 + 1


def _split(a: np.ndarray):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_product(a: np.ndarray, b: np.ndarray):
    """p + e == a * b exactly (barring overflow)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def two_sum(a: np.ndarray, b: np.ndarray):
    """s + e == a + b exactly."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


#: rows per block of :func:`residual_dd` and :func:`transpose_dot_dd`
#: (``statistics.row_blocks``: one block up to four of these): each
#: error-free product makes about ten temporaries of its operands' size, which
#: over a million rows would be ten vectors of the data at a time; blocks keep
#: them in cache.  Every operation is elementwise (or an exactly rounded sum),
#: so the result does not depend on the block size.
BLOCK_ROWS = 1 << 14


def residual_dd(A: np.ndarray, x: np.ndarray, b: np.ndarray, r: np.ndarray | None = None,
                A_lo: np.ndarray | None = None):
    """b - r - (A + A_lo) @ x, accurate to double-double, rounded to float64.

    A is (m, n) float64 and A_lo its optional low-order part (the matrix is
    A + A_lo exactly); x (n,), b (m,), r (m,) or None.  Computed in row
    blocks (:data:`BLOCK_ROWS`), each written into the result.
    """
    blocks = row_blocks(A.shape[0], BLOCK_ROWS)
    if len(blocks) == 1:
        return _residual_block(A, x, b, r, A_lo, blocks[0])
    out = np.empty(A.shape[0])
    for rows in blocks:
        out[rows] = _residual_block(A, x, b, r, A_lo, rows)
    return out


def _residual_block(A, x, b, r, A_lo, rows):
    """:func:`residual_dd` over ``rows``."""
    hi = np.array(b[rows], dtype=float, copy=True)
    lo = np.zeros_like(hi)
    if r is not None:
        hi, e = two_sum(hi, -r[rows])
        lo += e
    for j in range(A.shape[1]):
        p, pe = two_product(A[rows, j], -x[j])
        hi, e = two_sum(hi, p)
        lo += e + pe
        if A_lo is not None:
            lo -= A_lo[rows, j] * x[j]
    return hi + lo


def transpose_dot_dd(A: np.ndarray, r: np.ndarray, A_lo: np.ndarray | None = None) -> np.ndarray:
    """(A + A_lo).T @ r with every sum accurate to double-double (column by column).

    Each column's products and their errors go to one exactly rounded sum
    block by block (:data:`BLOCK_ROWS`), never as whole-column temporaries.
    """
    out = np.empty(A.shape[1])
    blocks = row_blocks(A.shape[0], BLOCK_ROWS)
    for j in range(A.shape[1]):
        out[j] = _sum_dd(_products(A, r, A_lo, j, rows) for rows in blocks)
    return out


def _products(A, r, A_lo, j, rows):
    """The terms of column j's dot product over ``rows``: products, then their errors."""
    p, pe = two_product(A[rows, j], r[rows])
    if A_lo is not None:
        pe = pe + A_lo[rows, j] * r[rows]
    return p, pe


def mul_dd(ah, al, bh, bl):
    """(ah + al) * (bh + bl) in double-double."""
    p, e = two_product(ah, bh)
    e = e + (ah * bl + al * bh)
    return two_sum_fast(p, e)


def two_sum_fast(a, b):
    """Renormalise a + b (|a| >= |b|) to a double-double pair."""
    s = a + b
    return s, b - (s - a)


def power_dd(x: np.ndarray, k: int):
    """x**k for a non-negative integer k as a double-double pair (hi, lo)."""
    hi = np.ones_like(x, dtype=float)
    lo = np.zeros_like(hi)
    base_h, base_l = np.asarray(x, dtype=float), np.zeros_like(hi)
    while k:
        if k & 1:
            hi, lo = mul_dd(hi, lo, base_h, base_l)
        k >>= 1
        if k:
            base_h, base_l = mul_dd(base_h, base_l, base_h, base_l)
    return hi, lo


def _sum_dd(pairs) -> float:
    """The sum of every array in ``pairs`` (an iterable of (p, pe) blocks), correctly
    rounded (Shewchuk's algorithm in math.fsum: exact whatever the order or blocking)."""
    return math.fsum(itertools.chain.from_iterable(
        itertools.chain(p.tolist(), pe.tolist()) for p, pe in pairs))
