"""The objective-history plot: one curve per fit run, iterations from 0, objective on a log axis.

Each run's values live in a buffer that grows by doubling, so live appends
cost O(1).  Only the last :data:`MAX_RUNS` runs are drawn, named in a one-line key
above the plot (a legend of six runs inside covered the plot); runs are numbered from 1 after every
:meth:`HistoryPlot.clear` (a new file or project starts at run 1).  A run
with one value (a start that was already the minimum, 0 iterations) is a
marker, since a line of one point is invisible.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from lsqfit_app.gui.plot_axes import IntegerAxis, LogLabelAxis

#: runs drawn at once (older ones are dropped from the plot and its legend)
MAX_RUNS = 4
RUN_COLORS = [QColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                  "#8c564b", "#e377c2", "#17becf")]


class _Run:
    """One run's objective values in a buffer that grows by doubling."""

    def __init__(self, item: pg.PlotDataItem, color: QColor):
        self.item = item
        self.color = color
        self.values = np.empty(64)
        self.size = 0
        self._marker = False

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
        marker = self.size == 1
        if marker != self._marker:
            # a plain line otherwise: symbols would be re-laid out on every live append
            self._marker = marker
            self.item.setSymbol("o" if marker else None)
            self.item.setSymbolBrush(pg.mkBrush(self.color))
            self.item.setSymbolPen(pg.mkPen(self.color))
            self.item.setSymbolSize(8)
        # x is the iteration: 0 is the start
        self.item.setData(np.arange(self.size), v, connect="finite")


class HistoryPlot:
    """The runs drawn in a history :class:`pyqtgraph.PlotItem` (see the module docstring)."""

    def __init__(self, layout: pg.GraphicsLayout, row: int):
        self.plot = layout.addPlot(row=row, col=0, axisItems={
            "left": LogLabelAxis(orientation="left"), "bottom": IntegerAxis(orientation="bottom")})
        plot = self.plot
        plot.setLogMode(x=False, y=True)
        plot.setLabel("bottom", "iteration")
        plot.setLabel("left", "objective (log)")
        # iterations start at 0: a little room left of it for a marker, no negative ticks
        plot.vb.setLimits(xMin=-0.5)
        self._runs: list[_Run] = []
        self._labels: list[str] = []
        self._number = 0      # of the last numbered run
        self._started = 0     # runs begun since the last clear (picks the colour)

    def start_run(self, label: str) -> None:
        """Begin a new curve named ``label``."""
        color = RUN_COLORS[self._started % len(RUN_COLORS)]
        self._started += 1
        item = self.plot.plot([], [], pen=pg.mkPen(color, width=2))
        item.setZValue(self._started)
        self._runs.append(_Run(item, color))
        self._labels.append(label)
        if len(self._runs) > MAX_RUNS:
            old = self._runs.pop(0)
            self._labels.pop(0)
            self.plot.removeItem(old.item)
        self._show_key()

    def start_fit_run(self, method: str) -> str:
        """Begin the next numbered run ("run 3 (lm)"); numbers restart after :meth:`clear`."""
        self._number += 1
        label = f"run {self._number} ({method})"
        self.start_run(label)
        return label

    def append(self, objective: float, refresh: bool = True) -> None:
        if not self._runs:
            self.start_fit_run("fit")
        run = self._runs[-1]
        run.append(objective)
        if refresh:
            run.refresh()

    def refresh(self) -> None:
        if self._runs:
            self._runs[-1].refresh()

    def set_values(self, values) -> None:
        if not self._runs:
            self.start_fit_run("fit")
        run = self._runs[-1]
        run.replace(values)
        run.refresh()

    def clear(self) -> None:
        for run in self._runs:
            self.plot.removeItem(run.item)
        self._runs = []
        self._labels = []
        self._number = 0
        self._started = 0
        self._show_key()

    def values(self, run: int = -1) -> np.ndarray:
        r = self._runs[run]
        return r.values[:r.size].copy()

    def labels(self) -> list[str]:
        """The legend's run names, oldest first."""
        return list(self._labels)

    @property
    def runs(self) -> list:
        """The drawn runs, oldest first (each has ``item``, ``values``, ``size``)."""
        return list(self._runs)

    @property
    def count(self) -> int:
        return len(self._runs)

    def _show_key(self) -> None:
        """The runs' names and colours on one line above the plot: every run's curve spans
        the plot's width, so a legend inside it always covers one."""
        parts = [f"<span style='color:{r.color.name()}'>━━</span>&nbsp;{name}"
                 for r, name in zip(self._runs, self._labels)]
        self.plot.setTitle("&nbsp;&nbsp;&nbsp;".join(parts) if parts else None, size="8pt",
                           color="#333333")

    def key_text(self) -> str:
        """The key above the plot, as plain text."""
        return " ".join(self._labels)
