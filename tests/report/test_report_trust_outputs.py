"""Reports with odd headers, beside other people's files, and of big data.

- headers with ``$`` that are not valid mathtext render as typed in every format;
- a Markdown report puts its figures in a folder it owns and never replaces
  an unrelated file; HTML and PDF write no side files;
- Markdown shows text as typed (no links, HTML or emphasis from a header);
- figures of big data are drawn from a faithful reduction that keeps every
  column's extremes (outliers) and stay small.
"""
from __future__ import annotations

import json
import os
import re
from urllib.parse import unquote

import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model
from lsqfit_app.report import write_report
from lsqfit_app.solvers import fit

BAD_MATH = ["$\\frac{", "a$b", "$$", "$\\frac{$", "$x$ and $\\undefinedmacro$", "cost in $ (US)"]


def _fit(labels, n=30, seed=0, outlier=False, sigma=False):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 4.0, n)
    s = np.full(n, 0.05) if sigma else None
    y = 2.0 * np.exp(-x / 1.3) + 0.2 + rng.normal(0.0, 0.05, n)
    if outlier:
        y[n // 3] += 3.0
    problem = FitProblem.create(make_model("a*exp(-x/tau)+c"), x, y,
                                {"a": 2.0, "tau": 1.3, "c": 0.2}, sigma=s, labels=labels)
    return fit(problem), problem


@pytest.mark.parametrize("suffix", [".html", ".pdf", ".md"])
@pytest.mark.parametrize("label", BAD_MATH)
def test_headers_with_dollars_render_in_every_format(label, suffix, tmp_path):
    result, problem = _fit({"x": label, "y": label[::-1]}, seed=len(label))
    path = tmp_path / f"report{suffix}"
    write_report(result, problem, path)
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("label", BAD_MATH + ["$\\alpha$ (s)", "plain", "a \\$ b $c$"])
def test_labels_show_as_typed_unless_valid_math(label):
    from matplotlib import cbook

    from lsqfit_app.report.figures import make_figure
    from lsqfit_app.report.mathtext import is_valid_math, label_text

    shown = label_text(label)
    if is_valid_math(label):
        assert shown == label
    else:
        # what matplotlib does with non-math text: shows it, \$ as $
        assert not cbook.is_math_text(shown) and shown.replace("\\$", "$") == label
    result, problem = _fit({"x": label, "y": "y"}, seed=3)
    fig = make_figure(result, problem, "fit_residuals")  # draws: raises on bad math
    assert fig.axes[1].get_xlabel() == shown
    fig = make_figure(result, problem, "comparison", comparison=[result])
    assert fig.axes[0].get_xlabel() == shown


def _listing(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, files in os.walk(folder) for f in files)


def test_markdown_never_replaces_unrelated_files(tmp_path):
    result, problem = _fit({"x": "t", "y": "y"}, seed=5)
    theirs = {"report_fit.png": b"their old figure", "report_files/fit.png": b"their figure",
              "report_files/notes.txt": b"their notes"}
    for name, data in theirs.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "report.md"
    write_report(result, problem, path)
    for name, data in theirs.items():
        assert (tmp_path / name).read_bytes() == data, name
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"!\[Figure \d+\]\(([^)]+)\)", text)
    assert len(links) == 4
    for link in links:
        target = tmp_path / unquote(link)
        assert target.read_bytes()[:4] == b"\x89PNG"
        assert not unquote(link).startswith("report_files/")  # that folder is not ours
    folder = (tmp_path / unquote(links[0])).parent
    manifest = json.loads((folder / ".lsqfit-report.json").read_text())
    assert manifest["report"] == "report.md"
    assert sorted(manifest["files"]) == sorted(os.path.basename(unquote(x)) for x in links)
    # a rerun replaces its own figures and nothing else, and leaves no extra files
    before = _listing(tmp_path)
    write_report(result, problem, path)
    assert _listing(tmp_path) == before
    for name, data in theirs.items():
        assert (tmp_path / name).read_bytes() == data, name


def test_markdown_folder_keeps_files_put_into_it(tmp_path):
    result, problem = _fit({"x": "t", "y": "y"}, seed=6)
    path = tmp_path / "r.md"
    write_report(result, problem, path)
    folder = tmp_path / "r_files"
    (folder / "mine.txt").write_text("kept")
    (folder / "fit.png").unlink()
    (folder / "fit.png").write_bytes(b"someone's own fit.png")  # no longer the report's?
    manifest = json.loads((folder / ".lsqfit-report.json").read_text())
    assert "fit.png" in manifest["files"]  # listed: the report may replace it
    write_report(result, problem, path)
    assert (folder / "mine.txt").read_text() == "kept"
    assert (folder / "fit.png").read_bytes()[:4] == b"\x89PNG"


