"""File > Export: report, fitted data, reproducing script, plot image; copy results.

Thin GUI adapters over :mod:`lsqfit_app.report` (which has no Qt): each asks
for a path, writes in the GUI thread (a report takes well under a second for
ordinary data) and says in the status line what was written or why not.
"""
from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog

from lsqfit_app.core.errors import InputError

REPORT_FILTER = "HTML report (*.html);;PDF report (*.pdf);;Markdown (*.md)"
DATA_FILTER = "CSV (*.csv);;Excel workbook (*.xlsx)"
SCRIPT_FILTER = "Python script (*.py)"
PLOT_FILTER = "PNG image (*.png);;SVG image (*.svg);;PDF (*.pdf)"
_SUFFIX = {"HTML": ".html", "PDF report": ".pdf", "Markdown": ".md", "CSV": ".csv",
           "Excel": ".xlsx", "Python": ".py", "PNG": ".png", "SVG": ".svg", "PDF (": ".pdf"}


class _Cancelled(Exception):
    """The user cancelled a follow-up question (e.g. the resolution)."""


class ExportActions:
    """Export commands for a main window (which provides result, problem and source)."""

    def __init__(self, window):
        self.window = window

    # -- helpers ---------------------------------------------------------
    def _ready(self):
        w = self.window
        result, problem = w.result, w.result_problem
        if result is None or problem is None:
            w.show_message("Nothing to export yet: fit a model first.", error=True)
            return None
        return result, problem

    def _ask_path(self, title: str, filters: str, default_suffix: str) -> str | None:
        w = self.window
        base = os.path.splitext(w.source_name or "fit")[0]
        start = os.path.join(os.path.dirname(w.source_path or "") or os.getcwd(),
                             base + default_suffix)
        path, chosen = QFileDialog.getSaveFileName(w, title, start, filters)
        if not path:
            return None
        if not os.path.splitext(path)[1]:
            for key, suffix in _SUFFIX.items():
                if chosen.startswith(key):
                    path += suffix
                    break
        return path

    def _context(self, problem):
        from lsqfit_app.report import ReportContext

        w = self.window
        context = ReportContext.from_read(w.source_read, problem, source=w.source_path,
                                          fit_range=w.fit_range)
        if w.data_edited:
            context = replace(context, notes=context.notes + (
                "The data were edited in lsqfit-app after reading the file; the checksum "
                "is that of the file as read.",))
        return context

    def _comparison(self, result):
        """Results of the last model comparison or solver race, for the report (or None)."""
        dialog = getattr(self.window, "_compare_dialog", None)
        if dialog is None:
            return None
        others = []
        if dialog.comparison is not None:
            others += [r for r in dialog.comparison.results if r is not result]
        if dialog.race_results:
            others += [r for r in dialog.race_results if r is not result]
        return others or None

    def _done(self, what: str, path: str) -> None:
        self.window.show_message(f"Wrote {what} to {path}")

    def _failed(self, what: str, exc: Exception) -> None:
        self.window.show_message(f"Could not write the {what}: {exc}", error=True)

    # -- commands --------------------------------------------------------
    def _export(self, what: str, title: str, filters: str, suffix: str, write,
                path: str | None) -> bool:
        """The shared steps: a result to export, a path, write, say what happened."""
        ready = self._ready()
        if ready is None:
            return False
        path = path or self._ask_path(title, filters, suffix)
        if not path:
            return False
        try:
            write(*ready, path)
        except _Cancelled:
            return False
        except (InputError, OSError) as exc:
            self._failed(what, exc)
            return False
        self._done(f"the {what}", path)
        return True

    def export_report(self, path: str | None = None) -> bool:
        from lsqfit_app.report import write_report

        def write(result, problem, target):
            write_report(result, problem, target, context=self._context(problem),
                         comparison=self._comparison(result))

        return self._export("report", "Export report", REPORT_FILTER, ".html", write, path)

    def export_fitted_data(self, path: str | None = None) -> bool:
        from lsqfit_app.report import export_fit

        return self._export("fitted data", "Export fitted data", DATA_FILTER, ".csv",
                            export_fit, path)

    def export_script(self, path: str | None = None) -> bool:
        from lsqfit_app.report import write_script

        def write(result, problem, target):
            write_script(result, problem, target, context=self._context(problem))

        return self._export("script that reproduces the fit", "Export reproducing script",
                            SCRIPT_FILTER, ".py", write, path)

    def export_plot(self, path: str | None = None, dpi: int | None = None) -> bool:
        from lsqfit_app.report import save_figure

        def write(result, problem, target):
            resolution = dpi
            if resolution is None and target.lower().endswith(".png"):
                resolution, ok = QInputDialog.getInt(
                    self.window, "Export plot", "Resolution (dots per inch):", 300, 50, 1200, 50)
                if not ok:
                    raise _Cancelled
            save_figure(result, problem, target, dpi=resolution or 300, kind="fit_residuals")

        return self._export("plot", "Export plot", PLOT_FILTER, ".png", write, path)

    def copy_results(self) -> bool:
        from lsqfit_app.report import copy_results_tsv

        ready = self._ready()
        if ready is None:
            return False
        QApplication.clipboard().setText(copy_results_tsv(ready[0]))
        self.window.show_message("Copied the results as a table (paste into a spreadsheet)")
        return True
