"""The exported script reproduces our fit when run on its own."""
from __future__ import annotations


import numpy as np
import pytest

from lsqfit_app.report import write_script
from lsqfit_app.report.script import expression_code, _Namer
from lsqfit_app.core.expression_parser import parse_expression
from script_checks import check_same, run_script

@pytest.mark.parametrize("name", ["formula_fit", "library_fit", "weighted_fit", "fixed_fit",
                                  "bounded_fit"])
def test_script_reproduces_fit(name, request, tmp_path):
    result, problem = request.getfixturevalue(name)
    assert result.converged
    check_same(result, run_script(result, problem, tmp_path))


def test_script_records_provenance(library_fit, peak_read, tmp_path):
    from lsqfit_app.report import ReportContext

    result, problem = library_fit
    ctx = ReportContext.from_read(peak_read, problem, source=peak_read.source)
    path = tmp_path / "s.py"
    write_script(result, problem, path, context=ctx)
    text = path.read_text()
    assert ctx.sha256 in text and "peak.csv" in text
    assert "least_squares" in text and "import lsqfit_app" not in text


def test_voigt_script_runs(tmp_path):
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import fit

    rng = np.random.default_rng(5)
    x = np.linspace(-5, 5, 80)
    model = make_model("voigt+line")
    truth = dict(zip(model.param_names, [3.0, 0.3, 0.6, 0.4, 0.05, 0.2]))
    y = model.eval(np.array(list(truth.values())), {"x": x}) + rng.normal(0, 0.02, x.size)
    problem = FitProblem.create(model, x, y, truth)
    result = fit(problem)
    printed = run_script(result, problem, tmp_path)
    for p in result.parameters:
        # a finite-difference Jacobian (relative central steps) in the script
        assert printed[p.name][0] == pytest.approx(p.value, rel=1e-8)
        assert printed[p.name][1] == pytest.approx(p.stderr, rel=1e-5)


@pytest.mark.parametrize("text", ["a*exp(-x/tau)+c", "-a**2*x", "(-a)**2*x", "a**-b*x",
                                  "a - (b - x)", "a/(b*x)", "a/b/x", "2**-x*a", "a*x**b**2",
                                  "erf(a*x)+sqrt(abs(b*x))+pi*e", "-(a+b)*x", "a*x - -b"])
def test_code_evaluates_like_the_tree(text):
    tree = parse_expression(text, ("x",))
    namer = _Namer(("a", "b", "tau", "c"), ("x",))
    code = expression_code(tree, namer)
    from scipy import special

    env = {"np": np, "special": special, "x": np.linspace(0.1, 2.0, 7), "a": 1.3, "b": 0.7,
           "tau": 0.9, "c": 0.2}
    expected = tree.evaluate(env)
    got = eval(code, env)  # noqa: S307 - our own generated code, in a test
    np.testing.assert_allclose(got, expected, rtol=1e-14)


@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy", "arctan"])
@pytest.mark.parametrize("absolute", [False, True])
def test_script_reproduces_robust_standard_errors(loss, absolute, tmp_path):
    """Robust losses: the script's errors are Huber's, as the app's (core/losses.py)."""
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import fit

    rng = np.random.default_rng(4242)
    x = np.linspace(0.0, 10.0, 60)
    sigma = np.full(x.size, 0.2)
    y = 1.5 * x - 2.0 + rng.normal(0.0, 0.2, x.size)
    y[[7, 30, 51]] += [4.0, -5.0, 6.0]            # gross outliers: where the form matters
    problem = FitProblem.create(make_model("a*x + b"), x, y, {"a": 1.0, "b": 0.0},
                                sigma=sigma if absolute else None, loss=loss)
    result = fit(problem)
    assert result.converged
    check_same(result, run_script(result, problem, tmp_path))
