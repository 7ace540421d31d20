"""The fit report as Markdown, for lab notebooks, e-mail and version control.

Tables are pipe tables (they read as plain text too).  Figures are PNG files
in a folder the report owns, ``<name>_files/`` beside it (``<name>_files-2/``
... when that name is taken by something else), linked relatively, so the
report and its folder can be moved together.  The folder holds a manifest
(:data:`MANIFEST`) naming the report and the files it wrote: a report only
ever replaces files its manifest lists, never an unrelated file.

Text from the data or the user (names, headers, notes) is escaped so that
Markdown shows it as typed: it cannot become a link, an image, raw HTML,
emphasis or a table cell break.
"""
from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

from lsqfit_app.core.errors import InputError
from lsqfit_app.report import content as C
from lsqfit_app.core.spreadsheet import clean_text
from lsqfit_app.report.figures import report_figures
from lsqfit_app.report.files import write_bytes_atomic, write_text_atomic

#: the file in a figure folder that says which report owns it and what it wrote
MANIFEST = ".lsqfit-report.json"

# punctuation that means something to (GitHub) Markdown inside a line, or to
# HTML inside it; brackets only matter as "](" / "][" (our lines never start
# with "[", so no reference definition can exist), and plain-text readers keep
# seeing "[1.2, 3.4]" as typed
_SPECIAL = re.compile(r"([\\`*<>|&~$])")  # $: GitHub typesets $...$ as math
_LINK = re.compile(r"\](?=[(\[])")
# an underscore starts or ends emphasis only at a word edge
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md_text(text) -> str:
    """Plain text as Markdown that renders as exactly that text, on one line."""
    text = " ".join(clean_text(text).splitlines()) if text is not None else ""
    text = _SPECIAL.sub(r"\\\1", text)
    text = _LINK.sub(r"\\]", text)
    return _EDGE_UNDERSCORE.sub(r"\\_", text)


_cell = md_text


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


def _code_span(text: str) -> str:
    """Inline code; the fence is longer than any run of backticks inside."""
    text = " ".join(text.splitlines())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def kv_md(rows) -> str:
    return "\n".join(f"- **{_cell(k)}:** "
                     f"{_code_span(str(v)) if k == 'SHA-256' else _cell(v)}" for k, v in rows)


def _code_block(text: str) -> list[str]:
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return [fence, *text.splitlines(), fence]


def report_markdown(result, problem, context, comparison=None, figure_links=()) -> str:
    versions = ", ".join(f"{n} {v}" for n, v in context.versions)
    out = [f"# {md_text(context.title)}", "",
           f"{md_text(result.model_name)} — {md_text(context.created)} — {md_text(versions)}", ""]
    notes = C.uncertainty_notes(result)
    if not result.converged:
        out += [f"> **{md_text(notes.pop(0))}**", ""]
    out += ["## Data", "", kv_md(C.input_rows(context, problem)), ""]
    masked = C.masked_table(context)
    if masked is not None:
        out += ["Masked points (left out of the fit):", "", table_md(masked), ""]
    out += [f"*{md_text(n)}*" for n in context.notes]
    out += ["## Model", "", *_code_block(f"y = {result.formula}"), "",
            "## Fit", "", kv_md(C.fit_rows(result, problem)), "",
            "## Parameters", "", table_md(C.parameter_table(result)), ""]
    out += [f"> {md_text(n)}" for n in notes] + [""]
    out += ["## Goodness of fit", "", table_md(C.statistics_table(result)), ""]
    corr = C.correlation_table(result)
    if corr is not None:
        out += ["## Parameter correlations", "", table_md(corr), ""]
    if comparison:
        out += ["## Comparison", "", table_md(C.comparison_table([result, *comparison])), ""]
    out += ["## Figures", ""]
    if figure_links:
        for i, (link, caption) in enumerate(figure_links, 1):
            out += [f"![Figure {i}]({link})", "", f"*Figure {i}.* {md_text(caption)}", ""]
    else:
        out += ["*Figures are in the HTML and PDF reports.*", ""]
    out += ["## Values at full precision", "", table_md(C.full_precision_table(result)), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
def _read_manifest(folder: str) -> dict | None:
    try:
        with open(os.path.join(folder, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    return data


def figure_folder(path: str) -> tuple[str, set[str]]:
    """(folder for the report's figures, the files it wrote there before).

    ``<stem>_files`` beside the report when it is free or already this
    report's (its manifest names the report); otherwise ``<stem>_files-2``,
    ``-3`` ...  A new folder is created.  Never a symlink: its target would
    not be the report's own.
    """
    directory = os.path.dirname(os.path.abspath(path))
    report = os.path.basename(path)
    stem = os.path.splitext(report)[0]
    for k in range(1, 1000):
        name = f"{stem}_files" + (f"-{k}" if k > 1 else "")
        folder = os.path.join(directory, name)
        if os.path.islink(folder):
            continue
        if os.path.isdir(folder):
            manifest = _read_manifest(folder)
            if manifest is not None and manifest.get("report") == report:
                return folder, {str(f) for f in manifest["files"]}
            continue
        if os.path.lexists(folder):
            continue
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours
        except OSError as exc:
            raise InputError(f"cannot write {path!r}: cannot make the figure folder "
                             f"{folder!r}: {exc.strerror or exc}") from None
        return folder, set()
    raise InputError(f"cannot write {path!r}: no free name for its figure folder "
                     f"({stem}_files ... {stem}_files-999 are all taken)")


def _free_name(folder: str, wanted: str, ours: set[str], taken: set[str]) -> str:
    """``wanted`` unless an unrelated file has that name; then ``<key>-2.png`` ..."""
    stem, ext = os.path.splitext(wanted)
    k = 1
    name = wanted
    while name in taken or (name not in ours and os.path.lexists(os.path.join(folder, name))):
        k += 1
        name = f"{stem}-{k}{ext}"
    return name


def write_markdown(result, problem, path, context, comparison=None) -> None:
    path = os.fspath(path)
    folder, ours = figure_folder(path)
    written: list[str] = []
    links = []
    for figure in report_figures(result, problem, "png", comparison, dpi=150):
        name = _free_name(folder, f"{figure.key}.png", ours, set(written))
        # the manifest lists a file before it exists, so a crash in between
        # cannot leave a file of ours that a rerun takes for someone else's
        write_text_atomic(os.path.join(folder, MANIFEST), json.dumps(
            {"report": os.path.basename(path), "files": sorted(ours | {*written, name})},
            indent=1))
        write_bytes_atomic(os.path.join(folder, name), figure.data)
        written.append(name)
        links.append((quote(os.path.basename(folder)) + "/" + quote(name), figure.caption))
    # figures of an earlier run of this report that this run does not have
    for stale in sorted(ours - set(written)):
        if os.path.basename(stale) == stale:  # only plain names inside the folder
            try:
                os.remove(os.path.join(folder, stale))
            except OSError:
                pass
    write_text_atomic(os.path.join(folder, MANIFEST),
                      json.dumps({"report": os.path.basename(path), "files": written}, indent=1))
    write_text_atomic(path, report_markdown(result, problem, context, comparison, links))
