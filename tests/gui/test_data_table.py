"""The data table as a user drives it: computed columns, row selection, status texts, sizing."""
import numpy as np
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from lsqfit_app.core.table import Table
from lsqfit_app.gui.computed_column import ComputedColumnDialog


def _table(seed: int, n: int = 12) -> Table:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(1, 10, n))
    return Table([("x", x, "s"), ("y", 3 * x + rng.normal(0, 0.1, n), "V")])


def _drive_dialog(qtbot, steps):
    """Run ``steps(dialog)`` on the modal computed-column dialog once it is shown."""
    seen = []

    def act():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ComputedColumnDialog):
            QTimer.singleShot(10, act)
            return
        seen.append(dialog)
        try:
            steps(dialog)
        finally:
            if dialog.isVisible():   # a failed step must not leave the modal loop running
                dialog.reject()

    QTimer.singleShot(0, act)
    return seen


def test_add_computed_column_from_the_edit_menu_asks_and_adds_undoably(qtbot, window):
    table = _table(11)
    window.set_table(table, "t.csv")
    texts = []

    def steps(dialog):
        QTest.keyClicks(dialog.name_edit, "z [V2]")
        QTest.keyClicks(dialog.formula_edit, "x*y+")          # unfinished: refused, with where
        texts.append(dialog.problem_label.text())
        texts.append(dialog.buttons.button(QDialogButtonBox.Ok).isEnabled())
        QTest.keyClicks(dialog.formula_edit, "1")
        texts.append(dialog.problem_label.text())
        QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Ok), Qt.LeftButton)

    seen = _drive_dialog(qtbot, steps)
    window.data_panel.computed_column_action.trigger()     # triggered(bool), as from the menu
    assert seen, "the action never asked for the name and formula"
    assert "character 5" in texts[0] and texts[1] is False
    assert "First values" in texts[2]
    assert window.table.names[-1] == "z"
    col = window.table.column("z")
    assert col.unit == "V2" and col.formula == "x*y+1"
    np.testing.assert_allclose(col.values, table.values("x") * table.values("y") + 1)
    assert window.undo_stack.undoText() == "Insert computed column 'z'"
    window.undo_action.trigger()
    assert "z" not in window.table.names
    window.redo_action.trigger()
    assert "z" in window.table.names


def test_computed_column_dialog_names_unknown_columns_and_taken_names(qtbot):
    table = _table(12)
    dialog = ComputedColumnDialog(table)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.Ok)
    QTest.keyClicks(dialog.formula_edit, "log(q)")
    assert "unknown column 'q'" in dialog.problem_label.text()
    assert "character 5" in dialog.problem_label.text() and not ok.isEnabled()
    dialog.formula_edit.setText("log(y")
    assert "never closed" in dialog.problem_label.text()
    dialog.formula_edit.setText("log(y)")
    dialog.name_edit.setText("x")
    assert "exists already" in dialog.problem_label.text() and not ok.isEnabled()
    dialog.name_edit.setText("ly")
    assert ok.isEnabled()


def test_cancelling_the_computed_column_dialog_changes_nothing(qtbot, window):
    window.set_table(_table(13), "t.csv")
    seen = _drive_dialog(qtbot, lambda d: d.reject())
    window.data_panel.computed_column_action.trigger()
    assert seen and window.table.names == ["x", "y"] and window.undo_stack.count() == 0


