"""Peaks of a sampled curve with their prominences and half-height widths.

The same definitions and tie rules as ``scipy.signal.find_peaks`` (with a
minimum prominence) and ``scipy.signal.peak_widths``, which the start-value
guess for sums of peaks needs.  Written out here because importing
scipy.signal imports scipy.stats, about a second on the first fit of a
session, for a few loops over at most a couple of thousand points (the
guess scans a thinned copy of the data).  tests/models/test_peakfind.py
checks the results against scipy's.
"""
from __future__ import annotations

import numpy as np


def local_maxima(y: np.ndarray) -> list[int]:
    """Indices of local maxima; a flat top counts once, at its middle (left of centre)."""
    peaks = []
    n = y.size
    i = 1
    while i < n - 1:
        if y[i - 1] < y[i]:
            ahead = i + 1
            while ahead < n - 1 and y[ahead] == y[i]:
                ahead += 1
            if y[ahead] < y[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return peaks


def prominences(y: np.ndarray, peaks: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prominence, left base, right base) of each peak.

    From a peak, each side is searched until a point higher than the peak
    (or the end); the lowest point on the way (the one nearest the peak on
    ties) is that side's base, and the prominence is the peak's height above
    the higher of the two bases.
    """
    prom = np.empty(len(peaks))
    left = np.empty(len(peaks), dtype=int)
    right = np.empty(len(peaks), dtype=int)
    values = y.tolist()
    n = len(values)
    for k, p in enumerate(peaks):
        top = values[p]
        i, low, base = p, top, p
        while i >= 0 and values[i] <= top:
            if values[i] < low:
                low, base = values[i], i
            i -= 1
        left[k], left_low = base, low
        i, low, base = p, top, p
        while i < n and values[i] <= top:
            if values[i] < low:
                low, base = values[i], i
            i += 1
        right[k], right_low = base, low
        prom[k] = top - max(left_low, right_low)
    return prom, left, right


def find_peaks(y: np.ndarray, min_prominence: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indices, prominences, left bases, right bases) of the local maxima at
    least ``min_prominence`` high."""
    y = np.asarray(y, dtype=float)
    peaks = local_maxima(y)
    if not peaks:
        empty = np.zeros(0, dtype=int)
        return empty, np.zeros(0), empty, empty
    prom, left, right = prominences(y, peaks)
    keep = prom >= min_prominence
    return np.asarray(peaks, dtype=int)[keep], prom[keep], left[keep], right[keep]


def half_widths(y: np.ndarray, peaks: np.ndarray, prom: np.ndarray, left_base: np.ndarray,
                right_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated (left, right) sample positions where each peak falls to half
    its prominence, searching no further than its bases (as ``find_peaks`` gives them)."""
    y = np.asarray(y, dtype=float)
    peaks = [int(p) for p in peaks]
    values = y.tolist()
    left_ip = np.empty(len(peaks))
    right_ip = np.empty(len(peaks))
    for k, p in enumerate(peaks):
        height = values[p] - 0.5 * prom[k]
        i = p
        while left_base[k] < i and height < values[i]:
            i -= 1
        pos = float(i)
        if values[i] < height:
            pos += (height - values[i]) / (values[i + 1] - values[i])
        left_ip[k] = pos
        i = p
        while i < right_base[k] and height < values[i]:
            i += 1
        pos = float(i)
        if values[i] < height:
            pos -= (height - values[i]) / (values[i - 1] - values[i])
        right_ip[k] = pos
    return left_ip, right_ip
