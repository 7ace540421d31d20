"""Number spellings in text cells: decimal point or comma, thousands separators.

Instruments and spreadsheets write numbers in many ways: ``1.5``, ``1,5``,
``-.19``, ``-12,`` (decimal comma, no fraction), ``,8``, ``7e1``,
``2,3278546E+000``, ``1,234.5``, ``1.234,5``, ``1 234,5``.  A cell is a number
only when it matches the grammar for the file's decimal and thousands
separators exactly; ``float()`` alone would also accept ``"1_000"`` and
``"infinity "``-style text we want to control.

``NaN``/``nan`` is an explicit missing value (no problem reported) and
``inf``/``-Infinity`` are infinities; a number too large for a double
(``1e400``) is reported as a problem rather than silently becoming inf.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

_SPECIAL = {
    "nan": math.nan, "+nan": math.nan, "-nan": math.nan,
    "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
    "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
}

_NEUTRAL = re.compile(
    r"(?:[*?.\-\u2013\u2014/#]+"                       # ***, -, --, ?, ...
    r"|n/?a|#n/a|null|none|missing|nd|n\.d\.|#value!|#div/0!|#ref!|#num!|#name\?"
    r"|\d{1,4}[-./]\d{1,2}[-./]\d{1,4}"                 # dates
    r"(?:[ T_-]\d{1,2}[:.-]\d{2}(?:[:.-]\d{2}(?:[.,]\d+)?)?)?"
    r"(?:\s*(?:[AaPp][Mm]|Z|[+-]\d{2}:?\d{2}))?"
    r"|\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)",  # times
    re.IGNORECASE)


def is_neutral(text: str) -> bool:
    """A date, a time or a missing-value marker (``***``, ``n/a``, ``-``).

    Such cells are not numbers, but a row full of them is still a data row;
    see :data:`lsqfit_app.io.layout.NEUTRAL`.
    """
    return bool(_NEUTRAL.fullmatch(text.strip()))


@lru_cache(maxsize=32)
def number_pattern(decimal: str = ".", thousands: str | None = None) -> re.Pattern:
    """The compiled grammar of one number for a decimal/thousands pair."""
    d = re.escape(decimal)
    if thousands:
        t = re.escape(thousands)
        integer = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)"
    else:
        integer = r"\d+"
    return re.compile(rf"[+-]?(?:{integer}(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?")


def parse_number(text: str, decimal: str = ".", thousands: str | None = None) -> float | None:
    """Parse one stripped cell; None when it is not a number.

    Returns NaN for an explicit ``nan`` and None (not a number) for a value
    that overflows a double, so callers can report it.
    """
    s = text.strip().replace("\u2212", "-")
    if not s:
        return math.nan
    if number_pattern(decimal, thousands).fullmatch(s):
        value = _matched_to_float(s, decimal, thousands)
        if math.isinf(value):
            return None  # overflow such as 1e400: report it
        return value
    special = _SPECIAL.get(s.lower())
    if special is not None:
        return special
    return None


def _matched_to_float(s: str, decimal: str, thousands: str | None) -> float:
    """The value of a string that ``number_pattern`` matched (inf on overflow)."""
    if thousands:
        s = s.replace(thousands, "")
    if decimal != ".":
        s = s.replace(decimal, ".")
    return float(s)


def convert_column(cells: list, decimal: str = ".", thousands: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Convert a list of cells (str, float, int or None) to float64.

    Returns
    -------
    values : ndarray of float64
        NaN where a cell is empty or not a number.
    bad : ndarray of bool
        True where a non-empty cell is not a number.
    """
    n = len(cells)
    values = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    pattern = number_pattern(decimal, thousands)
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if isinstance(cell, float):
            values[i] = cell
            continue
        if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
            values[i] = float(cell)
            continue
        s = str(cell).strip()
        if not s:
            continue
        if pattern.fullmatch(s):   # the common case, without parse_number's call
            v = _matched_to_float(s, decimal, thousands)
            if math.isinf(v):
                bad[i] = True
            else:
                values[i] = v
            continue
        v = parse_number(s, decimal, thousands)
        if v is None:
            bad[i] = True
        else:
            values[i] = v
    return values, bad
