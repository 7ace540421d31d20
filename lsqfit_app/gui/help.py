"""The Help menu: user guide, formula language, keyboard shortcuts, About.

The guide and the formula page are HTML files bundled in ``resources/``
(``help_*.html``), shown in a :class:`QTextBrowser`, so they open offline and
follow the installed version.  The shortcut list is made from the window's
own menus when it is opened, so it can never disagree with them.  About
names the versions a bug report needs.
"""
from __future__ import annotations

import html
import platform

from PySide6.QtCore import QUrl
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QMessageBox, QTextBrowser,
                               QVBoxLayout)

GUIDE = "help_guide.html"
FORMULAS = "help_formulas.html"
#: keys that act in the plots and tables rather than through a menu
OTHER_KEYS = (
    ("Click a point", "Exclude it from the fit, or include it again"),
    ("Shift+drag in the plot", "Exclude (or include) the points in a rectangle"),
    ("Drag / wheel in the plot", "Pan / zoom; right-click for the plot's own menu"),
    ("Enter, F2 or typing", "Edit a table cell"),
    ("Ctrl+click, Shift+click", "Add a row to the selection, extend the selection"),
)


def versions() -> list[tuple[str, str]]:
    """(name, version) of the program and the libraries it runs on."""
    import numpy
    import pyqtgraph
    import PySide6
    import scipy
    from PySide6.QtCore import qVersion

    import lsqfit_app
    return [("lsqfit-app", lsqfit_app.__version__), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__),
            ("pyqtgraph", pyqtgraph.__version__), ("numpy", numpy.__version__),
            ("scipy", scipy.__version__)]


def about_text() -> str:
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td></tr>"
                   for n, v in versions())
    return ("<h3>lsqfit-app</h3><p>A least-squares curve-fitting workbench: live fits, a "
            "certified engine (NIST StRD), reproducible reports.</p>"
            f"<table cellpadding='2'>{rows}</table>"
            f"<p>{html.escape(platform.platform())}</p>")


def _menu_shortcuts(menu, path: str) -> list[tuple[str, str]]:
    out = []
    for action in menu.actions():
        sub = action.menu()
        if sub is not None:
            out += _menu_shortcuts(sub, f"{path} > {action.text().replace('&', '')}")
            continue
        keys = [k.toString(QKeySequence.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys and not action.isSeparator():
            out.append((", ".join(keys), f"{path} > {action.text().replace('&', '')}"))
    return out


def shortcuts(window) -> list[tuple[str, str]]:
    """(keys, what) of every menu action with a shortcut, then the plot and table keys."""
    out = []
    for action in window.menuBar().actions():
        if action.menu() is not None:
            out += _menu_shortcuts(action.menu(), action.text().replace("&", ""))
    return out + list(OTHER_KEYS)


def shortcuts_html(window) -> str:
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(w)}</td></tr>"
                   for k, w in shortcuts(window))
    return ("<html><body><h2>Keyboard shortcuts</h2>"
            f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>"
            f"<p>See also the <a href='{GUIDE}'>user guide</a>.</p></body></html>")


class HelpBrowser(QDialog):
    """A window showing a bundled help page; links between the pages work offline."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("lsqfit-app help")
        self.resize(720, 640)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        from lsqfit_app.core.resources import resource_path
        self.browser.setSearchPaths([str(resource_path(GUIDE).parent)])
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def show_page(self, name: str) -> None:
        self.browser.setSource(QUrl(name))
        self._present()

    def show_html(self, text: str, title: str) -> None:
        self.browser.setHtml(text)
        self.setWindowTitle(f"lsqfit-app: {title}")
        self._present()

    def _present(self) -> None:
        title = self.browser.documentTitle()
        if title:
            self.setWindowTitle(f"lsqfit-app: {title}")
        self.show()
        self.raise_()
        self.activateWindow()


class HelpActions:
    """The Help menu's commands for a window (one help browser, reused)."""

    def __init__(self, window):
        self._window = window
        self.browser: HelpBrowser | None = None

    def _browser(self) -> HelpBrowser:
        if self.browser is None:
            self.browser = HelpBrowser(self._window)
        return self.browser

    def show_guide(self) -> HelpBrowser:
        self._browser().show_page(GUIDE)
        return self.browser

    def show_formulas(self) -> HelpBrowser:
        self._browser().show_page(FORMULAS)
        return self.browser

    def show_shortcuts(self) -> HelpBrowser:
        self._browser().show_html(shortcuts_html(self._window), "Keyboard shortcuts")
        return self.browser

    def show_about(self) -> None:
        if getattr(self._window, "_quiet", False):
            self._window.show_message("; ".join(f"{n} {v}" for n, v in versions()))
            return
        QMessageBox.about(self._window, "About lsqfit-app", about_text())


def build_help_menu(window, bar):
    """Add the Help menu to ``bar``; the window keeps the actions as ``help_actions``."""
    actions = window.help_actions = HelpActions(window)
    menu = bar.addMenu("&Help")
    guide = menu.addAction("User &guide", actions.show_guide)
    guide.setShortcut(QKeySequence.HelpContents)
    menu.addAction("&Formula language", actions.show_formulas)
    menu.addAction("&Keyboard shortcuts", actions.show_shortcuts)
    menu.addSeparator()
    menu.addAction("&About lsqfit-app", actions.show_about)
    return menu
