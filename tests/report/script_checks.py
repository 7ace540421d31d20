"""Run a generated reproducing script and compare what it prints with our fit.

Shared by the script tests (imported as a plain module, as tests/gui/helpers.py).
"""
from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from lsqfit_app.report import write_script

#: "name = value +/- error", optionally followed by a note such as "(fixed)"
LINE = re.compile(r"^(\S+) = (\S+) \+/- (\S+)")


def run_script_file(path, cwd) -> dict[str, tuple[float, float]]:
    """Run the script at ``path`` in ``cwd``; {parameter: (value, error)} as it printed them."""
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def run_script(result, problem, tmp_path, context=None) -> dict[str, tuple[float, float]]:
    """Write the script for a fit into ``tmp_path``, check it is standalone, and run it."""
    path = tmp_path / "reproduce.py"
    write_script(result, problem, path, context=context)
    text = path.read_text()
    assert "lsqfit_app" not in text.split('"""', 2)[2]  # standalone: imports only numpy/scipy
    return run_script_file(path, tmp_path)


def check_same(result, printed) -> None:
    """The script printed our parameters (to 1e-8) and standard errors (to 1e-6)."""
    assert list(printed) == list(result.param_names)
    for p in result.parameters:
        value, err = printed[p.name]
        assert value == pytest.approx(p.value, rel=1e-8, abs=1e-300), p.name
        if p.fixed:
            assert err == 0.0
        elif math.isfinite(p.stderr):
            assert err == pytest.approx(p.stderr, rel=1e-6), p.name
        else:
            assert math.isnan(err)
