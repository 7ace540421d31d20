"""The main window's size and splitters: fitted to the screen, kept between sessions.

On first start the window takes :data:`PREFERRED_SIZE`, or less on a screen
without room for it (never more than the screen's available area), centred.
Its geometry and the positions of both splitters are saved in QSettings when
it closes and restored when it opens; a geometry saved on a bigger screen is
cut down to the current one.
"""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication

#: the window's size on a screen that has room for it
PREFERRED_SIZE = (1400, 900)
#: room left around the window for a window manager's frame and panels
SCREEN_MARGIN = (16, 40)
KEYS = ("window/geometry", "window/splitter", "window/right_splitter")
#: the first split of the width: data table, (plots take the rest), fit and results
DATA_SHARE, RIGHT_SHARE = 0.23, 0.36
MIN_DATA, MIN_RIGHT, MIN_PLOTS = 250, 450, 300


def initial_size(available_width: int, available_height: int) -> tuple[int, int]:
    """The first size of the window on a screen with this available area."""
    return (min(PREFERRED_SIZE[0], available_width - SCREEN_MARGIN[0]),
            min(PREFERRED_SIZE[1], available_height - SCREEN_MARGIN[1]))


def _available(window):
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def size_to_screen(window) -> None:
    area = _available(window)
    if area is None:
        window.resize(*PREFERRED_SIZE)
        return
    w, h = initial_size(area.width(), area.height())
    window.resize(w, h)
    window.move(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2)


def default_splits(window) -> None:
    """Splitter positions for the window's current size."""
    width, height = window.width(), window.height()
    right = max(MIN_RIGHT, int(RIGHT_SHARE * width))
    data = max(MIN_DATA, int(DATA_SHARE * width))
    window.splitter.setSizes([data, max(MIN_PLOTS, width - data - right), right])
    window.right_splitter.setSizes([int(0.6 * height), int(0.4 * height)])


def restore(window) -> None:
    """Last session's size and splitters, else a size that fits the screen."""
    settings = QSettings()
    geometry = settings.value(KEYS[0])
    if geometry is None or not window.restoreGeometry(geometry):
        size_to_screen(window)
    area = _available(window)
    if area is not None and (window.width() > area.width() or window.height() > area.height()):
        size_to_screen(window)
    default_splits(window)
    for splitter, key in ((window.splitter, KEYS[1]), (window.right_splitter, KEYS[2])):
        state = settings.value(key)
        if state is not None:
            splitter.restoreState(state)


def save(window) -> None:
    """Remember size, position and splitters for the next session."""
    settings = QSettings()
    for key, value in zip(KEYS, (window.saveGeometry(), window.splitter.saveState(),
                                 window.right_splitter.saveState())):
        settings.setValue(key, value)
