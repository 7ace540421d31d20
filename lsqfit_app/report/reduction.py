"""Faithful reductions of big data for figures: what a plot of a million points can draw.

A scatter of millions of points is drawn as a density image of all of them
(a 2-D histogram, :func:`density_counts`, coloured by :func:`density_rgba`)
with the lowest and highest point of every pixel column on top
(:func:`column_extremes`), so the bulk, the envelope and every outlier show.
A normal Q-Q plot of many residuals keeps every point of both tails and
evenly spaced ranks between (:func:`qq_points`).  The report figures
(:mod:`lsqfit_app.report.figures`) and the window's plots use the same
functions; nothing here imports matplotlib or Qt.

Big arrays are handled :data:`BLOCK` rows at a time, which bounds the
temporary arrays; the results equal those of one pass over all rows.
"""
from __future__ import annotations

import math

import numpy as np

#: pixel columns of the reduction: more than a report figure has at 150 dpi
COLUMNS = 1000
#: density-image bins (columns, rows) behind a reduced scatter
DENSITY_BINS = (400, 160)
#: rows handled at a time when reducing big data (bounds the temporary arrays)
BLOCK = 1 << 16
#: a Q-Q plot of many points shows every point of both tails and evenly spaced ranks between
QQ_TAILS = 200
QQ_MIDDLE = 1600


def column_extremes(x, y, columns: int = COLUMNS) -> np.ndarray:
    """Indices of the lowest and highest finite y in each of ``columns`` x bins.

    A min/max decimation: a plot of these points has the same envelope as
    one of all points at any resolution up to ``columns`` pixels across, so
    every outlier stays visible.  Sorted, without duplicates; all finite
    points when there are few.  Ties go to the first row for the lowest and
    the last row for the highest y of a column.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n <= 2 * columns:
        return np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    # the x range of the finite points, then the extremes block by block: the
    # extremes of a column are among those of its blocks, so a last pass over
    # the few candidates gives exactly the answer of one pass over all rows
    # without full-size temporary arrays
    lo, hi, count = np.inf, -np.inf, 0
    for start in range(0, n, BLOCK):
        xb = x[start:start + BLOCK]
        ok = np.isfinite(xb) & np.isfinite(y[start:start + BLOCK])
        c = int(np.count_nonzero(ok))
        if c:
            count += c
            xb = xb[ok]
            lo, hi = min(lo, float(xb.min())), max(hi, float(xb.max()))
    if count <= 2 * columns:
        return np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    candidates = [_block_extremes(x, y, start, min(n, start + BLOCK), lo, hi, columns)
                  for start in range(0, n, BLOCK)]
    cand = np.concatenate(candidates)
    return cand[_block_extremes(x[cand], y[cand], 0, cand.size, lo, hi, columns)]


def _block_extremes(x, y, start, stop, lo, hi, columns) -> np.ndarray:
    """Rows (indices into x) of the lowest and highest y per column among rows start:stop."""
    xb, yb = x[start:stop], y[start:stop]
    idx = np.flatnonzero(np.isfinite(xb) & np.isfinite(yb))
    if idx.size == 0:
        return idx
    xf, yf = xb[idx], yb[idx]
    if hi > lo:
        col = np.minimum(((xf - lo) * (columns / (hi - lo))).astype(np.intp), columns - 1)
    else:
        col = np.zeros(xf.size, dtype=np.intp)
    del xf
    order = np.lexsort((yf, col))
    c_sorted = col[order]
    first = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
    last = np.r_[first[1:], order.size] - 1
    return start + idx[np.unique(np.concatenate([order[first], order[last]]))]


def density_counts(x, y, finite, bounds) -> np.ndarray:
    """2-D histogram of the finite points, summed block by block (same counts as one call)."""
    counts = np.zeros(DENSITY_BINS)
    rng = ((bounds[0], bounds[1]), (bounds[2], bounds[3]))
    for start in range(0, x.size, BLOCK):
        ok = finite[start:start + BLOCK]
        c, _, _ = np.histogram2d(x[start:start + BLOCK][ok], y[start:start + BLOCK][ok],
                                 bins=DENSITY_BINS, range=rng)
        counts += c
    return counts


def density_rgba(counts: np.ndarray, color) -> np.ndarray:
    """8-bit RGBA of a count grid: light grey to ``color`` ("#rrggbb") on a log scale, empty
    cells clear."""
    top = max(2.0, float(counts.max()))
    with np.errstate(divide="ignore"):
        level = np.clip(np.log(counts) / math.log(top), 0.0, 1.0)
    low, high = _rgba("#d9d9d9"), _rgba(color)
    rgba = low + level[..., None] * (high - low)
    rgba[counts == 0] = 0.0
    return np.round(rgba * 255.0).astype(np.uint8)


def masked_range(v, ok) -> tuple[float, float]:
    """min and max of v where ok (ok has at least one True)."""
    return (float(np.min(v, where=ok, initial=np.inf)),
            float(np.max(v, where=ok, initial=-np.inf)))


def qq_points(z, tails: int = QQ_TAILS, middle: int = QQ_MIDDLE,
              presorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(normal quantiles, sorted values) of a normal Q-Q plot, at most ~2*tails+middle points.

    The theoretical quantiles are the normal quantiles of Filliben's order
    statistic medians, as :func:`scipy.stats.probplot` uses.  Small samples
    give every point; big ones every point of both tails (where outliers
    are) and evenly spaced ranks in between, which a figure cannot tell
    from all of them.  ``presorted``: z is sorted already (no sorted copy is made).
    (scipy.special.ndtri is the normal quantile: scipy.stats
    would cost ~45 MB and a second to import for the same numbers.)
    """
    from scipy.special import ndtri

    z = np.asarray(z, dtype=float)
    if not presorted:
        z = np.sort(z)
    n = z.size
    if n <= 2 * tails + middle:
        ranks = np.arange(n)
    else:
        ranks = np.unique(np.concatenate([np.arange(tails), np.arange(n - tails, n),
                                          np.linspace(tails, n - tails - 1, middle).round()
                                          .astype(np.intp)]))
    last = 0.5 ** (1.0 / n)
    m = (ranks + 1 - 0.3175) / (n + 0.365)
    m = np.where(ranks == n - 1, last, np.where(ranks == 0, 1.0 - last, m))
    return ndtri(m), z[ranks]




def _rgba(color: str) -> np.ndarray:
    """(r, g, b, 1) in [0, 1] of a '#rrggbb' colour."""
    text = color.lstrip("#")
    return np.array([int(text[i:i + 2], 16) / 255.0 for i in (0, 2, 4)] + [1.0])
