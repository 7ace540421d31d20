"""``lsqfit-app table FILE``: show how a file is read.

Prints the detected dialect, the columns with names and units, the number of
rows and every cell that is not a number, so users can trust an import
before fitting (and outside tests can check the importer).  ``--json`` gives
the form of DESIGN.md 4.1::

    {"dialect": {...}, "sheet": "...", "columns": [{"name", "unit", "values"}],
     "problems": [{"row", "column", "text"}]}

``values`` hold one entry per data row, null where missing; infinities are
written as the strings "inf"/"-inf" because JSON has no number for them.
Problem rows are file lines (sheet rows), 1-based.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from lsqfit_app.io import read_table
from lsqfit_app.io.dialect import DELIMITER_NAMES
from lsqfit_app.io.options import add_import_arguments, read_options_from_args

#: Rows and problems shown by the text output (all of them go to --json).
SHOW_ROWS = 5
SHOW_PROBLEMS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="data file (text or workbook); a .lsqfit project is refused with a "
                             "message (its table is stored in it; 'lsqfit-app fit "
                             "PROJECT.lsqfit' refits it)")
    add_import_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    result = read_table(args.file, **read_options_from_args(args))
    out = sys.stdout
    if args.json:
        json.dump(result_to_json(result), out, ensure_ascii=False, allow_nan=False)
        out.write("\n")
    else:
        out.write(format_result(result))
    return 0


def _json_value(v: float):
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def result_to_json(result) -> dict:
    """The JSON document of DESIGN.md 4.1 for a ReadResult."""
    columns = []
    for col in result.table.columns():
        entry = {"name": col.name, "unit": col.unit,
                 "values": [_json_value(v) for v in col.values.tolist()],
                 "numeric": col.numeric}
        columns.append(entry)
    return {
        "file": result.source,
        "dialect": result.dialect.as_dict(),
        "sheet": result.sheet,
        "rows": result.table.n_rows,
        "columns": columns,
        "problems": [p.as_dict() for p in result.problems],
        "n_problems": result.n_problems,
        "notes": list(result.notes),
    }


def format_result(result) -> str:
    """The text report of ``lsqfit-app table``."""
    t = result.table
    d = result.dialect
    lines = [f"file:     {result.source}"]
    if result.sheet is not None:
        others = [s for s in result.sheets if s != result.sheet]
        lines.append(f"sheet:    {result.sheet}" + (f"  (others: {', '.join(others)})" if others else ""))
    if d.encoding:
        lines.append(f"encoding: {d.encoding}")
    if d.delimiter is not None:
        lines.append(f"delimiter: {DELIMITER_NAMES.get(d.delimiter, repr(d.delimiter))}")
    lines.append(f"decimal:  {'comma' if d.decimal == ',' else 'point'}"
                 + (f", thousands separator {d.thousands!r}" if d.thousands else ""))
    lines.append(f"header:   {d.header_rows} row{'s' if d.header_rows != 1 else ''}, "
                 f"{d.skip_rows} line{'s' if d.skip_rows != 1 else ''} before the table")
    if d.line_ending:
        lines.append(f"lines:    {d.line_ending}")
    if d.detected:
        lines.append(f"detected: {', '.join(d.detected)}")
    if d.overridden:
        lines.append(f"given:    {', '.join(d.overridden)}")
    lines.append(f"rows:     {t.n_rows}")
    lines.append("columns:")
    for col in t.columns():
        v = col.values
        finite = v[~(v != v)]
        kind = "" if col.numeric else "  (text, not offered for fitting)"
        span = (f"  {len(finite)} values, {finite.min():.6g} .. {finite.max():.6g}"
                if col.numeric and len(finite) else "")
        unit = f" [{col.unit}]" if col.unit else ""
        lines.append(f"  {col.index + 1:>3}  {col.name}{unit}{span}{kind}")
    if result.n_problems:
        lines.append(f"cells that are not numbers: {result.n_problems}")
        for p in result.problems[:SHOW_PROBLEMS]:
            lines.append(f"  row {p.row}, column {p.column!r}: {p.text!r}")
        if result.n_problems > SHOW_PROBLEMS:
            lines.append(f"  ... and {result.n_problems - SHOW_PROBLEMS} more (see --json)")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"
