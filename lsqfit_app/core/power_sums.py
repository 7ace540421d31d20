"""Power sums, extremes and Horner sums of polynomial fits on millions of
points, in compiled loops (numba), with a numpy fallback.

A degree-d polynomial fit on big data needs the power sums sum t**k
(k = 0..2d) and moments sum t**k * y (k = 0..d) of the scaled abscissa
t = (x - mid) / half.  numpy has to build every power as its own array
pass, which on 10 million points costs about 15 passes over the data;
one compiled loop computes all the sums while each element sits in a
register, in about the time of two or three passes.

The loops release the GIL and are run on contiguous slices in a few
threads (no numba threading layer, so several fits can call them at once
from worker threads).  They compile once per machine (``cache=True``) on
first use, which takes a few seconds; they are only used above
``polynomial.COMPILED_MIN_POINTS`` points, where a fit takes that long
anyway.  ``fastmath`` is limited to reassociation and contraction: the
sums are accumulated in vector lanes (a different, no less accurate,
order) and never assume the absence of NaN or infinities.

``available()`` is False when numba cannot be imported; callers then use
numpy.  This module imports numba (~0.4 s), so import it only on the
big-data path.
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: elements per block of the power loop: the block's powers stay in L1 cache
_BLOCK = 256


try:
    from numba import njit
except Exception:   # not installed, or incompatible with this numpy: use numpy
    njit = None

if njit is not None:
    _FAST = {"reassoc", "contract"}

    @njit(cache=True, nogil=True, fastmath=_FAST)
    def _power_sums(x, y, degree, mid, inv_half):   # pragma: no cover - compiled
        n = x.size
        k2 = 2 * degree + 1
        acc = np.zeros(k2 + degree + 1)
        tp = np.empty(_BLOCK)
        tv = np.empty(_BLOCK)
        yv = np.empty(_BLOCK)
        for start in range(0, n, _BLOCK):
            m = min(_BLOCK, n - start)
            for j in range(m):
                tv[j] = (x[start + j] - mid) * inv_half
                tp[j] = 1.0
                yv[j] = y[start + j]
            for k in range(k2):
                s = 0.0
                if k <= degree:
                    sy = 0.0
                    for j in range(m):
                        s += tp[j]
                        sy += tp[j] * yv[j]
                        tp[j] *= tv[j]
                    acc[k2 + k] += sy
                else:
                    for j in range(m):
                        s += tp[j]
                        tp[j] *= tv[j]
                acc[k] += s
        return acc

    # Callers pass finite data (a fit's used rows), so "no NaN" holds and lets
    # the comparisons vectorise.
    @njit(cache=True, nogil=True, fastmath={"reassoc", "nnan", "nsz"})
    def _min_max(x):   # pragma: no cover - compiled
        lo = np.inf
        hi = -np.inf
        for i in range(x.size):
            v = x[i]
            lo = min(lo, v)
            hi = max(hi, v)
        return lo, hi


    @njit(cache=True, nogil=True, fastmath={"contract"})
    def _polyval(x, coef, out):   # pragma: no cover - compiled
        d = coef.size - 1
        for i in range(x.size):
            acc = coef[d]
            for k in range(d - 1, -1, -1):
                acc = acc * x[i] + coef[k]
            out[i] = acc


def _loops():
    return None if njit is None else (_power_sums, _min_max, _polyval)


def available() -> bool:
    return _loops() is not None


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="lsqfit-power-sums")


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _split(n: int) -> list[tuple[int, int]]:
    parts = _threads() if n >= 1 << 20 else 1
    step = -(-n // parts)
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _map(fn, pieces):
    if len(pieces) == 1:
        return [fn(*pieces[0])]
    futures = [_pool().submit(fn, *args) for args in pieces]
    return [f.result() for f in futures]


def min_max(x: np.ndarray) -> tuple[float, float]:
    """(min, max) of a finite float64 array in one pass (numba), or numpy's two."""
    loops = _loops()
    if loops is None or x.size == 0:
        return float(np.min(x)), float(np.max(x))
    x = np.ascontiguousarray(x, dtype=float)
    parts = _map(lambda lo, hi: loops[1](x[lo:hi]), _split(x.size))
    return float(min(p[0] for p in parts)), float(max(p[1] for p in parts))


def power_sums(x: np.ndarray, y: np.ndarray, degree: int, mid: float,
               half: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(S, M): S_k = sum t**k for k = 0..2d, M_k = sum t**k y for k = 0..d; None without numba."""
    loops = _loops()
    if loops is None:
        return None
    x = np.ascontiguousarray(x, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    inv_half = 1.0 / half
    parts = _map(lambda lo, hi: loops[0](x[lo:hi], y[lo:hi], degree, mid, inv_half),
                 _split(x.size))
    total = np.sum(parts, axis=0)
    return total[:2 * degree + 1], total[2 * degree + 1:]


def polyval(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """sum_k coef[k] x**k by Horner's rule, in one compiled pass (numpy's without numba)."""
    loops = _loops()
    coef = np.ascontiguousarray(coef, dtype=float)
    if loops is None or coef.size == 0:
        return np.polynomial.polynomial.polyval(x, coef)
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty(x.size)
    _map(lambda lo, hi: loops[2](x[lo:hi], coef, out[lo:hi]), _split(x.size))
    return out
