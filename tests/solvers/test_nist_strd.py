"""NIST StRD accuracy targets, solver auto, default settings."""
import json
from pathlib import Path

import pytest

from lsqfit_app.core.resources import resource_path
from lsqfit_app.solvers.nist import EXEMPT, TARGETS, check_problem, load_problems

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "nist" / "strd.json"
PROBLEMS = load_problems()
CASES = [(p, s) for p in PROBLEMS
         for s in (("start1", "start2") if p["kind"] == "nonlinear" else (None,))]


def test_shipped_copy_matches_shared_reference():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} not present (shared/ is laid beside the checkout)")
    shipped = json.loads(resource_path("nist_strd.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(SHARED.read_text(encoding="utf-8"))


def test_all_38_problems_are_there():
    kinds = [p["kind"] for p in PROBLEMS]
    assert kinds.count("nonlinear") == 27 and kinds.count("linear") == 11


@pytest.mark.parametrize("problem, start", CASES,
                         ids=[f"{p['name']}-{s or 'linear'}" for p, s in CASES])
def test_certified_digits(problem, start):
    row = check_problem(problem, start)
    for measure, target in TARGETS[problem["kind"]].items():
        if (problem["name"], measure) in EXEMPT:
            continue
        assert row.digits[measure] >= target, (measure, row.digits)
    assert row.status == "converged"
