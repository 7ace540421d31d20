"""Writing output files safely: a temporary file renamed over the target.

A crash or a full disk while writing a report must not leave a truncated
file where the user expects a good one, nor destroy the previous version.
"""
from __future__ import annotations

import os
import tempfile

from lsqfit_app.core.errors import InputError


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; a report should get the
    # permissions any new file gets.  Reading the umask means setting it, so do
    # it once, at import, before threads are likely.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lsqfit-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            mode = os.stat(path).st_mode & 0o777  # keep the mode of the file replaced
        except OSError:
            mode = _MODE
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write {path!r}: {exc.strerror or exc}") from None


def write_text_atomic(path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


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
