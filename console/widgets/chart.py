"""Done and failed tasks per minute over the last hour, as stacked bars (textual-plotext).

A bar per minute, done at the bottom in the theme's success colour and failed on top in its
error colour: the rate of work and the share that failed read at a glance, which a line of
``o`` with scattered ``x`` did not (a minute with both put an ``x`` on the ``o``). The title
line above the plot is the legend; the axes are labelled below it ("minutes before now" and
"tasks/min") once there are rows to spare for them.

The chart takes the height its container gives it (taller terminals, taller bars), and is
redrawn at the refresh rate, not on the 1 Hz tick; axis values come from the snapshot (minutes
before ``now``), never from the wall clock. The plotting library (a tenth of a second to import)
loads with the first data, not before the console's first frame.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from engine.snapshot import ChartSnap

from .cells import styles_for

__all__ = ["AXIS_LABEL_ROWS", "ThroughputChart", "bar_top", "y_ticks"]

TITLE = "tasks done and failed per minute, last hour"
#: the plot's height from which it has a row for the axis labels (below it the tick labels,
#: minutes and counts, are the axes' only words, and the bars keep the rows)
AXIS_LABEL_ROWS = 10


def bar_top(done: tuple[int, ...], failed: tuple[int, ...]) -> int:
    """The y axis' top: the tallest stacked bar (done + failed in one minute), at least 1."""
    return max((d + f for d, f in zip(done, failed, strict=True)), default=0) or 1


def y_ticks(top: int, rows: int) -> list[int]:
    """Whole, evenly spaced ticks from 0 to ``top`` or just past it (1, 2, 3, 5, 10, 20, ...
    apart), as many as the rows hold (one per 4 rows, at least three): the last one is the
    axis' top."""
    most = max(3, rows // 4 + 1)
    step = 1
    while -(-top // step) + 1 > most:
        step = next(s * 10**e for e in range(12) for s in (1, 2, 3, 5) if s * 10**e > step)
    return list(range(0, -(-top // step) * step + 1, step))


def _rgb(style: Style) -> tuple[int, int, int]:
    color = style.color or Color.parse("default")
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


class ThroughputChart(Widget):
    """The tasks pane's chart: stacked bars of done and failed per minute."""

    DEFAULT_CSS = """
    ThroughputChart {
        height: 9;
        min-height: 6;
    }
    ThroughputChart > .chart-title {
        height: 1;
        padding: 0 1;
    }
    ThroughputChart > PlotextPlot {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._chart: ChartSnap | None = None
        self._drawn: tuple[tuple[int, ...], tuple[int, ...], int] | None = None
        self._plot: Any = None

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="chart-title")

    @property
    def bars(self) -> tuple[tuple[int, int], ...]:
        """(done, failed) of each minute as drawn, oldest first (empty before any data)."""
        if self._drawn is None:
            return ()
        return tuple(zip(self._drawn[0], self._drawn[1], strict=True))

    def show(self, chart: ChartSnap) -> None:
        self._chart = chart
        self._draw()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        # the bars' and the legend's colours are the theme's
        self.query_one(".chart-title", Static).update(self._title())
        self._drawn = None
        self._draw()

    def on_resize(self) -> None:
        # The axis labels come and go with the height: draw again at the new size.
        self._draw()

    def _title(self) -> Text:
        styles = styles_for(self.app)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(TITLE, style=styles.bold)
        line.append("  ")
        line.append("██", style=styles.ok)
        line.append(" done  ")
        line.append("██", style=styles.crit)
        line.append(" failed")
        return line

    def _draw(self) -> None:
        chart = self._chart
        if chart is None or not self.is_mounted:
            return
        rows = self.content_size.height - 1  # the plot's, under the title line
        # No minutes yet (an error, or nothing read): an empty hour, not an empty frame.
        done, failed = (chart.done, chart.failed) if chart.done else ((0,) * 60, (0,) * 60)
        data = (done, failed, rows)
        if data == self._drawn:
            return
        self._drawn = data
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot)
        styles = styles_for(self.app)
        n = len(done)
        xs = list(range(-(n - 1), 1))
        labelled = rows >= AXIS_LABEL_ROWS
        plt = self._plot.plt
        plt.clear_data()
        plt.clear_figure()
        # A frame below and left only: the title line above does the top's work.
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        plt.stacked_bar(
            xs,
            [list(done), list(failed)],
            color=[_rgb(styles.ok), _rgb(styles.crit)],
            width=1,
            minimum=0,
        )
        plt.xticks([-60, -45, -30, -15, 0], ["-60m", "-45m", "-30m", "-15m", "now"])
        top = bar_top(done, failed)
        # plot rows: less the x axis and its tick labels (and the axis labels' row)
        ticks = y_ticks(top, rows - 2 - labelled)
        plt.ylim(0, ticks[-1])
        plt.yticks(ticks, [str(t) for t in ticks])
        plt.xlim(-(n - 1) - 0.5, 0.5)
        if labelled:
            plt.xlabel("minutes before now")
            plt.ylabel("tasks/min")
        self._plot.refresh()
