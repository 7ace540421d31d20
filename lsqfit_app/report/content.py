"""What a report says, independent of its format.

HTML, PDF, Markdown and the clipboard all show the same tables; this module
builds them once as rows of strings, with the number formatting people
expect: a parameter value rounded to the precision of its standard error
(two significant digits of the error), the interval in the same decimals,
p-values in scientific notation, integers as integers.  Full-precision values
go in a separate table so that nothing is lost to rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_SUPERSCRIPT = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")

#: |r| above which a correlation is flagged
HIGH_CORRELATION = 0.95


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float, np.floating)) and math.isfinite(float(v))


def sci(value: float, digits: int = 2) -> str:
    """``6.8×10⁻⁴⁴`` style scientific notation (plain number when moderate)."""
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    mant, exp = f"{value:.{digits - 1}e}".split("e")
    return f"{mant}×10{str(int(exp)).translate(_SUPERSCRIPT)}"


def fmt_p(p: float) -> str:
    """A p-value: two significant digits, tiny values as a bound."""
    if p is None or not math.isfinite(p):
        return "–"
    if p < 1e-300:
        return "<10⁻³⁰⁰"
    return sci(p, 2)


def fmt_g(value, digits: int = 6) -> str:
    """Significant digits, no trailing noise; '–' when missing."""
    if value is None:
        return "–"
    value = float(value)
    if not math.isfinite(value):
        return "–" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = f"{value:.{digits}g}"
    return text


def decimals_for_error(err: float, value: float | None = None) -> int | None:
    """Decimals that show two significant digits of ``err`` (None if unusable)."""
    if not _finite(err) or err <= 0:
        return None
    dec = 1 - math.floor(math.log10(err))
    if value is not None and _finite(value) and value != 0:
        # at least two significant digits of the value itself
        dec = max(dec, 1 - math.floor(math.log10(abs(value))))
    return dec


def fmt_fixed(value: float, decimals: int) -> str:
    if not _finite(value):
        return "–"
    if decimals <= 0:
        return f"{round(value, decimals):.0f}"
    return f"{value:.{decimals}f}"


def fmt_value_error(value: float, err: float) -> tuple[str, str, int | None, int]:
    """(value text, error text, decimals, exponent) rounded together.

    Numbers that would need more than 6 decimals or are 10⁶ or larger are
    shown scaled by a common power of ten (``exponent``, 0 otherwise); the
    caller prints the ×10ⁿ once.
    """
    dec = decimals_for_error(err, value)
    if dec is None:
        return fmt_g(value, 7), ("–" if not _finite(err) else fmt_g(err, 2)), None, 0
    exp = 0
    if dec > 6 or abs(value) >= 1e6 or err >= 1e6:
        ref = abs(value) if value != 0 else err
        exp = math.floor(math.log10(ref))
        value, err = value / 10.0**exp, err / 10.0**exp
        dec = decimals_for_error(err, value)
    # the error keeps its own two significant digits even when the value needs more
    return fmt_fixed(value, dec), fmt_fixed(err, min(dec, decimals_for_error(err))), dec, exp


def times_ten(exp: int) -> str:
    return f"×10{str(exp).translate(_SUPERSCRIPT)}" if exp else ""


# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TableData:
    """A table for any format: header, rows of strings, per-cell emphasis.

    ``align`` gives "l" or "r" per column; ``marks`` holds (row, column)
    pairs to highlight (e.g. strong correlations); ``notes`` lines go under
    the table.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]
    marks: frozenset = frozenset()
    notes: tuple[str, ...] = ()


def parameter_flags(p) -> str:
    flags = []
    if p.fixed:
        flags.append("fixed")
    if p.at_bound:
        flags.append("at bound")
    if not p.fixed and (math.isfinite(p.min) or math.isfinite(p.max)):
        lo = fmt_g(p.min, 6) if math.isfinite(p.min) else "-∞"
        hi = fmt_g(p.max, 6) if math.isfinite(p.max) else "∞"
        flags.append(f"bounds [{lo}, {hi}]")
    return "; ".join(flags)


