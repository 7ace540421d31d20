"""Report and export figures drawn with matplotlib, without a display.

Every figure is a fresh :class:`matplotlib.figure.Figure` drawn on an Agg
canvas: no pyplot, so no global figure state, no GUI backend and no thread
trouble when the GUI exports from a worker.  Style settings go through
``rc_context`` so nothing leaks into the caller's matplotlib.

Figures (``kind``):

``fit``            data (error bars when sigma is given, masked points hollow),
                   the fitted curve, the 95 % confidence and prediction bands
``residuals``      residuals y - f against x (against f for several predictors)
``fit_residuals``  the two above stacked with a shared x axis
``distribution``   histogram of standardized residuals and a normal Q-Q plot
``history``        the objective per iteration on a log scale
``comparison``     data with the curves of several results
"""
from __future__ import annotations

import io
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.memory import release_heap
from lsqfit_app.report.reduction import (QQ_MIDDLE, QQ_TAILS, column_extremes, density_counts,
                                         density_rgba, masked_range, qq_points)
from lsqfit_app.report.files import checked_suffix
from lsqfit_app.report.mathtext import label_text

KINDS = ("fit", "residuals", "fit_residuals", "distribution", "history", "comparison")
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")

#: colours (colour-blind safe, Okabe-Ito)
DATA, FIT, BAND, PRED, MASKED = "#222222", "#0072B2", "#56B4E9", "#E69F00", "#999999"
CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

_STYLE = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6, "axes.axisbelow": True, "legend.frameon": False,
    "svg.fonttype": "path", "svg.hashsalt": "lsqfit-app", "pdf.fonttype": 42,
    "axes.formatter.useoffset": False, "axes.formatter.limits": (-4, 5),
}

#: width, height in inches of one report figure
SIZE = (6.4, 3.4)


@contextmanager
def _style():
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def _new_figure(size=SIZE) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# ---------------------------------------------------------------------------
def _primary_x(problem) -> tuple[str, np.ndarray]:
    name = next(iter(problem.x))
    return name, np.asarray(problem.x[name], dtype=float)


def _x_label(problem) -> str:
    labels = dict(problem.labels or {})
    name = next(iter(problem.x))
    return label_text(labels.get("x", name))


def _y_label(problem) -> str:
    return label_text(dict(problem.labels or {}).get("y", "y"))


def _single_predictor(problem) -> bool:
    return len(problem.x) == 1


def dense_x(problem, count: int = 600) -> np.ndarray:
    """An even grid over the finite x of all rows (masked ones included)."""
    _, x = _primary_x(problem)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.zeros(0)
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, count)


def _markers(n: int) -> dict:
    if n > 500:
        return {"ms": 2.5}
    return {"ms": 4}


#: above this many points a scatter is drawn reduced (see :func:`_draw_points`)
REDUCE_ABOVE = 4000
#: above this many points error bars are left out (they would hide the data)
ERRORBARS_MAX = 2000


