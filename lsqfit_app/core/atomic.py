"""The one way this app writes a file: a temporary file renamed over the target.

A crash, a full disk or a ``kill -9`` while writing must leave either the old
file or the new one, never half of one.  :func:`write_atomic` writes
``.~lsqfit-<target>.<pid>.<random>.tmp`` in the target's folder, flushes
and fsyncs it, gives it the mode of the file it replaces (or of any new
file), renames it over the target with :func:`os.replace` and fsyncs the
folder so the rename itself survives a power cut.

A writer killed mid-save leaves its temporary file behind.  The name says
whose it was (the target and the writer's process id), so the next save
into that folder removes the temporaries of that target whose writer is
gone, and :func:`clean_orphans` does the same for a whole folder (the GUI
calls it at start on its autosave folder).  A temporary of a live process
is left alone unless it is older than :data:`STALE_SECONDS` (a pid reused
by an unrelated process after a crash).
"""
from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import time
from typing import Callable, IO

from lsqfit_app.core.errors import InputError

PREFIX = ".~lsqfit-"
SUFFIX = ".tmp"
#: A temporary this old is an orphan even if its pid is alive again.
STALE_SECONDS = 600.0

_NAME = re.compile(re.escape(PREFIX) + r"(?P<target>.+)\.(?P<pid>\d+)\.[^.]+"
                   + re.escape(SUFFIX) + r"$")


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; a saved file should get
    # the permissions any new file gets.  Reading the umask means setting it, so
    # do it once, at import, before threads are likely.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


def temp_prefix(target: str) -> str:
    """The start of the temporary names for ``target`` written by this process."""
    return f"{PREFIX}{os.path.basename(target)}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover - no cheap probe; age decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return True


def clean_orphans(folder: str | os.PathLike, target: str | None = None) -> list[str]:
    """Remove temporaries in ``folder`` left by writers that died mid-save.

    With ``target`` (a file name or path), only that target's temporaries.
    Returns the paths removed; errors (a read-only folder) are ignored: this
    is tidying, never a reason for a save to fail.
    """
    folder = os.fspath(folder) or "."
    want = os.path.basename(target) if target is not None else None
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not name.startswith(PREFIX):
            continue
        m = _NAME.match(name)
        if m is None or (want is not None and m.group("target") != want):
            continue
        path = os.path.join(folder, name)
        pid = int(m.group("pid"))
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue
        if not _pid_alive(pid) or age > STALE_SECONDS:   # (our own pid is alive)
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
    return removed


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` atomically; ``write(fh)`` fills the binary temporary file.

    Raises
    ------
    InputError
        Naming the path when the folder is missing or the disk refuses.
        Whatever ``write`` raises passes through; the temporary is removed
        either way and the previous file is left as it was.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {target!r}: the folder {folder!r} does not exist")
    clean_orphans(folder, target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {target!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(target).st_mode & 0o777  # keep the mode of the file replaced
        except OSError:
            mode = _MODE
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):  # a full disk, no permission: say which file
            raise InputError(f"cannot write {target!r}: {exc.strerror or exc}") from None
        raise
    _sync_folder(folder)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_atomic(path, lambda fh: fh.write(data))


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode(encoding))


def write_text_stream_atomic(path: str | os.PathLike, fill: Callable[[IO[str]], None],
                             encoding: str = "utf-8") -> None:
    """Write atomically what ``fill(text_file)`` writes, streamed (never whole in memory).

    The text file is opened with ``newline=""``, as the csv module wants.
    """
    def write(raw) -> None:
        fh = io.TextIOWrapper(raw, encoding=encoding, newline="")
        fill(fh)
        fh.flush()
        fh.detach()  # write_atomic closes the file itself

    write_atomic(path, write)


def _sync_folder(folder: str) -> None:
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened there
        return
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