def parameter_table(result) -> TableData:
    """Value, standard error, 95 % CI, t, p and flags per parameter."""
    rows = []
    notes = []
    for p in result.parameters:
        if p.fixed:
            rows.append((p.name, fmt_g(p.value, 10), "fixed", "–", "–", "–",
                         parameter_flags(p)))
            continue
        v, e, dec, exp = fmt_value_error(p.value, p.stderr)
        scale = 10.0**exp
        if dec is not None and _finite(p.ci95[0]):
            ci = f"[{fmt_fixed(p.ci95[0] / scale, dec)}, {fmt_fixed(p.ci95[1] / scale, dec)}]"
        else:
            ci = "–"
        suffix = times_ten(exp)
        if suffix:
            v, e = f"{v}{suffix}", f"{e}{suffix}"
            ci = f"{ci}{suffix}" if ci != "–" else ci
        rows.append((p.name, v, e, ci, fmt_g(p.t_value, 4), fmt_p(p.p_value),
                     parameter_flags(p)))
    return TableData(("parameter", "value", "std. error", "95 % CI", "t", "p", "flags"),
                     tuple(rows), ("l", "r", "r", "r", "r", "r", "l"), notes=tuple(notes))


def full_precision_table(result) -> TableData:
    """Values and errors at full double precision (shortest round-trip repr)."""
    rows = []
    for p in result.parameters:
        rows.append((p.name, repr(float(p.value)),
                     "fixed" if p.fixed else (repr(float(p.stderr)) if _finite(p.stderr) else "–"),
                     repr(float(p.start)) if _finite(p.start) else "–"))
    return TableData(("parameter", "value", "std. error", "start"), tuple(rows),
                     ("l", "r", "r", "r"))


def _r2(v: float) -> str:
    if not _finite(v):
        return "–"
    gap = 1.0 - v
    dec = 6
    if 0 < gap < 1e-4:
        dec = min(15, 2 - math.floor(math.log10(gap)) + 1)
    return f"{v:.{dec}f}"


def sse_label(s) -> tuple[str, str]:
    """(symbol, meaning) of the sum of squared residuals, named once.

    With absolute sigma the weighted sum is the chi-square: one row, not an
    "SSE" and a "χ²" showing the same number.
    """
    if s.chi_squared is not None:
        return "χ² (weighted SSE)", "Σ((y − f)/σ)², the sum of squared weighted residuals"
    if s.weighted:
        return "weighted SSE", "Σ((y − f)/σ)² with the relative σ ∝ |y|"
    return "SSE", "sum of squared residuals"


def statistics_rows(result) -> list[tuple[str, str, str]]:
    """(symbol, value, meaning) rows of the goodness-of-fit statistics."""
    s = result.statistics
    rank = s.rank
    deficient = rank is not None and rank < s.n_free
    sse_symbol, sse_meaning = sse_label(s)
    rows = [
        ("n", f"{s.n_used} of {s.n}", "points used of rows"
         + (f" ({s.n_excluded} masked, {s.n_missing} missing)" if s.n_excluded or s.n_missing
            else "")),
        ("p", str(s.n_free), "free parameters"),
    ]
    if deficient:
        rows.append(("rank", str(rank), "parameters the data determine (the Jacobian is rank "
                     "deficient)"))
    rows += [
        ("dof", str(s.dof), "degrees of freedom, n − rank" if deficient
         else "degrees of freedom, n − p"),
        (sse_symbol, fmt_g(s.sse, 7), sse_meaning),
        ("RMSE", fmt_g(s.rmse, 6), "√(SSE/n)"),
        ("residual SD", fmt_g(s.residual_sd, 6), "√(SSE/dof)"),
        ("R²", _r2(s.r_squared), "coefficient of determination, 1 − SSE/SST"
         + ((", SST about the weighted mean" if s.weighted else ", SST about the mean")
            if s.r_squared_centered else
            " (uncentred, SST = Σ" + ("w" if s.weighted else "") + "y²: model through the "
            "origin)")),
        ("adjusted R²", _r2(s.adj_r_squared), "R² corrected for the number of parameters"),
    ]
    if s.reduced_chi_squared is not None:
        rows.append(("reduced χ²", fmt_g(s.reduced_chi_squared, 4), "χ²/dof (≈ 1 for a good "
                     "model with correct sigma)"))
    if result.loss != "linear":
        rows.append(("objective", fmt_g(s.objective, 7), f"minimised {result.loss} loss"))
    rows += [
        ("AIC", _ic(s.aic), "Akaike information criterion"),
        ("AICc", _ic(s.aicc), "AIC with small-sample correction"),
        ("BIC", _ic(s.bic), "Bayesian information criterion"),
    ]
    return rows


