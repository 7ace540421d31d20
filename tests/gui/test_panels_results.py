"""The results panel and parameter table as a user meets them: out-of-date results,
status texts, run wording, p-values as the report prints them."""
import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from lsqfit_app.core.result import FitStatus
from lsqfit_app.core.table import Table
from lsqfit_app.report.content import fmt_p

HANG_GUARD_MS = 60_000
PEAK = ("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")


def _fit(qtbot, window):
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS) as blocker:
        window.fit_action.trigger()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=HANG_GUARD_MS)
    return blocker.args[0]


@pytest.fixture
def fitted(qtbot, window, peak_csv):
    assert window.open_path(str(peak_csv), ask=False)
    window.set_roles(*PEAK)
    window.set_model("gaussian+line")
    _fit(qtbot, window)
    assert window.document.result_current
    return window


def _exclude_rows(window, rows):
    view = window.data_panel.view
    sel = view.selectionModel()
    sel.clearSelection()
    for r in rows:
        sel.select(window.table_model.index(r, 0),
                   QItemSelectionModel.Select | QItemSelectionModel.Rows)
    window.data_panel.mask_action.trigger()


def _result_header(window):
    return window.fit_panel.parameters.headerData(5, Qt.Horizontal, Qt.DisplayRole)


def test_masking_after_a_fit_marks_the_result_out_of_date_at_once(qtbot, fitted):
    window = fitted
    panel = window.results_panel
    assert not panel.stale_banner.isVisible()
    assert _result_header(window) == "result ± error"
    _exclude_rows(window, [3, 7])
    assert panel.stale_banner.isVisible()
    text = panel.stale_banner.text()
    assert "Out of date" in text and "the mask changed" in text and "Ctrl+R" in text
    # the old values stay, greyed, in both places
    assert panel.table.item(0, 1).foreground().color().name() == "#8a8a8a"
    assert "out of date" in _result_header(window)
    grey = window.fit_panel.parameters.data(window.fit_panel.parameters.index(0, 5),
                                           Qt.ForegroundRole)
    assert grey.color().name() == "#8a8a8a"
    # a second kind of change is named too
    window.fit_panel.iterations_spin.setValue(500)
    assert "the solver settings changed" in panel.stale_banner.text()
    assert "the mask changed" in panel.stale_banner.text()
    # refitting makes it current again: banner gone, colours back
    result = _fit(qtbot, window)
    assert result.statistics.n_excluded == 2
    assert not panel.stale_banner.isVisible()
    assert _result_header(window) == "result ± error"
    assert panel.table.item(0, 1).foreground().color().name() != "#8a8a8a"


def test_edit_paste_range_and_model_each_say_what_changed(qtbot, fitted):
    window = fitted
    banner = window.results_panel.stale_banner
    window.table_model.setData(window.table_model.index(0, 1), "7.5")
    assert "the data changed" in banner.text()
    _fit(qtbot, window)
    window.fit_panel.range_check.setChecked(True)
    assert "the fit x-range changed" in banner.text()
    _fit(qtbot, window)
    window.fit_panel.model_edit.setText("lorentzian+line")
    assert banner.isVisible() and "the model changed" in banner.text()


def test_copies_of_an_out_of_date_result_say_so(qtbot, fitted):
    window = fitted
    _exclude_rows(window, [5])
    window.results_panel.copy_text_button.click()
    assert QGuiApplication.clipboard().text().startswith("OUT OF DATE: the mask changed")
    window.exports.copy_results()
    assert QGuiApplication.clipboard().text().startswith("OUT OF DATE: the mask changed")


def _answer_stale_question(window, label, answered):
    def answer():
        box = window.exports.stale_question
        if box is None:
            QTimer.singleShot(20, answer)
            return
        answered.append(box.text())
        for b in box.buttons():
            if b.text() == label:
                b.click()
                return
    QTimer.singleShot(20, answer)


def test_exporting_an_out_of_date_report_asks_and_the_report_says_so(qtbot, fitted, tmp_path):
    window = fitted
    window._quiet = False
    _exclude_rows(window, [2])
    answered = []
    _answer_stale_question(window, "Export the old result", answered)
    target = tmp_path / "report.md"
    assert window.exports.export_report(str(target))
    window._quiet = True
    assert answered and "the mask changed" in answered[0]
    text = target.read_text(encoding="utf-8")
    assert "OUT OF DATE" in text and "the mask changed" in text


def test_refit_instead_of_exporting_writes_nothing(qtbot, fitted, tmp_path):
    window = fitted
    window._quiet = False
    _exclude_rows(window, [2])
    _answer_stale_question(window, "Refit", [])
    target = tmp_path / "fit.csv"
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS):
        assert not window.exports.export_fitted_data(str(target))
    window._quiet = True
    assert not target.exists()
    qtbot.waitUntil(lambda: window.document.result_current, timeout=HANG_GUARD_MS)
    # current again: the export writes without asking, and no out-of-date line
    report = tmp_path / "report.md"
    assert window.exports.export_report(str(report))
    assert "OUT OF DATE" not in report.read_text(encoding="utf-8")


