"""Scatters of any size that look like their data, in a pyqtgraph view.

Up to a few thousand points near the view are drawn as they are.  More
would be slow to draw, and pyqtgraph's "peak" downsampling (each bin's
minimum and maximum) draws two bands that are not in the data.  Above that
the view shows what the report figures show (lsqfit_app.report.figures):
a density image of every point in view (a 2-D histogram, log-shaded) with
the lowest and highest point of each pixel column drawn on top, so the bulk,
the envelope and the outliers are all visible.  The owner recomputes on a
change of the view range (debounced), so zooming in reveals the points.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

#: up to this many points near the view are drawn as they are
DRAW_ALL = 20000


class DataBounds(pg.GraphicsObject):
    """Draws nothing; tells auto-range where all the points are while only some are drawn."""

    def __init__(self):
        super().__init__()
        self._bounds = None   # (x0, x1, y0, y1)

    def set_bounds(self, x: np.ndarray, y: np.ndarray) -> None:
        if x.size:
            self._bounds = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
        else:
            self._bounds = None
        self.prepareGeometryChange()
        self.informViewBoundsChanged()

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802 - pyqtgraph API
        if self._bounds is None:
            return None, None
        return self._bounds[2 * ax: 2 * ax + 2]

    def boundingRect(self):  # noqa: N802 - Qt override
        if self._bounds is None:
            return QRectF()
        x0, x1, y0, y1 = self._bounds
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def paint(self, painter, *args):
        pass


class ReducedScatter:
    """The points of one scatter layer and the density image drawn for them when there are many.

    :meth:`visible` says which points to draw individually for the current
    view range (indices into :attr:`x`/:attr:`y`, the finite points given to
    :meth:`set_points`) and shows or hides the density image.
    """

    def __init__(self, view: pg.ViewBox, color: str, draw_all: int = DRAW_ALL,
                 z_value: float = -15):
        self.view = view
        self.color = color
        self.draw_all = draw_all
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setZValue(z_value)
        self.image.hide()
        view.addItem(self.image, ignoreBounds=True)
        self.bounds = DataBounds()
        view.addItem(self.bounds)
        #: True while the density image stands for the points
        self.dense = False
        self._counts = None
        self._drawn_all = False

    @property
    def many(self) -> bool:
        """More points than are ever drawn one by one."""
        return self.x.size > self.draw_all

    def set_points(self, x, y) -> None:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        self.x, self.y = (x, y) if ok.all() else (x[ok], y[ok])
        self.bounds.set_bounds(self.x, self.y)
        self._drawn_all = False

    def visible(self) -> np.ndarray | None:
        """Indices of the points to draw one by one now; None when nothing needs redrawing."""
        if not self.many:
            self._set_dense(False)
            if self._drawn_all:
                return None
            self._drawn_all = True
            return np.arange(self.x.size)
        self._drawn_all = False
        (x0, x1), (y0, y1) = self.view.viewRange()
        x, y = self.x, self.y
        # near the view (half a view around it): panning a little shows points at once
        dx, dy = (x1 - x0) / 2, (y1 - y0) / 2
        near = np.flatnonzero((x >= x0 - dx) & (x <= x1 + dx) & (y >= y0 - dy) & (y <= y1 + dy))
        if near.size <= self.draw_all:
            self._set_dense(False)
            return near
        inside = near[(x[near] >= x0) & (x[near] <= x1) & (y[near] >= y0) & (y[near] <= y1)]
        if inside.size == 0 or not (x1 > x0 and y1 > y0):
            self._set_dense(False)
            return inside
        from lsqfit_app.report.reduction import column_extremes, density_counts, density_rgba

        xi, yi = x[inside], y[inside]
        counts = density_counts(xi, yi, np.ones(xi.size, dtype=bool), (x0, x1, y0, y1))
        self._counts = counts
        self.image.setImage(density_rgba(counts, self.color), levels=(0, 255))
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self._set_dense(True)
        columns = max(100, int(self.view.width()))
        return inside[column_extremes(xi, yi, columns=columns)]

    def density_counts(self) -> np.ndarray | None:
        """The density image's counts per (column, row) cell, for checks; None when hidden."""
        if not self.dense:
            return None
        return self._counts

    def sample(self, limit: int = 20000) -> tuple[np.ndarray, np.ndarray]:
        """Every k-th point, at most about ``limit`` (where the points are, for the legend)."""
        step = max(1, self.x.size // limit)
        return self.x[::step], self.y[::step]

    def _set_dense(self, on: bool) -> None:
        self.dense = on
        self.image.setVisible(on)
