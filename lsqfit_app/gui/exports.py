"""File > Export: report, fitted data, reproducing script, plot image; copy results.

Thin GUI adapters over :mod:`lsqfit_app.report` (which has no Qt): each asks
for a path, writes in the GUI thread (a report takes well under a second for
ordinary data) and says in the status line what was written or why not.

A result that is out of date (the data or settings changed after it was
computed) is never exported as if it were current: the user is asked to
refit first or to export it as it is, and a report or script then carries a
line saying it is out of date and why.
"""
from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from lsqfit_app.core.errors import InputError
from lsqfit_app.session.events import stale_text

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
        #: the question asked before exporting an out-of-date result (tests answer it)
        self.stale_question: QMessageBox | None = None

    # -- helpers ---------------------------------------------------------
    def stale_note(self) -> str | None:
        """The line an export of an out-of-date result carries (None when it is current)."""
        doc = self.window.document
        if doc.result is None or doc.result_current:
            return None
        return (f"OUT OF DATE: {stale_text(doc.stale_reasons)} in lsqfit-app after this fit. "
                "The numbers here are those of that fit, not of the data and settings now "
                "shown; refit for current results.")

    def _ready(self, what: str = "results"):
        w = self.window
        result, problem = w.result, w.result_problem
        if result is None or problem is None:
            w.show_message("Nothing to export yet: fit a model first.", error=True)
            return None
        if self.stale_note() is not None and not self._export_stale(what):
            return None
        return result, problem

    def _export_stale(self, what: str) -> bool:
        """Ask before exporting an out-of-date result: True to export it as it is."""
        w = self.window
        reasons = stale_text(w.document.stale_reasons)
        if w._quiet:
            w.show_message(f"Exporting an out-of-date result ({reasons} since the fit)",
                           error=True)
            return True
        box = QMessageBox(QMessageBox.Warning, "Out-of-date result",
                          f"The result is out of date: {reasons} since this fit.\n\n"
                          f"Refit before exporting the {what}, or export the old result "
                          "(it will say that it is out of date)?", QMessageBox.Cancel, w)
        refit = box.addButton("Refit", QMessageBox.AcceptRole)
        anyway = box.addButton("Export the old result", QMessageBox.DestructiveRole)
        box.setDefaultButton(refit)
        self.stale_question = box
        try:
            box.exec()
        finally:
            self.stale_question = None
        clicked = box.clickedButton()
        if clicked is refit:
            w.start_fit()
            w.show_message(f"Refitting; export the {what} when the fit has finished")
            return False
        return clicked is anyway

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
        stale = self.stale_note()
        if stale is not None:
            context = replace(context, notes=(stale,) + context.notes)
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
        ready = self._ready(what)
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

        ready = self._ready("results")
        if ready is None:
            return False
        stale = self.stale_note()
        QApplication.clipboard().setText((f"{stale}\n" if stale else "")
                                         + copy_results_tsv(ready[0]))
        self.window.show_message("Copied the results as a table (paste into a spreadsheet)")
        return True
