"""Command line: ``lsqfit-app [FILE]`` opens the GUI, ``lsqfit-app COMMAND ...`` runs headless.

A first word that is neither a command nor an existing file is a usage
error (a typo is not a file to open); before the GUI starts,
:mod:`lsqfit_app.gui.platform_check` makes sure Qt can open a window here,
since Qt aborts the process when it cannot.

Each sub-command lives in its own module here with ``add_arguments(parser)``
and ``run(args) -> int``.  Exit status (DESIGN.md 4.1): 0 fitted and
converged, 1 fitted but not converged, 2 bad input or usage, with one message
on stderr and never a traceback.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys

from lsqfit_app import __version__
from lsqfit_app.core.errors import InputError

#: sub-command name -> (module under lsqfit_app.cli, one-line help)
COMMANDS = {
    "fit": ("fit", "fit a model to a data file"),
    "table": ("table", "show how a data file is read"),
    "compare": ("compare", "fit several models and rank them"),
    "models": ("models", "list the library models"),
    "verify": ("verify", "run the NIST StRD self-check"),
}

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_BAD_INPUT = 0, 1, 2


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits with status 2 on usage errors already; keep its message short."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, (module, _help) in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(f"lsqfit_app.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"lsqfit_app.cli.{module}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="lsqfit-app",
        description="Least-squares curve fitting. With no command, opens the GUI on FILE "
        "(a data file or .lsqfit project) or on a bundled example.")
    parser.add_argument("--version", action="version", version=f"lsqfit-app {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_ArgumentParser)
    for name, module in _available_commands().items():
        p = sub.add_parser(name, help=COMMANDS[name][1], description=COMMANDS[name][1])
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        problem = _gui_usage_problem(argv)
        if problem:
            print(f"lsqfit-app: error: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return _run_gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    module = _available_commands()[args.command]
    try:
        return module.run(args)
    except InputError as exc:
        print(f"lsqfit-app {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


#: commands of a later version (DESIGN.md 4.4): named as such rather than guessed at
LATER_COMMANDS = ("batch", "global")


def _gui_usage_problem(argv: list[str]) -> str | None:
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
        if word.lower() in LATER_COMMANDS:
            return (f"'{word}' is not a command of lsqfit-app {__version__} "
                    f"(commands: {commands})")
        close = difflib.get_close_matches(word.lower(), list(COMMANDS), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f" (commands: {commands})"
        return f"unknown command '{word}'{hint}"
    if extra:
        return (f"the GUI opens one FILE; unexpected after {word}: {' '.join(extra)} "
                f"(for a headless fit: lsqfit-app fit {word} {' '.join(extra)})")
    return None


def _run_gui(argv: list[str]) -> int:
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
