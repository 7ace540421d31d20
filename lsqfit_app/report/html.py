"""The fit report as one self-contained HTML file.

Figures are embedded as SVG data URIs (vector, sharp when printed, no id
clashes between figures) and the model formula as typeset SVG with the plain
text below it for copying.  The stylesheet is inline, with print rules
(A4 margins, no figure split across pages).  Everything the user typed
(names, formula, file name) is HTML-escaped.
"""
from __future__ import annotations

import base64
import html

from lsqfit_app.report import content as C
from lsqfit_app.core.spreadsheet import clean_text
from lsqfit_app.report.figures import report_figures
from lsqfit_app.report.files import write_text_atomic
from lsqfit_app.report.mathtext import formula_math, render_lines

CSS = """
:root { --ink:#1d1d1f; --muted:#5f6368; --rule:#d9dce1; --accent:#0072B2; --mark:#fde2c8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       color: var(--ink); max-width: 980px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; padding-bottom: .2em;
     border-bottom: 2px solid var(--accent); }
.sub { color: var(--muted); margin: 0 0 1em; }
table { border-collapse: collapse; margin: .3em 0 .6em; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .7em; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { text-align: left; background: #f4f6f8; font-weight: 600; }
td.r, th.r { text-align: right; white-space: nowrap; }
table.kv th { background: none; font-weight: 600; color: var(--muted); width: 11em; }
td.mark { background: var(--mark); font-weight: 600; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em; }
td.mono { word-break: break-all; }
.formula img { display: block; margin: .3em 0; max-width: 100%; }
.formula code { display: block; color: var(--muted); margin-top: .4em; word-break: break-all; }
figure { margin: 1em 0 1.4em; break-inside: avoid; page-break-inside: avoid; }
figure img { width: 100%; max-width: 760px; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .9em; margin-top: .3em; max-width: 760px; }
.note { background: #f1f7fc; border-left: 4px solid var(--accent); padding: .5em .8em;
        margin: .5em 0; }
.warn { background: #fff3e0; border-left-color: #D55E00; }
.tablenote { color: var(--muted); font-size: .9em; }
footer { color: var(--muted); font-size: .85em; margin-top: 2em; border-top: 1px solid var(--rule);
         padding-top: .5em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { break-inside: auto; } tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { size: A4; margin: 16mm 15mm; }
"""


def _e(text) -> str:
    return html.escape(clean_text(text), quote=True)


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def table_html(t: C.TableData, cls: str = "") -> str:
    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    for h, a in zip(t.header, t.align):
        out.append(f'<th class="{a}">{_e(h)}</th>')
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        out.append("<tr>")
        for j, (cell, a) in enumerate(zip(row, t.align)):
            classes = [a] + (["mark"] if (i, j) in t.marks else [])
            out.append(f'<td class="{" ".join(classes)}">{_e(cell)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    for note in t.notes:
        out.append(f'<p class="tablenote">{_e(note)}</p>')
    return "".join(out)


def kv_html(rows, mono=("SHA-256",)) -> str:
    out = ['<table class="kv"><tbody>']
    for k, v in rows:
        cls = ' class="mono"' if k in mono else ""
        out.append(f"<tr><th>{_e(k)}</th><td{cls}>{_e(v)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def formula_html(result) -> str:
    lines = formula_math(result)
    images = render_lines(lines, "svg") if lines else None
    parts = ['<div class="formula">']
    if images:
        for img in images:
            parts.append(f'<img alt="model formula" src="{_data_uri(img, "image/svg+xml")}">')
    parts.append(f"<code>y = {_e(result.formula)}</code></div>")
    return "".join(parts)


def report_html(result, problem, context, comparison=None) -> str:
    """The complete HTML document as a string."""
    versions = ", ".join(f"{n} {v}" for n, v in context.versions)
    body = [f"<h1>{_e(context.title)}</h1>",
            f'<p class="sub">{_e(result.model_name)} · {_e(context.created)} · {_e(versions)}</p>']
    notes = C.uncertainty_notes(result)
    if not result.converged:
        body.append(f'<p class="note warn">{_e(notes.pop(0))}</p>')

    body.append("<h2>Data</h2>")
    body.append(kv_html(C.input_rows(context, problem)))
    masked = C.masked_table(context)
    if masked is not None:
        body.append("<p><b>Masked points</b> (left out of the fit)</p>" + table_html(masked))
    for note in context.notes:
        body.append(f'<p class="tablenote">{_e(note)}</p>')

    body.append("<h2>Model</h2>")
    body.append(formula_html(result))
    body.append("<h2>Fit</h2>")
    body.append(kv_html(C.fit_rows(result, problem)))

    body.append("<h2>Parameters</h2>")
    body.append(table_html(C.parameter_table(result), "params"))
    for note in notes:
        body.append(f'<p class="note">{_e(note)}</p>')

    body.append("<h2>Goodness of fit</h2>")
    body.append(table_html(C.statistics_table(result), "stats"))
    corr = C.correlation_table(result)
    if corr is not None:
        body.append("<h2>Parameter correlations</h2>")
        body.append(table_html(corr, "corr"))

    if comparison:
        body.append("<h2>Comparison</h2>")
        body.append(table_html(C.comparison_table([result, *comparison])))

    body.append("<h2>Figures</h2>")
    for i, figure in enumerate(report_figures(result, problem, "svg", comparison), 1):
        body.append(f'<figure id="fig-{figure.key}"><img alt="{_e(figure.key)}" '
                    f'src="{_data_uri(figure.data, "image/svg+xml")}">'
                    f"<figcaption><b>Figure {i}.</b> {_e(figure.caption)}</figcaption></figure>")

    body.append("<h2>Values at full precision</h2>")
    body.append(table_html(C.full_precision_table(result), "full"))
    body.append(f"<footer>Made by {_e(versions)}. Rerun the fit with the script export "
                "(File &gt; Export script, or <code>lsqfit-app fit ... --script</code>).</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"generator\" content=\"{_e(versions)}\">"
            f"<title>{_e(context.title)} – {_e(result.model_name)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(result, problem, path, context, comparison=None) -> None:
    write_text_atomic(path, report_html(result, problem, context, comparison))
