"""NIST StRD self-check: fit all 38 certified problems and count correct digits.

Digits are the log relative error LRE = -log10(|estimate - certified| /
|certified|) (for a certified 0, -log10|estimate|), capped at the digits
NIST certifies (11 for nonlinear problems, 15 for linear ones).  Every
problem is fitted with default settings and solver ``auto``; nonlinear ones
from both NIST starts.  Models are built from the problems' formulas by the
same formula engine users type into, so the check covers the parser and its
symbolic derivatives too.

Targets:
  nonlinear: every parameter >= 7 digits, standard deviations >= 4, RSS >= 9;
  linear: coefficients >= 9, standard deviations >= 6, residual SD and R^2 >= 9.
Lanczos1 is exempt from the SD and RSS targets: its certified RSS (1.4e-25)
lies below the rounding of its data in double precision (the residuals,
~8e-14, are perturbed by ~1e-17 when the decimal data become binary, so no
float64 computation can carry more than ~4 digits of that RSS).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.resources import resource_path

TARGETS = {
    "nonlinear": {"params": 7.0, "sd": 4.0, "rss": 9.0},
    "linear": {"params": 9.0, "sd": 6.0, "rsd": 9.0, "r2": 9.0},
}
EXEMPT = {("Lanczos1", "sd"): "RSS at rounding level", ("Lanczos1", "rss"): "RSS at rounding level"}


def lre(estimate: float, certified: float, cap: float) -> float:
    """Correct digits of an estimate, clipped to [0, cap]."""
    if estimate is None or not math.isfinite(estimate):
        return 0.0
    if certified == 0:
        value = cap if estimate == 0 else -math.log10(abs(estimate))
    elif estimate == certified:
        value = cap
    else:
        value = -math.log10(abs(estimate - certified) / abs(certified))
    return max(0.0, min(cap, value))


@dataclass
class CheckRow:
    name: str
    kind: str
    start: str              # "start1"/"start2" or "" for linear
    difficulty: str
    digits: dict            # measure -> worst digits
    solver: str
    status: str
    failures: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_problems() -> list[dict]:
    with open(resource_path("nist_strd.json"), encoding="utf-8") as fh:
        return json.load(fh)["problems"]


def _linear_formula(problem: dict) -> str:
    design = problem["design"]
    names = problem["parameters"]
    terms = []
    for name, column in zip(names, design["columns"]):
        terms.append(name if column == "1" else f"{name}*{column}")
    return " + ".join(terms)


def build_problem(problem: dict, start: str | None = None) -> FitProblem:
    from lsqfit_app.models.formula import FormulaModel

    predictors = problem["predictors"]
    if problem["kind"] == "linear":
        formula = _linear_formula(problem)
    else:
        formula = problem["model_python"]
    model = FormulaModel(formula, tuple(predictors))
    x = {k: np.array(problem["data"][k], dtype=float) for k in model.independent_vars}
    y = np.array(problem["data"][problem["response_column"]], dtype=float)
    if problem.get("response", "y") == "log(y)":
        y = np.log(y)
    params = None
    if start is not None:
        params = dict(zip(problem["parameters"], problem[start]))
    return FitProblem.create(model, x, y, params)


def check_problem(problem: dict, start: str | None = None) -> CheckRow:
    from lsqfit_app.solvers import fit

    fp = build_problem(problem, start)
    result = fit(fp, "auto")
    names = list(fp.model.param_names)
    order = [names.index(p) for p in problem["parameters"]]
    values = result.values[order]
    sds = result.stderrs[order]
    kind = problem["kind"]
    cap = 11.0 if kind == "nonlinear" else 15.0
    digits = {
        "params": min(lre(v, c, cap) for v, c in zip(values, problem["certified_values"])),
        "sd": min(lre(v, c, cap) for v, c in zip(sds, problem["certified_std_devs"])),
    }
    if kind == "nonlinear":
        digits["rss"] = lre(result.statistics.sse, problem["residual_sum_of_squares"], cap)
    else:
        digits["rsd"] = lre(result.statistics.residual_sd, problem["residual_standard_deviation"], cap)
        digits["r2"] = lre(result.statistics.r_squared, problem["r_squared"], cap)
    failures = []
    for measure, target in TARGETS[kind].items():
        if (problem["name"], measure) in EXEMPT:
            continue
        if digits[measure] < target:
            failures.append(f"{measure} {digits[measure]:.1f} < {target:g}")
    return CheckRow(problem["name"], kind, start or "", problem.get("difficulty", ""), digits,
                    result.solver, result.status.value, failures)


def run_verify(on_row: Callable[[CheckRow], None] | None = None) -> list[CheckRow]:
    rows = []
    for problem in load_problems():
        starts = ("start1", "start2") if problem["kind"] == "nonlinear" else (None,)
        for start in starts:
            row = check_problem(problem, start)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
