"""The "Add computed column" dialog: a name and a formula of columns, checked as typed.

The formula is compiled on every keystroke (cheap: no rows are visited) and
evaluated on the first :data:`PREVIEW_ROWS` rows only, so the dialog stays
quick on a million-row table; the whole column is computed once, on OK, by
the undo command.
"""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QVBoxLayout)

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.expression_parser import compile_column_expression
from lsqfit_app.core.table import Table
from lsqfit_app.gui.table_model import format_cell

#: rows the preview line evaluates
PREVIEW_ROWS = 5


def formula_problem(table: Table, text: str) -> FormulaError | None:
    """Why ``text`` is not a valid expression of ``table``'s columns (None when it is)."""
    try:
        compile_column_expression(text, table.identifier_names().keys())
    except FormulaError as exc:
        return exc
    return None


def name_problem(table: Table, name: str) -> str | None:
    """Why ``name`` cannot name a new column of ``table`` (None when it can)."""
    name = name.strip()
    if not name:
        return "give the new column a name"
    if name in table.names:
        return f"a column named {name!r} exists already"
    return None


class ComputedColumnDialog(QDialog):
    """Ask for the name and the formula of a computed column.

    Parameters
    ----------
    table : Table
        The table the column is added to (read only here).
    parent : QWidget, optional
    """

    def __init__(self, table: Table, parent=None):
        super().__init__(parent)
        self.table = table
        self.setWindowTitle("Add computed column")
        layout = QVBoxLayout(self)
        ids = table.identifier_names()
        shown = ", ".join(ident if ident == name else f"{ident} ({name})"
                          for ident, name in ids.items())
        intro = QLabel("The new column is computed from other columns and recomputed when "
                       f"they change.<br>Columns: <b>{html.escape(shown) or '(none)'}</b><br>"
                       "Functions: exp, log, log10, sqrt, sin, cos, tan, abs, … "
                       "e.g. <tt>log(y)</tt>, <tt>1/sigma**2</tt>")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. log_y")
        self.formula_edit = QLineEdit()
        self.formula_edit.setPlaceholderText("e.g. log(y)")
        form.addRow("Name [unit]:", self.name_edit)
        form.addRow("Formula:", self.formula_edit)
        layout.addLayout(form)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextFormat(self.problem_label.textFormat().RichText)
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Add column")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._check)
        self.formula_edit.textChanged.connect(self._check)
        self.resize(520, self.sizeHint().height())
        self._check()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def formula(self) -> str:
        return self.formula_edit.text().strip()

    def _check(self, *_args) -> None:
        """Say what is wrong (with the position in the formula) or show the first values."""
        from lsqfit_app.core.table import split_unit
        ok = self.buttons.button(QDialogButtonBox.Ok)
        problem = formula_problem(self.table, self.formula()) if self.formula() else None
        name_issue = name_problem(self.table, split_unit(self.name())[0] if self.name() else "")
        if problem is not None:
            self.problem_label.setText(_problem_html(problem))
        elif not self.formula():
            self.problem_label.setText("Type a formula of the columns above.")
        elif name_issue:
            self.problem_label.setText(f"<span style='color:#b00000'>{html.escape(name_issue, quote=False)}"
                                       "</span>")
        else:
            self.problem_label.setText(self._preview())
        ok.setEnabled(problem is None and bool(self.formula()) and name_issue is None)

    def _preview(self) -> str:
        """The formula's values in the first rows (or why they cannot be computed)."""
        n = min(PREVIEW_ROWS, self.table.n_rows)
        if n == 0:
            return "The table has no rows yet."
        head = Table.from_columns(self.table.names,
                                  [self.table.column(i + 1).values[:n]
                                   for i in range(self.table.n_columns)])
        try:
            values = head.evaluate(self.formula())
        except (FormulaError, ValueError, TypeError) as exc:
            return f"<span style='color:#b00000'>{html.escape(str(exc), quote=False)}</span>"
        shown = ", ".join(format_cell(float(v)) if np.isfinite(v) else str(v) for v in values)
        return f"First values: {html.escape(shown)}{' …' if self.table.n_rows > n else ''}"


def _problem_html(exc: FormulaError) -> str:
    """The error with the formula and a caret under the place it names."""
    reason = html.escape(exc.reason, quote=False)
    if exc.position is None or not exc.text:
        return f"<span style='color:#b00000'>{reason}</span>"
    pointer = "&nbsp;" * exc.position + "^"
    text = html.escape(exc.text).replace(" ", "&nbsp;")
    return (f"<span style='color:#b00000'>{reason} (at character {exc.position + 1})</span>"
            f"<pre style='margin:0'>{text}\n{pointer}</pre>")
