"""Model comparison and solver races (Qt-free; the GUI and the CLI share it).

Ranking (Burnham & Anderson 2002; Motulsky & Christopoulos 2004):

- AICc with Akaike weights w_i = exp(-Δ_i/2) / Σ exp(-Δ_j/2), Δ_i = AICc_i - min AICc;
- BIC, adjusted R², residual SD, number of free parameters, converged or not;
- a runs test on the signs of the residuals (Wald-Wolfowitz, normal
  approximation): too few runs means the model misses a systematic trend;
- the extra-sum-of-squares F test for nested pairs,
      F = ((SSE_s - SSE_c) / (df_s - df_c)) / (SSE_c / df_c),
  simple model s nested in complex model c, p from F(df_s - df_c, df_c).
  Nesting is detected for polynomials (poly1 = line ⊂ poly2 ⊂ ...) and for
  library sums whose components are a sub-multiset of another's (gaussian+line
  ⊂ gaussian+gaussian+line); other pairs can be declared by the user.

Fits run concurrently in a thread pool (numpy and MINPACK release the GIL for
their heavy parts); one CancelToken stops them all.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import special

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.core.result import FitResult


@dataclass(frozen=True)
class RunsTest:
    runs: int
    expected: float
    z: float
    p_value: float      # two-sided; NaN when all residuals share one sign


@dataclass(frozen=True)
class RankRow:
    label: str
    n_params: int
    converged: bool
    sse: float
    residual_sd: float
    adj_r_squared: float
    aicc: float
    delta_aicc: float
    akaike_weight: float
    bic: float
    runs: RunsTest


@dataclass(frozen=True)
class FTest:
    simple: str
    complex: str
    f: float
    df_num: int
    df_den: int
    p_value: float
    prefer: str         # the model the test favours at the 5 % level


@dataclass(frozen=True)
class Comparison:
    labels: tuple[str, ...]
    results: tuple[FitResult, ...]
    ranking: tuple[RankRow, ...]    # best (lowest AICc) first
    f_tests: tuple[FTest, ...]

    def to_dict(self) -> dict:
        def clean(v):
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
        return {
            "models": [dict(r.to_dict(), label=lab) for lab, r in zip(self.labels, self.results)],
            "ranking": [{
                "model": r.label, "n_params": r.n_params, "converged": r.converged,
                "sse": clean(r.sse), "residual_sd": clean(r.residual_sd),
                "adj_r_squared": clean(r.adj_r_squared), "aicc": clean(r.aicc),
                "delta_aicc": clean(r.delta_aicc), "akaike_weight": clean(r.akaike_weight),
                "bic": clean(r.bic),
                "runs_test": {"runs": r.runs.runs, "expected": clean(r.runs.expected),
                              "z": clean(r.runs.z), "p_value": clean(r.runs.p_value)},
            } for r in self.ranking],
            "f_tests": [{"simple": t.simple, "complex": t.complex, "f": clean(t.f),
                         "df_num": t.df_num, "df_den": t.df_den, "p_value": clean(t.p_value),
                         "prefer": t.prefer} for t in self.f_tests],
        }


def runs_test(residuals: np.ndarray) -> RunsTest:
    """Wald-Wolfowitz runs test on residual signs (zeros dropped), in data order."""
    r = np.asarray(residuals, dtype=float)
    s = np.sign(r[np.isfinite(r) & (r != 0)])
    n_pos = int(np.count_nonzero(s > 0))
    n_neg = int(np.count_nonzero(s < 0))
    runs = int(1 + np.count_nonzero(s[1:] != s[:-1])) if s.size else 0
    n = n_pos + n_neg
    if n_pos == 0 or n_neg == 0:
        return RunsTest(runs, math.nan, math.nan, math.nan)
    mu = 2.0 * n_pos * n_neg / n + 1
    var = (mu - 1) * (mu - 2) / (n - 1) if n > 1 else 0.0
    if var <= 0:
        return RunsTest(runs, mu, math.nan, math.nan)
    z = (runs - mu) / math.sqrt(var)
    return RunsTest(runs, mu, z, float(special.erfc(abs(z) / math.sqrt(2))))


def _components(spec: str) -> Counter | None:
    parts = [p.strip().lower() for p in spec.split("+")]
    if not all(re.fullmatch(r"[a-z_][a-z0-9_]*", p) for p in parts):
        return None
    return Counter("poly1" if p == "line" else p for p in parts)


def _poly_degree(name: str) -> int | None:
    m = re.fullmatch(r"poly(\d+)", name)
    return int(m.group(1)) if m else None


def is_nested(simple: str, complex_: str) -> bool:
    """Is library model ``simple`` a special case of ``complex_``?"""
    a, b = _components(simple), _components(complex_)
    if a is None or b is None or a == b:
        return False
    if sum(a.values()) == 1 and sum(b.values()) == 1:
        da, db = _poly_degree(next(iter(a))), _poly_degree(next(iter(b)))
        return da is not None and db is not None and da < db
    # sums: every component of the simple one appears in the complex one;
    # a lower-degree polynomial component counts as a higher-degree one
    remaining = b.copy()
    for name, count in a.items():
        for _ in range(count):
            if remaining[name] > 0:
                remaining[name] -= 1
                continue
            deg = _poly_degree(name)
            bigger = [c for c in remaining if remaining[c] > 0 and _poly_degree(c) is not None
                      and deg is not None and _poly_degree(c) > deg]
            if not bigger:
                return False
            remaining[bigger[0]] -= 1
    return True


def f_test(simple: FitResult, complex_: FitResult, simple_label: str, complex_label: str) -> FTest:
    s, c = simple.statistics, complex_.statistics
    df_num = s.dof - c.dof
    if df_num <= 0 or c.dof <= 0 or c.sse <= 0:
        return FTest(simple_label, complex_label, math.nan, df_num, c.dof, math.nan, simple_label)
    f = ((s.sse - c.sse) / df_num) / (c.sse / c.dof)
    p = float(special.fdtrc(df_num, c.dof, f)) if f > 0 else 1.0
    return FTest(simple_label, complex_label, f, df_num, c.dof, p,
                 complex_label if p < 0.05 else simple_label)


def rank(labels: Sequence[str], results: Sequence[FitResult],
         nested: Sequence[tuple[str, str]] = ()) -> Comparison:
    """Rank fitted models and run the F test on nested pairs."""
    aicc = np.array([r.statistics.aicc if r.statistics.aicc is not None else math.inf
                     for r in results], dtype=float)
    finite = np.isfinite(aicc)
    best = float(np.min(aicc[finite])) if finite.any() else math.nan
    delta = aicc - best
    weights = np.where(finite, np.exp(-0.5 * np.where(finite, delta, 0.0)), 0.0)
    weights = weights / weights.sum() if weights.sum() > 0 else weights * math.nan
    rows = []
    for i, (label, r) in enumerate(zip(labels, results)):
        s = r.statistics
        # a fit without a finite AICc (a model that is NaN everywhere) is unranked, not best
        ranked = bool(finite[i])
        rows.append(RankRow(label, s.n_free, r.converged, s.sse, s.residual_sd, s.adj_r_squared,
                            float(aicc[i]) if ranked else math.nan,
                            float(delta[i]) if ranked else math.nan, float(weights[i]),
                            s.bic if ranked else math.nan, runs_test(r.residuals[r.used])))
    order = sorted(range(len(rows)), key=lambda i: (not math.isfinite(rows[i].aicc),
                                                    rows[i].aicc if math.isfinite(rows[i].aicc)
                                                    else 0.0))
    by_label = dict(zip(labels, results))
    pairs = [(a, b) for a in labels for b in labels if is_nested(a, b)]
    for a, b in nested:
        if a not in by_label or b not in by_label:
            from lsqfit_app.core.errors import InputError
            raise InputError(f"nested pair {a!r} < {b!r}: both must be among the compared models")
        if (a, b) not in pairs:
            pairs.append((a, b))
    tests = tuple(f_test(by_label[a], by_label[b], a, b) for a, b in pairs)
    return Comparison(tuple(labels), tuple(results), tuple(rows[i] for i in order), tests)


def fit_concurrently(problems: Sequence[FitProblem], methods: Sequence[str], *,
                     cancel: CancelToken | None = None,
                     on_iteration: Callable[[int, IterationState], None] | None = None,
                     options=None, max_workers: int | None = None) -> list[FitResult]:
    """Fit problems[i] with methods[i] in a thread pool; one cancel stops all.

    ``on_iteration(i, state)`` is called from worker threads: it must be quick
    and thread-safe (the GUI puts states on a queue).
    """
    from lsqfit_app.solvers import fit

    def one(i: int) -> FitResult:
        callback = None if on_iteration is None else (lambda st, i=i: on_iteration(i, st))
        return fit(problems[i], methods[i], on_iteration=callback, cancel=cancel, options=options)

    workers = max_workers or min(len(problems), 4)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        return list(pool.map(one, range(len(problems))))


def compare_models(problems: Sequence[FitProblem], labels: Sequence[str], *, method: str = "auto",
                   nested: Sequence[tuple[str, str]] = (), **kwargs) -> Comparison:
    results = fit_concurrently(problems, [method] * len(problems), **kwargs)
    return rank(labels, results, nested)


def race(problem: FitProblem, methods: Sequence[str] | None = None, **kwargs) -> list[FitResult]:
    """The solver race: the same problem and start, every applicable solver, concurrently."""
    from lsqfit_app.core.errors import InputError
    from lsqfit_app.solvers import RACE_METHODS, check_method, resolve_starts

    from dataclasses import replace

    start = resolve_starts(problem)
    fixed_start = problem.with_params(
        [p.with_value(float(v)) for p, v in zip(problem.params, start)])
    # LM is unconstrained: within the model's own bound hints it runs as an
    # explicit LM does (and says when one is active); with bounds the user set
    # it runs in a race without them rather than not at all, and says so
    unbounded = fixed_start.with_params(
        [replace(p, min=-math.inf, max=math.inf) for p in fixed_start.params])
    chosen, problems = [], []
    for m in (methods or RACE_METHODS):
        candidate = fixed_start
        try:
            check_method(candidate, m)
        except InputError:
            if m != "lm":
                continue
            candidate = unbounded
            try:
                check_method(candidate, m)
            except InputError:
                continue
        chosen.append(m)
        problems.append(candidate)
    results = fit_concurrently(problems, chosen, **kwargs)
    for i, (m, prob) in enumerate(zip(chosen, problems)):
        if prob is unbounded:
            results[i] = replace(results[i], message=results[i].message +
                                 " (bounds ignored: Levenberg-Marquardt is unconstrained)")
    return results
