"""Fitted data as CSV or XLSX, and results as tab-separated text for the clipboard.

``export_fit`` writes one row per data row: the predictor(s), y, sigma (when
given), the fitted value, the residual, the standardized residual, the 95 %
confidence and prediction bands at that x, and whether the row was used in
the fit (``used``, ``masked`` or ``missing``).  Numbers are written at full
precision: the shortest round-trip repr in CSV; in XLSX the 16 significant
digits openpyxl writes (Excel itself shows 15).

Text from the data (headers) is written as text, never as a live formula:
CSV/TSV cells that start like a formula get OWASP's ' prefix, XLSX cells are
string cells; characters a format cannot hold become U+FFFD.  The prediction
band columns name the variance they add (:func:`prediction_note`).  Both
formats are streamed into the output file, so a million rows never sit in
memory as text or as cell objects.
"""
from __future__ import annotations

import csv
import math

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.spreadsheet import XLSX_MAX_ROWS, clean_text, formula_risk, text_cell

EXPORT_SUFFIXES = (".csv", ".xlsx")


def _column_title(problem, name: str, first: bool) -> str:
    labels = dict(problem.labels or {})
    if first and "x" in labels and len(problem.x) == 1:
        return str(labels["x"])
    return name


def prediction_note(result) -> str:
    """What the prediction band at the data rows adds, in words (for headers and notes)."""
    from lsqfit_app.core.bands import prediction_variance

    return prediction_variance(result)


def fit_table(result, problem) -> tuple[list[str], list[np.ndarray]]:
    """(header, columns) of the fitted-data table.

    Columns are float arrays (NaN where missing) except the last, the row
    status as text; the header is the column titles as given (not yet made
    safe for a format: the writers do that).
    """
    from lsqfit_app.core.bands import band

    names = list(problem.x)
    header = [_column_title(problem, n, i == 0) for i, n in enumerate(names)]
    header.append(str(dict(problem.labels or {}).get("y", "y")))
    columns = [np.asarray(problem.x[n], dtype=float) for n in names] + [problem.y]
    if problem.weighting == "sigma":
        header.append(str(dict(problem.labels or {}).get("sigma", "sigma")))
        columns.append(problem.sigma)
    n = problem.n
    nan = np.full(n, np.nan)
    xs = {k: np.asarray(v, dtype=float) for k, v in problem.x.items()}
    bands = []
    for kind in ("confidence", "prediction"):
        try:
            with np.errstate(all="ignore"):
                _, lo, hi = band(result, xs, kind=kind)
        except Exception:
            lo, hi = nan, nan
        bands += [lo, hi]
    added = prediction_note(result)
    header += ["fitted", "residual", "standardized residual", "confidence lower 95%",
               "confidence upper 95%", f"prediction lower 95% (adds {added})",
               f"prediction upper 95% (adds {added})", "status"]
    columns += [result.fitted, result.residuals, result.standardized_residuals, *bands]
    columns = [np.asarray(c, dtype=float) for c in columns]
    used = np.asarray(result.used, dtype=bool)
    masked = np.asarray(problem.excluded, dtype=bool)
    columns.append(np.where(used, "used", np.where(masked, "masked", "missing")))
    return header, columns


def _csv_numbers(column: np.ndarray) -> list[str]:
    # shortest round-trip repr; empty where missing
    return [repr(v) if v == v and v not in (math.inf, -math.inf) else ""
            for v in column.tolist()]


#: rows per block when writing CSV: bounds the Python strings alive at once
_CSV_BLOCK = 50_000


def export_fit(result, problem, path) -> None:
    """Write the fitted data as .csv or .xlsx, by suffix.

    Header cells that a spreadsheet would take for a formula are written as
    text ('-prefixed in CSV, string cells in XLSX); characters a format
    cannot hold become U+FFFD.

    Raises
    ------
    InputError
        Unknown suffix, or the file cannot be written.
    """
    from lsqfit_app.core.atomic import write_atomic, write_text_stream_atomic
    from lsqfit_app.report.files import checked_suffix

    path, suffix = checked_suffix(path, EXPORT_SUFFIXES, "export fitted data to")
    if suffix == ".xlsx" and problem.n + 1 > XLSX_MAX_ROWS:
        raise InputError(f"cannot export fitted data to {path!r}: it has {problem.n:,} rows and "
                         f"a worksheet holds at most {XLSX_MAX_ROWS - 1:,} below its header; "
                         "export to .csv instead")
    header, columns = fit_table(result, problem)
    # streamed into the temporary file: a big export never sits in memory whole
    if suffix == ".csv":
        write_text_stream_atomic(path, lambda fh: _write_csv(fh, header, columns))
    else:
        write_atomic(path, lambda fh: _write_xlsx(fh, header, columns, result))


