"""``lsqfit-app batch INPUT... --model M``: one model fitted to many curves (DESIGN.md 4.4).

Each curve is fitted on its own (the same statistics as ``fit``), all at once
by the batch engine.  The curves come from :mod:`lsqfit_app.cli.curves`; the
outputs are written by :mod:`lsqfit_app.cli.batch_outputs`.  Exit status: 0
when every curve converged, 1 when some did not (every result is still
written), 2 for bad input.
"""
from __future__ import annotations

import argparse
import sys

from lsqfit_app.core.errors import InputError

CURVE_HELP = """\
curves:
  -y takes column names, 1-based numbers or glob patterns ('y*', 'well_?1');
  by default every numeric column but x, the sigma columns and --by. --sigma
  columns pair with the y columns in order (one sigma column serves all).
  Several INPUT files: the same options apply to each, one curve per file and
  column. --sheet all: every sheet of a workbook that holds a table. --by COL:
  long format, one curve per distinct value of COL. A .lsqfit project gives
  its table with its masks; masked rows are left out of every curve.
  Curve ids: the column name; FILE:COLUMN for several files, SHEET:COLUMN for
  several sheets; the --by value (VALUE:COLUMN with several y columns).

exit status: 0 converged (batch: every curve); 1 not (batch: some curves; all
  results are still written); 2 bad input (one message on stderr).
"""


def add_curve_arguments(parser) -> None:
    """INPUT..., the import options, -x, -y, --sigma, --by (``batch`` and ``global``)."""
    from lsqfit_app.io.options import add_import_arguments

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = CURVE_HELP
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="data files (csv, tsv, txt, xlsx, ods, ...) or .lsqfit projects")
    add_import_arguments(parser)
    parser.add_argument("-x", metavar="COL", default=None,
                        help="the shared x column, by name or 1-based number (default: 1)")
    parser.add_argument("-y", nargs="+", metavar="COL|PATTERN", default=None,
                        help="the curves' columns: names, numbers or glob patterns "
                             "(default: every numeric column but x, sigma and --by)")
    parser.add_argument("--sigma", nargs="+", metavar="COL|PATTERN", default=None,
                        help="columns of absolute standard deviations, paired with -y in order")
    parser.add_argument("--by", metavar="COL", default=None,
                        help="long format: one curve per distinct value of COL")


def add_fit_arguments(parser) -> None:
    """--model, --param, --fix, --weights, --loss, --solver, --max-iterations."""
    from lsqfit_app.cli.fit import LOSS_CHOICES, SOLVER_CHOICES, add_parameter_arguments

    group = parser.add_argument_group("fit options (as for 'lsqfit-app fit')")
    group.add_argument("--model", required=True, metavar="NAME|FORMULA",
                       help="library model (see 'lsqfit-app models') or a formula in x and "
                            "parameters, e.g. 'a*exp(-x/tau)+c'")
    add_parameter_arguments(group, " for every curve")
    group.add_argument("--weights", choices=("none", "poisson", "relative"), default=None,
                       help="weighting when there are no sigma columns (default none; see "
                            "'lsqfit-app fit --help')")
    group.add_argument("--loss", choices=LOSS_CHOICES, default=None,
                       help="linear only: many-curve fits are plain least squares "
                            "(robust losses: 'lsqfit-app fit')")
    group.add_argument("--solver", choices=SOLVER_CHOICES, default=None,
                       help="auto or lm (the default): Levenberg-Marquardt over all curves at "
                            "once, with bounds and fixed parameters; the other solvers fit "
                            "one curve at a time: use 'lsqfit-app fit' for them")
    group.add_argument("--max-iterations", type=int, default=None, metavar="N",
                       help="iteration limit: per curve (batch), of the joint fit (global)")


def add_arguments(parser) -> None:
    add_curve_arguments(parser)
    add_fit_arguments(parser)
    parser.add_argument("--starts", choices=("guess", "previous"), default="guess",
                        help="guess: start each curve from its own data-driven guess "
                             "(default); previous: from the result of the curve before it "
                             "(for slowly changing series)")
    add_output_arguments(parser, "")


