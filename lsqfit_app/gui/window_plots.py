"""What the plots show: the document's data, the fitted (or running) model, bands, preview.

:class:`PlotPresenter` reads the document (table, roles, masks, fit range,
result) and the window's transient fit state (the running problem and its
live values) and draws them into the :class:`~lsqfit_app.gui.plots.PlotsWidget`.
It holds no state of its own that a project needs.
"""
from __future__ import annotations

import numpy as np

#: points of the dense grid the fitted curve and bands are drawn on
CURVE_POINTS = 800


class PlotPresenter:
    """Draws a window's document into its plots."""

    def __init__(self, window):
        self._window = window

    @property
    def _doc(self):
        return self._window.document

    @property
    def _plots(self):
        return self._window.plots

    def role_arrays(self):
        """(x, y, sigma, excluded) of the current roles, or None."""
        doc = self._doc
        x_name, y_name, s_name = doc.role_names()
        table = doc.table
        if not x_name or not y_name or x_name not in table.names or y_name not in table.names:
            return None
        x = table.column(x_name).values
        y = table.column(y_name).values
        sigma = table.column(s_name).values if s_name and s_name in table.names else None
        return x, y, sigma, doc.excluded()

    def show_labels(self) -> None:
        doc = self._doc
        x_name, y_name, _s = doc.role_names()
        table = doc.table
        x_label = table.column(x_name).label if x_name in table.names else ""
        y_label = table.column(y_name).label if y_name in table.names else ""
        y_unit = table.column(y_name).unit if y_name in table.names else ""
        self._plots.set_labels(x_label, y_label, y_unit)

    def refresh_data(self, live_values=None) -> None:
        """Redraw data points, residuals and the curve after a data or role change."""
        arrays = self.role_arrays()
        plots = self._plots
        if arrays is None:
            plots.set_data(np.zeros(0), np.zeros(0), None, np.zeros(0, dtype=bool))
            plots.set_residuals(np.zeros(0))
            return
        x, y, sigma, excluded = arrays
        plots.set_data(x, y, sigma, excluded)
        result = self._doc.result
        values = live_values if live_values is not None else (
            result.values if result is not None else None)
        self.draw_model(values)

    def curve_grid(self) -> np.ndarray | None:
        span = self._doc.x_span()
        if span is None:
            return None
        lo, hi = span
        if lo == hi:
            return np.array([lo])
        return np.linspace(lo, hi, CURVE_POINTS)

    @staticmethod
    def model_at(model, values, x: np.ndarray) -> np.ndarray:
        xs = {var: x for var in model.independent_vars}
        with np.errstate(all="ignore"):
            return np.asarray(model.eval(np.asarray(values, dtype=float), xs),
                              dtype=float) * np.ones(len(x))

    def draw_model(self, values) -> None:
        """Curve and residuals for parameter ``values`` of the fitted (or running) model."""
        running = self._window.running_problem
        result = self._doc.result
        plots = self._plots
        model = running.model if running is not None else (
            result.model if result is not None else None)
        arrays = self.role_arrays()
        if model is None or values is None or arrays is None or len(model.independent_vars) != 1:
            plots.set_curve([], [])
            plots.set_band(None, None, None)
            plots.set_residuals(np.zeros(0))
            return
        x, y = arrays[0], arrays[1]
        grid = self.curve_grid()
        try:
            plots.set_curve(grid, self.model_at(model, values, grid))
            plots.set_residuals(y - self.model_at(model, values, x))
        except Exception as exc:  # a model that cannot be evaluated must not break drawing
            self._window.show_message(f"Cannot draw the model: {exc}", error=True)
            return
        if result is not None and running is None:
            self.draw_band(grid)
        else:
            plots.set_band(None, None, None)

    def draw_band(self, grid: np.ndarray | None = None) -> None:
        from lsqfit_app.core.bands import band

        result = self._doc.result
        grid = self.curve_grid() if grid is None else grid
        if result is None or grid is None:
            return
        kind = self._window.fit_panel.band_kind()
        try:
            _f, lo, hi = band(result, {v: grid for v in result.model.independent_vars},
                              kind=kind)
        except Exception:
            self._plots.set_band(None, None, None)
            return
        self._plots.set_band(grid, lo, hi, kind)

    def refresh_preview(self, running: bool) -> None:
        """The model at the current start values (dashed), when every start is set."""
        doc = self._doc
        model = doc.model
        starts = [s.value for s in doc.parameters]
        grid = self.curve_grid()
        if (model is None or grid is None or not starts or any(s is None for s in starts)
                or len(model.independent_vars) != 1 or running):
            self._plots.set_preview(None, None)
            return
        try:
            self._plots.set_preview(grid, self.model_at(model, starts, grid))
        except Exception:
            self._plots.set_preview(None, None)