def _ic(v) -> str:
    return f"{v:.2f}" if _finite(v) else "–"


def statistics_table(result) -> TableData:
    return TableData(("statistic", "value", "meaning"), tuple(statistics_rows(result)),
                     ("l", "r", "l"))


def correlation_table(result) -> TableData | None:
    """Correlation matrix of the free parameters; |r| > 0.95 marked."""
    names = list(result.param_names)
    free = [i for i, p in enumerate(result.parameters) if not p.fixed]
    if len(free) < 2:
        return None
    corr = np.asarray(result.correlation, dtype=float)
    rows, marks = [], set()
    for a, i in enumerate(free):
        row = [names[i]]
        for b, j in enumerate(free):
            v = corr[i, j]
            if b > a:
                row.append("")
            elif not math.isfinite(v):
                row.append("–")
            else:
                row.append(f"{v:.3f}" if i != j else "1")
                if i != j and abs(v) > HIGH_CORRELATION:
                    marks.add((a, b + 1))
        rows.append(tuple(row))
    notes = ()
    if marks:
        notes = (f"Marked: |r| > {HIGH_CORRELATION}. Strongly correlated parameters are poorly "
                 "determined separately; consider fixing one or reparametrising.",)
    return TableData(("", *[names[i] for i in free]), tuple(rows),
                     ("l",) + ("r",) * len(free), frozenset(marks), notes)


def fit_rows(result, problem) -> list[tuple[str, str]]:
    """Solver, loss, settings and how the fit ended."""
    rows = [("solver", result.solver),
            ("loss", result.loss + (f" (f_scale = {fmt_g(problem.f_scale)})"
                                   if result.loss != "linear" else ""))]
    weighting = {"none": "none (unweighted)", "sigma": "1/σ² from the sigma column (absolute)",
                 "poisson": "Poisson, σ = √max(y, 1) (absolute)",
                 "relative": "relative, σ ∝ |y| (scaled)"}.get(result.weighting, result.weighting)
    rows.append(("weights", weighting))
    options = result.options
    limit = options.max_iterations if options.max_iterations is not None else "default"
    rows.append(("settings", f"ftol {fmt_g(options.ftol)}, xtol {fmt_g(options.xtol)}, "
                             f"gtol {fmt_g(options.gtol)}, max_iterations {limit}"))
    rows += [("status", result.status.value), ("message", result.message),
             ("iterations", str(result.iterations)), ("evaluations", str(result.evaluations)),
             ("time", f"{result.elapsed:.3g} s")]
    return rows


