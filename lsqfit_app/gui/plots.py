"""The three linked plots: data and fit, residuals, objective history.

Items are built once and updated in place (``setData``/``setOpts``), as
pyqtgraph is fastest that way (STYLE.md, "Plots").  The residual bars are one
:class:`pyqtgraph.BarGraphItem`; the residual plot shares the fit plot's x
axis; the history plot (:mod:`lsqfit_app.gui.plot_history`) is logarithmic in y
with one curve per fit run.  Scatters of many points are drawn as a density
image with each pixel column's extremes (:mod:`lsqfit_app.gui.plot_density`),
recomputed shortly after the view range stops changing.

Masking: a click near a point (in either of the two upper plots) emits
``point_clicked`` with its row; dragging a rectangle with Shift held (or
with the mask tool on) emits ``rect_selected`` with the rows inside; a
plain drag pans.  A hint line above the plots and the cursor say which.
The window turns those into undoable mask commands.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from lsqfit_app.gui.plot_density import ReducedScatter
from lsqfit_app.gui.plot_history import HistoryPlot
from lsqfit_app.gui.plot_legend import PlotLegend

#: pixels within which a click picks a point
PICK_RADIUS = 8.0
#: above this many points error bars are not drawn (they would hide the data)
MAX_ERROR_BARS = 20000
#: above this many residuals near the view they are a density image, not bars
MAX_BARS = 4000
#: milliseconds the view range must rest before big scatters are recomputed
REDRAW_DELAY_MS = 120

#: the hint above the plots, in each mode
PAN_HINT = ("Drag to pan · Shift+drag or the Mask tool to mask a rectangle · "
            "click a point to mask it")
MASK_HINT = ("Mask tool on: drag to mask a rectangle · click a point to mask it · "
             "turn the Mask tool off to pan")

_DATA_COLOR = QColor(31, 119, 180)
_FIT_COLOR = QColor(214, 39, 40)
_PREVIEW_COLOR = QColor(44, 160, 44)
_BAND_COLOR = QColor(214, 39, 40, 50)
_MASKED_COLOR = QColor(120, 120, 120)


class MaskingViewBox(pg.ViewBox):
    """A ViewBox that reports left clicks and Shift-drag (or mask-mode) rectangles.

    Signals carry view (data) coordinates; plain drags pan and the right
    button zooms, as everywhere in pyqtgraph.  The cursor shows what a left
    drag does: an open hand (pan; closed while panning) or a cross (mask).
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
        self.show_cursor(Qt.NoModifier)

    def selects(self, modifiers) -> bool:
        """Whether a left drag with these modifiers masks a rectangle (rather than pans)."""
        return self.mask_mode or bool(modifiers & Qt.ShiftModifier)

    def show_cursor(self, modifiers) -> None:
        """The cursor for what a left drag would do now."""
        self.setCursor(Qt.CrossCursor if self.selects(modifiers) else Qt.OpenHandCursor)

    def hoverEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if not ev.isExit():
            self.show_cursor(ev.modifiers())

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph override
        selecting = ev.button() == Qt.LeftButton and self.selects(ev.modifiers())
        if not selecting:
            if ev.button() == Qt.LeftButton:
                self.setCursor(Qt.OpenHandCursor if ev.isFinish() else Qt.ClosedHandCursor)
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


