"""The three linked plots: data and fit, residuals, objective history.

Items are built once and updated in place (``setData``/``setOpts``), as
pyqtgraph is fastest that way (STYLE.md, "Plots").  The residual bars are one
:class:`pyqtgraph.BarGraphItem`; the residual plot shares the fit plot's x
axis; the history plot is logarithmic in y with one curve per fit run, kept
in grow-by-doubling buffers so live appends cost O(1).

Masking: a click near a point (in either of the two upper plots) emits
``point_clicked`` with its row; dragging a rectangle with Shift held (or
with the mask tool on) emits ``rect_selected`` with the rows inside.  The
window turns those into undoable mask commands.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

#: pixels within which a click picks a point
PICK_RADIUS = 8.0
#: above this many points error bars are not drawn (they would hide the data)
MAX_ERROR_BARS = 20000
#: above this many residuals the bars are binned, keeping each bin's extreme residual
MAX_BARS = 4000

_DATA_COLOR = QColor(31, 119, 180)
_FIT_COLOR = QColor(214, 39, 40)
_PREVIEW_COLOR = QColor(44, 160, 44)
_BAND_COLOR = QColor(214, 39, 40, 50)
_MASKED_COLOR = QColor(120, 120, 120)
_RUN_COLORS = [QColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                   "#8c564b", "#e377c2", "#17becf")]


class LogLabelAxis(pg.AxisItem):
    """A log axis whose labels do not overlap and can be read over short ranges.

    pyqtgraph labels every minor tick (2..9 x 10^k) of a log axis, which piles
    up into an unreadable column over a short range.  Decades keep their
    labels; when the range holds no decade, at most three labels are kept.
    Within less than a decade (an objective falling from 60 to 49, say) it
    has at most one tick, labelled with one digit ("5·10¹"): there the ticks
    are round numbers in the values themselves, labelled with the digits
    that tell them apart.
    """

    #: below this span (in decades) the ticks are linear in the values
    SHORT_SPAN = 0.5

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph override
        lo, hi = sorted((minVal, maxVal))
        if not self.logMode or not (0 < hi - lo < self.SHORT_SPAN):
            return super().tickValues(minVal, maxVal, size)
        a, b = 10.0 ** lo, 10.0 ** hi
        step = _nice_step((b - a) / 4)
        values = np.arange(np.ceil(a / step) * step, b, step)
        values = values[values > 0]
        return [(step, np.log10(values).tolist())]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        if self.logMode and values and self._short_range():
            return [f"{10.0 ** v:.4g}" for v in values]
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode or len(values) < 4:
            return strings
        decades = [abs(v - round(v)) < 1e-6 for v in values]
        if any(decades):
            return [t if d else "" for t, d in zip(strings, decades)]
        step = int(np.ceil(len(values) / 3))
        return [t if i % step == 0 else "" for i, t in enumerate(strings)]


    def _short_range(self) -> bool:
        lo, hi = sorted(self.range)
        return 0 < hi - lo < self.SHORT_SPAN


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if not raw > 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= raw:
            return factor * power
    return 10.0 * power


class MaskingViewBox(pg.ViewBox):
    """A ViewBox that reports left clicks and Shift-drag (or mask-mode) rectangles.

    Signals carry view (data) coordinates; plain drags still pan and the
    right button still zooms, as everywhere in pyqtgraph.
    """

    clicked = Signal(object)          # QPointF in data coordinates
    rect_dragged = Signal(object)     # QRectF in data coordinates

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_mode = False
        self._rubber = QGraphicsRectItem(0, 0, 1, 1)
        self._rubber.setPen(pg.mkPen((200, 80, 0), width=1, style=Qt.DashLine))
        self._rubber.setBrush(pg.mkBrush(255, 160, 0, 50))
        self._rubber.setZValue(1e9)
        self._rubber.hide()
        self.addItem(self._rubber, ignoreBounds=True)

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph override
        selecting = ev.button() == Qt.LeftButton and (
            self.mask_mode or bool(ev.modifiers() & Qt.ShiftModifier))
        if not selecting:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        end = self.mapSceneToView(ev.scenePos())
        rect = QRectF(start, end).normalized()
        if ev.isFinish():
            self._rubber.hide()
            self.rect_dragged.emit(rect)
        else:
            self._rubber.setRect(rect)
            self._rubber.show()


class _History:
    """One run's objective values in a buffer that grows by doubling."""

    def __init__(self, item: pg.PlotDataItem):
        self.item = item
        self.values = np.empty(64)
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self.values):
            self.values = np.concatenate([self.values, np.empty(len(self.values))])
        self.values[self.size] = value
        self.size += 1

    def replace(self, values) -> None:
        values = np.asarray(values, dtype=float)
        self.values = np.empty(max(64, 2 * len(values)))
        self.values[:len(values)] = values
        self.size = len(values)

    def refresh(self) -> None:
        v = self.values[:self.size]
        # the log axis cannot show zero or negative objectives (an exact fit)
        v = np.where(v > 0, v, np.nan)
        self.item.setData(np.arange(1, self.size + 1), v, connect="finite")


