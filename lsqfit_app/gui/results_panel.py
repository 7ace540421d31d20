"""The results panel: parameters with errors, statistics, the uncertainty note.

Everything shown comes from a :class:`~lsqfit_app.core.result.FitResult`;
"Copy as text" uses the report module's :func:`format_result` (the same text
as the CLI), "Copy as TSV" gives a parameter table that pastes into a
spreadsheet.
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from lsqfit_app.core.result import FitResult, FitStatus
from lsqfit_app.report.content import sse_label
from lsqfit_app.report.text import fmt, format_result

HEADERS = ("parameter", "value", "std error", "95% CI low", "95% CI high", "t", "p", "note")
#: the columns shown (t is in the tooltip of p; Copy as TSV has them all)
SHOWN = ("parameter", "value", "std error", "95% CI", "p", "note")


def result_tsv(result: FitResult) -> str:
    """Parameters and statistics as tab-separated text (full precision)."""
    lines = ["\t".join(HEADERS)]
    for p in result.parameters:
        note = "fixed" if p.fixed else ("at bound" if p.at_bound else p.stderr_note)
        lines.append("\t".join([p.name, repr(p.value), _num(p.stderr), _num(p.ci95[0]),
                                _num(p.ci95[1]), _num(p.t_value), _num(p.p_value), note or ""]))
    s = result.statistics
    lines.append("")
    for name in ("n", "n_used", "n_excluded", "n_missing", "dof", "sse", "rmse", "residual_sd",
                 "r_squared", "adj_r_squared", "chi_squared", "reduced_chi_squared",
                 "aic", "aicc", "bic"):
        lines.append(f"{name}\t{_num(getattr(s, name))}")
    return "\n".join(lines) + "\n"


def _num(v) -> str:
    if v is None:
        return ""
    v = float(v)
    return "" if math.isnan(v) else repr(v)


class ResultsPanelWidget(QWidget):
    """Shows one FitResult."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._result: FitResult | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.status_label = QLabel("No fit yet.")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.table = QTableWidget(0, len(SHOWN))
        self.table.setHorizontalHeaderLabels(SHOWN)
        self.table.horizontalHeaderItem(3).setToolTip(
            "95% confidence interval: value ± t(0.975, dof) × std error")
        self.table.setMinimumHeight(150)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        # the names take what the numbers leave (elided in the middle, full in
        # the tooltip), so the numbers never scroll out of a narrow panel
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setMinimumSectionSize(40)
        header.setStretchLastSection(False)
        self.table.setTextElideMode(Qt.ElideMiddle)
        layout.addWidget(self.table, 1)
        self.statistics_label = QLabel()
        self.statistics_label.setWordWrap(True)
        self.statistics_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.statistics_label)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #444; font-style: italic;")
        layout.addWidget(self.note_label)
        buttons = QHBoxLayout()
        self.copy_text_button = QPushButton("Copy as text")
        self.copy_tsv_button = QPushButton("Copy as TSV")
        for b in (self.copy_text_button, self.copy_tsv_button):
            b.setEnabled(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.copy_text_button.clicked.connect(self._on_copy_text_button_clicked)
        self.copy_tsv_button.clicked.connect(self._on_copy_tsv_button_clicked)

    @property
    def result(self) -> FitResult | None:
        return self._result

    def set_message(self, text: str, error: bool = False) -> None:
        """A status line (a running fit, an error)."""
        self.status_label.setStyleSheet("color: #b00000;" if error else "")
        self.status_label.setText(text)

    def set_result(self, result: FitResult | None) -> None:
        """Show a result (None clears)."""
        self._result = result
        for b in (self.copy_text_button, self.copy_tsv_button):
            b.setEnabled(result is not None)
        if result is None:
            self.table.setRowCount(0)
            self.statistics_label.clear()
            self.note_label.clear()
            self.set_message("No fit yet.")
            return
        ok = result.status is FitStatus.CONVERGED
        color = "#1a7f1a" if ok else "#b06000"
        self.status_label.setStyleSheet(f"color: {color};")
        self.status_label.setText(
            f"<b>{result.status.value.replace('_', ' ')}</b> — {result.message}<br>"
            f"{result.solver}, {result.iterations} iterations, {result.evaluations} "
            f"evaluations, {result.elapsed:.3g} s")
        self.table.setRowCount(len(result.parameters))
        for i, p in enumerate(result.parameters):
            note = "fixed" if p.fixed else ("at bound" if p.at_bound else p.stderr_note)
            ci = "fixed" if p.fixed else f"[{fmt(p.ci95[0], 4)}, {fmt(p.ci95[1], 4)}]"
            cells = [p.name, fmt(p.value, 8), fmt(p.stderr, 3), ci, _p_text(p.p_value), note or ""]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 0 < j < 5:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if j == 0:
                    item.setToolTip(text)
                if j == 4:
                    item.setToolTip(f"t = {fmt(p.t_value, 4)}")
                if j == 5 and text:
                    item.setToolTip(text)
                self.table.setItem(i, j, item)
        # the note column only when there is a note: the table then fits the
        # panel without scrolling sideways at common window widths
        notes = any(self.table.item(i, 5).text() for i in range(self.table.rowCount()))
        self.table.setColumnHidden(5, not notes)
        s = result.statistics
        parts = [f"points used {s.n_used} of {s.n} (excluded {s.n_excluded}, missing {s.n_missing}),"
                 f" dof {s.dof}",
                 f"{sse_label(s)[0]} {fmt(s.sse, 6)}   RMSE {fmt(s.rmse, 4)}   "
                 f"residual SD {fmt(s.residual_sd, 4)}",
                 f"R² {fmt(s.r_squared, 8)}"
                 f"{'' if s.r_squared_centered else ' (uncentred: through the origin)'}"
                 f"   adj. R² {fmt(s.adj_r_squared, 8)}"]
        if s.rank < s.n_free:
            parts[0] += f", rank {s.rank} of {s.n_free} free parameters"
        # the weighted SSE is the χ² with absolute sigma: shown once, above
        if s.reduced_chi_squared is not None:
            parts.append(f"reduced χ² {fmt(s.reduced_chi_squared, 4)}")
        parts.append(f"AIC {fmt(s.aic, 6)}   AICc {fmt(s.aicc, 6)}   BIC {fmt(s.bic, 6)}")
        self.statistics_label.setText("\n".join(parts))
        self.note_label.setText(result.uncertainty_note)

    def _on_copy_text_button_clicked(self) -> None:
        if self._result is not None:
            QGuiApplication.clipboard().setText(format_result(self._result))

    def _on_copy_tsv_button_clicked(self) -> None:
        if self._result is not None:
            QGuiApplication.clipboard().setText(result_tsv(self._result))


def _p_text(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 1e-16" if p < 1e-16 else fmt(p, 3)
