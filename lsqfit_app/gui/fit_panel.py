"""The fit panel: model choice, parameter table, solver settings, Fit/Cancel.

The panel is a view of the document's current fit: what the user types or
picks is written to the :class:`~lsqfit_app.session.document.Document`
(model spec, solver settings; parameter edits through the undo stack), and
the window calls :meth:`FitPanelWidget.show_model` / :meth:`show_solver` when
the document announces a change, so a project, an undo or the command line's
settings appear here the same way.

The model is typed in one line: a library name, a sum of names
("gaussian+line") or a formula ("a*exp(-x/tau)+c").  The library list next to
it fills the line and shows the model's formula.  The document checks every
keystroke with the engine's own :func:`~lsqfit_app.models.make_model`; a
formula error is shown under the line with a caret at the position the
parser reported, and the line turns red.

The boxes scroll (a short screen still shows every parameter row and never
squeezes widgets onto each other); the Fit button stays below them, always
visible.  Its shortcuts (Ctrl+R, Esc while running) belong to the window's
Fit menu, which shows them.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QTableView, QVBoxLayout,
                               QWidget)

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.losses import LOSSES
from lsqfit_app.gui.parameter_table import ParameterTableModel
from lsqfit_app.models.registry import LIBRARY, list_library_models

#: (engine method, label shown)
SOLVERS = (("auto", "Auto"), ("closed-form", "Closed form (linear models)"),
           ("gradient-descent", "Gradient descent"), ("lbfgs", "L-BFGS"),
           ("lm", "Levenberg-Marquardt"), ("trf", "Trust-region reflective"))
_CUSTOM = "(sum or formula)"
#: parameter rows shown without scrolling inside the table (more scroll there)
VISIBLE_PARAMETER_ROWS = 8
ROW_HEIGHT = 22


class FitPanelWidget(QWidget):
    """Model, parameters and solver settings, and the Fit/Cancel button.

    Parameters
    ----------
    document : lsqfit_app.session.document.Document
    undo_stack : QUndoStack, optional
        Parameter edits become undoable commands on it.
    """

    fit_requested = Signal()
    cancel_requested = Signal()
    guess_requested = Signal()
    use_result_requested = Signal()
    #: the fit range checkbox was toggled
    range_toggled = Signal(bool)
    #: "confidence" or "prediction"
    band_kind_changed = Signal(str)

    def __init__(self, document, undo_stack=None, parent=None):
        super().__init__(parent)
        self._document = document
        self._running = False
        self.parameters = ParameterTableModel(document, undo_stack, self)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        boxes = QWidget()
        layout = QVBoxLayout(boxes)
        layout.setContentsMargins(4, 4, 4, 4)
        self.scroll.setWidget(boxes)
        outer.addWidget(self.scroll, 1)

        model_box = QGroupBox("Model")
        mlay = QVBoxLayout(model_box)
        row = QHBoxLayout()
        self.library_combo = QComboBox()
        self.library_combo.addItem(_CUSTOM)
        self.library_combo.setMaxVisibleItems(20)
        for model in list_library_models():
            self.library_combo.addItem(model.name)
            self.library_combo.setItemData(self.library_combo.count() - 1, model.formula,
                                           Qt.ToolTipRole)
        self.library_combo.setToolTip("Library models; sums such as gaussian+line can be typed")
        self.library_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.library_combo.setMinimumContentsLength(12)
        row.addWidget(QLabel("Library:"))
        row.addWidget(self.library_combo, 1)
        mlay.addLayout(row)
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("library name, sum (gaussian+line) or formula a*exp(-x/tau)+c")
        self.model_edit.setClearButtonEnabled(True)
        self.model_edit.setToolTip("A library name (gaussian), a sum of them (gaussian+line) or "
                                   "a formula in the x column and parameter names, e.g. "
                                   "a*exp(-x/tau)+c (Help > Formula language)")
        mlay.addWidget(self.model_edit)
        self.formula_label = QLabel()
        self.formula_label.setWordWrap(True)
        self.formula_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        self.formula_label.setFont(mono)
        mlay.addWidget(self.formula_label)
        layout.addWidget(model_box)

        param_box = QGroupBox("Parameters")
        play = QVBoxLayout(param_box)
        self.parameter_view = QTableView()
        self.parameter_view.setModel(self.parameters)
        self.parameter_view.verticalHeader().hide()
        self.parameter_view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.parameter_view.setEditTriggers(QAbstractItemView.AllEditTriggers)
        header = self.parameter_view.horizontalHeader()
        # ResizeToContents would re-measure every cell on each live update (~30 Hz)
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        self.parameter_view.setWordWrap(False)
        self.parameter_view.verticalHeader().setDefaultSectionSize(22)
        self.parameter_view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.parameter_view.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Minimum)
        self._fit_parameter_rows()
        self.parameters.modelReset.connect(self._on_parameters_model_reset)
        play.addWidget(self.parameter_view)
        buttons = QHBoxLayout()
        self.guess_button = QPushButton("Guess starts")
        self.guess_button.setToolTip("Find start values for the free parameters from the data "
                                     "(undoable)")
        self.use_result_button = QPushButton("Use result as start")
        self.use_result_button.setToolTip("Copy the last fit's values into the start column "
                                          "(undoable)")
        self.use_result_button.setEnabled(False)
        buttons.addWidget(self.guess_button)
        buttons.addWidget(self.use_result_button)
        play.addLayout(buttons)
        layout.addWidget(param_box)

        solver_box = QGroupBox("Solver")
        grid = QGridLayout(solver_box)
        self.solver_combo = QComboBox()
        for method, label in SOLVERS:
            self.solver_combo.addItem(label, method)
        self.solver_combo.setToolTip(
            "Auto: closed form for models linear in their parameters, else a trust-region "
            "method within the bounds. Gradient descent and L-BFGS are first-order methods: "
            "they stop on a looser test and may end a few digits from the minimum")
        self.loss_combo = QComboBox()
        for loss in LOSSES:
            self.loss_combo.addItem(loss, loss)
        self.loss_combo.setToolTip("Robust losses (huber, soft_l1, cauchy, arctan) "
                                   "down-weight outliers")
        self.iterations_spin = QSpinBox()
        self.iterations_spin.setRange(0, 10_000_000)
        self.iterations_spin.setSpecialValueText("solver default")
        self.iterations_spin.setSingleStep(100)
        self.iterations_spin.setToolTip("The most iterations the solver may take; 0 (\"solver "
                                        "default\") uses the solver's own limit. A fit that "
                                        "reaches it stops with the status max iterations")
        grid.addWidget(QLabel("Method:"), 0, 0)
        grid.addWidget(self.solver_combo, 0, 1, 1, 3)
        grid.addWidget(QLabel("Loss:"), 1, 0)
        grid.addWidget(self.loss_combo, 1, 1)
        max_label = QLabel("Max iter.:")
        max_label.setToolTip(self.iterations_spin.toolTip())
        grid.addWidget(max_label, 1, 2)
        grid.addWidget(self.iterations_spin, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        layout.addWidget(solver_box)
        layout.addStretch(1)
        # display options that act on the plots; the window shows them above the plots
        self.range_check = QCheckBox("Fit x-range")
        self.range_check.setToolTip("Fit only the points inside a draggable x-range")
        self.prediction_check = QCheckBox("Prediction band")
        self.prediction_check.setToolTip("Show the 95 % prediction band (where new "
                                         "points fall) instead of the confidence band")

        self.fit_button = QPushButton("Fit")
        self.fit_button.setMinimumHeight(34)
        bold = self.fit_button.font()
        bold.setBold(True)
        self.fit_button.setFont(bold)
        self.fit_button.setToolTip("Run the fit (Ctrl+R); while it runs, this button cancels "
                                   "it (Esc)")
        fit_row = QHBoxLayout()
        fit_row.setContentsMargins(4, 0, 4, 4)
        fit_row.addWidget(self.fit_button)
        outer.addLayout(fit_row)

        self.library_combo.activated.connect(self._on_library_combo_activated)
        self.model_edit.textChanged.connect(self._on_model_edit_text_changed)
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.guess_button.clicked.connect(self.guess_requested)
        self.use_result_button.clicked.connect(self.use_result_requested)
        self.range_check.toggled.connect(self.range_toggled)
        self.prediction_check.toggled.connect(self._on_prediction_check_toggled)
        self.solver_combo.currentIndexChanged.connect(self._on_solver_combo_changed)
        self.loss_combo.currentIndexChanged.connect(self._on_loss_combo_changed)
        self.iterations_spin.valueChanged.connect(self._on_iterations_spin_changed)
        self.show_solver()
        self.show_model()

    # ------------------------------------------------------------------ state
    @property
    def model(self):
        """The document's current valid Model, or None."""
        return self._document.model

    def model_spec(self) -> str:
        """The model spec (as the document holds it)."""
        return self._document.model_spec

    def set_model_spec(self, spec: str) -> None:
        """Put a model spec in the line (the document checks it)."""
        self.model_edit.setText(spec)
        self._sync_library_combo(spec)

    def method(self) -> str:
        """Solver method for the engine."""
        return self._document.solver.method

    def set_method(self, method: str) -> None:
        i = self.solver_combo.findData(method)
        if i >= 0:
            self.solver_combo.setCurrentIndex(i)

    def loss(self) -> str:
        return self._document.solver.loss

    def set_loss(self, loss: str) -> None:
        i = self.loss_combo.findData(loss)
        if i >= 0:
            self.loss_combo.setCurrentIndex(i)

    def max_iterations(self) -> int | None:
        """The iteration limit, None for the solver default."""
        return self._document.solver.max_iterations

    def band_kind(self) -> str:
        return "prediction" if self.prediction_check.isChecked() else "confidence"

    def set_running(self, running: bool) -> None:
        """Fit becomes Cancel while a fit runs; settings are locked meanwhile."""
        self._running = running
        self.fit_button.setText("Cancel" if running else "Fit")
        for w in (self.model_edit, self.library_combo, self.guess_button, self.use_result_button,
                  self.solver_combo, self.loss_combo, self.iterations_spin, self.parameter_view):
            w.setEnabled(not running)
        if not running:
            self.fit_button.setEnabled(self.model is not None)

    def set_result_available(self, available: bool) -> None:
        self.use_result_button.setEnabled(available and not self._running)

    # ------------------------------------------------------------------ handlers
    def _on_library_combo_activated(self, index: int) -> None:
        name = self.library_combo.itemText(index)
        if name != _CUSTOM:
            self.model_edit.setText(name)

    def _on_model_edit_text_changed(self, text: str) -> None:
        self._sync_library_combo(text)
        self._document.set_model(text)
        self.show_model()

    def _on_solver_combo_changed(self, _index: int) -> None:
        self._document.set_solver(method=self.solver_combo.currentData())

    def _on_loss_combo_changed(self, _index: int) -> None:
        self._document.set_solver(loss=self.loss_combo.currentData())

    def _on_iterations_spin_changed(self, value: int) -> None:
        self._document.set_solver(max_iterations=value or None)

    def _on_parameters_model_reset(self) -> None:
        self.parameter_view.resizeColumnsToContents()
        self.parameter_view.setColumnWidth(1, max(self.parameter_view.columnWidth(1), 80))
        self._fit_parameter_rows()

    def _fit_parameter_rows(self) -> None:
        """Room for every row (up to VISIBLE_PARAMETER_ROWS): the panel scrolls instead."""
        view = self.parameter_view
        rows = min(max(self.parameters.rowCount(), 2), VISIBLE_PARAMETER_ROWS)
        height = (rows * ROW_HEIGHT + view.horizontalHeader().sizeHint().height()
                  + 2 * view.frameWidth() + view.horizontalScrollBar().sizeHint().height())
        view.setMinimumHeight(height)
        view.setMaximumHeight(height if self.parameters.rowCount() <= rows else 16_777_215)

    def _on_fit_button_clicked(self) -> None:
        if self._running:
            self.cancel_requested.emit()
        else:
            self.fit_requested.emit()

    def _on_prediction_check_toggled(self, _on: bool) -> None:
        self.band_kind_changed.emit(self.band_kind())

    def _sync_library_combo(self, spec: str) -> None:
        i = self.library_combo.findText(spec.strip().lower()) if spec.strip().lower() in LIBRARY else 0
        self.library_combo.blockSignals(True)
        self.library_combo.setCurrentIndex(max(i, 0))
        self.library_combo.blockSignals(False)

    # ------------------------------------------------------------------ the document
    def show_solver(self) -> None:
        """Show the document's solver settings (no change is written back)."""
        settings = self._document.solver
        for combo, value in ((self.solver_combo, settings.method),
                             (self.loss_combo, settings.loss)):
            i = combo.findData(value)
            if i >= 0 and i != combo.currentIndex():
                combo.blockSignals(True)
                combo.setCurrentIndex(i)
                combo.blockSignals(False)
        want = settings.max_iterations or 0
        if self.iterations_spin.value() != want:
            self.iterations_spin.blockSignals(True)
            self.iterations_spin.setValue(want)
            self.iterations_spin.blockSignals(False)

    def show_model(self) -> None:
        """Show the document's model spec, its formula and parameters, or what is wrong."""
        doc = self._document
        spec = doc.model_spec
        if self.model_edit.text().strip() != spec:
            self.model_edit.blockSignals(True)
            self.model_edit.setText(spec)
            self.model_edit.blockSignals(False)
            self._sync_library_combo(spec)
        model = doc.model
        self.fit_button.setEnabled(model is not None and not self._running)
        if not spec:
            # nothing typed yet is not an error: a neutral hint, not red
            self.model_edit.setStyleSheet("")
            self.formula_label.setStyleSheet("color: #555;")
            self.formula_label.setText("Choose a library model or type a formula in the "
                                       "column names, e.g. a*exp(-x/tau)+c")
            return
        if model is None:
            exc = doc.model_error
            if isinstance(exc, FormulaError):
                self._show_error(exc.reason, spec, exc.position)
            else:
                self._show_error(str(exc) if exc is not None else "not a valid model", spec, None)
            return
        self.model_edit.setStyleSheet("")
        names = ", ".join(model.param_names)
        self.formula_label.setStyleSheet("color: #225;")
        self.formula_label.setText(f"y = {model.formula}\nparameters: {names}")

    def _show_error(self, message: str, text: str, position: int | None) -> None:
        self.model_edit.setStyleSheet("QLineEdit { background: #ffe6e6; }")
        self.formula_label.setStyleSheet("color: #b00000;")
        if position is not None and text:
            caret = " " * position + "^"
            self.formula_label.setText(f"{text}\n{caret}\n{message} (character {position + 1})")
        else:
            self.formula_label.setText(message)
