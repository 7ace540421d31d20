"""Compare models and race solvers side by side, in the background.

Two tabs share one background runner:

* **Models**: several library models or formulas fitted to the same data
  concurrently (``lsqfit_app.solvers.compare.compare_models``), ranked by AICc with
  Akaike weights, BIC, adjusted R^2, residual SD, a runs test, and the F test
  for nested pairs; overlaid curves and residuals; "Use as current fit".
* **Solver race**: the same problem and start, every applicable solver
  concurrently (``lsqfit_app.solvers.compare.race``), with their objective histories
  overlaid live on a log scale and a table of iterations, evaluations, time,
  final SSE and status.  It makes visible why gradient descent crawls where
  LM converges in a dozen iterations.

Threading: a :class:`~lsqfit_app.gui.job_runner.JobRunner` runs the Qt-free
job off the GUI thread; the job's per-iteration callback (worker threads, many
of them) only appends to a thread-safe queue, which a GUI-thread timer drains
at ~30 Hz; one CancelToken stops every fit; closing cancels and waits.
"""
from __future__ import annotations

import queue
from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDialog, QFrame, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QListWidget, QMessageBox, QPushButton, QScrollArea, QSpinBox, QSplitter, QTableWidget,
    QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

import pyqtgraph as pg  # noqa: E402  (PySide6 first: pyqtgraph picks the binding it finds)

from lsqfit_app.core.errors import InputError
from lsqfit_app.gui.job_runner import JobRunner
from lsqfit_app.gui.plot_axes import LogLabelAxis
from lsqfit_app.gui.plot_legend import PlotLegend
from lsqfit_app.report.text import fmt

POLL_MS = 33
SOLVER_COLORS = {"closed-form": "#7f7f7f", "gradient-descent": "#d62728", "lbfgs": "#9467bd",
                 "lm": "#1f77b4", "trf": "#2ca02c"}
MODEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


#: the ranking's columns and what each says (header tooltips)
RANKING_COLUMNS = [
    ("model", "The model: a library name, a sum such as gaussian+line, or a formula"),
    ("k", "Number of free parameters"),
    ("AICc", "Akaike information criterion with the small-sample correction: lower is better"),
    ("ΔAICc", "AICc minus the best model's AICc: above ~4 the model has clearly less support"),
    ("weight", "Akaike weight: the probability that this is the best of the listed models"),
    ("BIC", "Bayesian information criterion: lower is better; penalises parameters more "
            "than AICc"),
    ("adj. R²", "R² adjusted for the number of parameters: closer to 1 is better"),
    ("residual SD", "Standard deviation of the residuals, sqrt(SSE / (n - k)), in y units"),
    ("runs-test p", "p-value of the Wald-Wolfowitz runs test on the signs of the residuals. "
                    "Small (below 0.05): the residuals come in long runs of one sign, so the "
                    "model misses a systematic shape in the data"),
    ("converged", "Whether the solver met its convergence test"),
]
#: the row shown for closed form when the model is not linear in its parameters
CLOSED_FORM_NA = "not applicable (the model is not linear in its parameters)"


def _race_caption(problem) -> str:
    """Which problem the race runs: model, formula, points and where it starts."""
    model = problem.model
    n = int(np.count_nonzero(problem.used))
    formula = getattr(model, "formula", "")
    text = f"Racing the solvers on the current fit: model {model.name}"
    if formula and formula != model.name:
        text += f" (y = {formula})"
    return text + f", {n} points, from the current start values."


