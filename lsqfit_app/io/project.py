"""``.lsqfit`` project files: versioned JSON, exact floats, atomic saves.

A project holds the table (names, units, values, text of text columns,
computed-column formulas, masks with reasons), the column roles, the model
spec string, the parameter settings (a list of dicts), the solver options
(a dict) and the last result (a plain dict), plus free metadata.

Format (``"format": "lsqfit-project"``, ``"version": 1``)::

    {"format": "lsqfit-project", "version": 1, "app_version": "0.1.0",
     "table": {"rows": 3,
               "columns": [{"name": "x", "unit": "s", "numeric": true,
                            "formula": null, "text": null,
                            "values": {"encoding": "float64-le-base64", "data": "..."}}],
               "masks": [{"row": 2, "reason": "outlier"}]},
     "roles": {"x": ["x"], "y": "y", "sigma": null},
     "model": "a*exp(-x/tau)+c",
     "parameters": [{"name": "a", "value": 1.0, "min": {"$float": "-inf"}, ...}],
     "solver": {"method": "lm"}, "result": {...}, "metadata": {}}

Column values are stored as base64 of little-endian float64 bytes: exact bit
for bit (NaN payloads and -0.0 included), compact and fast for a million rows.
Floats inside the free-form dicts are written with ``repr`` precision (exact
for finite doubles); non-finite ones as ``{"$float": "nan"|"inf"|"-inf"}`` so
the file stays strict JSON.

Loading uses :func:`json.loads` only (never ``eval``, ``pickle`` or imports)
and validates everything before building anything; a file from a newer
version, a truncated or corrupted file, or a file that is not a project raises
:class:`~lsqfit_app.core.errors.InputError` naming the file.  Saving goes through
:func:`lsqfit_app.core.atomic.write_atomic` (a temporary file in the same
folder, fsync, :func:`os.replace`), so a crash leaves either the old or the new
file, never half of one, and the next save removes a killed writer's temporary.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lsqfit_app.core.atomic import write_text_atomic
from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table

FORMAT = "lsqfit-project"
VERSION = 1
SUFFIX = ".lsqfit"
_VALUES_ENCODING = "float64-le-base64"


@dataclass
class Project:
    """Everything a ``.lsqfit`` file holds.

    Attributes
    ----------
    table : Table
    roles : dict
        Column roles, e.g. ``{"x": ["t"], "y": "signal", "sigma": None}``.
    model : str or None
        The model spec string (library name, sum or formula).
    parameters : list of dict
        Parameter settings (name, value, fixed, min, max...).
    solver : dict
        Solver options.
    result : dict or None
        The last fit result as plain data.
    metadata : dict
        Free, JSON-able information: the fit range, the source file and its
        import options, whether the result is current, the file an autosave
        stands for (:mod:`lsqfit_app.session.project` reads and writes them).
    """

    table: Table
    roles: dict = field(default_factory=dict)
    model: str | None = None
    parameters: list = field(default_factory=list)
    solver: dict = field(default_factory=dict)
    result: dict | None = None
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- floats in dicts
def _encode(obj: Any) -> Any:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if math.isfinite(v):
            return v
        return {"$float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_encode(v) for v in obj.tolist()]
    raise InputError(f"cannot store a {type(obj).__name__} in a project file")


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1 and "$float" in obj:
            text = obj["$float"]
            if text not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad $float value {text!r}")
            return float(text)
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def _values_to_json(values: np.ndarray) -> dict:
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return {"encoding": _VALUES_ENCODING, "data": base64.b64encode(data).decode("ascii")}


def _values_from_json(obj: Any, rows: int, where: str) -> np.ndarray:
    if not isinstance(obj, dict) or obj.get("encoding") != _VALUES_ENCODING:
        raise ValueError(f"{where}: values are not {_VALUES_ENCODING}")
    try:
        raw = base64.b64decode(obj["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: values are not valid base64 ({exc})") from None
    if len(raw) != 8 * rows:
        raise ValueError(f"{where}: {len(raw) // 8} values for {rows} rows")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


# ---------------------------------------------------------------------- to and from JSON
def project_to_dict(project: Project) -> dict:
    """The JSON-ready dict of a project."""
    from lsqfit_app import __version__

    t = project.table
    columns = []
    for col in t.columns():
        columns.append({
            "name": col.name, "unit": col.unit, "numeric": col.numeric,
            "formula": col.formula,
            "text": None if col.text is None else [str(s) for s in col.text.tolist()],
            "values": _values_to_json(col.values),
        })
    masks = [{"row": r, "reason": why} for r, why in t.mask_reasons().items()]
    return {
        "format": FORMAT, "version": VERSION, "app_version": __version__,
        "table": {"rows": t.n_rows, "columns": columns, "masks": masks},
        "roles": _encode(dict(project.roles)),
        "model": project.model,
        "parameters": _encode(list(project.parameters)),
        "solver": _encode(dict(project.solver)),
        "result": _encode(project.result) if project.result is not None else None,
        "metadata": _encode(dict(project.metadata)),
    }


def project_from_dict(doc: Any, source: str = "<project>") -> Project:
    """Validate a parsed document and build the project.

    Raises
    ------
    InputError
        Naming ``source`` and what is wrong.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{source}: not an lsqfit project file")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"{source}: the project file has no valid format version")
    if version > VERSION:
        raise InputError(f"{source}: written by a newer lsqfit-app (project format {version}; "
                         f"this version reads format {VERSION} and older); please update")
    try:
        tdoc = doc["table"]
        rows = tdoc["rows"]
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ValueError("table rows must be a whole number")
        names, arrays, units, numeric, texts, formulas = [], [], [], [], [], []
        for j, c in enumerate(tdoc["columns"]):
            where = f"column {j + 1}"
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise ValueError(f"{where}: no name")
            names.append(c["name"])
            units.append(str(c.get("unit") or ""))
            numeric.append(bool(c.get("numeric", True)))
            arrays.append(_values_from_json(c.get("values"), rows, f"{where} ({c['name']})"))
            text = c.get("text")
            if text is not None:
                if not isinstance(text, list) or len(text) != rows or \
                        not all(isinstance(s, str) for s in text):
                    raise ValueError(f"{where}: bad text list")
                texts.append(np.array(text, dtype=str))
            else:
                texts.append(None)
            formula = c.get("formula")
            if formula is not None and not isinstance(formula, str):
                raise ValueError(f"{where}: formula must be text")
            formulas.append(formula)
        if len(set(names)) != len(names):
            raise ValueError("two columns have the same name")
        masks = tdoc.get("masks", [])
        if not isinstance(masks, list):
            raise ValueError("masks must be a list")
        for m in masks:
            if not (isinstance(m, dict) and isinstance(m.get("row"), int)
                    and 0 <= m["row"] < rows and isinstance(m.get("reason", ""), str)):
                raise ValueError(f"bad mask entry {m!r:.60}")
        roles = _decode(doc.get("roles") or {})
        parameters = _decode(doc.get("parameters") or [])
        solver = _decode(doc.get("solver") or {})
        result = _decode(doc.get("result")) if doc.get("result") is not None else None
        metadata = _decode(doc.get("metadata") or {})
        model = doc.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError("model must be text")
        if not isinstance(roles, dict) or not isinstance(parameters, list) \
                or not isinstance(solver, dict) or not isinstance(metadata, dict) \
                or not (result is None or isinstance(result, dict)):
            raise ValueError("roles, solver, metadata and result must be objects, "
                             "parameters a list")
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"{source}: the project file is damaged ({detail})") from None
    table = Table.from_columns(names, arrays, units, numeric, texts)
    for j, formula in enumerate(formulas):
        if formula is not None:
            table.set_formula(j + 1, formula, recompute=False)  # values were saved with it
    for m in masks:
        table.set_mask([m["row"]], m.get("reason") or "masked by user")
    return Project(table=table, roles=roles, model=model, parameters=parameters,
                   solver=solver, result=result, metadata=metadata)


