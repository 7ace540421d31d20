"""The outputs of ``lsqfit-app batch`` and ``global``: result files, JSON, a progress bar.

``--out PATH`` writes one row per curve: ``.csv`` and ``.xlsx`` the table of
DESIGN.md 4.4 (``id, status, <param>, <param>_stderr, ..., sse, r_squared,
aicc``, from ``result.table()``), through :mod:`lsqfit_app.io.writers` (atomic;
ids and messages from the data are written as text, never as formulas);
``.json`` the result's JSON (``result.to_dict()``).  JSON is strict: a value
that is not finite is ``null``.
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from lsqfit_app.core.errors import InputError

#: suffixes of ``--out`` for a table of curves
OUT_SUFFIXES = (".csv", ".xlsx", ".json")
#: suffixes of image-stack maps (DESIGN.md 4.4), refused until stacks are read
STACK_OUT_SUFFIXES = (".zarr", ".tif", ".tiff", ".h5", ".hdf5")


def check_out_suffix(path: str) -> str:
    """The lower-case suffix of ``--out``, or InputError naming the path and the choices."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in STACK_OUT_SUFFIXES:
        raise InputError(f"--out {path!r}: parameter maps ({suffix}) are written for image "
                         "stacks, which are not supported yet; give .csv, .xlsx or .json")
    if suffix not in OUT_SUFFIXES:
        raise InputError(f"--out {path!r}: the file name must end in {', '.join(OUT_SUFFIXES)}")
    return suffix


def json_ready(value):
    """``value`` with tuples as lists, numpy scalars as numbers and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(data: dict) -> str:
    """Strict JSON text of a result dict (indented, UTF-8 kept)."""
    return json.dumps(json_ready(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def results_table(header, rows):
    """A :class:`~lsqfit_app.core.table.Table` of ``result.table()``: text columns where any
    cell is text (id, status), numbers elsewhere (missing values are NaN)."""
    from lsqfit_app.core.table import Table

    columns = list(zip(*rows)) if rows else [() for _ in header]
    arrays, numeric, texts = [], [], []
    for cells in columns:
        is_text = any(isinstance(c, str) for c in cells)
        if is_text:
            arrays.append(np.full(len(cells), np.nan))
            texts.append(np.array(["" if c is None else str(c) for c in cells], dtype=object)
                         .astype(str) if cells else np.array([], dtype=str))
        else:
            arrays.append(np.array([np.nan if c is None else float(c) for c in cells],
                                   dtype=float))
            texts.append(None)
        numeric.append(not is_text)
    return Table.from_columns(list(header), arrays, numeric=numeric, texts=texts)


def write_results(result, path: str) -> None:
    """Write ``result`` (a batch or global result) to ``path`` by its suffix."""
    from lsqfit_app.core.atomic import write_text_atomic
    from lsqfit_app.io.writers import write_csv, write_xlsx

    suffix = check_out_suffix(path)
    if suffix == ".json":
        write_text_atomic(path, dumps(result.to_dict()))
        return
    table = results_table(*result.table())
    if suffix == ".csv":
        write_csv(table, path)
    else:
        write_xlsx(table, path, sheet="Curves")


class ProgressBar:
    """Progress on one line of stderr, only when stderr is a terminal.

    Called with each :class:`~lsqfit_app.batch.result.BatchProgress` of a
    batch (``curves done / total, failed`` and a bar) or each
    :class:`~lsqfit_app.core.progress.IterationState` of a joint fit
    (``iteration N, objective V``); :meth:`close` ends the line.  A batch
    redraws at most once per percent so 100,000 curves do not spend their
    time writing to the terminal.
    """

    WIDTH = 30

    def __init__(self, stream=None, label: str = "curves"):
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.label = label
        self._last = None
        self._drawn = False

    def __call__(self, progress) -> None:
        if not self.enabled:
            return
        if hasattr(progress, "iteration"):
            self.stream.write(f"\r{self.label}: iteration {int(progress.iteration)}, "
                              f"objective {float(progress.objective):.6g}   ")
            self.stream.flush()
            self._drawn = True
            return
        total = max(int(progress.total), 1)
        done, failed = int(progress.done), int(progress.failed)
        key = (done * 100 // total, failed)
        if key == self._last and done != total:
            return
        self._last = key
        filled = self.WIDTH * done // total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{progress.total} {self.label}, {failed} failed")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