def comparison_table(results) -> TableData:
    """One row per result (each once, in the order given), with ΔAICc to the best."""
    results = list({id(r): r for r in results}.values())
    rows = []
    best = min((r.statistics.aicc for r in results if _finite(r.statistics.aicc)), default=None)
    for r in results:
        s = r.statistics
        delta = s.aicc - best if best is not None and _finite(s.aicc) else math.nan
        rows.append((r.model_name if len(r.model_name) <= 40 else r.model_name[:37] + "...",
                     r.solver, "yes" if r.converged else r.status.value, str(s.n_free),
                     fmt_g(s.sse, 7), _r2(s.r_squared), _ic(s.aicc), _ic(delta), _ic(s.bic),
                     str(r.iterations), f"{r.elapsed:.3g} s"))
    return TableData(("model", "solver", "converged", "p", "SSE", "R²", "AICc", "ΔAICc", "BIC",
                      "iterations", "time"), tuple(rows),
                     ("l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "r"))


def input_rows(context, problem) -> list[tuple[str, str]]:
    """Input file, checksum, sheet, columns, fit range."""
    rows = []
    if context.source_name:
        rows.append(("file", context.source_name))
    else:
        rows.append(("data", "given in code (no input file)"))
    if context.sha256:
        rows.append(("SHA-256", context.sha256))
    if context.sheet:
        rows.append(("sheet", str(context.sheet)))
    for role, column in context.columns:
        rows.append((f"column {role}", column))
    used = np.asarray(problem.used, dtype=bool)
    xname = next(iter(problem.x))
    xu = np.asarray(problem.x[xname], dtype=float)[used]
    if context.fit_range is not None:
        lo, hi = context.fit_range
        rows.append(("fit range", f"{fmt_g(lo)} ≤ {xname} ≤ {fmt_g(hi)}"))
    elif xu.size:
        rows.append(("fit range", f"all rows ({xname} from {fmt_g(xu.min())} to "
                                  f"{fmt_g(xu.max())})"))
    s_n, n_used = problem.n, int(used.sum())
    rows.append(("rows", f"{s_n} read, {n_used} fitted, {len(context.masked)} masked, "
                         f"{problem.n_missing} with missing values"))
    return rows


def masked_table(context) -> TableData | None:
    if not context.masked:
        return None
    with_lines = any(m.line is not None for m in context.masked)
    rows = []
    for m in context.masked:
        row = (str(m.row + 1),) + ((str(m.line) if m.line is not None else "–",)
                                   if with_lines else ()) + (m.reason,)
        rows.append(row)
    header = ("row",) + (("file line",) if with_lines else ()) + ("reason",)
    return TableData(header, tuple(rows), ("r",) + (("r",) if with_lines else ()) + ("l",))


def conventions(result) -> str:
    """One paragraph: which distribution the intervals use, how the information
    criteria and R² are defined, what the weights mean, for this result."""
    s = result.statistics
    rank = s.rank
    k_name = "free parameters" if rank is None or rank >= s.n_free else \
        "determined parameters (the rank)"
    if s.absolute_sigma:
        interval = ("95 % intervals and p values use the normal quantile 1.959964: sigma is "
                    "absolute, so the variance is known and nothing is estimated from the "
                    "scatter.")
        ic = ("AIC, AICc and BIC use the full Gaussian log-likelihood with the given sigma: "
              f"−2 log L = χ² + Σ log(2π σᵢ²), k = {k_name} (σ is known).")
    else:
        interval = ("95 % intervals and p values use Student's t quantile with "
                    f"dof = n − {'rank' if 'rank' in k_name else 'p'} = {s.dof}: the variance "
                    "is estimated from the scatter.")
        ic = ("AIC, AICc and BIC use the full Gaussian log-likelihood: −2 log L = "
              "n log(2π SSE/n) + n" + (" − Σ log wᵢ (wᵢ = 1/σᵢ²)" if s.weighted else "")
              + f", k = {k_name} + 1 (σ² estimated), as in Burnham & Anderson (2002) and "
              "R's AIC(lm).")
    ic += " AICc = AIC + 2k(k+1)/(n−k−1), BIC = −2 log L + k ln n."
    weights = {"none": "Unweighted: σᵢ = 1.",
               "sigma": "Weights 1/σᵢ² from the sigma column, taken as absolute.",
               "poisson": "Poisson weights: σᵢ = √(max(yᵢ, 1)), absolute.",
               "relative": "Relative weights: σᵢ ∝ |yᵢ|, the common factor estimated "
                           "from the scatter."}.get(result.weighting, "")
    r2 = ("R² = 1 − SSE/SST with SST about the " + ("weighted " if s.weighted else "")
          + "mean when the model has a constant term (free or fixed); uncentred (SST = Σ "
          + ("wᵢ " if s.weighted else "") + "yᵢ²) only for a model through the origin"
          + (", as here." if not s.r_squared_centered else "."))
    return " ".join(["Conventions:", interval, ic, weights, r2])


def uncertainty_notes(result) -> list[str]:
    """The honest-uncertainty note, each missing error's reason, and the conventions."""
    notes = [result.uncertainty_note]
    for p in result.parameters:
        if not p.fixed and not _finite(p.stderr) and p.stderr_note:
            notes.append(f"No standard error for {p.name}: {p.stderr_note}.")
    notes.append(conventions(result))
    if not result.converged:
        notes.insert(0, f"WARNING: the fit did not converge ({result.status.value}). "
                        "The numbers below describe the last point, not a minimum.")
    return notes
