"""``lsqfit-app global INPUT... --model M --share NAME[,NAME...]``: one joint fit (DESIGN.md 4.4).

The shared parameters take one value for all curves, the others one value
per curve; the curves and fit options are those of ``batch``
(:mod:`lsqfit_app.cli.batch`).  ``--json`` prints the 4.2 result where each
parameter entry has ``"curve"`` (null when shared), plus ``"curves"`` and
``"per_curve"``.
"""
from __future__ import annotations

from lsqfit_app.core.errors import InputError


def add_arguments(parser) -> None:
    from lsqfit_app.cli.batch import add_curve_arguments, add_fit_arguments, add_output_arguments

    add_curve_arguments(parser)
    add_fit_arguments(parser)
    parser.add_argument("--share", action="append", required=True, metavar="NAME[,NAME...]",
                        help="parameters with one value for all curves (repeatable); the "
                             "others take one value per curve")
    parser.add_argument("--report", metavar="PATH",
                        help="a report of the joint fit (not available yet: refused with a "
                             "message; use --json or --out)")
    parser.add_argument("--compare", action="store_true",
                        help="also fit each curve on its own and compare (extra-sum-of-squares "
                             "F test and AICc of global against separate fits, as Prism "
                             "does); adds \"comparison\" to the JSON")
    add_output_arguments(parser, "; a shared parameter repeats its value")


def shared_names(texts, model) -> list[str]:
    """The --share names in order, each once; InputError naming an unknown one."""
    names: list[str] = []
    for text in texts:
        for part in text.split(","):
            name = part.strip()
            if not name:
                raise InputError(f"--share {text!r}: expected NAME[,NAME...] (an empty name)")
            if name not in model.param_names:
                raise InputError(f"--share: unknown parameter {name!r}; the model "
                                 f"{model.name!r} has {', '.join(model.param_names)}")
            if name not in names:
                names.append(name)
    return names


def run(args) -> int:
    from lsqfit_app.cli.batch import (check_fit_options, check_output_files, curve_set,
                                      parameters, print_json, solver_options, weighting)
    from lsqfit_app.cli.batch_outputs import ProgressBar, write_results
    from lsqfit_app.cli.curves import load_curves

    check_fit_options(args)
    check_output_files(args, {"--out": args.out, "--report": args.report})
    if args.report is not None:
        # the report renders one FitResult of one FitProblem; a joint fit has neither
        raise InputError("--report: reports of global fits are not available yet; "
                         "write the results with --out or --json")
    inputs = load_curves(args, args.model)
    shared = shared_names(args.share, inputs.model)
    params = parameters(args, inputs.model)
    weights = weighting(args, inputs.curves)
    curves = curve_set(inputs)
    from lsqfit_app.batch.global_fit import fit_global

    bar = ProgressBar(label="global fit")
    try:
        result = fit_global(inputs.model, curves, shared, params, weights=weights,
                            options=solver_options(args), on_progress=bar)
    finally:
        bar.close()
    if args.out:
        write_results(result, args.out)
    data = result.to_dict()
    if args.compare:
        from lsqfit_app.batch.engine import fit_batch

        separate = fit_batch(inputs.model, curves, params, weights=weights, method="lm",
                             options=solver_options(args))
        data["comparison"] = result.compare_separate(separate)
    if args.json:
        print_json(data)
    else:
        print_summary(data)
    return 0 if data.get("converged") else 1


def print_summary(data: dict) -> None:
    """The joint parameters (curve, value, stderr) and statistics, as text."""
    from lsqfit_app.report.text import fmt

    model = data.get("model", {})
    print(f"{model.get('name', '')}: global fit of {len(data.get('curves', []))} curves, "
          f"{'converged' if data.get('converged') else 'NOT converged'}: "
          f"{data.get('message', '')}")
    for p in data.get("parameters", []):
        where = ("fixed" if p.get("fixed") else "shared") if p.get("curve") is None \
            else p["curve"]
        print(f"  {p['name']:<12} {where:<20} {fmt(p.get('value'), 8):>16} "
              f"+- {fmt(p.get('stderr'), 4)}")
    stats = data.get("statistics", {})
    print("  " + ", ".join(f"{k} {fmt(stats.get(k), 6)}"
                          for k in ("n_used", "dof", "sse", "r_squared", "aicc") if k in stats))
    comparison = data.get("comparison")
    if comparison:
        print(f"  global vs separate fits: F({comparison.get('df_numerator')}, "
              f"{comparison.get('df_denominator')}) = {fmt(comparison.get('f'), 4)}, "
              f"p = {fmt(comparison.get('p_value'), 3)} -> prefer "
              f"{comparison.get('f_test_prefers')}")
