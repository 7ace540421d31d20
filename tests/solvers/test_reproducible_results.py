"""A fit gives the same bits whatever the process did before it.

The same curves are fitted in a fresh interpreter and in one that has first
run thousands of other small fits (other models, solvers, sizes, weights);
parameter values, standard errors, covariance, residuals and every statistic
must agree bit for bit.  Both run as subprocesses, side by side.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import dataclasses, json, sys
    import numpy as np
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import fit

    def bits(value):
        if isinstance(value, float):
            return value.hex()
        if isinstance(value, np.ndarray):
            return value.tobytes().hex()
        return repr(value)

    def fingerprint(result):
        return {
            "values": [bits(float(v)) for v in result.values],
            "stderrs": [bits(float(v)) for v in result.stderrs],
            "ci95": [[bits(float(c)) for c in p.ci95] for p in result.parameters],
            "covariance": bits(result.covariance),
            "correlation": bits(result.correlation),
            "standardized_residuals": bits(result.standardized_residuals),
            "statistics": {f.name: bits(getattr(result.statistics, f.name))
                           for f in dataclasses.fields(result.statistics)},
            "solver": result.solver, "status": result.status.value,
            "iterations": result.iterations, "evaluations": result.evaluations,
        }

    def targets():
        rng = np.random.default_rng(2024)
        x = np.linspace(-4, 6, 120)
        y = 4.0 * np.exp(-(x - 1.2) ** 2 / (2 * 0.8 ** 2)) + 0.3 * x - 1.0
        y = y + rng.normal(0, 0.1, x.size)
        yield fit(FitProblem.create(make_model("gaussian+line"), x, y))
        t = np.linspace(0, 8, 90)
        s = 0.05 + 0.02 * rng.random(t.size)
        z = 2.5 * np.exp(-t / 1.7) + 0.4 + rng.normal(0, s)
        formula = make_model("a*exp(-t/tau)+c", variables=("t",))
        yield fit(FitProblem.create(formula, {"t": t}, z, sigma=s))
        yield fit(FitProblem.create(formula, {"t": t}, z, {"a": 2.0, "tau": 1.0, "c": 0.0},
                                    loss="soft_l1", f_scale=0.1))
        yield fit(FitProblem.create(make_model("poly3"), x, 0.1 * x ** 3 - x + y))

    def other_fits(count):
        rng = np.random.default_rng(7)
        specs = ["gaussian", "lorentzian", "exp_decay", "line", "poly2", "gaussian+poly0",
                 "a*x**2 + b*x + c", "a*exp(-x/tau)"]
        models = [make_model(spec) for spec in specs]
        starts = {"a*exp(-x/tau)": {"a": 1.0, "tau": 1.0}}
        done = 0
        while done < count:
            for spec, model in zip(specs, models):
                n = int(rng.integers(12, 60))
                x = np.sort(rng.uniform(0.1, 5, n))
                y = 2.0 * np.exp(-(x - 2.5) ** 2) + 0.2 * x + rng.normal(0, 0.05, n)
                sigma = 0.05 + 0.05 * rng.random(n) if done % 3 == 0 else None
                method = ("auto", "lm", "trf")[done % 3]
                problem = FitProblem.create(model, x, y, starts.get(spec), sigma=sigma)
                if method == "lm" and not model.param_hints():
                    fit(problem, "lm")
                else:
                    fit(problem, "auto" if method == "lm" else method)
                done += 1

    other_fits(int(sys.argv[1]))
    json.dump([fingerprint(r) for r in targets()], sys.stdout)
""")


def _run(count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _SCRIPT, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_fit_is_bit_identical_in_a_fresh_process_and_after_thousands_of_fits():
    fresh, warm = _run(0), _run(3000)
    outputs = []
    for proc in (fresh, warm):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    first, later = outputs
    assert len(first) == 4
    assert all(entry["status"] == "converged" for entry in first)
    for a, b in zip(first, later):
        for key in a:
            assert a[key] == b[key], (a["solver"], key)
