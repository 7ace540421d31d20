"""The files a command reads and writes: checks made before any work starts.

No output may replace an input (DESIGN.md 5): ``--export-fit data.csv`` on the
file being fitted would destroy the user's data with exit status 0.  The same
file can be named many ways (``data.csv``, ``./data.csv``, an absolute path, a
symlink, a hard link), so paths are compared as files, not as text:
:func:`os.path.samefile` when both exist (it sees hard links and symlinks),
else the fully resolved :func:`os.path.realpath` (an output that does not exist
yet, or a dangling symlink that would be written through).  Two outputs that
resolve to the same file are refused too: the second would silently replace
the first.

Every command that writes files calls :func:`check_outputs` once, before it
reads or fits anything, so a refused output costs nothing and writes nothing.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

from lsqfit_app.core.errors import InputError

#: argparse dest -> option, for the output options the fit commands may have
OUTPUT_OPTIONS = {"report": "--report", "export_fit": "--export-fit", "script": "--script"}


def output_paths(args) -> dict[str, str]:
    """``{option: path}`` for the output options given on ``args`` (empty text included)."""
    return {opt: getattr(args, dest) for dest, opt in OUTPUT_OPTIONS.items()
            if getattr(args, dest, None) is not None}


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _suffixes() -> dict[str, tuple[tuple[str, ...], str]]:
    # the report package's own suffix lists and check: one rule, applied early
    from lsqfit_app.report import REPORT_SUFFIXES
    from lsqfit_app.report.exports import EXPORT_SUFFIXES

    return {"--report": (REPORT_SUFFIXES, "write a report to"),
            "--export-fit": (EXPORT_SUFFIXES, "export fitted data to")}


def check_outputs(inputs: Iterable[str], outputs: Mapping[str, str]) -> None:
    """Refuse outputs that are empty, folders, of the wrong kind, an input, or each other.

    Parameters
    ----------
    inputs : paths the command reads (the data file).
    outputs : ``{option: path}``, e.g. ``{"--report": "fit.html"}``; only options given.

    Raises
    ------
    InputError
        One message naming the option(s) and both paths.
    """
    from lsqfit_app.report.files import checked_suffix

    inputs = [os.fspath(p) for p in inputs]
    suffixes = _suffixes()
    seen: list[tuple[str, str]] = []
    for option, path in outputs.items():
        path = os.fspath(path)
        if not path.strip():
            raise InputError(f"{option}: the file name is empty; give a path such as "
                             f"{_example(option)} or leave the option out")
        if os.path.isdir(path):
            raise InputError(f"{option} {path!r} is a folder; give a file name inside it, "
                             f"e.g. {os.path.join(path, _example(option))!r}")
        for source in inputs:
            if _same_file(path, source):
                raise InputError(
                    f"{option} {path!r} is the input file {source!r}: writing it would replace "
                    "the data; choose another file name")
        for other_option, other in seen:
            if _same_file(path, other):
                raise InputError(
                    f"{other_option} {other!r} and {option} {path!r} are the same file: the "
                    "second would replace the first; give each output its own file name")
        if option in suffixes:
            allowed, action = suffixes[option]
            checked_suffix(path, allowed, action)
        seen.append((option, path))


def _example(option: str) -> str:
    return {"--report": "fit.html", "--export-fit": "fit.csv", "--script": "fit.py"}.get(
        option, "out.txt")
