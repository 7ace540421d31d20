"""Import options on the command line, shared by ``lsqfit-app table`` and ``fit``.

``add_import_arguments(parser)`` adds ``--sheet --delimiter --decimal
--thousands --header-rows --skip-rows --encoding`` (DESIGN.md 4.1) and
``read_options_from_args(args)`` turns them into keyword arguments of
:func:`lsqfit_app.io.read_table`.  Delimiters may be given by name (``tab``,
``semicolon``...) because a literal tab or semicolon is awkward in a shell.
"""
from __future__ import annotations

import argparse

from lsqfit_app.core.errors import InputError

#: Names a user may give instead of a delimiter character.
DELIMITER_ALIASES = {
    "tab": "\t", "\\t": "\t", "t": "\t",
    "comma": ",", "semicolon": ";", "pipe": "|", "bar": "|",
    "space": " ", "spaces": " ", "whitespace": " ", "blank": " ", "blanks": " ",
}
DECIMAL_ALIASES = {"point": ".", "dot": ".", "period": ".", "comma": ","}
THOUSANDS_ALIASES = {"none": "", "comma": ",", "point": ".", "dot": ".", "space": " ",
                     "apostrophe": "'", "quote": "'"}


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the import options of DESIGN.md 4.1 to ``parser``."""
    group = parser.add_argument_group(
        "import options", "override what the import detects (it detects all of these)")
    group.add_argument("--sheet", metavar="NAME|N",
                       help="sheet of a workbook, by name or 1-based number (default: the "
                            "first sheet that holds a numeric table)")
    group.add_argument("--delimiter", metavar="C",
                       help="field delimiter: a character or tab, comma, semicolon, pipe, space")
    group.add_argument("--decimal", metavar="C", help="decimal separator: '.' or ','")
    group.add_argument("--thousands", metavar="C",
                       help="thousands separator (none, ',', '.', space, apostrophe)")
    group.add_argument("--header-rows", metavar="N", type=_count,
                       help="header rows above the data: 0 none, 1 names, 2 names and units")
    group.add_argument("--skip-rows", metavar="N", type=_count,
                       help="lines (sheet rows) before the header or the data")
    group.add_argument("--encoding", metavar="E", help="text encoding, e.g. utf-8, cp1252, utf-16")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, not {value}")
    return value


def read_options_from_args(args: argparse.Namespace) -> dict:
    """Keyword arguments for :func:`~lsqfit_app.io.read_table` from parsed args.

    Options not given are left out, so detection applies.

    Raises
    ------
    InputError
        For a delimiter, decimal or thousands value that is not usable.
    """
    out: dict = {}
    delimiter = getattr(args, "delimiter", None)
    if delimiter is not None:
        d = DELIMITER_ALIASES.get(delimiter.lower(), delimiter) if len(delimiter) > 1 \
            else delimiter
        if len(d) != 1:
            raise InputError(f"--delimiter: expected one character or one of "
                             f"{', '.join(sorted(set(DELIMITER_ALIASES) - {'t'}))}, not {delimiter!r}")
        out["delimiter"] = d
    decimal = getattr(args, "decimal", None)
    if decimal is not None:
        d = DECIMAL_ALIASES.get(decimal.lower(), decimal)
        if d not in (".", ","):
            raise InputError(f"--decimal: expected '.' or ',', not {decimal!r}")
        out["decimal"] = d
    thousands = getattr(args, "thousands", None)
    if thousands is not None:
        t = THOUSANDS_ALIASES.get(thousands.lower(), thousands)
        if len(t) > 1:
            raise InputError(f"--thousands: expected one character, not {thousands!r}")
        out["thousands"] = t or None
    for key in ("header_rows", "skip_rows"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if getattr(args, "header_rows", None) is not None and args.header_rows > 3:
        raise InputError("--header-rows: expected 0, 1, 2 or 3")
    for key in ("encoding", "sheet"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out
