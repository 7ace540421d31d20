"""``lsqfit-app models``: the library models with formulas and parameters."""
from __future__ import annotations

import json
import sys


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args) -> int:
    from lsqfit_app.models.registry import list_library_models

    models = list_library_models()
    if args.json:
        out = []
        for m in models:
            hints = m.param_hints()
            out.append({"name": m.name, "formula": m.formula, "parameters": [
                {"name": p, "description": hints[p].description if p in hints else "",
                 "min": hints[p].min if p in hints else None,
                 "max": hints[p].max if p in hints else None} for p in m.param_names]})
        json.dump(out, sys.stdout, indent=2, default=lambda v: None)
        sys.stdout.write("\n")
        return 0
    for m in models:
        print(f"{m.name:<18} {m.formula}")
        hints = m.param_hints()
        for p in m.param_names:
            desc = hints[p].description if p in hints else ""
            print(f"{'':<18}   {p}: {desc}")
    print("\nSums of models: join names with '+', e.g. gaussian+gaussian+line "
          "(parameters are prefixed per component).")
    return 0