def _write_csv(out, header, columns) -> None:
    # every header cell quoted: the csv module quotes a field only for the
    # delimiter, quotes or "\n", so a header holding "\r" would end the row
    # for readers; quoting is also OWASP's advice for text cells
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(
        [text_cell(h) for h in header])
    writer = csv.writer(out, lineterminator="\n")
    n = len(columns[0]) if columns else 0
    for start in range(0, n, _CSV_BLOCK):
        block = slice(start, start + _CSV_BLOCK)
        cells = [_csv_numbers(c[block]) for c in columns[:-1]]
        cells.append([text_cell(v) for v in columns[-1][block].tolist()])
        writer.writerows(zip(*cells))


def _write_xlsx(fh, header, columns, result) -> None:
    # write-only mode streams rows to the file: a million rows never become
    # a million Cell objects
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def text(ws, value, font=None):
        """A string cell, never a formula (openpyxl would make "=..." one)."""
        cell = WriteOnlyCell(ws, clean_text(value))
        cell.data_type = "s"
        if formula_risk(cell.value):
            cell.quotePrefix = True  # Excel keeps it text when the cell is edited
        if font is not None:
            cell.font = font
        return cell

    def value(ws, v):
        if isinstance(v, str):
            return text(ws, v)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None  # empty cells, not NaN: spreadsheets have no NaN
        return v

    ws = wb.create_sheet("fitted data")
    ws.freeze_panes = "A2"
    from openpyxl.utils import get_column_letter

    for i, title in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, min(28, len(title) + 2))
    ws.append([text(ws, h, bold) for h in header])
    numbers, status = columns[:-1], columns[-1]
    for start in range(0, len(status), _CSV_BLOCK):
        block = slice(start, start + _CSV_BLOCK)
        for row in zip(*(c[block].tolist() for c in numbers), status[block].tolist()):
            ws.append([value(ws, v) for v in row])
    ps = wb.create_sheet("parameters")
    for row in results_rows(result):
        ps.append([value(ps, v) for v in row])
    notes = wb.create_sheet("notes")
    for line in export_notes(result):
        notes.append([text(notes, line)])
    wb.save(fh)


def export_notes(result) -> list[str]:
    """Sentences that explain the exported columns."""
    added = prediction_note(result)
    return [
        "fitted: the model at each row's x with the fitted parameters; residual = y - fitted; "
        "standardized residual = residual / (sigma * sqrt(s²)) as the fit weighted it.",
        "confidence lower/upper 95%: the fitted value ± q·sqrt(gᵀCg), the uncertainty of the "
        "curve itself (C the parameter covariance, g the gradient at the row).",
        f"prediction lower/upper 95%: the fitted value ± q·sqrt(gᵀCg + v), where v is the "
        f"{added}: the range for a new observation at that row.",
        "status: used (fitted), masked (left out by the user) or missing (no number).",
    ]


def _number(v):
    """A finite float, or None (empty) for undefined values."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def results_rows(result) -> list[list]:
    """Parameters and statistics as rows of text, numbers and None (empty)."""
    rows: list[list] = [["parameter", "value", "std error", "ci95 lower", "ci95 upper", "t", "p",
                         "fixed", "at bound"]]
    for p in result.parameters:
        rows.append([str(p.name), _number(p.value), None if p.fixed else _number(p.stderr),
                     _number(p.ci95[0]), _number(p.ci95[1]), _number(p.t_value),
                     _number(p.p_value), "yes" if p.fixed else "no",
                     "yes" if p.at_bound else "no"])
    s = result.statistics
    rows += [[], ["statistic", "value"]]
    stats = [("n", s.n), ("n used", s.n_used), ("free parameters", s.n_free), ("dof", s.dof),
             ("SSE", s.sse), ("RMSE", s.rmse), ("residual SD", s.residual_sd),
             ("R^2", s.r_squared), ("adjusted R^2", s.adj_r_squared)]
    if s.chi_squared is not None:
        stats += [("chi^2", s.chi_squared), ("reduced chi^2", s.reduced_chi_squared)]
    stats += [("AIC", s.aic), ("AICc", s.aicc), ("BIC", s.bic)]
    for name, v in stats:
        rows.append([name, int(v) if isinstance(v, (int, np.integer)) else _number(v)])
    return rows


def copy_results_tsv(result) -> str:
    """Parameters and statistics as tab-separated text that pastes as a table.

    Numbers are full-precision plain decimals (``repr``), empty where
    undefined, so a spreadsheet reads them as numbers in any locale that
    uses a decimal point; text that looks like a formula is '-prefixed.
    """
    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, str):
            # a tab or newline inside would split the pasted table
            return text_cell(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")
        return repr(v)

    return "".join("\t".join(cell(v) for v in row) + "\n" for row in results_rows(result))
