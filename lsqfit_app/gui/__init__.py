"""The Qt GUI: the only package that imports PySide6 or pyqtgraph.

Importing it applies :mod:`lsqfit_app.gui.qt_compat` first, so every window
and every test runs with the binding's known defects worked around.
"""
import PySide6  # noqa: F401 - before pyqtgraph, which otherwise may pick another binding

from lsqfit_app.gui.qt_compat import apply_workarounds

apply_workarounds()
