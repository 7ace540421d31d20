"""Fitted data as CSV or XLSX, and results as tab-separated text for the clipboard.

``export_fit`` writes one row per data row: the predictor(s), y, sigma (when
given), the fitted value, the residual, the standardized residual, the 95 %
confidence and prediction bands at that x, and whether the row was used in
the fit (``used``, ``masked`` or ``missing``).  Numbers are written at full
precision: the shortest round-trip repr in CSV; in XLSX the 16 significant
digits openpyxl writes (Excel itself shows 15).
"""
from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from lsqfit_app.core.errors import InputError

EXPORT_SUFFIXES = (".csv", ".xlsx")


def _column_title(problem, name: str, first: bool) -> str:
    labels = dict(problem.labels or {})
    if first and "x" in labels and len(problem.x) == 1:
        return str(labels["x"])
    return name


def fit_table(result, problem) -> tuple[list[str], list[list]]:
    """(header, rows) of the fitted-data table; numbers as floats, NaN for missing."""
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
    header += ["fitted", "residual", "standardized residual", "confidence lower 95%",
               "confidence upper 95%", "prediction lower 95%", "prediction upper 95%", "status"]
    columns += [result.fitted, result.residuals, result.standardized_residuals, *bands]
    used = np.asarray(result.used, dtype=bool)
    masked = np.asarray(problem.excluded, dtype=bool)
    status = np.where(used, "used", np.where(masked, "masked", "missing"))
    rows = []
    for i in range(n):
        rows.append([float(c[i]) for c in columns] + [str(status[i])])
    return header, rows


def _csv_cell(v) -> str:
    if isinstance(v, str):
        return v
    return repr(v) if math.isfinite(v) else ""


def export_fit(result, problem, path) -> None:
    """Write the fitted data as .csv or .xlsx, by suffix.

    Raises
    ------
    InputError
        Unknown suffix, or the file cannot be written.
    """
    from lsqfit_app.report.files import checked_suffix, write_bytes_atomic, write_text_atomic

    path, suffix = checked_suffix(path, EXPORT_SUFFIXES, "export fitted data to")
    header, rows = fit_table(result, problem)
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
        write_text_atomic(path, buf.getvalue())
        return
    write_bytes_atomic(path, _xlsx_bytes(header, rows, result))


def _xlsx_bytes(header, rows, result) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "fitted data"
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # empty cells, not NaN: spreadsheets have no NaN
        ws.append([None if isinstance(v, float) and not math.isfinite(v) else v for v in row])
    ws.freeze_panes = "A2"
    for i, title in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, min(28, len(title) + 2))
    ps = wb.create_sheet("parameters")
    for line in copy_results_tsv(result).split("\n"):
        ps.append([_number_or_text(c) for c in line.split("\t")] if line else [])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _number_or_text(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _tsv_number(v) -> str:
    if v is None:
        return ""
    v = float(v)
    return repr(v) if math.isfinite(v) else ""


def copy_results_tsv(result) -> str:
    """Parameters and statistics as tab-separated text that pastes as a table.

    Numbers are full-precision plain decimals (``repr``), empty where
    undefined, so a spreadsheet reads them as numbers in any locale that
    uses a decimal point.
    """
    lines = ["\t".join(("parameter", "value", "std error", "ci95 lower", "ci95 upper", "t", "p",
                        "fixed", "at bound"))]
    for p in result.parameters:
        lines.append("\t".join((p.name, _tsv_number(p.value),
                                "" if p.fixed else _tsv_number(p.stderr),
                                _tsv_number(p.ci95[0]), _tsv_number(p.ci95[1]),
                                _tsv_number(p.t_value), _tsv_number(p.p_value),
                                "yes" if p.fixed else "no", "yes" if p.at_bound else "no")))
    s = result.statistics
    lines += ["", "statistic\tvalue"]
    stats = [("n", s.n), ("n used", s.n_used), ("free parameters", s.n_free), ("dof", s.dof),
             ("SSE", s.sse), ("RMSE", s.rmse), ("residual SD", s.residual_sd),
             ("R^2", s.r_squared), ("adjusted R^2", s.adj_r_squared)]
    if s.chi_squared is not None:
        stats += [("chi^2", s.chi_squared), ("reduced chi^2", s.reduced_chi_squared)]
    stats += [("AIC", s.aic), ("AICc", s.aicc), ("BIC", s.bic)]
    for name, v in stats:
        lines.append(f"{name}\t{v if isinstance(v, int) else _tsv_number(v)}")
    return "\n".join(lines) + "\n"