class CompareDialog(QDialog):
    """The comparison and race window.

    Parameters
    ----------
    make_problem : callable(spec) -> FitProblem
        Builds a problem for a model spec from the current table, roles,
        weights and mask (the main window passes its own builder).
    current_problem : callable() -> FitProblem
        The problem of the current fit, for the solver race.
    """

    #: a model chosen as the current fit: (spec, FitResult)
    model_chosen = Signal(str, object)
    #: True while a comparison or race runs
    running_changed = Signal(bool)

    def __init__(self, make_problem: Callable, current_problem: Callable, parent=None,
                 models: Sequence[str] = ("poly1", "poly2", "poly3")):
        super().__init__(parent)
        self.setWindowTitle("Compare models and solvers - lsqfit-app")
        self.resize(1200, 760)
        self._make_problem = make_problem
        self._current_problem = current_problem
        self._runner = JobRunner(self)
        self._runner.finished.connect(self._on_runner_finished)
        self._runner.failed.connect(self._on_runner_failed)
        self._progress: queue.SimpleQueue | None = None
        self._kind = ""
        self._race_curves: dict[int, pg.PlotDataItem] = {}
        self._race_histories: dict[int, list[float]] = {}
        self._race_methods: list[str] = []
        self._model_states: dict = {}
        self._specs: list[str] = []
        self.comparison = None
        self.race_results = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_models_tab(models), "Models")
        self.tabs.addTab(self._build_race_tab(), "Solver race")
        self.status = QLabel("Choose models and press Run.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)

    # ------------------------------------------------------------------ layout
    def _build_models_tab(self, models) -> QWidget:
        page = QWidget()
        left = QVBoxLayout()
        left.addWidget(QLabel("Models (library names, sums such as gaussian+line, or formulas):"))
        self.model_list = QListWidget()
        self.model_list.addItems(list(models))
        left.addWidget(self.model_list)
        row = QHBoxLayout()
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("e.g. gaussian+poly0 or a*exp(-x/tau)+c")
        self.model_edit.returnPressed.connect(self._on_add_clicked)
        add = QPushButton("Add")
        add.clicked.connect(self._on_add_clicked)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._on_remove_clicked)
        row.addWidget(self.model_edit)
        row.addWidget(add)
        row.addWidget(remove)
        left.addLayout(row)
        self.nested_edit = QLineEdit()
        self.nested_edit.setPlaceholderText("nested pairs for the F test, e.g. A<B; C<D "
                                            "(polynomials and sums are detected)")
        left.addWidget(self.nested_edit)
        self.run_models_button = QPushButton("Run comparison")
        self.run_models_button.clicked.connect(self._on_run_models_clicked)
        left.addWidget(self.run_models_button)
        self.use_button = QPushButton("Use selected model as the current fit")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._on_use_clicked)
        left.addWidget(self.use_button)

        self.ranking = QTableWidget(0, len(RANKING_COLUMNS))
        for c, (name, tip) in enumerate(RANKING_COLUMNS):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.ranking.setHorizontalHeaderItem(c, item)
        self.ranking.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.ranking.verticalHeader().setDefaultSectionSize(self.fontMetrics().lineSpacing() + 8)
        self.ranking.setSelectionBehavior(QAbstractItemView.SelectRows)
        header = self.ranking.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        self.ranking.itemSelectionChanged.connect(self._on_ranking_selection_changed)
        self.f_tests = QLabel("")
        self.f_tests.setWordWrap(True)
        self.f_tests.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.curve_plot = pg.PlotWidget(title="Data and fitted curves")
        self.curve_legend = PlotLegend(self.curve_plot.getPlotItem())
        self.curve_plot.showGrid(x=True, y=True, alpha=0.2)
        self.resid_plot = pg.PlotWidget(title="Residuals")
        self.resid_plot.setXLink(self.curve_plot)
        self.resid_plot.showGrid(x=True, y=True, alpha=0.2)
        self.resid_plot.addLine(y=0, pen=pg.mkPen("#888", width=1))
        plots = QSplitter(Qt.Vertical)
        plots.addWidget(self.curve_plot)
        plots.addWidget(self.resid_plot)
        plots.setSizes([500, 220])

        right = QSplitter(Qt.Vertical)
        table_box = QWidget()
        tb = QVBoxLayout(table_box)
        tb.setContentsMargins(0, 0, 0, 0)
        tb.addWidget(self.ranking)
        # many models make many nested pairs: the F tests scroll rather than squeeze the plots
        self._f_scroll = QScrollArea()
        self._f_scroll.setWidgetResizable(True)
        self._f_scroll.setFrameShape(QFrame.NoFrame)
        self._f_scroll.setWidget(self.f_tests)
        self._f_scroll.setMaximumHeight(5 * self.fontMetrics().lineSpacing() + 8)
        tb.addWidget(self._f_scroll)
        right.addWidget(table_box)
        right.addWidget(plots)
        right.setSizes([260, 480])
        self._ranking_split = right
        split = QSplitter(Qt.Horizontal)
        left_box = QWidget()
        left_box.setLayout(left)
        split.addWidget(left_box)
        split.addWidget(right)
        split.setSizes([280, 920])
        layout = QVBoxLayout(page)
        layout.addWidget(split)
        return page

    def _build_race_tab(self) -> QWidget:
        page = QWidget()
        self.race_model_label = QLabel("The current fit's model, data and start values; "
                                       "press Run race.")
        self.race_model_label.setWordWrap(True)
        self.race_model_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        top = QHBoxLayout()
        self.race_checks: dict[str, QCheckBox] = {}
        for method in ("closed-form", "gradient-descent", "lbfgs", "lm", "trf"):
            box = QCheckBox(method)
            box.setChecked(True)
            self.race_checks[method] = box
            top.addWidget(box)
        top.addStretch(1)
        top.addWidget(QLabel("iteration limit"))
        self.race_limit = QSpinBox()
        self.race_limit.setRange(10, 1_000_000)
        self.race_limit.setValue(2000)
        self.race_limit.setToolTip("Each solver stops here (gradient descent may need many)")
        top.addWidget(self.race_limit)
        self.run_race_button = QPushButton("Run race")
        self.run_race_button.clicked.connect(self._on_run_race_clicked)
        top.addWidget(self.run_race_button)
        self.race_plot = pg.PlotWidget(title="Objective per iteration (log-log)",
                                       axisItems={"bottom": LogLabelAxis("bottom"),
                                                  "left": LogLabelAxis("left")})
        # log x as well: LM's dozen iterations and gradient descent's thousands
        # are both visible only on a log axis (iteration + 1, so the start shows)
        self.race_plot.setLogMode(x=True, y=True)
        self.race_plot.setLabel("bottom", "iteration + 1")
        self.race_plot.setLabel("left", "objective (weighted SSE)")
        self.race_legend = PlotLegend(self.race_plot.getPlotItem())
        self.race_plot.showGrid(x=True, y=True, alpha=0.2)
        self.race_table = QTableWidget(0, 6)
        self.race_table.setHorizontalHeaderLabels(
            ["solver", "iterations", "evaluations", "time", "final SSE", "status"])
        self.race_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.race_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.race_table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeToContents)
        self.race_table.verticalHeader().setDefaultSectionSize(
            self.fontMetrics().lineSpacing() + 8)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.race_plot)
        split.addWidget(self.race_table)
        split.setSizes([480, 240])
        self._race_split = split
        layout = QVBoxLayout(page)
        layout.addWidget(self.race_model_label)
        layout.addLayout(top)
        layout.addWidget(split)
        return page

    # ------------------------------------------------------------------ running
    @property
    def is_running(self) -> bool:
        return self._runner.is_running

    def model_specs(self) -> list[str]:
        return [self.model_list.item(i).text() for i in range(self.model_list.count())]

    def _start(self, kind: str, job: Callable) -> None:
        self._kind = kind
        self._runner.start(job, f"compare-{kind}")
        self._progress = self._runner.worker.progress
        self._set_running(True)
        self._timer.start()

    def cancel(self) -> None:
        if self._runner.is_running:
            self._runner.cancel()
            self.status.setText("Cancelling...")

    def shutdown(self) -> None:
        """Cancel and wait (closing the dialog or the window)."""
        if not self._runner.is_running:
            return
        self._runner.shutdown()
        self._finish_run()

    def _finish_run(self) -> None:
        self._timer.stop()
        self._drain()
        self._progress = None
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.run_models_button.setText("Cancel" if running and self._kind == "models"
                                       else "Run comparison")
        self.run_race_button.setText("Cancel" if running and self._kind == "race" else "Run race")
        self.run_models_button.setEnabled(not running or self._kind == "models")
        self.run_race_button.setEnabled(not running or self._kind == "race")
        self.running_changed.emit(running)

    def run_models(self) -> bool:
        """Start the comparison of the listed models; False if it cannot start."""
        from lsqfit_app.solvers.compare import compare_models

        specs = self.model_specs()
        if len(specs) < 2:
            self.status.setText("Add at least two models to compare.")
            return False
        try:
            problems = [self._make_problem(spec) for spec in specs]
            nested = self._parse_nested()
        except InputError as exc:
            self.status.setText(f"Cannot compare: {exc}")
            return False
        self._problems = problems
        self._specs = specs
        self._model_states = {}

        def job(cancel, put):
            return compare_models(problems, specs, nested=nested, cancel=cancel,
                                  on_iteration=lambda i, st: put((i, st)))

        self.status.setText(f"Fitting {len(specs)} models in the background...")
        self._start("models", job)
        return True

    def run_race(self) -> bool:
        """Start the solver race on the current problem; False if it cannot start."""
        from lsqfit_app.solvers.compare import race
        from lsqfit_app.solvers import check_method

        try:
            problem = self._current_problem()
        except InputError as exc:
            self.status.setText(f"Cannot race: {exc}")
            return False
        methods = []
        self._race_skipped = []
        for m, box in self.race_checks.items():
            if not box.isChecked():
                continue
            if m != "lm":   # the race runs LM without bounds rather than skip it
                try:
                    check_method(problem, m)
                except InputError as exc:
                    # listed with the reason, not silently left out
                    why = CLOSED_FORM_NA if m == "closed-form" and problem.loss == "linear" \
                        else f"not applicable ({exc})"
                    self._race_skipped.append((m, why))
                    continue
            methods.append(m)
        self.race_model_label.setText(_race_caption(problem))
        self.race_plot.setTitle(f"Objective per iteration (log-log): {problem.model.name}")
        if not methods:
            self.status.setText("No chosen solver applies to this problem.")
            self._show_skipped(0)
            return False
        self._race_methods = methods
        self.race_plot.clear()
        self._race_curves = {}
        self._race_histories = {i: [] for i in range(len(methods))}
        for i, m in enumerate(methods):
            self._race_curves[i] = self.race_plot.plot(
                [], [], pen=pg.mkPen(SOLVER_COLORS.get(m, "#333"), width=2))
        self.race_legend.set_entries([(self._race_curves[i], m) for i, m in enumerate(methods)])
        self.race_table.setRowCount(0)
        self._show_skipped(0)

        from lsqfit_app.solvers import SolverOptions

        options = SolverOptions(max_iterations=self.race_limit.value())

        def job(cancel, put):
            return race(problem, methods, cancel=cancel, options=options,
                        on_iteration=lambda i, st: put((i, st)))

        self.status.setText("Racing " + ", ".join(methods) + "...")
        self._start("race", job)
        return True

    def _parse_nested(self) -> list[tuple[str, str]]:
        text = self.nested_edit.text().strip()
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            if "<" not in part:
                raise InputError(f"nested pair {part!r}: write SIMPLE<COMPLEX")
            a, b = (s.strip() for s in part.split("<", 1))
            pairs.append((a, b))
        return pairs

    # ------------------------------------------------------------------ progress
    def _drain(self) -> None:
        progress = self._progress
        if progress is None:
            return
        changed = set()
        while True:
            try:
                index, state = progress.get_nowait()
            except queue.Empty:
                break
            if self._kind == "race":
                self._race_histories.setdefault(index, []).append(state.objective)
                changed.add(index)
            else:
                self._model_states[index] = state
        if self._kind == "models" and self._model_states:
            # one progress line for all the concurrent fits
            parts = [f"{self._specs[i]}: it. {st.iteration}, objective {fmt(st.objective, 5)}"
                     for i, st in sorted(self._model_states.items())]
            self.status.setText("Fitting… " + " | ".join(parts))
        for index in changed:
            self._set_race_curve(index, self._race_histories[index])

    def _set_race_curve(self, index: int, history) -> None:
        hist = np.asarray(history, dtype=float)
        hist = np.where(hist > 0, hist, np.nan)     # log axes: zero SSE cannot be drawn
        self._race_curves[index].setData(np.arange(1, hist.size + 1), hist)

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._drain()

    @Slot(object)
    def _on_runner_finished(self, result) -> None:
        kind = self._kind
        self._finish_run()
        if kind == "models":
            self._show_comparison(result)
        else:
            self._show_race(result)

    @Slot(str, str)
    def _on_runner_failed(self, message: str, details: str) -> None:
        self._finish_run()
        self.status.setText(f"Failed: {message}")
        if details:
            box = QMessageBox(QMessageBox.Warning, "Comparison failed", message, parent=self)
            box.setDetailedText(details)
            box.open()

    # ------------------------------------------------------------------ results
    def _show_comparison(self, comparison) -> None:
        self.comparison = comparison
        rows = comparison.ranking
        self.ranking.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [row.label, str(row.n_params), fmt(row.aicc, 7), fmt(row.delta_aicc, 3),
                     fmt(row.akaike_weight, 3), fmt(row.bic, 7), fmt(row.adj_r_squared, 6),
                     fmt(row.residual_sd, 4), fmt(row.runs.p_value, 2),
                     "yes" if row.converged else "NO"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.ranking.setItem(r, c, item)
        self.f_tests.setText("\n".join(
            f"F test {t.simple} vs {t.complex}: F({t.df_num}, {t.df_den}) = {fmt(t.f, 4)}, "
            f"p = {fmt(t.p_value, 3)} → prefer {t.prefer}" for t in comparison.f_tests)
            or "No nested pairs for an F test.")
        self._plot_comparison()
        self._show_all_ranking_rows()
        cancelled = sum(r.status.value == "cancelled" for r in comparison.results)
        self.status.setText(f"Best by AICc: {rows[0].label}" +
                            (f" ({cancelled} fits cancelled)" if cancelled else ""))
        if rows:
            self.ranking.selectRow(0)

    def _show_all_ranking_rows(self) -> None:
        """Give the ranking table the height of all its rows (the plots below take the rest)."""
        table = self.ranking
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        needed = (rows + table.horizontalHeader().height() + 2 * table.frameWidth()
                  + (table.horizontalScrollBar().sizeHint().height()
                     if table.horizontalScrollBar().isVisible() else 0) + 4)
        table.setMinimumHeight(min(needed, 420))
        sizes = self._ranking_split.sizes()
        total = sum(sizes)
        top = needed + min(self.f_tests.sizeHint().height(), self._f_scroll.maximumHeight()) + 8
        if total > 0 and sizes[0] < top:
            self._ranking_split.setSizes([top, max(200, total - top)])

    def _plot_comparison(self) -> None:
        cmp = self.comparison
        self.curve_plot.clear()
        self.resid_plot.clear()
        self.resid_plot.addLine(y=0, pen=pg.mkPen("#888", width=1))
        problem = self._problems[0]
        xname = next(iter(problem.x))
        x = np.asarray(problem.x[xname], dtype=float)
        used = problem.used
        data = self.curve_plot.plot(x[used], problem.y[used], pen=None, symbol="o",
                                    symbolSize=5, symbolBrush="#444", symbolPen=None)
        entries = [(data, "data")]
        placed_x, placed_y = [x[used]], [problem.y[used]]
        order = np.argsort(x)
        self.curve_plot.setLabel("left", problem.labels.get("y", "y"))
        self.resid_plot.setLabel("bottom", problem.labels.get("x", xname))
        self.resid_plot.setLabel("left", "residual")
        for k, (label, result) in enumerate(zip(cmp.labels, cmp.results)):
            color = MODEL_COLORS[k % len(MODEL_COLORS)]
            xs = np.linspace(np.nanmin(x[used]), np.nanmax(x[used]), 400)
            try:
                from lsqfit_app.core.bands import fitted_curve
                ys = fitted_curve(result, xs) if len(result.model.independent_vars) == 1 \
                    else result.fitted[order]
                if len(result.model.independent_vars) != 1:
                    xs = x[order]
            except Exception:   # a curve that cannot be drawn must not hide the table
                continue
            curve = self.curve_plot.plot(xs, ys, pen=pg.mkPen(color, width=2))
            entries.append((curve, label))
            placed_x.append(xs)
            placed_y.append(ys)
            self.resid_plot.plot(x[used], result.residuals[used], pen=None, symbol="o",
                                 symbolSize=4, symbolBrush=color, symbolPen=None)
        # many models: columns keep the legend short enough for the plot
        self.curve_legend.setColumnCount(max(1, -(-len(entries) // 4)))
        self.curve_legend.set_entries(entries)
        self.curve_legend.place(np.concatenate(placed_x), np.concatenate(placed_y))

    def _show_race(self, results) -> None:
        self.race_results = results
        self.race_table.setRowCount(len(results))
        for r, res in enumerate(results):
            cells = [res.solver, str(res.iterations), str(res.evaluations),
                     f"{res.elapsed:.3g} s", fmt(res.statistics.sse, 10), res.status.value]
            for c, text in enumerate(cells):
                self.race_table.setItem(r, c, QTableWidgetItem(text))
            if r in self._race_curves:
                self._set_race_curve(r, res.history)
        self._show_skipped(len(results))
        self._place_race_legend()
        table = self.race_table
        needed = (sum(table.rowHeight(r) for r in range(table.rowCount()))
                  + table.horizontalHeader().height() + 2 * table.frameWidth() + 4)
        sizes = self._race_split.sizes()
        if sum(sizes) > 0 and sizes[1] < needed:
            self._race_split.setSizes([max(200, sum(sizes) - needed), needed])
        skipped = "".join(f"; {m}: {why}" for m, why in self._race_skipped)
        self.status.setText("Race finished: " + ", ".join(
            f"{r.solver} {r.iterations} it." for r in results) + skipped)

    def _show_skipped(self, first_row: int) -> None:
        """Rows for the chosen solvers that do not apply, with the reason, after ``first_row``."""
        skipped = getattr(self, "_race_skipped", [])
        self.race_table.setRowCount(first_row + len(skipped))
        for k, (method, why) in enumerate(skipped):
            self.race_table.setItem(first_row + k, 0, QTableWidgetItem(method))
            for c in range(1, 5):
                self.race_table.setItem(first_row + k, c, QTableWidgetItem("–"))
            item = QTableWidgetItem(why)
            item.setToolTip(why)
            self.race_table.setItem(first_row + k, 5, item)

    def _place_race_legend(self) -> None:
        # in view coordinates, which are log10 on both axes
        xs, ys = [], []
        histories = [r.history for r in self.race_results or []] or \
            list(self._race_histories.values())
        for hist in histories:
            h = np.asarray(hist, dtype=float)
            ok = h > 0
            xs.append(np.log10(np.flatnonzero(ok) + 1.0))
            ys.append(np.log10(h[ok]))
        if xs:
            self.race_legend.place(np.concatenate(xs), np.concatenate(ys))

    # ------------------------------------------------------------------ handlers
    @Slot()
    def _on_add_clicked(self) -> None:
        text = self.model_edit.text().strip()
        if text and text not in self.model_specs():
            self.model_list.addItem(text)
            self.model_edit.clear()

    @Slot()
    def _on_remove_clicked(self) -> None:
        for item in self.model_list.selectedItems():
            self.model_list.takeItem(self.model_list.row(item))

    @Slot()
    def _on_run_models_clicked(self) -> None:
        if self.is_running:
            self.cancel()
        else:
            self.run_models()

    @Slot()
    def _on_run_race_clicked(self) -> None:
        if self.is_running:
            self.cancel()
        else:
            self.run_race()

    @Slot()
    def _on_ranking_selection_changed(self) -> None:
        self.use_button.setEnabled(bool(self.ranking.selectedItems()) and not self.is_running)

    @Slot()
    def _on_use_clicked(self) -> None:
        rows = self.ranking.selectionModel().selectedRows()
        if not rows or self.comparison is None:
            return
        label = self.ranking.item(rows[0].row(), 0).text()
        index = list(self.comparison.labels).index(label)
        self.model_chosen.emit(label, self.comparison.results[index])

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)
