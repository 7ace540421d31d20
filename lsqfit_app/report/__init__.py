"""Reports and exports of a fit: HTML, PDF, Markdown, CSV/XLSX, images, scripts.

Nothing here imports Qt: figures are drawn with matplotlib on an Agg canvas,
PDFs are laid out with reportlab.  The CLI and the GUI call these functions:

- :func:`write_report` (``.html``, ``.pdf``, ``.md``) with a :class:`ReportContext`
- :func:`export_fit` (``.csv``, ``.xlsx``)
- :func:`write_script` (a standalone numpy/scipy script)
- :func:`save_figure` (``.png``, ``.svg``, ``.pdf``)
- :func:`copy_results_tsv` (tab-separated text for the clipboard)
"""
from __future__ import annotations

import importlib

from lsqfit_app.report.files import checked_suffix
from lsqfit_app.report.context import MaskedRow, ReportContext
from lsqfit_app.report.exports import copy_results_tsv, export_fit

REPORT_SUFFIXES = (".html", ".pdf", ".md")

__all__ = ["REPORT_SUFFIXES", "MaskedRow", "ReportContext", "copy_results_tsv", "export_fit",
           "save_figure", "write_report", "write_script"]

# Loaded on first use: figures import matplotlib (~0.75 s), which a
# `lsqfit-app fit` that only prints text or JSON never needs.
_LAZY = {"save_figure": "lsqfit_app.report.figures", "write_script": "lsqfit_app.report.script"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def write_report(result, problem, path, context: ReportContext | None = None,
                 comparison=None) -> None:
    """Write a fit report; the format follows the suffix of ``path``.

    Parameters
    ----------
    result : FitResult
    problem : FitProblem
        The problem that was fitted (data, weights, mask, settings).
    path : str or path-like
        Ends in ``.html`` (one self-contained file), ``.pdf`` or ``.md``
        (Markdown; figures are PNG files in a folder the report owns,
        ``<name>_files/``, see :mod:`lsqfit_app.report.markdown`).
    context : ReportContext, optional
        Input file, columns and masks; :meth:`ReportContext.minimal` if None.
    comparison : list of FitResult, optional
        Other fits of the same data (model comparison, solver race), shown
        as a table and an overlay figure.

    Raises
    ------
    InputError
        Unknown suffix, or the file cannot be written.
    """
    path, suffix = checked_suffix(path, REPORT_SUFFIXES, "write a report to")
    if context is None:
        context = ReportContext.minimal(problem)
    comparison = list(comparison) if comparison else None
    if suffix == ".html":
        from lsqfit_app.report.html import write_html
        write_html(result, problem, path, context, comparison)
    elif suffix == ".pdf":
        from lsqfit_app.report.pdf import write_pdf
        write_pdf(result, problem, path, context, comparison)
    else:
        from lsqfit_app.report.markdown import write_markdown
        write_markdown(result, problem, path, context, comparison)
