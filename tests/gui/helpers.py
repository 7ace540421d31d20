"""Mouse helpers that drive pyqtgraph plots like a person would."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def data_to_widget(plots, view, x: float, y: float) -> QPointF:
    """Viewport pixel position of data coordinates in a plot's ViewBox."""
    scene = view.mapViewToScene(QPointF(x, y))
    return QPointF(plots.mapFromScene(scene))


def _send(widget, kind, pos: QPointF, button, buttons, modifiers=Qt.NoModifier):
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QMouseEvent(kind, pos, global_pos, button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def click(plots, pos: QPointF, modifiers=Qt.NoModifier) -> None:
    """A left click at a viewport position."""
    vp = plots.viewport()
    _send(vp, QEvent.MouseMove, pos, Qt.NoButton, Qt.NoButton, modifiers)
    _send(vp, QEvent.MouseButtonPress, pos, Qt.LeftButton, Qt.LeftButton, modifiers)
    _send(vp, QEvent.MouseButtonRelease, pos, Qt.LeftButton, Qt.NoButton, modifiers)
    QApplication.processEvents()


def drag(plots, start: QPointF, end: QPointF, modifiers=Qt.ShiftModifier, steps: int = 8) -> None:
    """A left-button drag from ``start`` to ``end`` (viewport positions)."""
    vp = plots.viewport()
    _send(vp, QEvent.MouseMove, start, Qt.NoButton, Qt.NoButton, modifiers)
    _send(vp, QEvent.MouseButtonPress, start, Qt.LeftButton, Qt.LeftButton, modifiers)
    for k in range(1, steps + 1):
        # pyqtgraph drops mouse moves that follow each other too fast (rate limit)
        QTest.qWait(20)
        p = start + (end - start) * (k / steps)
        _send(vp, QEvent.MouseMove, p, Qt.NoButton, Qt.LeftButton, modifiers)
    _send(vp, QEvent.MouseButtonRelease, end, Qt.LeftButton, Qt.NoButton, modifiers)
    QApplication.processEvents()


__all__ = ["click", "drag", "data_to_widget"]