class PlotsWidget(pg.GraphicsLayoutWidget):
    """Fit plot, residual plot and history plot, stacked under a hint line.

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
        self._closed = False
        super().__init__(parent)
        #: seconds the last repaint took (the window paces live updates by it)
        self.last_paint_seconds = 0.0
        self.setBackground("w")
        self.ci.setSpacing(4)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._residuals = np.zeros(0)
        self._excluded = np.zeros(0, dtype=bool)

        self.hint = self.addLabel(PAN_HINT, row=0, col=0, color="#555555", size="9pt",
                                  justify="left")
        #: what the hint says now (the label may break it over two lines)
        self.hint_text = PAN_HINT
        self.fit_view = MaskingViewBox()
        self.fit_plot = self.addPlot(row=1, col=0, viewBox=self.fit_view)
        self.residual_view = MaskingViewBox()
        self.residual_plot = self.addPlot(row=2, col=0, viewBox=self.residual_view)
        self.history = HistoryPlot(self.ci, row=3)
        self.history_plot = self.history.plot
        self.ci.layout.setRowStretchFactor(0, 0)
        self.ci.layout.setRowStretchFactor(1, 5)
        self.ci.layout.setRowStretchFactor(2, 2)
        self.ci.layout.setRowStretchFactor(3, 2)
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
        self.legend = PlotLegend(fp, labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 220),
                                 pen=pg.mkPen(200, 200, 200))
        self.band_lower = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band_upper = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_lower, self.band_upper, brush=pg.mkBrush(_BAND_COLOR))
        self.band.hide()
        fp.addItem(self.band_lower)
        fp.addItem(self.band_upper)
        fp.addItem(self.band)
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0),
                                          pen=pg.mkPen(_DATA_COLOR.lighter(140), width=1), beam=0)
        fp.addItem(self.error_bars)
        self.data_item = fp.plot([], [], pen=None, symbol="o", symbolSize=6,
                                 symbolBrush=pg.mkBrush(_DATA_COLOR), symbolPen=pg.mkPen(_DATA_COLOR))
        self.masked_item = fp.plot([], [], pen=None, symbol="o", symbolSize=7,
                                   symbolBrush=pg.mkBrush(None),
                                   symbolPen=pg.mkPen(_MASKED_COLOR, width=1.5))
        self.preview_item = fp.plot([], [], pen=pg.mkPen(_PREVIEW_COLOR, width=1.5, style=Qt.DashLine),
                                    antialias=True)
        self.curve_item = fp.plot([], [], pen=pg.mkPen(_FIT_COLOR, width=2), antialias=True)
        # FillBetweenItem cannot draw its own legend sample (pyqtgraph crashes
        # painting it): an empty filled PlotDataItem stands in for it.
        self.band_sample = pg.PlotDataItem([], [], pen=pg.mkPen(_BAND_COLOR.darker(150)),
                                           fillLevel=0, fillBrush=pg.mkBrush(_BAND_COLOR))
        self._band_kind = "confidence"
        # big scatters are reduced for the view here, never by pyqtgraph's
        # "peak" downsampling (its bins' min and max look like two bands)
        self._data_layer = ReducedScatter(self.fit_view, _DATA_COLOR.name())
        self._masked_layer = ReducedScatter(self.fit_view, _MASKED_COLOR.name())
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
        # many residuals: a density image with each column's extremes as dots, not bars
        self.residual_points = rp.plot([], [], pen=None, symbol="o", symbolSize=2,
                                       symbolBrush=pg.mkBrush(_DATA_COLOR), symbolPen=None)
        self.masked_residuals = rp.plot([], [], pen=None, symbol="o", symbolSize=6,
                                        symbolBrush=pg.mkBrush(None),
                                        symbolPen=pg.mkPen(_MASKED_COLOR, width=1.5))
        self._residual_layer = ReducedScatter(self.residual_view, _DATA_COLOR.name(),
                                              draw_all=MAX_BARS)
        self._masked_residual_layer = ReducedScatter(self.residual_view, _MASKED_COLOR.name())
        # A click right on a marker is taken by the scatter item, not the ViewBox:
        # both paths end in the same nearest-point pick.
        self.data_item.sigPointsClicked.connect(self._on_fit_points_clicked)
        self.masked_item.sigPointsClicked.connect(self._on_fit_points_clicked)
        self.masked_residuals.sigPointsClicked.connect(self._on_residual_points_clicked)
        rp.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("k", width=1)))

        self.fit_view.clicked.connect(self._on_fit_view_clicked)
        self.residual_view.clicked.connect(self._on_residual_view_clicked)
        self.fit_view.rect_dragged.connect(self._on_fit_view_rect_dragged)
        self.residual_view.rect_dragged.connect(self._on_residual_view_rect_dragged)

        # a zoom or pan redraws big scatters once the range rests (panning stays smooth)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_DELAY_MS)
        self._redraw_timer.timeout.connect(self._on_redraw_timer_timeout)
        for view in (self.fit_view, self.residual_view):
            view.sigRangeChanged.connect(self._on_view_sig_range_changed)
            view.sigResized.connect(self._on_view_sig_range_changed)

    def paintEvent(self, event):  # noqa: N802 - Qt override
        start = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_seconds = time.perf_counter() - start

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        # pyqtgraph resizes once before the items exist, and again while close() deletes them
        if hasattr(self, "hint") and not self._closed:
            self._fit_hint()

    def close(self):
        self._closed = True
        self._redraw_timer.stop()
        return super().close()

    def _fit_hint(self) -> None:
        """The hint on one line, or broken at a " · " into two when the plots are narrow."""
        text = self.hint_text
        font = self.hint.item.font()
        width = QFontMetrics(font).horizontalAdvance(text)
        if width > self.width() - 30 and " · " in text:
            parts = text.split(" · ")
            half = (len(parts) + 1) // 2
            text = " · ".join(parts[:half]) + "<br>" + " · ".join(parts[half:])
        self.hint.setText(text)

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        self._show_cursors(event.modifiers())
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):  # noqa: N802 - Qt override
        self._show_cursors(event.modifiers())
        super().keyReleaseEvent(event)

    def _show_cursors(self, modifiers) -> None:
        for view in (self.fit_view, self.residual_view):
            view.show_cursor(modifiers)

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
        self._data_layer.set_points(x[used], y[used])
        self._masked_layer.set_points(x[excluded], y[excluded])
        if self._data_layer.many and self.fit_view.autoRangeEnabled()[0]:
            # Give the view its range first: the reduction then works for the
            # range the points will be seen in, not the previous one.
            self.fit_view.autoRange(padding=0.02)
        if sigma is not None and len(x) <= MAX_ERROR_BARS:
            ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(sigma)
            self.error_bars.setData(x=x[ok], y=y[ok], height=2 * np.asarray(sigma)[ok])
            self.error_bars.show()
        else:
            self.error_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
            self.error_bars.hide()
        self._draw_fit_layers()
        self._update_residual_mask()
        self._sync_legend()

    def set_curve(self, x, f) -> None:
        """The fitted curve (empty arrays hide it)."""
        self.curve_item.setData(np.asarray(x, dtype=float), np.asarray(f, dtype=float),
                                connect="finite")
        self._sync_legend()

    def set_band(self, x, lower, upper, kind: str = "confidence") -> None:
        """The confidence or prediction band; None hides it."""
        if x is None:
            self.band_lower.setData([], [])
            self.band_upper.setData([], [])
            self.band.hide()
        else:
            ok = np.isfinite(lower) & np.isfinite(upper)
            self.band_lower.setData(np.asarray(x)[ok], np.asarray(lower)[ok])
            self.band_upper.setData(np.asarray(x)[ok], np.asarray(upper)[ok])
            self.band.setVisible(bool(ok.any()))
            self._band_kind = kind
        self._sync_legend()

    def set_preview(self, x, f) -> None:
        """The model at the current start values; None hides it."""
        if x is None:
            self.preview_item.setData([], [])
        else:
            self.preview_item.setData(np.asarray(x, dtype=float), np.asarray(f, dtype=float),
                                      connect="finite")
        self._sync_legend()

    def set_residuals(self, residuals) -> None:
        """Residuals (y - f) at every row; NaN where unknown."""
        self._residuals = np.asarray(residuals, dtype=float)
        self._update_residual_mask()

    def _update_residual_mask(self) -> None:
        r = self._residuals
        if len(r) != len(self._x):
            r = np.zeros(0)
            self._residual_layer.set_points(r, r)
            self._masked_residual_layer.set_points(r, r)
        else:
            used = ~self._excluded
            self._residual_layer.set_points(self._x[used], r[used])
            self._masked_residual_layer.set_points(self._x[self._excluded], r[self._excluded])
        if self._residual_layer.many and any(self.residual_view.autoRangeEnabled()):
            self.residual_view.autoRange(padding=0.02)   # reduce for the range they are seen in
        self._draw_residual_layers()

    # ------------------------------------------------------------------ reduced drawing
    def _draw_fit_layers(self) -> None:
        for layer, item, size in ((self._data_layer, self.data_item, 6),
                                  (self._masked_layer, self.masked_item, 7)):
            rows = layer.visible()
            if rows is not None:
                item.setData(layer.x[rows], layer.y[rows])
                item.setSymbolSize(3 if layer.dense else size)

    def _draw_residual_layers(self) -> None:
        layer = self._residual_layer
        rows = layer.visible()
        if rows is not None:
            xs, rs = layer.x[rows], layer.y[rows]
            if layer.dense or len(rows) > MAX_BARS:
                self.residual_bars.setOpts(x=np.zeros(0), height=np.zeros(0))
                self.residual_points.setData(xs, rs)
            else:
                self.residual_bars.setOpts(x=xs, height=rs, width=_bar_width(xs), y0=0)
                self.residual_points.setData([], [])
        layer = self._masked_residual_layer
        rows = layer.visible()
        if rows is not None:
            self.masked_residuals.setData(layer.x[rows], layer.y[rows])
            self.masked_residuals.setSymbolSize(3 if layer.dense else 6)

    def _on_view_sig_range_changed(self, *_args) -> None:
        self._redraw_timer.start()

    def _on_redraw_timer_timeout(self) -> None:
        if self._closed:
            return
        self._draw_fit_layers()
        self._draw_residual_layers()
        self._place_legend()

    def is_dense(self) -> bool:
        """Whether the fit plot shows a density image for its points now."""
        return self._data_layer.dense

    def density_counts(self) -> np.ndarray | None:
        """Counts per cell of the fit plot's density image (None when points are drawn)."""
        return self._data_layer.density_counts()

    # ------------------------------------------------------------------ legend
    def _sync_legend(self) -> None:
        """List what is drawn, no more: no "excluded" without excluded points."""
        entries = []
        if self._data_layer.x.size:
            entries.append((self.data_item, "data"))
        if self._masked_layer.x.size:
            entries.append((self.masked_item, "excluded"))
        if _has_points(self.preview_item):
            entries.append((self.preview_item, "start values"))
        if _has_points(self.curve_item):
            entries.append((self.curve_item, "fit"))
        if self.band.isVisible():
            entries.append((self.band_sample, f"95% {self._band_kind} band"))
        before = self.legend.names()
        self.legend.set_entries(entries)
        if self.legend.names() != before:
            self._place_legend()

    def _place_legend(self) -> None:
        parts = [self._data_layer.sample(), self._masked_layer.sample()]
        for item in (self.curve_item, self.preview_item):
            cx, cy = item.getData()
            if cx is not None:
                parts.append((cx, cy))
        xs = np.concatenate([p[0] for p in parts])
        ys = np.concatenate([p[1] for p in parts])
        self.legend.place(xs, ys)

    # ------------------------------------------------------------------ history
    def start_run(self, label: str) -> None:
        """Begin a new history curve named ``label``."""
        self.history.start_run(label)

    def start_fit_run(self, method: str) -> str:
        """Begin the next numbered run ("run 2 (lm)"), counted from 1 after :meth:`clear_history`."""
        return self.history.start_fit_run(method)

    def append_history(self, objective: float, refresh: bool = True) -> None:
        """Append one objective value to the current run (redrawn unless ``refresh`` is False)."""
        self.history.append(objective, refresh)

    def refresh_history(self) -> None:
        """Redraw the current run after appends with ``refresh=False``."""
        self.history.refresh()

    def set_history(self, values) -> None:
        """Replace the current run's values with the solver's full history."""
        self.history.set_values(values)

    def clear_history(self) -> None:
        """Remove every run's curve; the next run is run 1 again."""
        self.history.clear()

    def history_values(self, run: int = -1) -> np.ndarray:
        """The objective values of a run (for tests and exports)."""
        return self.history.values(run)

    @property
    def run_count(self) -> int:
        """Number of history curves drawn."""
        return self.history.count

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
        self.hint_text = MASK_HINT if on else PAN_HINT
        self._fit_hint()
        self._show_cursors(Qt.NoModifier)

    @property
    def mask_mode(self) -> bool:
        return self.fit_view.mask_mode

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


def _bar_width(xs: np.ndarray) -> float:
    """Bars 70 % as wide as the typical spacing of the points."""
    if len(xs) < 2:
        return 1.0
    d = np.diff(np.sort(xs))
    d = d[d > 0]
    return 0.7 * float(np.median(d)) if len(d) else 1.0


def _has_points(item: pg.PlotDataItem) -> bool:
    x, _y = item.getData()
    return x is not None and len(x) > 0
