"""Where a fit came from: the facts a report needs beyond the result itself.

A :class:`ReportContext` records the input file (name, SHA-256, sheet), the
columns used, the masked rows with their reasons, the fit range, the software
versions and the date, so that a report can be traced back to its data and
rerun.  It is built from what the importer returned (:meth:`from_read`) or,
for API users without a file, from the problem alone (:meth:`minimal`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from dataclasses import dataclass, field

import numpy as np


def file_sha256(path) -> str | None:
    """SHA-256 of a file's bytes as hex, or None when it cannot be read."""
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def _versions() -> tuple[tuple[str, str], ...]:
    import scipy

    import lsqfit_app

    return (("lsqfit-app", lsqfit_app.__version__), ("numpy", np.__version__),
            ("scipy", scipy.__version__), ("python", platform.python_version()))


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


@dataclass(frozen=True)
class MaskedRow:
    """A row left out of the fit by the user.

    ``row`` is 0-based in the table; ``line`` is the file line (sheet row)
    it came from when the importer knows it.
    """

    row: int
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class ReportContext:
    """Provenance of a fit for reports and scripts.

    Attributes
    ----------
    title : str
    source_name, source_path : str or None
        The input file's name and the path as given.
    sha256 : str or None
        Hex digest of the input file's bytes.
    sheet : str or None
        Worksheet of a workbook.
    columns : tuple of (role, column) pairs
        ("x", "t (s)"), ("y", "signal (V)"), ("sigma", ...).
    masked : tuple of MaskedRow
    fit_range : (low, high) or None
        An x range the user restricted the fit to, if any.
    versions : tuple of (name, version) pairs
    created : str
        Local date and time the report was made.
    notes : tuple of str
        Remarks from the import (cells that are not numbers, ...).
    """

    title: str = "Least-squares fit report"
    source_name: str | None = None
    source_path: str | None = None
    sha256: str | None = None
    sheet: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    masked: tuple[MaskedRow, ...] = ()
    fit_range: tuple[float, float] | None = None
    versions: tuple[tuple[str, str], ...] = field(default_factory=_versions)
    created: str = field(default_factory=_now)
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------
    @classmethod
    def from_read(cls, read, problem, source=None, *, fit_range=None,
                  title: str | None = None) -> "ReportContext":
        """Context from an importer's ReadResult and the problem built from it.

        Tolerant of partial ``read`` objects: every attribute is optional.

        Parameters
        ----------
        read : lsqfit_app.io ReadResult (``table``, ``sheet``, ``problems``,
            ``data_rows``, ``notes``) or None
        problem : FitProblem
        source : path of the input file (defaults to ``read.source``)
        fit_range : optional (low, high) x range of the fit
        title : optional report title
        """
        path = source if source is not None else getattr(read, "source", None)
        path = os.fspath(path) if path not in (None, "") else None
        is_file = path is not None and os.path.isfile(path)
        table = getattr(read, "table", None)
        reasons: dict[int, str] = {}
        getter = getattr(table, "mask_reasons", None)
        if callable(getter):
            try:
                reasons = dict(getter())
            except Exception:  # a half-landed table must not stop a report
                reasons = {}
        lines = getattr(read, "data_rows", None)
        notes = list(getattr(read, "notes", ()) or ())
        n_problems = getattr(read, "n_problems", 0) or len(getattr(read, "problems", ()) or ())
        if n_problems:
            notes.append(f"{n_problems} cell(s) of numeric columns were not numbers and are "
                         "treated as missing")
        return cls(
            title=title or cls.title,
            source_name=os.path.basename(path) if path else None,
            source_path=path,
            sha256=file_sha256(path) if is_file else None,
            sheet=getattr(read, "sheet", None),
            columns=_columns(problem),
            masked=_masked(problem, reasons, lines),
            fit_range=tuple(fit_range) if fit_range is not None else None,
            notes=tuple(str(n) for n in notes),
        )

    @classmethod
    def minimal(cls, problem, *, title: str | None = None, fit_range=None) -> "ReportContext":
        """Context for a problem built in code (no input file)."""
        return cls(title=title or cls.title, columns=_columns(problem),
                   masked=_masked(problem, {}, None),
                   fit_range=tuple(fit_range) if fit_range is not None else None)


def _columns(problem) -> tuple[tuple[str, str], ...]:
    labels = dict(getattr(problem, "labels", {}) or {})
    xs = tuple(problem.x)
    out: list[tuple[str, str]] = []
    if len(xs) == 1:
        out.append(("x", str(labels.get("x", xs[0]))))
    else:
        for i, name in enumerate(xs):
            out.append((f"x{i + 1}", str(labels.get("x", name)) if i == 0 and "x" in labels
                        else name))
    out.append(("y", str(labels.get("y", "y"))))
    if problem.weighting == "sigma":
        out.append(("sigma", str(labels.get("sigma", "sigma"))))
    return tuple(out)


def _masked(problem, reasons: dict, lines) -> tuple[MaskedRow, ...]:
    excluded = np.asarray(problem.excluded if problem.excluded is not None else [], dtype=bool)
    rows = set(int(r) for r in np.flatnonzero(excluded)) | {int(r) for r in reasons}
    out = []
    for r in sorted(rows):
        line = None
        if lines is not None:
            try:
                line = int(lines[r])
            except (IndexError, TypeError, ValueError):
                line = None
        out.append(MaskedRow(r, str(reasons.get(r, "masked")), line))
    return tuple(out)
