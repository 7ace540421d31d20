"""HTML, PDF and Markdown reports: content, figures, tables, provenance."""
from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from lsqfit_app.report import ReportContext, write_report
from lsqfit_app.report.content import fmt_value_error


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.text = [], 0, []
        self.cells, self._in_cell = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables += 1
        elif tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def peak_context(library_fit, peak_read):
    return ReportContext.from_read(peak_read, library_fit[1], source=peak_read.source)


def shown_values(result):
    return [fmt_value_error(p.value, p.stderr)[0] for p in result.parameters]


def test_html_report(library_fit, peak_context, tmp_path):
    result, problem = library_fit
    path = tmp_path / "report.html"
    write_report(result, problem, path, context=peak_context)
    doc = _Collector()
    doc.feed(path.read_text(encoding="utf-8"))
    figures = [s for s in doc.images if s.startswith("data:image/svg+xml;base64,")]
    assert len(figures) >= 5  # formula + 4 figures
    for src in figures:
        assert base64.b64decode(src.split(",", 1)[1]).lstrip().startswith(b"<?xml")
    assert doc.tables >= 5
    text = " ".join(doc.text)
    for p, shown in zip(result.parameters, shown_values(result)):
        assert p.name in doc.cells and shown in doc.cells
        assert repr(p.value) in doc.cells  # full-precision table
    assert peak_context.sha256 in text and "peak.csv" in text
    for word in ("R²", "adjusted R²", "χ² (weighted SSE)", "reduced χ²", "AICc", "BIC", "RMSE"):
        assert word in doc.cells
    assert result.uncertainty_note in text
    assert "http://" not in path.read_text() and "https://" not in path.read_text()


def test_html_without_sigma_has_no_chi_square(formula_fit, tmp_path):
    result, problem = formula_fit
    path = tmp_path / "r.html"
    write_report(result, problem, path)
    doc = _Collector()
    doc.feed(path.read_text(encoding="utf-8"))
    assert "χ²" not in doc.cells and "reduced χ²" not in doc.cells
    assert "No sigma was given" in " ".join(doc.text)
    assert "spike" not in doc.cells and "masked" in " ".join(doc.cells)  # the two masked rows


def test_html_marks_strong_correlation(library_fit, tmp_path):
    result, problem = library_fit
    path = tmp_path / "r.html"
    write_report(result, problem, path)
    assert 'class="r mark"' in path.read_text()  # slope and intercept: |r| > 0.95


def test_comparison_section(library_fit, tmp_path):
    from lsqfit_app.session.roles import Roles, make_problem  # noqa: F401
    from lsqfit_app.solvers import fit

    result, problem = library_fit
    other = fit(problem, "trf")
    path = tmp_path / "r.html"
    write_report(result, problem, path, comparison=[other])
    doc = _Collector()
    doc.feed(path.read_text(encoding="utf-8"))
    assert "ΔAICc" in doc.cells
    assert sum(s.startswith("data:image/svg") for s in doc.images) >= 6


def test_markdown_report(library_fit, peak_context, tmp_path):
    result, problem = library_fit
    path = tmp_path / "report.md"
    write_report(result, problem, path, context=peak_context)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ")
    for p, shown in zip(result.parameters, shown_values(result)):
        assert f"| {p.name} | {shown} |" in text
    links = [line for line in text.splitlines() if line.startswith("![")]
    assert len(links) == 4
    for line in links:
        name = line.split("(", 1)[1].rstrip(")")
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="pdftotext/pdftoppm not installed (apt-get install poppler-utils)")


@needs_poppler
def test_pdf_report(library_fit, peak_context, tmp_path):
    result, problem = library_fit
    path = tmp_path / "report.pdf"
    write_report(result, problem, path, context=peak_context)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    for p, shown in zip(result.parameters, shown_values(result)):
        assert p.name in text and shown in text
        assert repr(p.value) in text
    for word in ("SHA-256", peak_context.sha256, "reduced χ²", "AICc", "Figure 4"):
        assert word in text
    # figures are vector graphics: their axis labels are text in the PDF
    for label in ("standardized residual", "normal quantile", "density"):
        assert label in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 2 <= len(pages) <= 8
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert "A4" in info or "595" in info


@needs_poppler
def test_pdf_not_converged_warns(formula_fit, tmp_path):
    from lsqfit_app.solvers import SolverOptions, fit

    _, problem = formula_fit
    result = fit(problem, "gradient-descent", options=SolverOptions(max_iterations=2))
    assert not result.converged
    path = tmp_path / "r.pdf"
    write_report(result, problem, path)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "did not converge" in text


def test_context_from_partial_read(formula_fit, tmp_path):
    class Bare:  # an importer result with nothing but a table-less shell
        pass

    result, problem = formula_fit
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2\n")
    ctx = ReportContext.from_read(Bare(), problem, source=data)
    assert ctx.source_name == "d.csv" and len(ctx.sha256) == 64 and ctx.sheet is None
    assert [m.row for m in ctx.masked] == [5, 17]
    assert dict(ctx.columns) == {"x": "t (s)", "y": "signal (V)"}
    assert dict(ctx.versions)["lsqfit-app"]


