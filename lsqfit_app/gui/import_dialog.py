"""The import preview: what the detection found, with overrides and a live preview.

The dialog calls :func:`lsqfit_app.io.read_table` (the same detection the
CLI's ``table`` command shows) and re-reads the file whenever an override
changes, so the preview is always exactly what Open will load.  Only the
first :data:`PREVIEW_ROWS` rows are shown; the table itself stays a numpy
table.
"""
from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout)

from lsqfit_app.core.errors import InputError
from lsqfit_app.gui.table_model import format_cell, header_label

PREVIEW_ROWS = 50
_AUTO = "detect"
DELIMITERS = ((_AUTO, None), ("comma ,", ","), ("semicolon ;", ";"), ("tab", "\t"),
              ("bar |", "|"), ("spaces", " "))
DECIMALS = ((_AUTO, None), ("point .", "."), ("comma ,", ","))


class ImportDialog(QDialog):
    """Preview a data file before opening it.

    Parameters
    ----------
    path : str
        The file to read.
    parent : QWidget, optional

    Attributes
    ----------
    result : ReadResult or None
        The table as read with the current settings (None after an error).
    """

    def __init__(self, path: str, parent=None):
        super().__init__(parent)
        self.path = path
        self.result = None
        self.setWindowTitle(f"Import {os.path.basename(path)} - lsqfit-app")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        self.dialect_label = QLabel()
        self.dialect_label.setWordWrap(True)
        layout.addWidget(self.dialect_label)

        form = QFormLayout()
        row = QHBoxLayout()
        self.delimiter_combo = QComboBox()
        for label, value in DELIMITERS:
            self.delimiter_combo.addItem(label, value)
        self.decimal_combo = QComboBox()
        for label, value in DECIMALS:
            self.decimal_combo.addItem(label, value)
        self.header_spin = QSpinBox()
        self.header_spin.setRange(-1, 3)
        self.header_spin.setSpecialValueText(_AUTO)
        self.header_spin.setValue(-1)
        self.skip_spin = QSpinBox()
        self.skip_spin.setRange(-1, 10_000)
        self.skip_spin.setSpecialValueText(_AUTO)
        self.skip_spin.setValue(-1)
        self.sheet_combo = QComboBox()
        self.sheet_combo.addItem(_AUTO, None)
        for label, widget in (("Delimiter", self.delimiter_combo), ("Decimal", self.decimal_combo),
                              ("Header rows", self.header_spin), ("Skip lines", self.skip_spin)):
            row.addWidget(QLabel(label + ":"))
            row.addWidget(widget)
        form.addRow(row)
        form.addRow("Sheet:", self.sheet_combo)
        layout.addLayout(form)
        self.kind = file_kind(path)
        # only what applies to this kind of file can be changed: cells of a workbook
        # are typed (no delimiter or decimal sign), a text file has no sheets
        text = self.kind == "text"
        for widget, tip in ((self.delimiter_combo, "The character between fields"),
                            (self.decimal_combo, "The decimal sign of the numbers")):
            widget.setEnabled(text)
            widget.setToolTip(tip if text else "Workbook cells hold numbers, not text: "
                              "there is no delimiter or decimal sign to choose")
        self.sheet_combo.setEnabled(not text)
        self.sheet_combo.setToolTip("The worksheet to read" if not text else
                                    "Text files have no sheets")
        self.header_spin.setToolTip("Rows above the data: 1 gives the names, 2 names and units")
        self.skip_spin.setToolTip("Lines (rows) before the header or the data, not read")

        self.preview = QTableWidget()
        self.preview.setEditTriggers(QTableWidget.NoEditTriggers)
        self.preview.verticalHeader().setDefaultSectionSize(20)
        layout.addWidget(self.preview, 1)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #9a5b00;")
        layout.addWidget(self.problems_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        # re-read once the user stops changing settings, not on every spin step
        self._reread_timer = QTimer(self)
        self._reread_timer.setSingleShot(True)
        self._reread_timer.setInterval(150)
        self._reread_timer.timeout.connect(self.reread)
        for combo in (self.delimiter_combo, self.decimal_combo, self.sheet_combo):
            combo.currentIndexChanged.connect(self._on_setting_changed)
        for spin in (self.header_spin, self.skip_spin):
            spin.valueChanged.connect(self._on_setting_changed)
        self.reread()

    def options(self) -> dict:
        """The overrides chosen (only the fields not left to detection)."""
        out = {}
        if self.delimiter_combo.currentData() is not None:
            out["delimiter"] = self.delimiter_combo.currentData()
        if self.decimal_combo.currentData() is not None:
            out["decimal"] = self.decimal_combo.currentData()
        if self.header_spin.value() >= 0:
            out["header_rows"] = self.header_spin.value()
        if self.skip_spin.value() >= 0:
            out["skip_rows"] = self.skip_spin.value()
        if self.sheet_combo.currentData() is not None:
            out["sheet"] = self.sheet_combo.currentData()
        return out

    def _on_setting_changed(self, *_args) -> None:
        self._reread_timer.start()

    def reread(self) -> None:
        """Read the file with the current overrides and refresh the preview."""
        from lsqfit_app.io import read_table
        try:
            result = read_table(self.path, **self.options())
        except InputError as exc:
            self.result = None
            self.dialect_label.setText(f"<span style='color:#b00000'>{exc}</span>")
            self.preview.clear()
            self.preview.setRowCount(0)
            self.buttons.button(QDialogButtonBox.Open).setEnabled(False)
            return
        self.result = result
        self.buttons.button(QDialogButtonBox.Open).setEnabled(True)
        given = [_FIELD_WORDS[f] for f in result.dialect.overridden if f in _FIELD_WORDS]
        chosen = f"<br>Set by you: {', '.join(given)}" if given else ""
        self.dialect_label.setText(
            f"<b>{html.escape(result.dialect.describe(len(result.sheets or ())), quote=False)}</b>{chosen}<br>"
            f"{result.table.n_rows} rows × {result.table.n_columns} columns")
        if self.kind == "workbook" and result.sheet:
            # "detect" alone hides which sheet the detection took
            self.sheet_combo.setItemText(0, f"{_AUTO} ({result.sheet})")
        if result.sheets and self.sheet_combo.count() == 1:
            self.sheet_combo.blockSignals(True)
            for name in result.sheets:
                self.sheet_combo.addItem(name, name)
            self.sheet_combo.blockSignals(False)
        self._fill_preview(result)

    def _fill_preview(self, result) -> None:
        table = result.table
        rows = min(PREVIEW_ROWS, table.n_rows)
        self.preview.clear()
        self.preview.setColumnCount(table.n_columns)
        self.preview.setRowCount(rows)
        self.preview.setHorizontalHeaderLabels([header_label(c.name, c.unit) for c in table.columns()])
        bad = {(p.index, p.column) for p in result.problems}
        for j, info in enumerate(table.columns()):
            for i in range(rows):
                text = (str(info.text[i]) if info.text is not None and not info.numeric
                        else format_cell(float(info.values[i])))
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if (i, info.name) in bad:
                    item.setBackground(Qt.yellow)
                    item.setToolTip("not a number in the file: left empty")
                self.preview.setItem(i, j, item)
        notes = list(result.notes)
        if result.n_problems:
            first = result.problems[0]
            notes.insert(0, f"{result.n_problems} cells are not numbers and will be empty "
                            f"(first: {first})")
        self.problems_label.setText("\n".join(notes))


#: the dialect's fields in the words of the dialog
_FIELD_WORDS = {"delimiter": "delimiter", "decimal": "decimal sign",
                "thousands": "thousands separator", "header_rows": "header rows",
                "skip_rows": "lines skipped", "encoding": "encoding", "sheet": "sheet"}
def file_kind(path: str) -> str:
    """``"workbook"`` or ``"text"``: the reader the registry picks for ``path``."""
    from lsqfit_app.io.registry import find_reader
    try:
        return find_reader(path).name
    except OSError:
        return "text"


