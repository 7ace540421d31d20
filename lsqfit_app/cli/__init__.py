"""The headless commands: ``lsqfit-app COMMAND ...`` (``fit``, ``table``, ``compare``, ...).

:mod:`lsqfit_app.launcher` decides between the window and a command; this
package never imports the GUI.  Each sub-command lives in its own module here with ``add_arguments(parser)``
and ``run(args) -> int``.  Exit status (DESIGN.md 4.1): 0 fitted and
converged, 1 fitted but not converged, 2 bad input or usage, with one message
on stderr and never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from lsqfit_app import __version__
from lsqfit_app.core.errors import InputError

#: sub-command name -> (module under lsqfit_app.cli, one-line help)
COMMANDS = {
    "fit": ("fit", "fit a model to a data file, or refit a .lsqfit project"),
    "table": ("table", "show how a data file is read"),
    "compare": ("compare", "fit several models and rank them"),
    "batch": ("batch", "fit one model to many curves, each on its own"),
    "global": ("global_fit", "fit many curves jointly, some parameters shared"),
    "models": ("models", "list the library models"),
    "verify": ("verify", "run the NIST StRD self-check"),
}

# (1, fitted but not converged, is what the fitting commands' run() returns)
EXIT_OK, EXIT_BAD_INPUT = 0, 2


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
    """Run one headless command; ``lsqfit-app`` itself starts in :func:`lsqfit_app.launcher.main`."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