def test_markdown_links_survive_odd_report_names(tmp_path):
    result, problem = _fit({"x": "t", "y": "y"}, seed=7)
    path = tmp_path / "my report (v2) #1.md"
    write_report(result, problem, path)
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"!\[Figure \d+\]\(([^)\s]+)\)", text)
    assert len(links) == 4
    for link in links:
        assert (tmp_path / unquote(link)).is_file()


@pytest.mark.parametrize("suffix", [".html", ".pdf"])
def test_html_and_pdf_write_no_side_files(suffix, tmp_path):
    result, problem = _fit({"x": "t", "y": "y"}, seed=8)
    write_report(result, problem, tmp_path / f"r{suffix}")
    assert _listing(tmp_path) == [f"r{suffix}"]


def test_markdown_shows_hostile_text_as_text(tmp_path):
    from lsqfit_app.report.markdown import md_text

    evil = {"x": "<img src=x onerror=alert(1)>", "y": "[click](http://evil.example) *b* _i_"}
    result, problem = _fit(evil, seed=9)
    path = tmp_path / "r.md"
    write_report(result, problem, path)
    text = path.read_text(encoding="utf-8")
    # only escaped forms: no raw HTML tag, no link syntax
    assert not re.search(r"(?<!\\)<img", text) and not re.search(r"(?<!\\)\]\(http", text)
    assert md_text(evil["x"]) in text and md_text(evil["y"]) in text
    assert md_text("a|b\nc") == "a\\|b c" and md_text("gaussian_center") == "gaussian_center"


def test_big_data_figures_are_reduced_faithfully(tmp_path):
    from lsqfit_app.report.figures import figure_bytes, make_figure
    from lsqfit_app.report.reduction import COLUMNS, column_extremes, qq_points

    n = 200_000
    result, problem = _fit({"x": "t", "y": "y"}, n=n, seed=10, outlier=True)
    x, y = problem.x["x"], problem.y
    keep = column_extremes(x, y)
    assert keep.size <= 2 * COLUMNS
    assert n // 3 in keep  # the outlier is kept
    # every column's lowest and highest point is among them
    col = np.minimum(((x - x.min()) * (COLUMNS / (x.max() - x.min()))).astype(int), COLUMNS - 1)
    for c in np.random.default_rng(1).choice(COLUMNS, 20, replace=False):
        rows = np.flatnonzero(col == c)
        assert y[rows].max() in y[keep] and y[rows].min() in y[keep]
    for kind in ("fit", "residuals", "distribution", "comparison"):
        fig = make_figure(result, problem, kind, comparison=[result])
        plotted = sum(len(line.get_xdata()) for ax in fig.axes for line in ax.get_lines())
        assert plotted < 6000, kind
        assert len(figure_bytes(fig, "svg")) < 3_000_000, kind
    z = np.random.default_rng(2).normal(size=50_000)
    z[123] = 9.0
    osm, osr = qq_points(z)
    assert osr.max() == 9.0 and osr.size < 2100 and np.all(np.diff(osr) >= 0)


def test_qq_points_match_scipy_for_small_samples():
    from scipy import stats

    from lsqfit_app.report.reduction import qq_points

    z = np.random.default_rng(4).normal(size=300)
    (osm, osr), _ = stats.probplot(z, dist="norm")
    mine = qq_points(z)
    np.testing.assert_allclose(mine[0], osm, rtol=1e-12)
    np.testing.assert_array_equal(mine[1], osr)


@pytest.mark.parametrize("suffix", [".html", ".pdf", ".md"])
def test_control_characters_and_surrogates_in_headers(suffix, tmp_path):
    import warnings

    label = "t\x00\x1b[31m\x0b\t(s)\x85 \ud800"  # \ud800: an undecodable file name's byte
    result, problem = _fit({"x": label, "y": "y\x01"}, seed=12)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph")  # no missing-glyph noise
        write_report(result, problem, tmp_path / f"r{suffix}")
    if suffix != ".pdf":
        text = (tmp_path / f"r{suffix}").read_text(encoding="utf-8")
        assert "\x00" not in text and "\x1b" not in text and "t\ufffd" in text