# ---------------------------------------------------------------------- files
def save_project(project: Project, path: str | os.PathLike) -> None:
    """Write a project atomically (temporary file, flush, fsync, rename).

    On any error the previous file at ``path`` is left as it was.
    """
    text = json.dumps(project_to_dict(project), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    write_text_atomic(path, text + "\n")


def load_project(path: str | os.PathLike) -> Project:
    """Read a ``.lsqfit`` file; never executes anything from it.

    Raises
    ------
    InputError
        For a missing, newer-version, truncated, corrupted or foreign file.
    """
    from lsqfit_app.io.registry import check_regular_file

    source = os.fspath(path)
    check_regular_file(source, "a project file")
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise InputError(f"{source}: the project file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not an lsqfit project file (not UTF-8 text)") from None
    if not text.lstrip().startswith("{"):
        raise InputError(f"{source}: not an lsqfit project file")
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(f"{source}: the project file is corrupted (its objects are nested "
                         f"more than {MAX_DEPTH} deep)")
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        where = (f" at line {exc.lineno}, column {exc.colno}"
                 if isinstance(exc, json.JSONDecodeError) else "")
        if not text.rstrip().endswith("}") or (
                isinstance(exc, json.JSONDecodeError) and exc.pos >= len(text.rstrip())):
            raise InputError(f"{source}: the project file is truncated (it ends{where})") from None
        raise InputError(f"{source}: the project file is corrupted (invalid JSON{where})") from None
    except RecursionError:
        raise InputError(f"{source}: the project file is corrupted (nested too deeply)") from None
    return project_from_dict(doc, source)


#: Deepest nesting of objects and lists a project may have (its own are < 10
#: deep; decoding and validating recurse, so a hostile depth must stop here).
MAX_DEPTH = 100
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """How deep the objects and lists of a JSON text nest (strings left out).

    The strings (the bulk of a project: base64 column data) are removed by
    one regex pass, so only the brackets are walked in Python.
    """
    depth = deepest = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def is_project_head(head: bytes) -> bool:
    """Do the first bytes of a file look like a project (the format mark)?"""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped.startswith(b"{") and b'"' + FORMAT.encode() + b'"' in head[:4096]


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in a project file")