def test_a_current_result_is_not_marked(qtbot, fitted):
    # a fit whose setup did not change after it: no banner, no grey, plain copies
    window = fitted
    _fit(qtbot, window)
    assert not window.results_panel.stale
    window.results_panel.copy_text_button.click()
    assert QGuiApplication.clipboard().text().startswith("Model:")


def test_p_values_are_printed_as_the_report_prints_them(qtbot, fitted):
    window = fitted
    result = window.result
    table = window.results_panel.table
    for i, p in enumerate(result.parameters):
        assert table.item(i, 4).text() == fmt_p(p.p_value)
    tiny = min(p.p_value for p in result.parameters)
    assert tiny < 1e-16 and "< 1e-16" not in [table.item(i, 4).text()
                                            for i in range(table.rowCount())]


def test_closed_form_is_solved_directly_and_one_iteration_is_singular(qtbot, window):
    rng = np.random.default_rng(11)
    x = np.linspace(0, 10, 40)
    window.set_table(Table([("x", x, ""), ("y", 2 * x + 1 + rng.normal(0, 0.3, x.size), "")]))
    window.set_roles("x", "y")
    window.set_model("line")
    window.fit_panel.set_method("closed-form")
    _fit(qtbot, window)
    status = window.results_panel.status_label.text()
    assert "solved directly" in status and "iterations" not in status
    assert "iterations" not in window.status_message.text()
    window.fit_panel.set_method("gradient-descent")
    window.fit_panel.iterations_spin.setValue(1)
    result = _fit(qtbot, window)
    assert result.iterations == 1
    assert "1 iteration," in window.results_panel.status_label.text()
    assert "1 iterations" not in window.status_message.text()


def test_the_solver_message_stands_next_to_the_status(qtbot, fitted):
    window = fitted
    window.fit_panel.set_method("gradient-descent")
    result = _fit(qtbot, window)
    status = window.results_panel.status_label.text()
    assert result.status.value.replace("_", " ") in status
    # the message in full, where the status is (not only in a tooltip)
    assert result.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        in status


def test_status_texts_describe_the_current_state_only(qtbot, slow_window, peak_csv):
    window = slow_window
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        window.fit_action.trigger()
    qtbot.waitUntil(lambda: "iteration" in window.progress_label.text(), timeout=HANG_GUARD_MS)
    assert window.results_panel.stale_banner.isVisible() is False  # nothing fitted before
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS) as blocker:
        window.cancel_action.trigger()
    result = blocker.args[0]
    assert result.status is FitStatus.CANCELLED
    # the live counter is gone; the counts shown are the result's
    assert window.progress_label.text() == ""
    assert f"{result.iterations} iterations" in window.status_message.text()
    assert f"{result.iterations} iterations" in window.results_panel.status_label.text()
    # another file: nothing of the old fit's texts remains
    assert window.open_path(str(peak_csv), ask=False)
    assert "iteration" not in window.progress_label.text()
    assert "cancelled" not in window.status_message.text().lower()
    assert window.results_panel.status_label.text() == "No fit yet."


def test_a_running_fit_greys_the_previous_result(qtbot, slow_window):
    window = slow_window
    window.fit_panel.set_method("lm")
    _fit(qtbot, window)
    window.fit_panel.set_method("gradient-descent")
    with qtbot.waitSignal(window.controller.fit_progressed, timeout=HANG_GUARD_MS):
        window.fit_action.trigger()
    banner = window.results_panel.stale_banner
    assert banner.isVisible() and "previous fit" in banner.text()
    assert window.results_panel.table.item(0, 1).foreground().color().name() == "#8a8a8a"
    with qtbot.waitSignal(window.controller.fit_finished, timeout=HANG_GUARD_MS):
        window.cancel_action.trigger()
    assert not banner.isVisible()


def test_fields_explain_themselves(qtbot, fitted):
    window = fitted
    panel = window.fit_panel
    for widget in (panel.iterations_spin, panel.solver_combo, panel.loss_combo,
                   panel.model_edit, panel.guess_button, panel.use_result_button,
                   panel.fit_button, window.results_panel.copy_tsv_button):
        assert widget.toolTip(), widget
    model = panel.parameters
    for col in range(model.columnCount()):
        assert model.headerData(col, Qt.Horizontal, Qt.ToolTipRole)
    names = [r.name for r in model.rows]
    sigma = names.index("gaussian_sigma")
    tip = model.data(model.index(sigma, 3), Qt.ToolTipRole)
    assert "set by the model" in tip and "clear the cell" in tip
    free_min = model.data(model.index(names.index("line_slope"), 3), Qt.ToolTipRole)
    assert "no lower bound" in free_min
    header = window.results_panel.table.horizontalHeaderItem(4)
    assert "p-value" in header.toolTip()
    QApplication.processEvents()
