"""The window's layout, menus and Help as a user meets them."""
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QKeySequence

from lsqfit_app.gui import window_layout

PEAK = ("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")


def test_fit_and_cancel_show_their_shortcuts_in_the_menu(window):
    assert window.fit_action.shortcut() == QKeySequence("Ctrl+R")
    assert window.cancel_action.shortcut() == QKeySequence(Qt.Key_Escape)
    # the button carries none: two owners of one key would make Qt ignore both
    assert window.fit_panel.fit_button.shortcut().isEmpty()
    assert window.fit_action in window.plot_bar.actions()


def test_help_menu_opens_bundled_pages_offline(qtbot, window):
    texts = [a.text().replace("&", "") for a in window.help_menu.actions()]
    assert {"User guide", "Formula language", "Keyboard shortcuts",
            "About lsqfit-app"} <= set(texts)
    guide = window.help_actions.show_guide().browser.toPlainText()
    assert "user guide" in guide.lower() and "min" in guide and "Out of date" in guide
    formulas = window.help_actions.show_formulas().browser.toPlainText()
    for word in ("arcsin", "erfc", "log10", "**", "pi"):
        assert word in formulas
    keys = window.help_actions.show_shortcuts().browser.toPlainText()
    assert "Ctrl+R" in keys and "Esc" in keys and "Fit > Fit" in keys
    window.help_actions.show_about()
    about = window.status_message.text()
    for name in ("lsqfit-app", "Python", "Qt", "PySide6", "pyqtgraph", "numpy", "scipy"):
        assert name in about


def test_initial_size_never_exceeds_the_screen():
    assert window_layout.initial_size(1280, 720)[0] <= 1280
    assert window_layout.initial_size(1280, 720)[1] <= 720
    assert window_layout.initial_size(1920, 1080) == window_layout.PREFERRED_SIZE


def test_new_window_fits_its_screen(qtbot):
    from lsqfit_app.gui.main_window import MainWindow
    w = MainWindow()
    w._quiet = True
    try:
        area = w.screen().availableGeometry()
        assert w.width() <= area.width() and w.height() <= area.height()
    finally:
        w._closing = True
        w.close()
        w.deleteLater()


def _rect(widget, window) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def test_at_1280x720_no_widget_covers_the_parameter_rows(qtbot, window, peak_csv):
    assert window.open_path(str(peak_csv), ask=False)
    window.set_roles(*PEAK)
    window.set_model("gaussian+line")
    window.resize(1264, 680)
    qtbot.wait(50)
    panel = window.fit_panel
    table = _rect(panel.parameter_view, window)
    for button in (panel.guess_button, panel.use_result_button):
        assert not table.intersects(_rect(button, window))
    # every parameter row fits in the table (the panel scrolls instead)
    view = panel.parameter_view
    last = view.visualRect(panel.parameters.index(4, 0))
    assert last.bottom() <= view.viewport().height()


def test_splitters_remember_their_place(qtbot, window):
    area = window.screen().availableGeometry()
    window.resize(area.width() - 20, area.height() - 40)
    qtbot.wait(20)
    sizes = window.splitter.sizes()
    moved = [sizes[0] + 80, sizes[1] - 80, sizes[2]]
    window.splitter.setSizes(moved)
    window_layout.save(window)
    from lsqfit_app.gui.main_window import MainWindow
    w = MainWindow()
    try:
        w.show()
        qtbot.wait(20)
        assert w.size() == window.size()
        # the saved positions, not the defaults for the window's size
        assert w.splitter.sizes() == window.splitter.sizes() != sizes
    finally:
        w._closing = True
        w.close()
        w.deleteLater()
