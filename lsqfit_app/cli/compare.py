"""``lsqfit-app compare FILE --model A --model B ...``: fit several models and rank them."""
from __future__ import annotations

import json
import sys

from lsqfit_app.core.errors import InputError


def add_arguments(parser) -> None:
    from lsqfit_app.cli.fit import add_data_arguments

    add_data_arguments(parser)
    parser.add_argument("--model", action="append", required=True, metavar="NAME|FORMULA",
                        help="a model to compare (repeat: at least two)")
    parser.add_argument("--nested", action="append", default=[], metavar="SIMPLE,COMPLEX",
                        help="declare that SIMPLE is a special case of COMPLEX (for the F test); "
                             "polynomials and library sums are detected automatically")
    parser.add_argument("--solver", default=None,
                        choices=("auto", "lm", "trf", "lbfgs", "gradient-descent", "closed-form"),
                        help="default auto (for a project: its own)")
    parser.add_argument("--report", metavar="PATH", help="write a report with the comparison")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def run(args) -> int:
    from lsqfit_app.cli.fit import load_problems
    from lsqfit_app.solvers.compare import compare_models
    from lsqfit_app.report.text import fmt

    if len(args.model) < 2:
        raise InputError("compare needs at least two --model options")
    if len(set(args.model)) != len(args.model):
        raise InputError("each --model must be different")
    nested = []
    for text in args.nested:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--nested {text!r}: expected SIMPLE,COMPLEX")
        nested.append((parts[0], parts[1]))
    inputs = load_problems(args, args.model)
    problems = inputs.problems
    method = args.solver or inputs.solver.method
    comparison = compare_models(problems, args.model, method=method, nested=nested,
                                options=inputs.solver.options())
    if args.report:
        from lsqfit_app import report

        best = args.model.index(comparison.ranking[0].label)
        context = report.ReportContext.from_read(inputs.read, problems[best], source=args.file,
                                                 fit_range=inputs.fit_range)
        others = [r for i, r in enumerate(comparison.results) if i != best]
        report.write_report(comparison.results[best], problems[best], args.report,
                            context=context, comparison=others)
    if args.json:
        json.dump(comparison.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{'model':<28}{'k':>3}{'AICc':>13}{'dAICc':>9}{'weight':>9}{'BIC':>13}"
              f"{'adj R^2':>12}{'resid SD':>12}{'runs p':>9}  converged")
        for r in comparison.ranking:
            print(f"{r.label:<28}{r.n_params:>3}{fmt(r.aicc, 8):>13}{fmt(r.delta_aicc, 3):>9}"
                  f"{fmt(r.akaike_weight, 3):>9}{fmt(r.bic, 8):>13}{fmt(r.adj_r_squared, 6):>12}"
                  f"{fmt(r.residual_sd, 4):>12}{fmt(r.runs.p_value, 2):>9}  "
                  f"{'yes' if r.converged else 'NO'}")
        if comparison.f_tests:
            print("\nExtra-sum-of-squares F tests (nested pairs):")
            for t in comparison.f_tests:
                print(f"  {t.simple} vs {t.complex}: F({t.df_num}, {t.df_den}) = {fmt(t.f, 4)}, "
                      f"p = {fmt(t.p_value, 3)} -> prefer {t.prefer}")
    return 0 if all(r.converged for r in comparison.results) else 1
