"""File helpers of the window: recent files and the recovery file.

Reading and writing themselves belong to :mod:`lsqfit_app.io` (tables via
``read_table``, projects via ``io.project``); this module only keeps what is
specific to a desktop session.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from lsqfit_app.io.project import SUFFIX as PROJECT_SUFFIX

MAX_RECENT = 10


def settings() -> QSettings:
    """The application's settings store."""
    return QSettings("lsqfit-app", "lsqfit-app")


def recent_files() -> list[str]:
    """Recently opened or saved files, newest first, existing ones only."""
    value = settings().value("recent_files", [])
    if isinstance(value, str):
        value = [value]
    return [p for p in (value or []) if os.path.exists(p)]


def add_recent_file(path: str | os.PathLike) -> None:
    """Put ``path`` at the top of the recent files."""
    path = os.path.abspath(os.fspath(path))
    files = [p for p in recent_files() if p != path]
    settings().setValue("recent_files", [path] + files[:MAX_RECENT - 1])


def recovery_path() -> Path:
    """Where the autosave of the current session goes."""
    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or os.path.expanduser(
        "~/.lsqfit-app")
    folder = Path(base) / "recovery"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"autosave{PROJECT_SUFFIX}"


def is_project(path: str | os.PathLike) -> bool:
    """True for a .lsqfit project file (by suffix)."""
    return os.fspath(path).lower().endswith(PROJECT_SUFFIX)
