"""Plot axes with readable ticks: a log axis for objectives and an integer axis for iterations.

pyqtgraph's log axis labels every minor tick (a column of overlapping labels
over a short range), keeps a single label or none within one decade, and
formats some ticks as ``8·10⁵`` and others as ``3e+05``.  :class:`LogLabelAxis`
chooses its own ticks, coarse to fine (decades, then 1-2-5 and 1..9 times a
decade, then round steps in the values themselves) until there are at least
:data:`MIN_LABELS` and no more than fit the axis, and labels them all in one
style (:func:`tick_labels`) with just enough digits to tell them apart.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

#: ticks a log axis shows at least, whatever its range (two when the axis is tiny)
MIN_LABELS = 3
#: pixels one label needs along a vertical and a horizontal axis
_LABEL_PIXELS = {"left": 26, "right": 26, "top": 70, "bottom": 70}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: values in this range are written as plain decimals, the others as m·10ⁿ
_PLAIN = (1e-3, 1e5)


def nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= raw * (1 - 1e-12):
            return factor * power
    return 10.0 * power


def _multiples(a: float, b: float, step: float) -> np.ndarray:
    """Multiples of ``step`` in [a, b]."""
    first, last = math.ceil(a / step - 1e-9), math.floor(b / step + 1e-9)
    if last < first:
        return np.zeros(0)
    return np.arange(first, last + 1) * step


def log_tick_values(lo: float, hi: float, max_count: int) -> tuple[np.ndarray, bool]:
    """Tick values (not logarithms) for a log axis showing 10**lo .. 10**hi.

    Returns the values and whether they are whole decades (then minor ticks
    2..9 x 10^k may be drawn between them).  At least :data:`MIN_LABELS`
    ticks (or ``max_count`` if fewer fit) and at most ``max_count``.
    """
    lo, hi = sorted((float(lo), float(hi)))
    max_count = max(2, int(max_count))
    want = min(MIN_LABELS, max_count)
    if not hi > lo:
        hi = lo + 1e-6
    # decades, every k-th
    decades = np.arange(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)
    if len(decades) >= want:
        k = 1
        while len(decades[decades % k == 0]) > max_count:
            k += 1
        picked = decades[decades % k == 0]
        if len(picked) >= want:
            return 10.0 ** picked, True
        return 10.0 ** decades[:: max(1, len(decades) // want)], True
    # 1-2-5 and then 1..9 times each decade
    first, last = math.floor(lo) - 1, math.ceil(hi) + 1
    a, b = 10.0 ** lo, 10.0 ** hi
    for mantissas in ((1, 2, 5), tuple(range(1, 10))):
        values = np.array([m * 10.0 ** e for e in range(first, last + 1) for m in mantissas])
        values = values[(values >= a * (1 - 1e-12)) & (values <= b * (1 + 1e-12))]
        if want <= len(values) <= max_count:
            return values, False
    # round steps in the values themselves, coarse to fine: the first giving enough ticks
    fallback = None
    for step in _steps_down(nice_step(b - a)):
        values = _multiples(a, b, step)
        values = values[values > 0]
        if len(values) > max_count:
            if fallback is None:
                fallback = values[::math.ceil(len(values) / max_count)]
            break
        if len(values) >= 2:
            fallback = values
        if len(values) >= want:
            return values, False
    if fallback is None:    # not even two round values fit: the ends of the range
        fallback = np.array([a, b])
    return fallback, False


def _steps_down(start: float):
    """start and the 1-2-5 steps below it, down to a relative 1e-12."""
    power = 10.0 ** math.floor(math.log10(start))
    for _ in range(40):
        for factor in (5.0, 2.0, 1.0):
            step = factor * power
            if step <= start * (1 + 1e-12):
                yield step
        power /= 10.0


def tick_labels(values, same_decimals: bool = False) -> list[str]:
    """Labels for tick values, in one style, with the fewest digits that tell them apart.

    Plain decimals when every value lies in [0.001, 100000) ("0.02321",
    "49.5"), otherwise every label as m·10ⁿ ("8·10⁵", "10⁻³"); never "3e+05".
    With ``same_decimals`` (evenly spaced ticks) plain labels share one number
    of decimals ("0.023210", "0.023212").
    """
    values = [float(v) for v in values]
    if not values:
        return []
    nonzero = [abs(v) for v in values if v != 0]
    plain = all(_PLAIN[0] <= v < _PLAIN[1] for v in nonzero)
    for digits in range(1, 16):
        rounded = [float(f"{v:.{digits - 1}e}") for v in values]
        if len(set(rounded)) == len(rounded) and all(
                math.isclose(r, v, rel_tol=1e-9) for r, v in zip(rounded, values)):
            break
    if plain and same_decimals:
        decimals = max(_decimals(_plain(v, digits)) for v in values)
        return [f"{v:.{decimals}f}" for v in values]
    return [_plain(v, digits) if plain else _scientific(v, digits) for v in values]


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _plain(v: float, digits: int) -> str:
    if v == 0:
        return "0"
    return np.format_float_positional(v, precision=digits, unique=False, fractional=False,
                                      trim="-")


def _scientific(v: float, digits: int) -> str:
    if v == 0:
        return "0"
    mantissa, exponent = f"{v:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    if mantissa in ("1", "-1"):
        return power if mantissa == "1" else "-" + power
    return f"{mantissa}·{power}"


class LogLabelAxis(pg.AxisItem):
    """An axis whose log mode has distinct, readable labels over any range.

    In linear mode it is pyqtgraph's axis.  In log mode the labelled ticks
    come from :func:`log_tick_values`; when they are whole decades one apart,
    unlabelled minor ticks mark 2..9 x 10^k between them.
    """

    def __init__(self, orientation: str, **kwargs):
        super().__init__(orientation, **kwargs)
        self._minor: set[float] = set()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph override
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = sorted((minVal, maxVal))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return []
        count = int(size // _LABEL_PIXELS.get(self.orientation, 40))
        values, decades = log_tick_values(lo, hi, count)
        levels = [(1.0, np.log10(values).tolist())]
        self._minor = set()
        if decades and len(values) > 1 and values[1] / values[0] < 10.5 and size / len(values) > 60:
            minor = [np.log10(m * d) for d in values[:-1] for m in range(2, 10)]
            below = values[0] / 10
            minor += [np.log10(m * below) for m in range(2, 10)]
            minor = [v for v in minor if lo <= v <= hi]
            self._minor = set(minor)
            levels.append((None, minor))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        if values and all(v in self._minor for v in values):
            return [""] * len(values)
        values = 10.0 ** np.asarray(values, dtype=float)
        decades = np.allclose(np.log10(values), np.round(np.log10(values)), atol=1e-9)
        return tick_labels(values, same_decimals=not decades)


class IntegerAxis(pg.AxisItem):
    """An axis of whole numbers from 0 (iterations): no fractional or negative ticks."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph override
        lo, hi = sorted((minVal, maxVal))
        lo = max(lo, 0.0)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
            return []
        count = max(2, int(size // _LABEL_PIXELS.get(self.orientation, 40)))
        step = max(1.0, nice_step((hi - lo) / count))
        return [(step, _multiples(lo, hi, step).tolist())]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        return [str(int(round(v))) for v in values]
