"""Completions and failures per minute, drawn with textual-plotext.

Redrawn at the refresh rate (not on the 1 Hz tick); axis values come from the snapshot (minutes
before ``now``), never from the wall clock. Markers are ASCII so the chart reads on any font.
The plotting library (a tenth of a second to import) loads with the first data, not before the
console's first frame.
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget

from engine.snapshot import ChartSnap

__all__ = ["ThroughputChart"]


class ThroughputChart(Widget):
    DEFAULT_CSS = """
    ThroughputChart {
        height: 9;
        min-height: 6;
    }
    ThroughputChart > PlotextPlot {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._plot: Any = None

    def show(self, chart: ChartSnap) -> None:
        data = (chart.done, chart.failed)
        if data == self._last:
            return
        self._last = data
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot)
        n = len(chart.done)
        xs = list(range(-(n - 1), 1))
        plt = self._plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("done (o) and failed (x) per minute, last hour")
        plt.plot(xs, list(chart.done), marker="o", color="green")
        failed = [(x, y) for x, y in zip(xs, chart.failed, strict=True) if y]
        if failed:
            plt.scatter([x for x, _ in failed], [y for _, y in failed], marker="x", color="red")
        plt.xticks([-60, -45, -30, -15, 0], ["-60m", "-45m", "-30m", "-15m", "now"])
        top = max(max(chart.done, default=0), max(chart.failed, default=0), 1)
        ticks = sorted({0, top // 2, top})
        plt.ylim(0, top)
        plt.yticks(ticks, [str(t) for t in ticks])
        self._plot.refresh()