def test_the_weighted_sum_of_squares_is_shown_once(weighted_fit, formula_fit, tmp_path):
    # with absolute sigma the weighted SSE is the chi-square: one row, not two equal numbers
    from lsqfit_app.report.content import statistics_rows
    from lsqfit_app.report.text import format_result

    result, problem = weighted_fit
    rows = statistics_rows(result)
    symbols = [r[0] for r in rows]
    chi2 = result.statistics.chi_squared
    assert "χ² (weighted SSE)" in symbols and "SSE" not in symbols and "χ²" not in symbols
    shown = [r[1] for r in rows]
    assert shown.count(shown[symbols.index("χ² (weighted SSE)")]) == 1
    assert chi2 == result.statistics.sse
    text = format_result(result)
    assert text.count(f"{chi2:.10g}") == 1 and "chi^2 (weighted SSE)" in text
    plain, _ = formula_fit
    symbols = [r[0] for r in statistics_rows(plain)]
    assert "SSE" in symbols and not any("χ²" in s for s in symbols)


def test_reports_state_the_conventions(weighted_fit, formula_fit, tmp_path):
    from lsqfit_app.report.text import format_result

    absolute, problem = weighted_fit
    path = tmp_path / "w.md"
    write_report(absolute, problem, path)
    text = " ".join(path.read_text(encoding="utf-8").split())
    assert "Conventions:" in text and "normal quantile 1.959964" in text
    assert "−2 log L = χ² + Σ log(2π σᵢ²), k = free parameters (σ is known)" in text
    scaled, problem = formula_fit
    path = tmp_path / "s.html"
    write_report(scaled, problem, path)
    doc = _Collector()
    doc.feed(path.read_text(encoding="utf-8"))
    text = " ".join(" ".join(doc.text).split())
    assert f"Student's t quantile with dof = n − p = {scaled.statistics.dof}" in text
    assert "k = free parameters + 1 (σ² estimated), as in Burnham & Anderson (2002) and " \
           "R's AIC(lm)" in text
    assert "SST about the mean when the model has a constant term (free or fixed)" in text
    plain = " ".join(format_result(scaled).split())
    assert "Conventions:" in plain and "-2 log L = n log(2pi SSE/n) + n" in plain
    plain.encode("ascii")     # console text: no symbols a legacy code page cannot print


def test_comparison_lists_each_fit_once(formula_fit):
    from lsqfit_app.report.content import comparison_table
    from lsqfit_app.solvers import fit

    result, problem = formula_fit
    other = fit(problem, "trf")
    table = comparison_table([result, result, other, result])
    assert [row[1] for row in table.rows] == [result.solver, other.solver]


def test_pdf_is_dated_when_the_report_was_made_and_reproducible(formula_fit, tmp_path):
    from pypdf import PdfReader

    result, problem = formula_fit
    context = ReportContext(title="t", created="2026-05-17 09:30:12 UTC")
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    write_report(result, problem, first, context=context)
    write_report(result, problem, second, context=context)
    assert first.read_bytes() == second.read_bytes()
    info = PdfReader(str(first)).metadata
    assert info["/CreationDate"] == "D:20260517093012+00'00'" == info["/ModDate"]


@needs_poppler
def test_pdf_comparison_table_breaks_no_number_and_no_heading(formula_fit, tmp_path):
    from lsqfit_app.solvers.compare import race

    result, problem = formula_fit
    runs = race(problem)
    path = tmp_path / "race.pdf"
    write_report(runs[0], problem, path, comparison=runs)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    section = text[text.index("Comparison"):text.index("Figures")]
    import re

    # -layout keeps columns apart by two or more spaces
    lines = [re.split(r"\s{2,}", line.strip()) for line in section.splitlines()[1:]
             if line.strip()]
    assert lines[0] == ["model", "solver", "converged", "p", "SSE", "R²", "AICc", "ΔAICc",
                        "BIC", "iterations", "time"]
    rows = lines[1:]
    assert len(rows) == len(runs)              # one line per run: nothing wrapped
    for run, row in zip(runs, rows):
        assert row[1] == run.solver
        assert f"{run.statistics.sse:.7g}" in row


def test_text_output_says_how_the_solver_got_there_in_words():
    import numpy as np

    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.models import make_model
    from lsqfit_app.report.text import format_result, run_text
    from lsqfit_app.solvers import fit

    rng = np.random.default_rng(17)
    x = np.linspace(0, 1, 30)
    line = fit(FitProblem.create(make_model("line"), x, 2 * x + 1 + rng.normal(0, 0.01, 30)))
    assert line.solver == "closed-form"
    assert run_text(line).startswith("closed form: solved directly")
    assert "iterations" not in format_result(line).splitlines()[2]
    peak = fit(FitProblem.create(make_model("a*exp(-x/tau)+c"), x,
                                 np.exp(-x / 0.3) + 0.2 + rng.normal(0, 0.01, 30)))
    words = run_text(peak)
    assert f"{peak.iterations} iteration" in words and f"{peak.evaluations} evaluation" in words
    assert (peak.iterations == 1) == ("1 iteration," in words)
