"""``lsqfit-app fit FILE ...``: a headless fit (DESIGN.md 4.1)."""
from __future__ import annotations

import json
import sys

from lsqfit_app.core.errors import InputError

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

output files:
  --report (and in fit --export-fit, --script) never replaces the data file,
  under any name (./file, an absolute path, a symlink, a hard link), nor
  another output; such a path, an empty path or a folder is refused (exit 2)
  before anything is read or written.
"""


def add_data_arguments(parser) -> None:
    """Options shared by ``fit`` and ``compare``: file, import, columns, parameters."""
    import argparse

    from lsqfit_app.io.options import add_import_arguments

    # the epilog is laid out by hand (formulas, a table of weightings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = CONVENTIONS
    parser.add_argument("file", metavar="FILE", help="data file (csv, tsv, txt, xlsx, ods, ...)")
    add_import_arguments(parser)
    parser.add_argument("-x", nargs="+", metavar="COL", default=None,
                        help="predictor column(s) by name or 1-based number (default: 1); "
                             "a formula may use these columns and no others")
    parser.add_argument("-y", metavar="COL|EXPR", default="2",
                        help="response column or expression of columns, e.g. 'log(y)' (default: 2)")
    parser.add_argument("--sigma", metavar="COL", help="column of absolute standard deviations")
    parser.add_argument("--weights", choices=("none", "poisson", "relative"), default="none",
                        help="weighting when there is no sigma column: poisson sigma = "
                             "sqrt(max(y, 1)), relative sigma ~ |y| (see below)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE[:MIN:MAX]",
                        help="start value and optional bounds (repeatable)")
    parser.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                        help="hold a parameter fixed (repeatable)")
    parser.add_argument("--loss", choices=LOSS_CHOICES, default="linear")
    parser.add_argument("--f-scale", type=float, default=1.0,
                        help="residual scale of a robust loss (default 1)")
    parser.add_argument("--max-iterations", type=int, default=None)


def add_arguments(parser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--model", required=True, metavar="NAME|FORMULA",
                        help="library model (see 'lsqfit-app models') or a formula in the "
                             "-x columns and parameters, e.g. 'a*exp(-x/tau)+c' (see below)")
    parser.add_argument("--solver", choices=SOLVER_CHOICES, default="auto")
    parser.add_argument("--report", metavar="PATH", help="write a report (.html, .pdf or .md)")
    parser.add_argument("--export-fit", metavar="PATH", help="write fitted data (.csv or .xlsx)")
    parser.add_argument("--script", metavar="PATH",
                        help="write a standalone numpy/scipy script that reproduces the fit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def load_problem(args, model_spec: str):
    """Read the file and build the FitProblem from the command line options."""
    read, (problem,) = load_problems(args, [model_spec])
    return read, problem


def load_problems(args, model_specs):
    """Read the file once and build one FitProblem per model (``compare`` has several).

    The output options on ``args`` (those of :data:`~lsqfit_app.cli.outputs.OUTPUT_OPTIONS`)
    are checked first, so ``fit`` and ``compare`` both refuse an output that
    would replace the input before anything is read or fitted.
    """
    from lsqfit_app.cli.outputs import check_outputs, output_paths
    from lsqfit_app.io import read_table
    from lsqfit_app.io.options import read_options_from_args
    from lsqfit_app.session.roles import Roles, make_problem, parse_param

    check_outputs([args.file], output_paths(args))
    read = read_table(args.file, **read_options_from_args(args))
    roles = Roles(x=tuple(args.x) if args.x else ("1",), y=args.y, sigma=args.sigma,
                  x_given=args.x is not None)
    specs = [parse_param(t) for t in args.param] + [parse_param(t, fixed=True) for t in args.fix]
    problems = [make_problem(read.table, roles, spec, specs, weights=args.weights,
                             loss=args.loss, f_scale=args.f_scale) for spec in model_specs]
    return read, problems


def run(args) -> int:
    from lsqfit_app.report.text import format_result
    from lsqfit_app.solvers.compare import race
    from lsqfit_app.solvers import SolverOptions, fit

    read, problem = load_problem(args, args.model)
    if args.max_iterations is not None and args.max_iterations < 1:
        raise InputError("--max-iterations must be at least 1")
    # The problem holds its own copies of the columns it uses: keep only the
    # few facts of the import that the outputs need, so the whole table (and
    # its line numbers) is not held through the fit and the report.
    context = _context(args, read, problem)
    sheet = getattr(read, "sheet", None)
    del read
    release_heap()
    options = SolverOptions(max_iterations=args.max_iterations)
    if args.solver == "all":
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
    result = fit(problem, args.solver, options=options)
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


def _context(args, read, problem):
    """The report context (file, masks, line numbers), or None when nothing is written."""
    from lsqfit_app.cli.outputs import output_paths

    if not output_paths(args):
        return None
    from lsqfit_app import report

    return report.ReportContext.from_read(read, problem, source=args.file)


def release_heap() -> None:
    """Give freed memory back to the system between the stages of a big fit.

    The reader and the solvers free their temporary arrays, but glibc keeps
    the freed pages in its heaps (for a 1M-row fit some 60 MB), so the next
    stage would start from a high-water mark it does not use.  malloc_trim
    returns them; elsewhere (no glibc) this does nothing.
    """
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _write_outputs(args, context, problem, result, others=None) -> None:
    # paths were checked by load_problem (check_outputs): none is empty or an input
    if context is None:
        return
    from lsqfit_app import report

    if args.report is not None:
        report.write_report(result, problem, args.report, context=context, comparison=others)
    if args.export_fit is not None:
        report.export_fit(result, problem, args.export_fit)
    if args.script is not None:
        report.write_script(result, problem, args.script, context=context)
