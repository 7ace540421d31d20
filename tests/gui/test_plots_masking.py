"""Dragging does what the hint over the plots says: pan, or mask with Shift or the Mask tool."""
import numpy as np
from PySide6.QtCore import Qt

from lsqfit_app.core.table import Table
from lsqfit_app.gui.plots import MASK_HINT, PAN_HINT

from helpers import click, data_to_widget, drag


def _setup(window):
    rng = np.random.default_rng(401)
    x = np.linspace(0, 10, 41)
    window.set_table(Table([("x", x, ""), ("y", 3 * x + rng.normal(0, 0.5, x.size), "")]), "m.csv")
    window.set_roles("x", "y", None)
    window.refresh_data()
    return x


def test_hint_and_cursor_follow_the_mode(qtbot, window):
    plots = window.plots
    assert plots.hint_text == PAN_HINT
    assert plots.fit_view.cursor().shape() == Qt.OpenHandCursor
    window.mask_mode_action.trigger()
    assert plots.hint_text == MASK_HINT
    assert plots.fit_view.cursor().shape() == Qt.CrossCursor
    assert plots.residual_view.cursor().shape() == Qt.CrossCursor
    window.mask_mode_action.trigger()
    assert plots.hint_text == PAN_HINT
    # on screen whole, on one line or two
    assert plots.hint.text.replace("<br>", " · ") == PAN_HINT
    assert plots.fit_view.cursor().shape() == Qt.OpenHandCursor


def test_drag_pans_shift_drag_and_mask_tool_mask(qtbot, window):
    x = _setup(window)
    plots = window.plots
    qtbot.wait(50)
    view = plots.fit_view
    (_x0, _x1), (y0, y1) = view.viewRange()
    top, bottom = y1 - 0.01 * (y1 - y0), y0 + 0.01 * (y1 - y0)
    a, b = data_to_widget(plots, view, 2, top), data_to_widget(plots, view, 5, bottom)
    before = view.viewRange()
    drag(plots, a, b, modifiers=Qt.NoModifier)
    assert view.viewRange() != before                     # panned
    assert not window.table.mask.any()                    # masked nothing
    view.autoRange()
    qtbot.wait(50)
    a, b = data_to_widget(plots, view, 1.9, top), data_to_widget(plots, view, 4.1, bottom)
    drag(plots, a, b, modifiers=Qt.ShiftModifier)
    assert list(np.flatnonzero(window.table.mask)) == list(np.flatnonzero((x >= 1.9) & (x <= 4.1)))
    window.undo_stack.undo()
    window.mask_mode_action.trigger()
    before = view.viewRange()
    a, b = data_to_widget(plots, view, 5.9, top), data_to_widget(plots, view, 7.1, bottom)
    drag(plots, a, b, modifiers=Qt.NoModifier)
    assert view.viewRange() == before
    assert list(np.flatnonzero(window.table.mask)) == list(np.flatnonzero((x >= 5.9) & (x <= 7.1)))
    # a click on a point masks it
    window.undo_stack.undo()
    row = 20
    click(plots, data_to_widget(plots, view, x[row], window.table.cell(row, 2)))
    assert list(np.flatnonzero(window.table.mask)) == [row]