def add_output_arguments(parser, shared_note: str) -> None:
    """--out and --json; ``shared_note`` says how the table shows shared parameters."""
    parser.add_argument("--out", metavar="PATH",
                        help="results, one row per curve: .csv or .xlsx (id, status, "
                             "<param>, <param>_stderr, ..., sse, r_squared, aicc"
                             f"{shared_note}) or the JSON (.json)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout")


# ---------------------------------------------------------------------- shared steps
def check_fit_options(args) -> None:
    """Refuse the fit options a many-curve fit does not have (before anything is read)."""
    if args.max_iterations is not None and args.max_iterations < 1:
        raise InputError("--max-iterations must be at least 1")
    if args.loss not in (None, "linear"):
        raise InputError(f"--loss {args.loss}: fits of many curves are plain least squares; "
                         "robust losses are available one curve at a time with 'lsqfit-app fit'")
    if getattr(args, "solver", None) not in (None, "auto", "lm"):
        raise InputError(f"--solver {args.solver}: fits of many curves use Levenberg-Marquardt "
                         "(--solver lm or auto); the other solvers fit one curve at a time "
                         "with 'lsqfit-app fit'")


def check_output_files(args, outputs: dict) -> None:
    """Refuse outputs that are empty, folders, of the wrong kind or an input (before reading)."""
    from lsqfit_app.cli.batch_outputs import check_out_suffix
    from lsqfit_app.cli.curves import is_image_stack
    from lsqfit_app.cli.outputs import check_outputs

    given = {option: path for option, path in outputs.items() if path is not None}
    tables = [p for p in args.inputs if not is_image_stack(p)]
    check_outputs(tables, given)
    if given.get("--out"):
        check_out_suffix(given["--out"])


def parameters(args, model) -> dict | None:
    """``{name: Parameter}`` of --param/--fix merged with the model's bound hints
    (None without either: the engine takes the model's defaults and guesses)."""
    from lsqfit_app.session.roles import build_parameters, parse_param

    specs = [parse_param(t) for t in args.param] + [parse_param(t, fixed=True) for t in args.fix]
    if not specs:
        return None
    return {p.name: p for p in build_parameters(model, specs)}


def weighting(args, curves) -> str:
    weights = args.weights or "none"
    if weights != "none" and any(c.sigma is not None for c in curves):
        raise InputError("give either sigma columns (--sigma) or --weights, not both")
    return weights


def solver_options(args):
    from lsqfit_app.solvers import SolverOptions

    return SolverOptions(max_iterations=args.max_iterations)


def curve_set(inputs):
    from lsqfit_app.batch.curves import CurveSet

    return CurveSet.from_curves(inputs.curves, inputs.model)


def print_json(data: dict) -> None:
    from lsqfit_app.cli.batch_outputs import dumps

    sys.stdout.write(dumps(data))


# ---------------------------------------------------------------------- the command
def run(args) -> int:
    from lsqfit_app.cli.batch_outputs import ProgressBar, write_results
    from lsqfit_app.cli.curves import load_curves

    check_fit_options(args)
    check_output_files(args, {"--out": args.out})
    inputs = load_curves(args, args.model)
    params = parameters(args, inputs.model)
    weights = weighting(args, inputs.curves)
    curves = curve_set(inputs)
    from lsqfit_app.batch.engine import fit_batch

    bar = ProgressBar()
    try:
        result = fit_batch(inputs.model, curves, params, weights=weights, method="lm",
                           starts=args.starts, options=solver_options(args), on_progress=bar)
    finally:
        bar.close()
    if args.out:
        write_results(result, args.out)
    if args.json:
        print_json(result.to_dict())
    else:
        print_summary(result)
    return 0 if int(result.n_converged) == len(result.ids) else 1


def print_summary(result) -> None:
    """One line per curve: id, status, parameters, R^2 (the text form of --out)."""
    from lsqfit_app.report.text import fmt

    header, rows = result.table()
    n = len(result.ids)
    print(f"{result.model.name}: {n} curve{'s' if n != 1 else ''}, "
          f"{int(result.n_converged)} converged")
    cells = [[c if isinstance(c, str) else fmt(c, 6) for c in row] for row in rows]
    widths = [max([len(str(h))] + [len(row[j]) for row in cells]) for j, h in enumerate(header)]
    for row in [list(map(str, header))] + cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
