"""Plain-text rendering of a fit result (CLI output, clipboard, e-mail)."""
from __future__ import annotations

import math
import textwrap

from lsqfit_app.core.result import FitResult
from lsqfit_app.report.content import conventions, sse_label


def fmt(value, digits: int = 6) -> str:
    """A number for people: significant digits, no noise for NaN/None."""
    if value is None:
        return "-"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


#: the report's symbols in ASCII: this text goes to consoles of any encoding
_ASCII = {"−": "-", "²": "^2", "σ": "sigma", "Σ": "sum", "π": "pi", "ᵢ": "_i", "√": "sqrt",
          "∝": "~", "×": "x", "χ": "chi"}


def ascii_text(text: str) -> str:
    """``text`` with the report's mathematical symbols spelled in ASCII."""
    for symbol, spelled in _ASCII.items():
        text = text.replace(symbol, spelled)
    return text


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def run_text(result: FitResult) -> str:
    """How the solver got there: "lm, 6 iterations, 8 evaluations, 0.0021 s";
    a closed-form solution is "solved directly" (it has no iterations)."""
    if result.solver == "closed-form":
        how = "closed form: solved directly"
    else:
        how = (f"{result.solver}, {_count(result.iterations, 'iteration')}, "
               f"{_count(result.evaluations, 'evaluation')}")
    return f"{how}, {result.elapsed:.2g} s"


def format_result(result: FitResult) -> str:
    s = result.statistics
    lines = [
        f"Model:     {result.model_name}",
        f"Formula:   {result.formula}",
        f"Solver:    {run_text(result)} (loss {result.loss})",
        f"Status:    {result.status.value}: {result.message}",
        "",
        f"{'parameter':<18}{'value':>15}{'std error':>13}{'95% CI':>29}{'p':>10}  note",
    ]
    for p in result.parameters:
        ci = f"[{fmt(p.ci95[0])}, {fmt(p.ci95[1])}]" if not p.fixed else "fixed"
        note = p.stderr_note if p.stderr_note and p.stderr_note != "fixed" else ""
        if p.at_bound:
            note = note or "at bound"
        lines.append(f"{p.name:<18}{fmt(p.value, 10):>15}{fmt(p.stderr, 4):>13}{ci:>29}"
                     f"{fmt(p.p_value, 3):>10}  {note}")
    rank = f"; rank {s.rank} (rank deficient)" if s.rank < s.n_free else ""
    # the weighted sum once, named as everywhere (content.sse_label); with
    # absolute sigma it is the chi-square, whose reduced form follows
    sse = f"{ascii_text(sse_label(s)[0])} {fmt(s.sse, 10)}"
    if s.chi_squared is not None:
        sse += f"   reduced chi^2 {fmt(s.reduced_chi_squared)}"
    lines += [
        "",
        f"points used {s.n_used} of {s.n} (masked {s.n_excluded}, missing {s.n_missing}); "
        f"free parameters {s.n_free}{rank}; dof {s.dof}",
        f"{sse}   RMSE {fmt(s.rmse)}   residual SD {fmt(s.residual_sd)}",
        f"R^2 {fmt(s.r_squared, 10)}"
        f"{'' if s.r_squared_centered else ' (uncentred: model through the origin)'}"
        f"   adjusted R^2 {fmt(s.adj_r_squared, 10)}",
        f"AIC {fmt(s.aic, 8)}   AICc {fmt(s.aicc, 8)}   BIC {fmt(s.bic, 8)}",
    ]
    lines += ["", result.uncertainty_note, "", textwrap.fill(ascii_text(conventions(result)), 95)]
    return "\n".join(lines)
