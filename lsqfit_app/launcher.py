"""``lsqfit-app``: the window, or a headless command.

``lsqfit-app [FILE]`` opens the window on FILE (a data file or a ``.lsqfit``
project) or on the bundled example; ``lsqfit-app COMMAND ...`` runs a
command of :mod:`lsqfit_app.cli` without Qt.  This module stands above the
layers (gui, cli, ...): it is the one place outside :mod:`lsqfit_app.gui`
that imports it.

A first word that is neither a command nor an existing file is a usage
error (a typo is not a file to open); before the window starts,
:mod:`lsqfit_app.gui.platform_check` makes sure Qt can open a window here,
since Qt aborts the process when it cannot.
"""
from __future__ import annotations

import difflib
import os
import sys

from lsqfit_app import cli
from lsqfit_app.cli import COMMANDS, EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        problem = gui_usage_problem(argv)
        if problem:
            print(f"lsqfit-app: error: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return run_gui(argv)
    return cli.main(argv)


def gui_usage_problem(argv: list[str]) -> str | None:
    """What is wrong with ``lsqfit-app WORD ...`` as a GUI start, or None.

    A word that is neither a command nor an existing file would otherwise be
    opened in the window (a typo such as ``fti`` ended in Qt's abort on a
    server); extra words after the file would be silently dropped.
    """
    if not argv:
        return None
    word, extra = argv[0], argv[1:]
    if os.path.isdir(word):
        return f"{word} is a folder; give a data file or a .lsqfit project"
    if not os.path.exists(word):
        if os.path.splitext(word)[1] or os.sep in word or (os.altsep and os.altsep in word):
            return f"no such file: {word}"
        commands = ", ".join(COMMANDS)
        close = difflib.get_close_matches(word.lower(), list(COMMANDS), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f" (commands: {commands})"
        return f"unknown command '{word}'{hint}"
    if extra:
        return (f"the GUI opens one FILE; unexpected after {word}: {' '.join(extra)} "
                f"(for a headless fit: lsqfit-app fit {word} {' '.join(extra)})")
    return None


def run_gui(argv: list[str]) -> int:
    file = argv[0] if argv else None
    try:
        # before QtGui/QtWidgets: Qt aborts the process when no platform plugin starts
        from lsqfit_app.gui.platform_check import import_error_message, startup_problem
    except ImportError as exc:  # GUI not built, Qt not installed or QtCore unloadable
        print(f"lsqfit-app: the GUI is not available ({exc}); try 'lsqfit-app fit FILE'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    problem = startup_problem(file=file)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        from lsqfit_app.gui.app import run_gui
    except ModuleNotFoundError as exc:  # GUI not built or Qt not installed
        print(f"lsqfit-app: the GUI is not available ({exc}); try 'lsqfit-app fit FILE'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImportError as exc:          # QtGui without its system libraries (libGL, libEGL)
        print(import_error_message(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    return run_gui(argv, checked=True)
