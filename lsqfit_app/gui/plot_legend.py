"""A plot legend that lists only what is drawn, starts where it hides the least, moves and hides.

pyqtgraph's legend lists every named item, drawn or not, and stays in the
corner it was given, often over the peak.  :class:`PlotLegend` is shown in
the corner of the plot that covers the fewest drawn points
(:func:`emptiest_corner`) until the user drags it; right-click on it (or the
plot's context menu, or :attr:`PlotLegend.toggle_action`) hides or shows it.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

#: pixels between the legend and the plot's edge
MARGIN = 8
#: corners as (anchor x, anchor y): 0 left/top, 1 right/bottom; the order breaks ties
CORNERS = ((1, 0), (0, 0), (1, 1), (0, 1))


def emptiest_corner(px: np.ndarray, py: np.ndarray, size: tuple[float, float],
                    box: tuple[float, float], prefer=None) -> tuple[int, int]:
    """The corner where a ``box`` (w, h, pixels) covers the fewest points (px, py pixels from
    the top left of a plot of ``size``); ``prefer`` wins unless another covers fewer."""
    width, height = size
    w, h = box
    best, best_count = None, None
    counts = {}
    for corner in CORNERS:
        left = MARGIN if corner[0] == 0 else width - MARGIN - w
        top = MARGIN if corner[1] == 0 else height - MARGIN - h
        with np.errstate(invalid="ignore"):
            inside = (px >= left) & (px <= left + w) & (py >= top) & (py <= top + h)
        counts[corner] = int(np.count_nonzero(inside))
        if best_count is None or counts[corner] < best_count:
            best, best_count = corner, counts[corner]
    if prefer in counts and counts[prefer] <= best_count:
        return prefer
    return best


class PlotLegend(pg.LegendItem):
    """A legend of a plot's drawn items (see the module docstring)."""

    def __init__(self, plot: pg.PlotItem, **kwargs):
        super().__init__(offset=(-MARGIN, MARGIN), **kwargs)
        self._plot = plot
        self.setParentItem(plot.vb)
        plot.legend = self
        self.corner = (1, 0)
        #: True once the user dragged the legend: it stays where it was put
        self.moved_by_user = False
        self._entries: list[tuple[object, str]] = []
        self._hidden_by_user = False
        # no Qt parent: the scene deletes the legend and the view menu in either order
        self.toggle_action = QAction("Show legend")
        self.toggle_action.setCheckable(True)
        self.toggle_action.setChecked(True)
        self.toggle_action.setToolTip("Show or hide the plot's legend (drag it to move it)")
        self.toggle_action.toggled.connect(self._on_toggle_action_toggled)
        menu = plot.vb.menu
        if menu is not None:
            menu.addSeparator()
            menu.addAction(self.toggle_action)
        self._show()   # an empty legend is an empty box

    # ------------------------------------------------------------------ entries
    def set_entries(self, entries) -> None:
        """Show exactly these (item, name) pairs, in order; no change, no relayout."""
        entries = list(entries)
        if [(id(i), n) for i, n in entries] == [(id(i), n) for i, n in self._entries]:
            return
        self.clear()
        for item, name in entries:
            self.addItem(item, name)
        self._entries = entries
        self._show()

    def names(self) -> list[str]:
        """The labels listed, top to bottom."""
        return [label.text for _sample, label in self.items]

    # ------------------------------------------------------------------ place
    def place(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Move to the corner covering the fewest of these points (data coordinates)."""
        if self.moved_by_user or not self.items:
            return
        vb = self._plot.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        width, height = vb.width(), vb.height()
        if not (width > 0 and height > 0 and x1 > x0 and y1 > y0):
            return
        px = (np.asarray(xs, dtype=float) - x0) * (width / (x1 - x0))
        py = (y1 - np.asarray(ys, dtype=float)) * (height / (y1 - y0))
        rect = self.boundingRect()
        corner = emptiest_corner(px, py, (width, height), (rect.width(), rect.height()),
                                 prefer=self.corner)
        if corner != self.corner:
            self.corner = corner
            self.setOffset((MARGIN if corner[0] == 0 else -MARGIN,
                            MARGIN if corner[1] == 0 else -MARGIN))

    # ------------------------------------------------------------------ mouse
    def mouseDragEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if ev.button() == Qt.LeftButton:
            self.moved_by_user = True
        super().mouseDragEvent(ev)

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if ev.button() != Qt.RightButton:
            return
        ev.accept()
        menu = QMenu()
        menu.addAction("Hide legend", lambda: self.toggle_action.setChecked(False))
        if self.moved_by_user:
            menu.addAction("Put legend back in a corner", self.reset_position)
        menu.exec(ev.screenPos().toPoint())

    def reset_position(self) -> None:
        """Forget a drag: the legend goes back to the emptiest corner."""
        self.moved_by_user = False
        self.corner = (1, 0)
        self.setOffset((-MARGIN, MARGIN))

    # ------------------------------------------------------------------ visibility
    def _on_toggle_action_toggled(self, on: bool) -> None:
        self._hidden_by_user = not on
        self._show()

    def _show(self) -> None:
        self.setVisible(not self._hidden_by_user and bool(self.items))


__all__ = ["PlotLegend", "emptiest_corner", "CORNERS", "MARGIN"]
