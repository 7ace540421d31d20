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
    def export_report(self, path: str | None = None) -> bool:
        from lsqfit_app.report import write_report

        ready = self._ready()
        if ready is None:
            return False
        path = path or self._ask_path("Export report", REPORT_FILTER, ".html")
        if not path:
            return False
        result, problem = ready
        try:
            write_report(result, problem, path, context=self._context(problem),
                         comparison=self._comparison(result))
        except (InputError, OSError) as exc:
            self._failed("report", exc)
            return False
        self._done("the report", path)
        return True

    def export_fitted_data(self, path: str | None = None) -> bool:
        from lsqfit_app.report import export_fit

        ready = self._ready()
        if ready is None:
            return False
        path = path or self._ask_path("Export fitted data", DATA_FILTER, ".csv")
        if not path:
            return False
        try:
            export_fit(*ready, path)
        except (InputError, OSError) as exc:
            self._failed("fitted data", exc)
            return False
        self._done("the fitted data", path)
        return True

    def export_script(self, path: str | None = None) -> bool:
        from lsqfit_app.report import write_script

        ready = self._ready()
        if ready is None:
            return False
        path = path or self._ask_path("Export reproducing script", SCRIPT_FILTER, ".py")
        if not path:
            return False
        result, problem = ready
        try:
            write_script(result, problem, path, context=self._context(problem))
        except (InputError, OSError) as exc:
            self._failed("script", exc)
            return False
        self._done("a script that reproduces the fit", path)
        return True

    def export_plot(self, path: str | None = None, dpi: int | None = None) -> bool:
        from lsqfit_app.report import save_figure

        ready = self._ready()
        if ready is None:
            return False
        path = path or self._ask_path("Export plot", PLOT_FILTER, ".png")
        if not path:
            return False
        if dpi is None and path.lower().endswith(".png"):
            dpi, ok = QInputDialog.getInt(self.window, "Export plot", "Resolution (dots per inch):",
                                          300, 50, 1200, 50)
            if not ok:
                return False
        try:
            save_figure(*ready, path, dpi=dpi or 300, kind="fit_residuals")
        except (InputError, OSError) as exc:
            self._failed("plot", exc)
            return False
        self._done("the plot", path)
        return True

    def copy_results(self) -> bool:
        from lsqfit_app.report import copy_results_tsv

        ready = self._ready()
        if ready is None:
            return False
        QApplication.clipboard().setText(copy_results_tsv(ready[0]))
        self.window.show_message("Copied the results as a table (paste into a spreadsheet)")
        return True
