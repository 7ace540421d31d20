"""``lsqfit-app verify``: the NIST StRD self-check; exit 0 only when every target holds."""
from __future__ import annotations

import json
import sys


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the per-problem digits as JSON")


def run(args) -> int:
    from lsqfit_app.solvers.nist import EXEMPT, TARGETS, run_verify

    def show(row):
        if args.json:
            return
        d = row.digits
        parts = " ".join(f"{k} {v:5.1f}" for k, v in d.items())
        verdict = "ok" if row.ok else "FAIL: " + "; ".join(row.failures)
        print(f"{row.name:<10} {row.start or 'linear':<7} {row.difficulty:<8} {parts}  "
              f"[{row.solver}] {verdict}", flush=True)

    if not args.json:
        print("NIST StRD self-check: correct digits (LRE) of the worst parameter, standard "
              "deviation and RSS/residual SD/R^2")
        print(f"targets: nonlinear {TARGETS['nonlinear']}, linear {TARGETS['linear']}")
    rows = run_verify(show)
    failed = [r for r in rows if not r.ok]
    if args.json:
        json.dump({"rows": [{"name": r.name, "kind": r.kind, "start": r.start or None,
                             "digits": r.digits, "solver": r.solver, "status": r.status,
                             "ok": r.ok, "failures": r.failures} for r in rows],
                   "passed": len(rows) - len(failed), "total": len(rows)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"\n{len(rows) - len(failed)} of {len(rows)} runs meet every target"
              + (" (exempt: " + ", ".join(f"{n} {m}: {why}" for (n, m), why in EXEMPT.items()) + ")"))
    return 0 if not failed else 1
