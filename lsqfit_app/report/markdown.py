"""The fit report as Markdown, for lab notebooks, e-mail and version control.

Tables are pipe tables (they read as plain text too).  Figures are written as
PNG files next to the report (``<name>_fit.png`` ...) and linked relatively,
so the folder can be moved as a whole.
"""
from __future__ import annotations

import os

from lsqfit_app.report import content as C
from lsqfit_app.report.figures import figure_bytes, report_figures
from lsqfit_app.report.files import write_bytes_atomic, write_text_atomic


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_md(t: C.TableData) -> str:
    header = [_cell(h) or " " for h in t.header]
    rule = [("---:" if a == "r" else ":---") for a in t.align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    for i, row in enumerate(t.rows):
        cells = [f"**{_cell(c)}**" if (i, j) in t.marks else _cell(c) for j, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    if t.notes:
        out += "\n\n" + "\n".join(f"*{_cell(n)}*" for n in t.notes)
    return out


def kv_md(rows) -> str:
    return "\n".join(f"- **{_cell(k)}:** {_cell(v) if k != 'SHA-256' else '`' + v + '`'}"
                     for k, v in rows)


def report_markdown(result, problem, context, comparison=None, figure_links=()) -> str:
    versions = ", ".join(f"{n} {v}" for n, v in context.versions)
    out = [f"# {context.title}", "", f"{result.model_name} — {context.created} — {versions}", ""]
    notes = C.uncertainty_notes(result)
    if not result.converged:
        out += [f"> **{notes.pop(0)}**", ""]
    out += ["## Data", "", kv_md(C.input_rows(context, problem)), ""]
    masked = C.masked_table(context)
    if masked is not None:
        out += ["Masked points (left out of the fit):", "", table_md(masked), ""]
    out += [f"*{n}*" for n in context.notes]
    out += ["## Model", "", "```", f"y = {result.formula}", "```", "",
            "## Fit", "", kv_md(C.fit_rows(result, problem)), "",
            "## Parameters", "", table_md(C.parameter_table(result)), ""]
    out += [f"> {n}" for n in notes] + [""]
    out += ["## Goodness of fit", "", table_md(C.statistics_table(result)), ""]
    corr = C.correlation_table(result)
    if corr is not None:
        out += ["## Parameter correlations", "", table_md(corr), ""]
    if comparison:
        out += ["## Comparison", "", table_md(C.comparison_table([result, *comparison])), ""]
    out += ["## Figures", ""]
    if figure_links:
        for i, (link, caption) in enumerate(figure_links, 1):
            out += [f"![Figure {i}]({link})", "", f"*Figure {i}.* {caption}", ""]
    else:
        out += ["*Figures are in the HTML and PDF reports.*", ""]
    out += ["## Values at full precision", "", table_md(C.full_precision_table(result)), ""]
    return "\n".join(out)


def write_markdown(result, problem, path, context, comparison=None) -> None:
    base, _ = os.path.splitext(os.fspath(path))
    links = []
    for key, caption, fig in report_figures(result, problem, comparison):
        png = f"{base}_{key}.png"
        write_bytes_atomic(png, figure_bytes(fig, "png", dpi=150))
        links.append((os.path.basename(png), caption))
    write_text_atomic(path, report_markdown(result, problem, context, comparison, links))