def _click_row_header(view, row, modifiers=Qt.NoModifier):
    header = view.verticalHeader()
    y = header.sectionViewportPosition(row) + header.sectionSize(row) // 2
    QTest.mouseClick(header.viewport(), Qt.LeftButton, modifiers, QPoint(header.width() // 2, y))


def test_ctrl_click_row_headers_selects_only_those_rows_and_deletes_exactly_them(qtbot, window):
    table = _table(14, n=12)
    window.set_table(table, "t.csv")
    before = window.table.snapshot()
    x = table.values("x").copy()
    view = window.data_panel.view
    qtbot.wait(20)
    _click_row_header(view, 2)                       # rows 3 and 7 as the user counts
    _click_row_header(view, 6, Qt.ControlModifier)
    assert window.data_panel._selected_rows() == [2, 6]
    _click_row_header(view, 9, Qt.ControlModifier)
    _click_row_header(view, 9, Qt.ControlModifier)   # a second Ctrl+click deselects it
    assert window.data_panel._selected_rows() == [2, 6]
    window.data_panel.delete_rows_action.trigger()
    assert window.table.n_rows == 10
    np.testing.assert_array_equal(window.table.values("x"), np.delete(x, [2, 6]))
    window.undo_action.trigger()                     # one step brings both back
    assert window.table == before


def test_shift_click_extends_the_row_selection(qtbot, window):
    window.set_table(_table(15, n=12), "t.csv")
    view = window.data_panel.view
    qtbot.wait(20)
    _click_row_header(view, 3)
    _click_row_header(view, 6, Qt.ShiftModifier)
    assert window.data_panel._selected_rows() == [3, 4, 5, 6]


def test_delete_key_clears_only_the_selected_cells(qtbot, window):
    table = _table(16, n=8)
    window.set_table(table, "t.csv")
    y = table.values("y").copy()
    m = window.table_model
    sel = window.data_panel.view.selectionModel()
    sel.select(m.index(1, 1), QItemSelectionModel.Select)
    sel.select(m.index(5, 1), QItemSelectionModel.Select)
    QTest.keyClick(window.data_panel.view, Qt.Key_Delete)
    after = window.table.values("y")
    assert np.isnan(after[[1, 5]]).all()
    keep = [0, 2, 3, 4, 6, 7]
    np.testing.assert_array_equal(after[keep], y[keep])
    window.undo_stack.undo()
    np.testing.assert_array_equal(window.table.values("y"), y)


def test_a_new_table_starts_at_the_top_left_with_nothing_selected(qtbot, window):
    rng = np.random.default_rng(17)
    big = Table([("x", np.arange(5000.0)), ("y", rng.normal(size=5000))])
    window.set_table(big, "big.csv")
    view = window.data_panel.view
    view.scrollTo(window.table_model.index(4000, 1))
    view.selectRow(4000)
    qtbot.wait(10)
    assert view.verticalScrollBar().value() > 0
    window.set_table(_table(18, n=3000), "next.csv")
    qtbot.wait(10)
    assert view.verticalScrollBar().value() == 0
    assert view.horizontalScrollBar().value() == 0
    assert not view.selectionModel().hasSelection()
    assert not view.currentIndex().isValid()


def test_columns_fit_without_a_horizontal_scrollbar_when_there_is_room(qtbot, window):
    from lsqfit_app.gui import window_layout
    from lsqfit_app.gui.app import open_example
    for size in ((1280, 720), (1400, 900), (1920, 1080)):
        window.resize(*size)
        window_layout.default_splits(window)      # the panes of a first start at this size
        open_example(window, fit=False)
        qtbot.wait(30)
        view = window.data_panel.view
        header = view.horizontalHeader()
        widths = [header.sectionSize(c) for c in range(header.count())]
        assert sum(widths) <= view.viewport().width(), (size, widths)
        assert not view.horizontalScrollBar().isVisible(), size
        metrics = view.fontMetrics()
        for c in range(header.count()):              # the sigma column is not clipped
            cells = max(metrics.horizontalAdvance(window.table_model.data(
                window.table_model.index(r, c))) for r in range(window.table.n_rows))
            assert widths[c] >= cells


def test_a_dragged_column_width_is_kept(qtbot, window):
    window.set_table(_table(19), "t.csv")
    header = window.data_panel.view.horizontalHeader()
    # the user drags the edge of column 1
    edge = header.sectionViewportPosition(0) + header.sectionSize(0) - 1
    y = header.height() // 2
    QTest.mousePress(header.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(edge, y))
    QTest.mouseMove(header.viewport(), QPoint(edge + 40, y))
    QTest.mouseRelease(header.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(edge + 40, y))
    width = header.sectionSize(0)
    window.resize(window.width() + 100, window.height())
    qtbot.wait(20)
    assert header.sectionSize(0) == width
