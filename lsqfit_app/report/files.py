"""Writing output files safely: a temporary file renamed over the target.

A crash or a full disk while writing a report must not leave a truncated
file where the user expects a good one, nor destroy the previous version.
The writing itself is :mod:`lsqfit_app.core.atomic`, shared with projects
and CSV exports.
"""
from __future__ import annotations

import os

from lsqfit_app.core.atomic import write_bytes_atomic, write_text_atomic
from lsqfit_app.core.errors import InputError

__all__ = ["checked_suffix", "write_bytes_atomic", "write_text_atomic"]


def checked_suffix(path, allowed, action: str) -> tuple[str, str]:
    """(path, lower-case suffix), or InputError naming the path and the allowed suffixes.

    ``action`` completes "cannot ... {path}", e.g. "write a report to".
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in allowed:
        raise InputError(f"cannot {action} {path!r}: the file name must end in "
                         f"{', '.join(allowed)}")
    return path, suffix