def _draw_points(ax, x, y, *, marker="o", color=DATA, label=None, zorder=3, **style) -> None:
    """A scatter of any size, drawn from a faithful reduction when it is big.

    Up to :data:`REDUCE_ABOVE` points are plotted as they are.  More are
    drawn as a density image of all points (a 2-D histogram, raster) with the
    lowest and highest point of every pixel column on top, so the bulk, the
    envelope and the outliers show while the figure stays small.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    n = int(np.count_nonzero(finite))
    hollow = {"mfc": "white", "mew": 0.9} if marker == "o" else {"mew": 1.0}
    if n <= REDUCE_ABOVE:
        ax.plot(x, y, marker, color=color, label=label, zorder=zorder, ls="none",
                **{**hollow, **style})
        return
    # ranges and counts without full-size copies of the finite points
    x0, x1 = masked_range(x, finite)
    y0, y1 = masked_range(y, finite)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    counts = density_counts(x, y, finite, (x0, x1, y0, y1))
    del finite
    # colours made here from the small grid, as 8-bit RGBA resampled in RGBA:
    # given counts, matplotlib resamples them as float64 at the output size
    # (~20 MB for one figure at 150 dpi) before colouring
    ax.imshow(density_rgba(counts.T, color), origin="lower", extent=(x0, x1, y0, y1),
              aspect="auto", interpolation="nearest", interpolation_stage="rgba",
              zorder=zorder - 1)
    keep = column_extremes(x, y)
    ax.plot(x[keep], y[keep], marker, color=color, label=label, zorder=zorder, ls="none",
            ms=1.8 if marker == "o" else 3.5, **hollow)


def _rows(v, used):
    """v at the used rows; v itself (no copy) when every row is used."""
    return v if used.all() else v[used]


def _draw_data(ax, problem, result, *, errorbars: bool = True) -> None:
    _, x = _primary_x(problem)
    y = problem.y
    used = np.asarray(result.used, dtype=bool)
    masked = np.asarray(problem.excluded, dtype=bool)
    n_used = int(used.sum())
    style = _markers(n_used)
    if errorbars and problem.weighting == "sigma" and n_used <= ERRORBARS_MAX:
        ax.errorbar(x[used], y[used], yerr=problem.sigma[used], fmt="o", color=DATA,
                    ecolor="#777777", elinewidth=0.7, capsize=0, mfc="white", mew=0.9,
                    label="data (±σ)", zorder=3, **style)
    else:
        _draw_points(ax, _rows(x, used), _rows(y, used), label="data", **style)
    if masked.any():
        _draw_points(ax, x[masked], y[masked], marker="x", color=MASKED, label="masked", ms=5)


def _safe_band(result, xd, kind):
    from lsqfit_app.core.bands import band

    try:
        with np.errstate(all="ignore"):
            f, lo, hi = band(result, xd, kind=kind)
    except Exception:
        return None
    if not (np.any(np.isfinite(lo)) and np.any(np.isfinite(hi))):
        return None
    return f, lo, hi


def draw_fit(ax, result, problem) -> None:
    """Data, fitted curve and bands on ``ax``."""
    if not _single_predictor(problem):
        used = np.asarray(result.used, dtype=bool)
        f = result.fitted
        _draw_points(ax, f[used], problem.y[used], label="data", **_markers(int(used.sum())))
        lim = [np.nanmin(f[used]), np.nanmax(f[used])]
        ax.plot(lim, lim, "-", color=FIT, lw=1.4, label="y = fitted")
        ax.set_xlabel("fitted value")
        ax.set_ylabel(_y_label(problem))
        ax.legend(loc="best")
        return
    xd = dense_x(problem)
    pred = _safe_band(result, xd, "prediction")
    conf = _safe_band(result, xd, "confidence")
    if pred is not None:
        ax.plot(xd, pred[1], "--", color=PRED, lw=0.9, label="95 % prediction band")
        ax.plot(xd, pred[2], "--", color=PRED, lw=0.9)
    if conf is not None:
        ax.fill_between(xd, conf[1], conf[2], color=BAND, alpha=0.35, lw=0,
                        label="95 % confidence band")
    _draw_data(ax, problem, result)
    from lsqfit_app.core.bands import fitted_curve

    with np.errstate(all="ignore"):
        ax.plot(xd, fitted_curve(result, xd), "-", color=FIT, lw=1.6, label="fit", zorder=4)
    ax.set_xlabel(_x_label(problem))
    ax.set_ylabel(_y_label(problem))
    _tidy_limits(ax, problem, result)
    _legend_data_first(ax)


def _legend_data_first(ax) -> None:
    """Legend in reading order: data, masked, fit, bands (drawing order differs)."""
    handles, labels = ax.get_legend_handles_labels()
    rank = {"data": 0, "data (±σ)": 0, "masked": 1, "fit": 2}
    order = sorted(range(len(labels)), key=lambda i: (rank.get(labels[i], 3), i))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="best")


def _tidy_limits(ax, problem, result) -> None:
    """Keep the y range on the data: bands of poorly determined fits can explode."""
    # min/max of each array (no concatenated copies of big data)
    ends = [_finite_range(problem.y), _finite_range(result.fitted)]
    ends = [e for e in ends if e is not None]
    if ends:
        lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
        if problem.weighting == "sigma":
            s = _finite_range(problem.sigma)
            if s is not None:
                lo, hi = lo - s[1], hi + s[1]
        pad = 0.08 * (hi - lo if hi > lo else max(abs(hi), 1.0))
        ax.set_ylim(lo - pad, hi + pad)


def _finite_range(values) -> tuple[float, float] | None:
    with np.errstate(all="ignore"):
        lo, hi = np.nanmin(values, initial=np.inf), np.nanmax(values, initial=-np.inf)
    lo = float(lo) if np.isfinite(lo) else None
    hi = float(hi) if np.isfinite(hi) else None
    if lo is None or hi is None:
        # infinities among the values: take the finite ones only
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        return (float(v.min()), float(v.max())) if v.size else None
    return lo, hi


def draw_residuals(ax, result, problem) -> None:
    """Residuals against x (or the fitted value for several predictors)."""
    used = np.asarray(result.used, dtype=bool)
    if _single_predictor(problem):
        _, x = _primary_x(problem)
        ax.set_xlabel(_x_label(problem))
    else:
        x = result.fitted
        ax.set_xlabel("fitted value")
    r = result.residuals
    style = _markers(int(used.sum()))
    ax.axhline(0.0, color=FIT, lw=1.0, zorder=2)
    if problem.weighting == "sigma" and used.sum() <= ERRORBARS_MAX:
        ax.errorbar(x[used], r[used], yerr=problem.sigma[used], fmt="o", color=DATA,
                    ecolor="#777777", elinewidth=0.7, mfc="white", mew=0.9, zorder=3, **style)
    else:
        _draw_points(ax, _rows(x, used), _rows(r, used), **style)
    masked = np.asarray(problem.excluded, dtype=bool) & np.isfinite(r)
    if masked.any():
        _draw_points(ax, x[masked], r[masked], marker="x", color=MASKED, label="masked", ms=5)
        ax.legend(loc="best")
    ax.set_ylabel("residual  y − f")


def draw_distribution(ax_hist, ax_qq, result) -> None:
    """Histogram of standardized residuals with N(0, 1), and a normal Q-Q plot."""
    z = np.asarray(result.standardized_residuals, dtype=float)
    # one copy of the fitted, finite residuals, sorted in place for the Q-Q plot
    z = z[np.asarray(result.used, bool) & np.isfinite(z)]
    if z.size < 3:
        for ax in (ax_hist, ax_qq):
            ax.text(0.5, 0.5, "too few residuals", ha="center", va="center",
                    transform=ax.transAxes)
        return
    z.sort()
    bins = int(np.clip(np.sqrt(z.size) * 1.5, 6, 40))
    counts, edges = np.histogram(z, bins=bins)
    widths = np.diff(edges)
    ax_hist.bar(edges[:-1], counts / (z.size * widths), width=widths, align="edge",
                color=BAND, edgecolor="white", lw=0.5)
    grid = np.linspace(min(z[0], -3.5), max(z[-1], 3.5), 200)
    normal_pdf = np.exp(-0.5 * grid * grid) / math.sqrt(2.0 * math.pi)
    ax_hist.plot(grid, normal_pdf, color=FIT, lw=1.3, label="N(0, 1)")
    ax_hist.set_xlabel("standardized residual")
    ax_hist.set_ylabel("density")
    ax_hist.legend(loc="upper right")
    osm, osr = qq_points(z, presorted=True)
    ax_qq.plot(osm, osr, "o", color=DATA, mfc="white", ms=3.5 if z.size <= REDUCE_ABOVE else 2.0,
               mew=0.8)
    ends = np.array([osm.min(), osm.max()])
    ax_qq.plot(ends, ends, "-", color=FIT, lw=1.2, label="y = x")
    ax_qq.set_xlabel("normal quantile")
    ax_qq.set_ylabel("standardized residual")
    ax_qq.legend(loc="upper left")


def draw_history(ax, result) -> None:
    """The objective after each iteration, log scale."""
    h = np.asarray(result.history, dtype=float)
    it = np.arange(h.size)
    ok = np.isfinite(h) & (h > 0)
    if not ok.any():
        ax.text(0.5, 0.5, "no iteration history" + (" (solved in closed form)"
                if result.solver == "closed-form" else ""),
                ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.semilogy(it[ok], h[ok], "o-", color=FIT, ms=3, lw=1.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("objective (weighted SSE)" if result.loss == "linear"
                  else f"objective ({result.loss} loss)")
    from matplotlib.ticker import LogLocator, MaxNLocator, ScalarFormatter

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = float(h[ok].min()), float(h[ok].max())
    if hi < 10.0 * lo:
        # less than a decade: log ticks would be one label or none; use plain numbers
        ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0), numticks=12))
        ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(1, 10)), numticks=12))
        for fmt_axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            f = ScalarFormatter()
            f.set_scientific(False)
            fmt_axis(f)
        pad = (hi / lo) ** 0.08 if hi > lo else 1.05
        ax.set_ylim(lo / pad, hi * pad)


def draw_comparison(ax, results, problem) -> None:
    """Data with each result's curve."""
    from lsqfit_app.core.bands import fitted_curve

    base = results[0]
    _draw_data(ax, problem, base)
    if _single_predictor(problem):
        xd = dense_x(problem)
        for i, r in enumerate(results):
            try:
                with np.errstate(all="ignore"):
                    yd = fitted_curve(r, xd)
            except Exception:
                continue
            label = r.model_name if len(r.model_name) <= 30 else r.model_name[:27] + "..."
            if len({x.model_name for x in results}) == 1:
                label = r.solver
            ax.plot(xd, yd, color=CYCLE[i % len(CYCLE)], lw=1.4,
                    ls=("-", "--", ":", "-.")[i // len(CYCLE) % 4], label=label_text(label))
        ax.set_xlabel(_x_label(problem))
        _tidy_limits(ax, problem, base)
    ax.set_ylabel(_y_label(problem))
    ax.legend(loc="best")


# ---------------------------------------------------------------------------
def make_figure(result, problem, kind: str = "fit", comparison=None, size=None,
                draw: bool = True) -> Figure:
    """One figure of the given ``kind`` (see the module docstring).

    ``draw``: lay it out and render it once (raising on text it cannot
    draw); without, the first ``savefig`` does that.
    """
    if kind not in KINDS:
        raise InputError(f"unknown figure kind {kind!r}; choose one of {', '.join(KINDS)}")
    with _style():
        if kind == "fit_residuals":
            fig = _new_figure(size or (6.4, 4.8))
            top, bottom = fig.subplots(2, 1, sharex=_single_predictor(problem),
                                       height_ratios=(3, 1.3))
            draw_fit(top, result, problem)
            draw_residuals(bottom, result, problem)
            if _single_predictor(problem):
                top.set_xlabel("")
                top.tick_params(labelbottom=False)
        elif kind == "distribution":
            fig = _new_figure(size or SIZE)
            a, b = fig.subplots(1, 2)
            draw_distribution(a, b, result)
        else:
            fig = _new_figure(size or (SIZE if kind != "fit" else (6.4, 3.9)))
            ax = fig.subplots()
            if kind == "fit":
                draw_fit(ax, result, problem)
            elif kind == "residuals":
                draw_residuals(ax, result, problem)
            elif kind == "history":
                draw_history(ax, result)
            else:
                results = [result, *(comparison or [])]
                results = list({id(r): r for r in results}.values())
                draw_comparison(ax, results, problem)
        if draw:
            # draw inside the style so fonts and sizes are the report's
            fig.canvas.draw()
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    """Encode a figure (png, svg or pdf) with reproducible metadata."""
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None}
    if fmt == "pdf":
        metadata = {"CreationDate": None, "Creator": "lsqfit-app"}
    with _style():
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def _prediction_words(result, problem) -> str:
    """Which variance the drawn prediction band adds, as a caption sentence."""
    from lsqfit_app.core import bands

    describe = getattr(bands, "prediction_variance", None)
    if describe is None or not _single_predictor(problem):
        return ""
    try:
        words = describe(result, {next(iter(problem.x)): dense_x(problem)})
    except Exception:  # a caption must not stop a report
        return ""
    return f" The prediction band adds the {words} to the variance of the curve."


@dataclass(frozen=True)
class ReportFigure:
    """One encoded report figure: its key, caption, file bytes and size in inches."""
    key: str
    caption: str
    data: bytes
    size: tuple[float, float]


def report_figures(result, problem, fmt: str, comparison=None,
                   dpi: int = 150) -> Iterator[ReportFigure]:
    """The report's figures in reading order, encoded as ``fmt`` (png, svg, pdf).

    Made one at a time, each dropped once encoded: a figure of a million
    points holds several MB while it is drawn, and a report has four or five.
    """
    n_used = int(np.count_nonzero(result.used))
    sigma_bars = problem.weighting == "sigma" and n_used <= ERRORBARS_MAX
    reduced = ""
    if n_used > REDUCE_ABOVE:
        reduced = (f" The {n_used:,} points are drawn as a density shading (darker: more points) "
                   "with the lowest and highest point of each pixel column marked, so outliers "
                   "stay visible.")
    if problem.weighting == "sigma" and n_used > ERRORBARS_MAX:
        reduced += f" Error bars are left out for more than {ERRORBARS_MAX:,} points."
    captions = [
        ("fit", "Data with the fitted curve, its 95 % confidence band (shaded) and the 95 % "
         "prediction band for new points (dashed)." + _prediction_words(result, problem)
         + (" Error bars are ±σ." if sigma_bars else "")
         + (" Crosses are masked points (not fitted)." if np.any(problem.excluded) else "")
         + reduced),
        ("residuals", "Residuals y − f of the fitted points"
         + (" (error bars ±σ)." if sigma_bars else ".") + reduced),
        ("distribution", "Standardized residuals: histogram with the standard normal density, "
         "and a normal Q-Q plot (points on the line mean normally distributed residuals)."
         + (" The Q-Q plot shows every point of both tails and evenly spaced ranks between."
            if n_used > 2 * QQ_TAILS + QQ_MIDDLE else "")),
        ("history", "Objective (weighted sum of squared residuals) per iteration of the "
         f"{result.solver} solver, log scale."),
    ]
    if comparison:
        captions.append(("comparison", "Data with the curves of the compared fits."))
    for key, caption in captions:
        fig = make_figure(result, problem, key, comparison=comparison, draw=False)
        size = tuple(float(v) for v in fig.get_size_inches())
        data = figure_bytes(fig, fmt, dpi=dpi)
        del fig
        if n_used > REDUCE_ABOVE:
            # a big figure's temporaries are freed now: give them back before the next
            # (small figures leave nothing worth a garbage collection)
            release_heap()
        yield ReportFigure(key, caption, data, size)


def save_figure(result, problem, path, dpi: int = 150, kind: str = "fit",
                comparison=None) -> None:
    """Write one figure as .png (at ``dpi``), .svg or .pdf, by suffix.

    Raises
    ------
    InputError
        Unknown suffix or kind, or the file cannot be written.
    """
    path, suffix = checked_suffix(path, IMAGE_SUFFIXES, "save a plot as")
    if not (isinstance(dpi, (int, float)) and 10 <= dpi <= 2400):
        raise InputError(f"dpi must be between 10 and 2400, got {dpi!r}")
    fig = make_figure(result, problem, kind, comparison=comparison)
    data = figure_bytes(fig, suffix[1:], dpi=int(dpi))
    from lsqfit_app.report.files import write_bytes_atomic

    write_bytes_atomic(path, data)