class PlotsWidget(pg.GraphicsLayoutWidget):
    """Fit plot, residual plot and history plot, stacked.

    Signals
    -------
    point_clicked(int)
        Row of the data point nearest a click (within :data:`PICK_RADIUS`).
    rect_selected(object)
        Rows (int array) of the points inside a dragged rectangle.
    range_changed(float, float)
        The fit x-range region was moved.
    """

    point_clicked = Signal(int)
    rect_selected = Signal(object)
    range_changed = Signal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        #: seconds the last repaint took (the window paces live updates by it)
        self.last_paint_seconds = 0.0
        self.setBackground("w")
        self.ci.setSpacing(4)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._residuals = np.zeros(0)
        self._excluded = np.zeros(0, dtype=bool)

        self.fit_view = MaskingViewBox()
        self.fit_plot = self.addPlot(row=0, col=0, viewBox=self.fit_view)
        self.residual_view = MaskingViewBox()
        self.residual_plot = self.addPlot(row=1, col=0, viewBox=self.residual_view)
        self.history_plot = self.addPlot(row=2, col=0,
                                         axisItems={"left": LogLabelAxis(orientation="left")})
        self.ci.layout.setRowStretchFactor(0, 5)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.ci.layout.setRowStretchFactor(2, 2)
        for plot in (self.fit_plot, self.residual_plot, self.history_plot):
            # no grid: under software rendering (Xvfb, remote desktops) the grid
            # lines cost ~20 ms a frame, most of a live update's budget
            for name in ("left", "bottom"):
                plot.getAxis(name).setTextPen("k")
                plot.getAxis(name).setPen("k")
                # no automatic SI prefix: it appends "(x0.001)" to a label that
                # already names its unit, and the longer label overflowed the
                # residual plot (a stray ")" showed between the plots)
                plot.getAxis(name).enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(70)
        self.residual_plot.setXLink(self.fit_plot)

        fp = self.fit_plot
        self.legend = fp.addLegend(offset=(-10, 10), labelTextColor="k",
                                   brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(200, 200, 200))
        self.band_lower = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_upper = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_lower, self.band_upper, brush=pg.mkBrush(_BAND_COLOR))
        fp.addItem(self.band_lower)
        fp.addItem(self.band_upper)
        fp.addItem(self.band)
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0),
                                          pen=pg.mkPen(_DATA_COLOR.lighter(140), width=1), beam=0)
        fp.addItem(self.error_bars)
        self.data_item = fp.plot([], [], pen=None, symbol="o", symbolSize=6,
                                 symbolBrush=pg.mkBrush(_DATA_COLOR), symbolPen=pg.mkPen(_DATA_COLOR),
                                 name="data")
        self.masked_item = fp.plot([], [], pen=None, symbol="o", symbolSize=7,
                                   symbolBrush=pg.mkBrush(None),
                                   symbolPen=pg.mkPen(_MASKED_COLOR, width=1.5), name="excluded")
        self.preview_item = fp.plot([], [], pen=pg.mkPen(_PREVIEW_COLOR, width=1.5, style=Qt.DashLine),
                                    name="start values", antialias=True)
        self.curve_item = fp.plot([], [], pen=pg.mkPen(_FIT_COLOR, width=2), name="fit",
                                  antialias=True)
        # FillBetweenItem cannot draw its own legend sample (pyqtgraph crashes
        # painting it): an empty filled PlotDataItem stands in for it.
        self.band_sample = pg.PlotDataItem([], [], pen=pg.mkPen(_BAND_COLOR.darker(150)),
                                           fillLevel=0, fillBrush=pg.mkBrush(_BAND_COLOR))
        self.legend.addItem(self.band_sample, "95% confidence band")
        self._band_kind = "confidence"
        for item in (self.data_item, self.masked_item):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        # The data do not change while a fit streams in: cached as pixmaps they are
        # not redrawn on every live frame (only when the view range changes).
        for item in (self.data_item, self.masked_item, self.error_bars):
            item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(255, 200, 0, 30),
                                          pen=pg.mkPen(200, 150, 0))
        self.region.setZValue(-10)
        self.region.hide()
        fp.addItem(self.region, ignoreBounds=True)
        self.region.sigRegionChangeFinished.connect(self._on_region_change_finished)

        rp = self.residual_plot
        self.residual_bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=1.0,
                                             brush=pg.mkBrush(_DATA_COLOR), pen=pg.mkPen(None))
        rp.addItem(self.residual_bars)
        self.masked_residuals = rp.plot([], [], pen=None, symbol="o", symbolSize=6,
                                        symbolBrush=pg.mkBrush(None),
                                        symbolPen=pg.mkPen(_MASKED_COLOR, width=1.5))
        self.masked_residuals.setDownsampling(auto=True, method="peak")
        self.masked_residuals.setClipToView(True)
        # A click right on a marker is taken by the scatter item, not the ViewBox:
        # both paths end in the same nearest-point pick.
        self.data_item.sigPointsClicked.connect(self._on_fit_points_clicked)
        self.masked_item.sigPointsClicked.connect(self._on_fit_points_clicked)
        self.masked_residuals.sigPointsClicked.connect(self._on_residual_points_clicked)
        rp.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("k", width=1)))

        hp = self.history_plot
        hp.setLogMode(x=False, y=True)
        hp.setLabel("bottom", "iteration")
        hp.setLabel("left", "objective (log)")
        self.history_legend = hp.addLegend(offset=(-10, 10), labelTextColor="k",
                                           brush=pg.mkBrush(255, 255, 255, 220))
        self._runs: list[_History] = []

        self.fit_view.clicked.connect(self._on_fit_view_clicked)
        self.residual_view.clicked.connect(self._on_residual_view_clicked)
        self.fit_view.rect_dragged.connect(self._on_fit_view_rect_dragged)
        self.residual_view.rect_dragged.connect(self._on_residual_view_rect_dragged)

    def paintEvent(self, event):  # noqa: N802 - Qt override
        start = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_seconds = time.perf_counter() - start

    # ------------------------------------------------------------------ data
    def set_labels(self, x_label: str, y_label: str, y_unit: str = "") -> None:
        """Axis labels (column names with units)."""
        self.fit_plot.setLabel("left", y_label)
        self.residual_plot.setLabel("left", f"residual [{y_unit}]" if y_unit else "residual")
        self.residual_plot.setLabel("bottom", x_label)
        self.fit_plot.getAxis("bottom").showLabel(False)   # the residual plot carries x

    def set_data(self, x, y, sigma, excluded) -> None:
        """Show the data points; ``excluded`` rows are drawn hollow."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        excluded = np.asarray(excluded, dtype=bool)
        self._x, self._y, self._excluded = x, y, excluded
        used = ~excluded
        if len(x) > MAX_ERROR_BARS and self.fit_view.autoRangeEnabled()[0]:
            # Give the view its range first: clip-to-view and auto-downsampling
            # then hand the scatter item a few thousand points, not a million.
            fx, fy = x[np.isfinite(x)], y[np.isfinite(y)]
            if fx.size and fy.size:
                self.fit_view.setRange(xRange=(fx.min(), fx.max()), yRange=(fy.min(), fy.max()),
                                       padding=0.02)
        self.data_item.setData(x[used], y[used], connect="finite")
        self.masked_item.setData(x[excluded], y[excluded])
        if sigma is not None and len(x) <= MAX_ERROR_BARS:
            ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(sigma)
            self.error_bars.setData(x=x[ok], y=y[ok], height=2 * np.asarray(sigma)[ok])
            self.error_bars.show()
        else:
            self.error_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
            self.error_bars.hide()
        self._update_residual_mask()

    def set_curve(self, x, f) -> None:
        """The fitted curve (empty arrays hide it)."""
        self.curve_item.setData(np.asarray(x, dtype=float), np.asarray(f, dtype=float),
                                connect="finite")

    def set_band(self, x, lower, upper, kind: str = "confidence") -> None:
        """The confidence or prediction band; None hides it."""
        if x is None:
            self.band_lower.setData([], [])
            self.band_upper.setData([], [])
            self.band.hide()
            return
        ok = np.isfinite(lower) & np.isfinite(upper)
        self.band_lower.setData(np.asarray(x)[ok], np.asarray(lower)[ok])
        self.band_upper.setData(np.asarray(x)[ok], np.asarray(upper)[ok])
        self.band.setVisible(bool(ok.any()))
        if kind != self._band_kind:
            self._band_kind = kind
            self.legend.removeItem(self.band_sample)
            self.legend.addItem(self.band_sample, f"95% {kind} band")

    def set_preview(self, x, f) -> None:
        """The model at the current start values; None hides it."""
        if x is None:
            self.preview_item.setData([], [])
        else:
            self.preview_item.setData(np.asarray(x, dtype=float), np.asarray(f, dtype=float),
                                      connect="finite")

    def set_residuals(self, residuals) -> None:
        """Residuals (y - f) at every row; NaN where unknown."""
        self._residuals = np.asarray(residuals, dtype=float)
        self._update_residual_mask()

    def _update_residual_mask(self) -> None:
        r = self._residuals
        if len(r) != len(self._x):
            self.residual_bars.setOpts(x=np.zeros(0), height=np.zeros(0))
            self.masked_residuals.setData([], [])
            return
        used = ~self._excluded & np.isfinite(r) & np.isfinite(self._x)
        xs, rs = self._x[used], r[used]
        if len(xs) > MAX_BARS:
            xs, rs = _peak_bins(xs, rs, MAX_BARS)
        self.residual_bars.setOpts(x=xs, height=rs, width=_bar_width(xs), y0=0)
        masked = self._excluded & np.isfinite(r)
        self.masked_residuals.setData(self._x[masked], r[masked])

    # ------------------------------------------------------------------ history
    def start_run(self, label: str) -> None:
        """Begin a new history curve."""
        color = _RUN_COLORS[len(self._runs) % len(_RUN_COLORS)]
        # a plain line: symbols would be re-laid out on every live append
        item = self.history_plot.plot([], [], pen=pg.mkPen(color, width=2), name=label)
        self._runs.append(_History(item))

    def append_history(self, objective: float, refresh: bool = True) -> None:
        """Append one objective value to the current run (redrawn unless ``refresh`` is False)."""
        if not self._runs:
            self.start_run("run 1")
        run = self._runs[-1]
        run.append(objective)
        if refresh:
            run.refresh()

    def refresh_history(self) -> None:
        """Redraw the current run after appends with ``refresh=False``."""
        if self._runs:
            self._runs[-1].refresh()

    def set_history(self, values) -> None:
        """Replace the current run's values with the solver's full history."""
        if not self._runs:
            self.start_run("run 1")
        run = self._runs[-1]
        run.replace(values)
        run.refresh()

    def clear_history(self) -> None:
        """Remove every run's curve."""
        for run in self._runs:
            self.history_plot.removeItem(run.item)
        self.history_legend.clear()
        self._runs = []

    def history_values(self, run: int = -1) -> np.ndarray:
        """The objective values of a run (for tests and exports)."""
        h = self._runs[run]
        return h.values[:h.size].copy()

    @property
    def run_count(self) -> int:
        """Number of history curves."""
        return len(self._runs)

    # ------------------------------------------------------------------ fit range
    def show_range(self, lo: float | None, hi: float | None) -> None:
        """Show the draggable fit range, or hide it with ``None``."""
        if lo is None or hi is None:
            self.region.hide()
            return
        self.region.blockSignals(True)
        self.region.setRegion((lo, hi))
        self.region.blockSignals(False)
        self.region.show()

    def _on_region_change_finished(self) -> None:
        lo, hi = self.region.getRegion()
        self.range_changed.emit(float(lo), float(hi))

    # ------------------------------------------------------------------ picking
    def set_mask_mode(self, on: bool) -> None:
        """With the mask tool on, a plain left drag selects instead of panning."""
        self.fit_view.mask_mode = on
        self.residual_view.mask_mode = on

    def _nearest(self, view: pg.ViewBox, ys: np.ndarray, pos: QPointF) -> int:
        if len(self._x) == 0:
            return -1
        pw, ph = view.viewPixelSize()
        with np.errstate(invalid="ignore"):
            d2 = ((self._x - pos.x()) / pw) ** 2 + ((ys - pos.y()) / ph) ** 2
        d2 = np.where(np.isfinite(d2), d2, np.inf)
        i = int(np.argmin(d2))
        return i if d2[i] <= PICK_RADIUS ** 2 else -1

    def _rows_in(self, ys: np.ndarray, rect: QRectF) -> np.ndarray:
        x = self._x
        with np.errstate(invalid="ignore"):
            inside = ((x >= rect.left()) & (x <= rect.right())
                      & (ys >= rect.top()) & (ys <= rect.bottom()))
        return np.flatnonzero(inside)

    def _residual_values(self) -> np.ndarray:
        if len(self._residuals) == len(self._x):
            return self._residuals
        return np.full(len(self._x), np.nan)

    def _on_fit_view_clicked(self, pos: QPointF) -> None:
        row = self._nearest(self.fit_view, self._y, pos)
        if row >= 0:
            self.point_clicked.emit(row)

    def _on_residual_view_clicked(self, pos: QPointF) -> None:
        row = self._nearest(self.residual_view, self._residual_values(), pos)
        if row >= 0:
            self.point_clicked.emit(row)

    def _on_fit_points_clicked(self, _item, points, _event) -> None:
        if len(points):
            self._on_fit_view_clicked(points[0].pos())

    def _on_residual_points_clicked(self, _item, points, _event) -> None:
        if len(points):
            self._on_residual_view_clicked(points[0].pos())

    def _on_fit_view_rect_dragged(self, rect: QRectF) -> None:
        rows = self._rows_in(self._y, rect)
        if len(rows):
            self.rect_selected.emit(rows)

    def _on_residual_view_rect_dragged(self, rect: QRectF) -> None:
        rows = self._rows_in(self._residual_values(), rect)
        if len(rows):
            self.rect_selected.emit(rows)


def _peak_bins(x: np.ndarray, r: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The residual of largest magnitude in each of ``bins`` equal x-intervals.

    A million bars cannot be seen, but the worst residual of each pixel-wide
    interval can: this keeps outliers visible, as "peak" downsampling does.
    """
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return x[:bins], r[:bins]
    idx = np.minimum(((x - lo) / (hi - lo) * bins).astype(np.int64), bins - 1)
    order = np.lexsort((-np.abs(r), idx))        # by bin, then largest |r| first
    first = np.ones(len(order), dtype=bool)
    first[1:] = idx[order][1:] != idx[order][:-1]
    keep = order[first]
    return x[keep], r[keep]


def _bar_width(xs: np.ndarray) -> float:
    """Bars 70 % as wide as the typical spacing of the points."""
    if len(xs) < 2:
        return 1.0
    d = np.diff(np.sort(xs))
    d = d[d > 0]
    return 0.7 * float(np.median(d)) if len(d) else 1.0
