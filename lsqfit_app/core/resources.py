"""Locate bundled resources (example data, NIST StRD copy, report styles).

Installed, the top-level ``resources/`` folder ships as the package
``lsqfit_app.resources``; in a source checkout imported from the working tree
that package does not exist, so fall back to the folder beside the package.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a bundled resource file; FileNotFoundError if it is missing."""
    try:
        root = importlib.resources.files("lsqfit_app.resources")
        candidate = Path(str(root.joinpath(name)))
        if candidate.exists():
            return candidate
    except ModuleNotFoundError:
        pass
    candidate = Path(__file__).resolve().parents[2] / "resources" / name
    if candidate.exists():
        return candidate
    raise FileNotFoundError(f"bundled resource {name!r} is missing from this installation")
