"""Cells that spreadsheets read: text every output can hold, formula escapes, sheet limits.

Both the fit exports (:mod:`lsqfit_app.report.exports`) and the table
writers (:mod:`lsqfit_app.io.writers`) write text from data files (headers,
labels) into CSV and XLSX that users open in Excel or LibreOffice.  A header
such as ``=HYPERLINK(...)`` must arrive as text, never as a live formula
(OWASP "CSV injection"), so all of them escape cells with :func:`text_cell`.

The escape is OWASP's: a single quote before a text that starts like a
formula.  Spreadsheets opening such a CSV show the quote; our own text reader
removes it again (:func:`unescape_text_cell`), so a table written by the app
reads back with the headers it had.  Only a quote followed by a formula
trigger is removed: ``'tis`` or ``'5'`` stay as they are.
"""
from __future__ import annotations

import re

#: Rows of a worksheet (Excel's limit; a bigger sheet is an invalid file).
XLSX_MAX_ROWS = 1_048_576
#: Columns of a worksheet (A to XFD).
XLSX_MAX_COLS = 16_384

#: Characters no output can show or hold: C0 controls but tab, newline and
#: carriage return (illegal in XML, so in XLSX, SVG and HTML), DEL and the C1
#: controls, and lone surrogates (undecodable file names) that UTF-8 cannot
#: encode.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: Characters that make a spreadsheet read a cell as a formula (OWASP CSV
#: injection: = + - @, tab and carriage return), and their full-width forms.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def clean_text(text) -> str:
    """Text from a file or a user that every output can hold: the rest becomes U+FFFD."""
    return _UNSHOWABLE.sub("\ufffd", str(text))


def formula_risk(text: str) -> bool:
    """Would a spreadsheet take this text cell for a formula?

    Leading blanks are skipped: some spreadsheets trim them before looking.
    """
    return text.lstrip(" \n").startswith(FORMULA_TRIGGERS)   # (no trigger is a blank)


def _looks_escaped(text: str) -> bool:
    """Quotes, then a text a spreadsheet would take for a formula (``'=a``, ``''+1``)."""
    rest = text.lstrip("'")
    return len(rest) < len(text) and formula_risk(rest)


def text_cell(text) -> str:
    """A text cell for CSV or TSV: cleaned, and a formula-looking text prefixed with '.

    The single quote is OWASP's advice against CSV injection: spreadsheets
    show the text instead of evaluating it.  A text that already looks
    escaped (``'=a``) gets one more quote, so that :func:`unescape_text_cell`
    gives every text back as it was.  Numbers never come here (they stay
    numbers, negative ones included).
    """
    text = clean_text(text)
    return "'" + text if formula_risk(text) or _looks_escaped(text) else text


def unescape_text_cell(text: str) -> str:
    """A text :func:`text_cell` escaped, without its quote; any other text unchanged.

    ``"'=SUM(A1)"`` gives ``"=SUM(A1)"``, ``"''=a"`` gives ``"'=a"``;
    ``"'tis"`` and ``"'5"`` stay.
    """
    return text[1:] if _looks_escaped(text) else text
