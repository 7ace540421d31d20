"""``lsqfit-app fit FILE ...``: a headless fit (DESIGN.md 4.1)."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.memory import release_heap
from lsqfit_app.session.settings import SolverSettings

SOLVER_CHOICES = ("auto", "closed-form", "gradient-descent", "lbfgs", "lm", "trf", "all")
LOSS_CHOICES = ("linear", "huber", "soft_l1", "cauchy", "arctan")


#: The conventions a user needs to read the numbers (DESIGN.md 5: where a
#: convention differs between tools, --help says which one is used).  They
#: describe lsqfit_app.core.statistics, core.problem and roles; change them
#: together.
CONVENTIONS = """\
names in a formula:
  The predictors are the -x columns (default: column 1), by header or its
  identifier ("t" for "t (s)"), and x for the first of them (unless a column is
  itself called x). Every other name is a parameter, except pi and e. A name
  that is a column of the file but not a predictor is refused (it would be
  neither the column nor a parameter you could trust): add the column to -x,
  or rename the parameter. The response and sigma columns cannot appear in a
  formula. -x takes columns only; -y a column or an expression that uses at
  least one column ("log(y)", "y/y0").

weights and uncertainties:
  --sigma COL          sigma_i from the column, absolute: errors are not rescaled,
                       chi-square and reduced chi-square are reported
  --weights poisson    counts: sigma_i = sqrt(max(y_i, 1)), absolute like --sigma
  --weights relative   sigma_i proportional to |y_i| (y = 0 is an error); the
                       common factor is estimated: errors are scaled by SSE/dof
  --weights none       (default) sigma_i = 1; errors scaled by SSE/dof
  95% confidence intervals: value +- q * stderr (p values likewise). When
  sigma is estimated (--weights none or relative), q is Student's t quantile
  t(0.975, dof), dof = points used - rank (the free parameters, fewer when
  some are collinear: see the report's notes); with absolute sigma
  (--sigma, poisson) the variance is known and q is the normal 1.959964.

information criteria (AIC, AICc, BIC):
  The full Gaussian log-likelihood over the n points used. When sigma is
  estimated (no --sigma, --weights none or relative):
    -2 log L = n log(2 pi SSE/n) + n  and  k = rank + 1 (sigma^2 estimated),
  as in Burnham & Anderson (2002) and R's AIC(lm); relative weights add
  -sum log w_i (w_i = 1/sigma_i^2). With absolute sigma (--sigma, poisson):
    -2 log L = chi^2 + sum log(2 pi sigma_i^2)  and  k = rank (sigma known).
  AIC = -2 log L + 2k, AICc = AIC + 2k(k+1)/(n-k-1), BIC = -2 log L + k ln n.

projects:
  FILE may be a .lsqfit project saved by the window: its table (with masks),
  column roles, model, parameter settings, solver settings and fit range are
  used, and each option given overrides the project's (--model keeps the
  settings of the parameter names both models have; --param and --fix replace
  one parameter's). Import options do not apply to a project.

output files:
  --report (and in fit --export-fit, --script) never replaces the data file,
  under any name (./file, an absolute path, a symlink, a hard link), nor
  another output; such a path, an empty path or a folder is refused (exit 2)
  before anything is read or written.
"""


def add_parameter_arguments(parser, scope: str = "") -> None:
    """--param and --fix (``scope`` words the help: " for every curve")."""
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE[:MIN:MAX]",
                        help=f"start value and optional bounds{scope} (repeatable)")
    parser.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                        help=f"hold a parameter fixed{scope} (repeatable)")


def add_data_arguments(parser) -> None:
    """Options shared by ``fit`` and ``compare``: file, import, columns, parameters."""
    import argparse

    from lsqfit_app.io.options import add_import_arguments

    # the epilog is laid out by hand (formulas, a table of weightings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = CONVENTIONS
    parser.add_argument("file", metavar="FILE",
                        help="data file (csv, tsv, txt, xlsx, ods, ...) or a .lsqfit project: "
                             "a project is refitted with its saved roles, model, parameter "
                             "settings, solver settings, masks and fit range, and every option "
                             "given here overrides the project's (import options do not apply)")
    add_import_arguments(parser)
    # defaults are None so that an option given for a project can be told from one left out
    parser.add_argument("-x", nargs="+", metavar="COL", default=None,
                        help="predictor column(s) by name or 1-based number (default: 1); "
                             "a formula may use these columns and no others")
    parser.add_argument("-y", metavar="COL|EXPR", default=None,
                        help="response column or expression of columns, e.g. 'log(y)' (default: 2)")
    parser.add_argument("--sigma", metavar="COL", help="column of absolute standard deviations")
    parser.add_argument("--weights", choices=("none", "poisson", "relative"), default=None,
                        help="weighting when there is no sigma column: poisson sigma = "
                             "sqrt(max(y, 1)), relative sigma ~ |y| (see below; default none)")
    add_parameter_arguments(parser)
    parser.add_argument("--loss", choices=LOSS_CHOICES, default=None,
                        help="default linear")
    parser.add_argument("--f-scale", type=float, default=None,
                        help="residual scale of a robust loss (default 1)")
    parser.add_argument("--max-iterations", type=int, default=None)


def add_arguments(parser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--model", metavar="NAME|FORMULA",
                        help="library model (see 'lsqfit-app models') or a formula in the "
                             "-x columns and parameters, e.g. 'a*exp(-x/tau)+c' (see below); "
                             "required for a data file, a project has its own")
    parser.add_argument("--solver", choices=SOLVER_CHOICES, default=None,
                        help="default auto")
    parser.add_argument("--report", metavar="PATH", help="write a report (.html, .pdf or .md)")
    parser.add_argument("--export-fit", metavar="PATH", help="write fitted data (.csv or .xlsx)")
    parser.add_argument("--script", metavar="PATH",
                        help="write a standalone numpy/scipy script that reproduces the fit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


@dataclass
class Inputs:
    """What ``fit`` and ``compare`` run on: the import, the problems and how to solve them.

    For a project, ``read`` stands in for an import (``source``, ``table``,
    ``sheet``) and ``fit_range`` is the project's.
    """

    read: object
    problems: list
    solver: SolverSettings
    fit_range: tuple | None = None


def load_problems(args, model_specs) -> Inputs:
    """Read the file once and build one FitProblem per model (``compare`` has several).

    A ``.lsqfit`` project is opened as a document (:mod:`lsqfit_app.cli.project`);
    a model of None is then the project's own.  The output options on ``args``
    (those of :data:`~lsqfit_app.cli.outputs.OUTPUT_OPTIONS`) are checked first,
    so ``fit`` and ``compare`` both refuse an output that would replace the
    input before anything is read or fitted.
    """
    from lsqfit_app.cli.outputs import check_outputs, output_paths
    from lsqfit_app.cli.project import is_project_file, open_project
    from lsqfit_app.io import read_table
    from lsqfit_app.io.options import read_options_from_args
    from lsqfit_app.session.roles import Roles, make_problem, parse_param

    if args.max_iterations is not None and args.max_iterations < 1:
        raise InputError("--max-iterations must be at least 1")
    check_outputs([args.file], output_paths(args))
    if is_project_file(args.file):
        read, problems, solver, fit_range = open_project(args, model_specs)
        return Inputs(read, problems, solver, fit_range)
    if any(spec is None for spec in model_specs):
        raise InputError("--model is required for a data file (a library model or a formula; "
                         "see 'lsqfit-app models')")
    read = read_table(args.file, **read_options_from_args(args))
    roles = Roles(x=tuple(args.x) if args.x else ("1",), y=args.y or "2", sigma=args.sigma,
                  x_given=args.x is not None)
    specs = [parse_param(t) for t in args.param] + [parse_param(t, fixed=True) for t in args.fix]
    solver = SolverSettings(method=getattr(args, "solver", None) or "auto",
                            loss=args.loss or "linear",
                            f_scale=1.0 if args.f_scale is None else args.f_scale,
                            weights=args.weights or "none", max_iterations=args.max_iterations)
    problems = [make_problem(read.table, roles, spec, specs, weights=solver.weights,
                             loss=solver.loss, f_scale=solver.f_scale) for spec in model_specs]
    return Inputs(read, problems, solver)


def run(args) -> int:
    from lsqfit_app.report.text import format_result
    from lsqfit_app.solvers.compare import race
    from lsqfit_app.solvers import fit

    inputs = load_problems(args, [args.model])
    read, (problem,) = inputs.read, inputs.problems
    # The problem holds its own copies of the columns it uses: keep only the
    # few facts of the import that the outputs need, so the whole table (and
    # its line numbers) is not held through the fit and the report.
    context = _context(args, read, problem, inputs.fit_range)
    sheet = getattr(read, "sheet", None)
    del read
    inputs.read = None
    release_heap()
    options = inputs.solver.options()
    method = inputs.solver.method
    if method == "all":
        results = race(problem, options=options)
        # outputs describe the best run; the report shows the whole race
        best = min(results, key=lambda r: (not r.converged, r.statistics.objective))
        release_heap()
        _write_outputs(args, context, problem, best, [r for r in results if r is not best])
        if args.json:
            json.dump([r.to_dict() for r in results], sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            for r in results:
                print(f"=== {r.solver} ===")
                print(format_result(r))
                print()
        return 0 if any(r.converged for r in results) else 1
    result = fit(problem, method, options=options)
    release_heap()
    _write_outputs(args, context, problem, result)
    if args.json:
        out = result.to_dict()
        out["input"] = {"file": str(args.file), "sheet": sheet,
                        "columns": dict(problem.labels), "weighting": problem.weighting}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_result(result))
    return 0 if result.converged else 1


def _context(args, read, problem, fit_range=None):
    """The report context (file, masks, line numbers), or None when nothing is written."""
    from lsqfit_app.cli.outputs import output_paths

    if not output_paths(args):
        return None
    from lsqfit_app import report

    return report.ReportContext.from_read(read, problem, source=args.file, fit_range=fit_range)


def _write_outputs(args, context, problem, result, others=None) -> None:
    # paths were checked by load_problems (check_outputs): none is empty or an input
    if context is None:
        return
    from lsqfit_app import report

    if args.report is not None:
        report.write_report(result, problem, args.report, context=context, comparison=others)
    if args.export_fit is not None:
        report.export_fit(result, problem, args.export_fit)
    if args.script is not None:
        report.write_script(result, problem, args.script, context=context)
