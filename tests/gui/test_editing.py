"""Editing and masking: the table model, undo/redo, paste, masks from the plots."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from lsqfit_app.core.table import Table
from lsqfit_app.gui.table_model import TableModel, parse_cell
from lsqfit_app.gui.undo_commands import (InsertColumnCommand, InsertRowsCommand,
                                          RemoveColumnCommand, RemoveRowsCommand)

from helpers import click, data_to_widget, drag


def test_table_model_passes_qtmodeltester(qtmodeltester):
    table = Table([("t", [0.0, 1.0, 2.0, 3.0], "s"), ("y", [1.0, np.nan, 3.0, 4.0], "V")])
    table.set_mask([1], "outlier")
    model = TableModel(table)
    qtmodeltester.check(model)
    assert model.headerData(0, Qt.Horizontal) == "t [s]"
    assert model.data(model.index(1, 1)) == ""          # missing
    assert model.data(model.index(1, 0), Qt.ToolTipRole) == "excluded from fits: outlier"
    model.insert_rows(2, 3)
    model.remove_rows(0, 1)
    model.insert_column(1, "z")
    model.remove_column(0)
    qtmodeltester.check(model)


def test_table_model_is_virtual_over_a_million_rows(qtbot):
    from PySide6.QtWidgets import QTableView
    n = 1_000_000
    table = Table({"x": np.arange(n, dtype=float), "y": np.sin(np.arange(n) / 1000.0)})
    model = TableModel(table)
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(20)
    view.resize(400, 600)
    view.show()
    assert model.rowCount() == n
    view.scrollToBottom()
    qtbot.wait(10)
    last = view.rowAt(view.viewport().height() - 2)
    assert last > n - 100
    assert model.data(model.index(n - 1, 0)) == "999999"


def test_parse_cell_accepts_decimal_comma():
    assert parse_cell("1,5") == 1.5
    assert np.isnan(parse_cell(" "))
    with pytest.raises(ValueError):
        parse_cell("abc")


def _loaded(window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_roles("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
    window.refresh_data()
    return window


def test_typing_in_a_cell_is_undoable(window, peak_csv):
    w = _loaded(window, peak_csv)
    model = w.table_model
    old = w.table.cell(2, 2)
    assert model.setData(model.index(2, 1), "12,25")     # decimal comma typed
    assert w.table.cell(2, 2) == 12.25
    assert w.undo_action.text() == "&Undo Edit cell 'intensity (counts/s)' row 3"
    w.undo_action.trigger()
    assert w.table.cell(2, 2) == old
    w.redo_action.trigger()
    assert w.table.cell(2, 2) == 12.25
    # a bad value is refused with a message, nothing changes
    assert not model.setData(model.index(2, 1), "n/a")
    assert w.table.cell(2, 2) == 12.25
    problem = w.data_panel.problem_label
    assert "row 3" in problem.text() and "not a number" in problem.text()
    assert not problem.isHidden()
    # the next good edit clears the old cell error
    assert model.setData(model.index(3, 1), "7")
    assert problem.text() == "" and problem.isHidden()


def test_keyboard_shortcuts_undo_and_redo(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    w.table_model.setData(w.table_model.index(0, 1), "99")
    assert [s.toString() for s in w.undo_action.shortcuts()] == ["Ctrl+Z"]
    assert {s.toString() for s in w.redo_action.shortcuts()} == {"Ctrl+Shift+Z", "Ctrl+Y"}
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.table.cell(0, 2) != 99
    qtbot.keyClick(w, Qt.Key_Y, Qt.ControlModifier)
    assert w.table.cell(0, 2) == 99


def test_paste_block_with_decimal_commas_is_one_undo_step(window, peak_csv):
    w = _loaded(window, peak_csv)
    before = w.table.snapshot()
    n = w.table.n_rows
    w.data_panel.view.setCurrentIndex(w.table_model.index(n - 1, 0))
    w.data_panel.paste("701,5\t3,25\t0,5\n702,5\t3,5\t0,5\n")
    assert w.table.n_rows == n + 1
    assert w.table.cell(n, 1) == 702.5 and w.table.cell(n, 2) == 3.5
    assert w.undo_stack.undoText().startswith("Paste 2 x 3")
    w.undo_stack.undo()
    assert w.table == before


def test_insert_delete_rows_and_columns_undo(window, peak_csv):
    w = _loaded(window, peak_csv)
    before = w.table.snapshot()
    m = w.table_model
    w.table.set_mask([5], "outlier")
    masked = w.table.snapshot()
    w.undo_stack.push(InsertRowsCommand(m, 3, 2))
    w.undo_stack.push(RemoveRowsCommand(m, 4, 3))
    w.undo_stack.push(InsertColumnCommand(m, 3, "log_y", formula="log(intensity)"))
    assert w.table.names[3] == "log_y"
    w.undo_stack.push(RemoveColumnCommand(m, 0))
    assert w.table.n_columns == 3
    # roles follow the columns that remain
    assert w.data_panel.roles()[0] != "wavelength (nm)"
    for _ in range(4):
        w.undo_stack.undo()
    assert w.table == masked
    assert w.table.mask_reason(5) == "outlier"
    w.table.clear_mask([5])
    assert w.table == before


def _point_position(w, row, plot="fit"):
    x = w.table.cell(row, 1)
    if plot == "fit":
        return data_to_widget(w.plots, w.plots.fit_view, x, w.table.cell(row, 2))
    r = w.plots._residuals[row]
    return data_to_widget(w.plots, w.plots.residual_view, x, r)


def test_mask_point_by_clicking_it(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    qtbot.wait(50)
    row = 20
    click(w.plots, _point_position(w, row))
    assert w.table.mask[row] and w.table.mask.sum() == 1
    assert w.undo_stack.undoText() == f"Exclude point {row + 1}"
    # drawn hollow, left out of the data item
    mx, my = w.plots.masked_item.getData()
    assert list(mx) == [w.table.cell(row, 1)]
    click(w.plots, _point_position(w, row))
    assert not w.table.mask.any()
    w.undo_stack.undo()
    assert w.table.mask[row]
    # a click far from any point changes nothing
    click(w.plots, data_to_widget(w.plots, w.plots.fit_view, 410, 1e6))
    assert w.table.mask.sum() == 1


def test_mask_points_by_dragging_a_rectangle(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    qtbot.wait(50)
    x = w.table.values(1)
    y = w.table.values(2)
    lo, hi = 448.5, 471.5      # between data points: pixel rounding cannot matter
    (_x0, _x1), (y0, y1) = w.plots.fit_view.viewRange()
    top, bottom = y1 - 0.01 * (y1 - y0), y0 + 0.01 * (y1 - y0)
    assert top > np.nanmax(y) and bottom < np.nanmin(y)
    start = data_to_widget(w.plots, w.plots.fit_view, lo, top)
    end = data_to_widget(w.plots, w.plots.fit_view, hi, bottom)
    drag(w.plots, start, end, Qt.ShiftModifier)
    expected = (x >= lo) & (x <= hi)
    np.testing.assert_array_equal(w.table.mask, expected)
    w.undo_stack.undo()
    assert not w.table.mask.any()


def test_mask_by_clicking_a_residual(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000):
        w.start_fit()
    qtbot.wait(50)
    row = 30
    click(w.plots, _point_position(w, row, plot="residual"))
    assert w.table.mask[row]
    # a refit keeps the point out
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000) as blocker:
        w.start_fit()
    assert blocker.args[0].statistics.n_excluded == 1
    assert not blocker.args[0].used[row]


def test_fit_range_excludes_points_outside(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    w.fit_panel.range_check.setChecked(True)
    assert w.plots.region.isVisible()
    w.plots.region.setRegion((450.0, 550.0))     # emits range_changed on finish
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000) as blocker:
        w.start_fit()
    x = w.table.values(1)
    inside = (x >= 450) & (x <= 550)
    assert blocker.args[0].statistics.n_used == int(inside.sum())
    assert not w.table.mask.any()     # the range is not a mask


def test_parameter_edits_are_undoable(window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    params = w.fit_panel.parameters
    start = params.index(0, 1)             # gaussian_amplitude, start column
    assert params.setData(start, "12.5")
    assert w.undo_stack.undoText() == "Set start of gaussian_amplitude"
    fixed = params.index(0, 2)
    assert params.setData(fixed, Qt.Checked, Qt.CheckStateRole)
    assert w.undo_stack.undoText() == "Fix gaussian_amplitude"
    assert params.setData(params.index(2, 3), "1")      # gaussian_sigma min
    assert params.parameters()[2].min == 1.0
    w.undo_stack.undo()
    assert params.parameters()[2].min == 0.0
    w.undo_stack.undo()
    assert not params.parameters()[0].fixed and params.starts()[0] == 12.5
    w.undo_stack.undo()
    assert params.starts()[0] is None
    w.undo_stack.redo()
    w.undo_stack.redo()
    assert params.parameters()[0].fixed and params.starts()[0] == 12.5
    # a refused edit leaves no undo step
    count = w.undo_stack.count()
    assert not params.setData(params.index(1, 1), "abc")
    assert w.undo_stack.count() == count


def test_guess_and_use_result_as_start_are_undoable(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000):
        w.start_fit()
    before = w.fit_panel.parameters.starts()
    w.use_result_as_start()
    assert w.undo_stack.undoText() == "Use result as start"
    assert w.fit_panel.parameters.starts() != before
    w.undo_stack.undo()
    assert w.fit_panel.parameters.starts() == before


def test_fit_range_changes_are_undoable(window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    w.fit_panel.range_check.setChecked(True)
    assert w.undo_stack.undoText() == "Fit x-range on"
    first = w.fit_range
    w.plots.region.setRegion((450.0, 550.0))
    assert w.undo_stack.undoText() == "Move fit x-range"
    assert w.fit_range == pytest.approx((450.0, 550.0))
    w.undo_stack.undo()
    assert w.fit_range == pytest.approx(first)
    assert tuple(w.plots.region.getRegion()) == pytest.approx(first)
    w.undo_stack.undo()
    assert w.fit_range is None and not w.fit_panel.range_check.isChecked()
    assert not w.plots.region.isVisible()
    w.undo_stack.redo()
    assert w.fit_panel.range_check.isChecked() and w.fit_range == pytest.approx(first)
    # undo/redo itself never adds steps
    assert w.undo_stack.count() == 2


def test_switching_models_back_restores_the_parameter_settings(window, peak_csv):
    w = _loaded(window, peak_csv)
    w.set_model("gaussian+line")
    params = w.fit_panel.parameters
    assert params.setData(params.index(0, 1), "12.5")     # gaussian_amplitude start
    assert params.setData(params.index(2, 3), "2")        # gaussian_sigma min
    w.set_model("lorentzian+line")
    assert [r.name for r in params.rows][0] == "lorentzian_amplitude"
    w.set_model("gaussian+line")
    restored = {p.name: p for p in params.parameters()}
    assert restored["gaussian_amplitude"].value == 12.5
    assert restored["gaussian_sigma"].min == 2.0


def test_rename_column_undo_restores_the_old_name_and_redo_the_new(window, peak_csv,
                                                                   monkeypatch):
    """Through the table's "Rename column / unit…" action, as a user would."""
    from lsqfit_app.gui import table_view
    w = _loaded(window, peak_csv)
    m = w.table_model
    old = w.table.column(2)
    old_name, old_unit = old.name, old.unit
    old_header = m.headerData(1, Qt.Horizontal)
    values = old.values.copy()
    w.data_panel.view.setCurrentIndex(m.index(0, 1))
    monkeypatch.setattr(table_view.QInputDialog, "getText",
                        lambda *a, **k: ("signal [mV]", True))
    w.data_panel.rename_column()
    renamed = w.table.column(2)
    assert (renamed.name, renamed.unit) == ("signal", "mV")
    assert m.headerData(1, Qt.Horizontal) == "signal [mV]"
    assert w.undo_stack.undoText() == f"Rename column {old_name!r}"

    w.undo_stack.undo()
    back = w.table.column(2)
    assert (back.name, back.unit) == (old_name, old_unit)
    assert m.headerData(1, Qt.Horizontal) == old_header
    assert "signal" not in w.table.names
    np.testing.assert_array_equal(back.values, values)

    w.undo_stack.redo()
    assert (w.table.column(2).name, w.table.column(2).unit) == ("signal", "mV")
    assert m.headerData(1, Qt.Horizontal) == "signal [mV]"

    # a name that is taken is made unique; undo still gives the column its own name back
    taken = w.table.names[0]
    monkeypatch.setattr(table_view.QInputDialog, "getText", lambda *a, **k: (taken, True))
    w.data_panel.rename_column()
    assert w.table.names[1] not in (taken, "signal")
    assert w.table.names[0] == taken
    w.undo_stack.undo()
    assert (w.table.column(2).name, w.table.column(2).unit) == ("signal", "mV")
    w.undo_stack.undo()
    assert (w.table.column(2).name, w.table.column(2).unit) == (old_name, old_unit)
    np.testing.assert_array_equal(w.table.column(2).values, values)
