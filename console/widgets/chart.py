"""Done and failed tasks per minute over the last hour, as stacked bars.

A bar per minute, done at the bottom in the theme's success colour and failed on top in its
error colour: the rate of work and the share that failed read at a glance, which a line of
``o`` with scattered ``x`` did not (a minute with both put an ``x`` on the ``o``). The title
line above the plot is the legend; the axes are labelled below it ("minutes before now" and
"tasks/min") once there are rows to spare for them.

Drawn here with block characters (eighths of a cell: ``▁▂▃▄▅▆▇█``), not with plotext: plotext's
stacked bars took 40 ms to build at 80x24 and over half a second at 120x40 in the app, on the
event loop at every refresh whose counts moved; these lines take a few milliseconds. A minute
with any failure shows at least an eighth of a cell of it, however tall the axis.

The chart takes the height its container gives it (taller terminals, taller bars), and is
redrawn at the refresh rate, not on the 1 Hz tick; axis values come from the snapshot (minutes
before ``now``), never from the wall clock.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.widget import Widget
from textual.widgets import Static

from engine.snapshot import ChartSnap

from .cells import styles_for

__all__ = [
    "AXIS_LABEL_ROWS",
    "BLOCKS",
    "BarPlot",
    "ThroughputChart",
    "bar_lines",
    "bar_top",
    "eighths",
    "y_ticks",
]

TITLE = "tasks done and failed per minute, last hour"
#: the plot's height from which it has a row for the axis labels (below it the tick labels,
#: minutes and counts, are the axes' only words, and the bars keep the rows)
AXIS_LABEL_ROWS = 10
#: a cell's lower part filled to 0..8 eighths
BLOCKS = " ▁▂▃▄▅▆▇█"
X_TICKS = ((-45, "-45m"), (-30, "-30m"), (-15, "-15m"))


def bar_top(done: tuple[int, ...], failed: tuple[int, ...]) -> int:
    """The tallest stacked bar (done + failed in one minute), at least 1."""
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


def eighths(value: int, axis_top: int, rows: int) -> int:
    """A count's height in eighths of a cell on an axis from 0 to ``axis_top`` over ``rows``
    rows; a count above zero never draws as nothing."""
    if value <= 0:
        return 0
    return max(1, round(value * rows * 8 / axis_top))


def _cell(
    row: int, done: int, total: int, ok: Style, crit: Style, both: Style
) -> tuple[str, Style | None]:
    """The character and style of the bar's cell ``row`` (0: bottom), its done part ``done``
    and its whole ``total`` eighths high (``both``: done on a failed background)."""
    low, high = row * 8, row * 8 + 8
    if total <= low:
        return " ", None
    if done >= high:
        return "█", ok
    if done <= low:  # failed only
        return BLOCKS[min(8, total - low)], crit
    # done ends inside this cell: its part below, in the done colour; the failed part above
    # as the cell's background where it fills most of the rest
    part = done - low
    above = min(high, total) - done
    return BLOCKS[part], both if above * 2 >= 8 - part else ok


def bar_lines(
    done: tuple[int, ...],
    failed: tuple[int, ...],
    width: int,
    height: int,
    ok: Style,
    crit: Style,
) -> list[Text]:
    """The plot's lines: the bars over a y axis of counts, the x axis in minutes before now
    under them, and (from :data:`AXIS_LABEL_ROWS` lines) the axes' names."""
    n = len(done)
    labelled = height >= AXIS_LABEL_ROWS
    rows = height - 2 - labelled
    if n == 0 or rows < 1:
        return []
    ticks = y_ticks(bar_top(done, failed), rows)
    axis_top = ticks[-1]
    label_w = max(len(str(t)) for t in ticks)
    plot_w = max(width - label_w - 1, n)
    # each minute's columns, oldest first: [start, end)
    spans = [(i * plot_w // n, (i + 1) * plot_w // n) for i in range(n)]
    heights = []
    for d, f in zip(done, failed, strict=True):
        low = eighths(d, axis_top, rows)
        heights.append((low, min(rows * 8, low + eighths(f, axis_top, rows))))
    tick_rows = {min(rows - 1, max(0, round(t * rows / axis_top) - 1)): t for t in ticks}
    tick_rows[0] = 0
    both = ok + Style(bgcolor=crit.color)
    # a minute wider than two columns keeps a gap to the next
    widths = [(end - start - 1, 1) if end - start > 2 else (end - start, 0) for start, end in spans]
    lines = []
    for line_no in range(rows):
        row = rows - 1 - line_no  # 0 at the bottom
        line = Text(no_wrap=True)
        label = tick_rows.get(row)
        line.append(f"{label:>{label_w}}┤" if label is not None else f"{'':>{label_w}}│", "dim")
        run, run_style = "", None  # cells of one style, appended at once
        for (bar_w, gap), (low, total) in zip(widths, heights, strict=True):
            char, style = _cell(row, low, total, ok, crit, both)
            if style is not run_style:
                line.append(run, run_style)
                run, run_style = "", style
            run += char * bar_w
            if gap:
                if run_style is not None:
                    line.append(run, run_style)
                    run, run_style = "", None
                run += " "
        line.append(run, run_style)
        lines.append(line)
    axis = ["─"] * plot_w
    marks = [" "] * (plot_w + label_w + 1)

    def mark(column: int, label: str, align: str) -> None:
        at = column + label_w + 1
        begin = {"left": at, "right": at - len(label) + 1, "center": at - len(label) // 2}[align]
        begin = max(0, min(begin, len(marks) - len(label)))
        marks[begin : begin + len(label)] = list(label)

    for minute, label in X_TICKS:
        i = minute + n - 1
        if 0 <= i < n:
            start, end = spans[i]
            axis[(start + end - 1) // 2] = "┬"
            mark((start + end - 1) // 2, label, "center")
    axis[-1] = "┬"
    mark(0, "-60m" if n == 60 else f"-{n}m", "left")
    mark(plot_w - 1, "now", "right")
    lines.append(Text(" " * label_w + "└" + "".join(axis), style="dim", no_wrap=True))
    lines.append(Text("".join(marks), style="dim", no_wrap=True))
    if labelled:
        name = "minutes before now"
        left = "tasks/min"
        middle = label_w + 1 + (plot_w - len(name)) // 2
        gap = max(1, middle - len(left))
        lines.append(Text(left + " " * gap + name, style="dim", no_wrap=True))
    return lines


class BarPlot(Widget):
    """The bars and axes of :class:`ThroughputChart`, drawn at the widget's size."""

    DEFAULT_CSS = """
    BarPlot {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.done: tuple[int, ...] = ()
        self.failed: tuple[int, ...] = ()

    def plot(self, done: tuple[int, ...], failed: tuple[int, ...]) -> None:
        if (done, failed) != (self.done, self.failed):
            self.done, self.failed = done, failed
            self.refresh()

    def lines(self) -> list[Text]:
        """What the plot shows at its size now."""
        styles = styles_for(self.app)
        size = self.content_size
        return bar_lines(self.done, self.failed, size.width, size.height, styles.ok, styles.crit)

    def render(self) -> RenderResult:
        return Text("\n", no_wrap=True).join(self.lines())


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
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="chart-title")
        yield BarPlot()

    @property
    def bars(self) -> tuple[tuple[int, int], ...]:
        """(done, failed) of each minute as drawn, oldest first (empty before any data)."""
        if self._drawn is None:
            return ()
        return tuple(zip(self._drawn[0], self._drawn[1], strict=True))

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        # the bars' and the legend's colours are the theme's
        self.query_one(".chart-title", Static).update(self._title())
        self.query_one(BarPlot).refresh()

    def show(self, chart: ChartSnap) -> None:
        # No minutes yet (an error, or nothing read): an empty hour, not an empty frame.
        done, failed = (chart.done, chart.failed) if chart.done else ((0,) * 60, (0,) * 60)
        self._drawn = (done, failed)
        self.query_one(BarPlot).plot(done, failed)

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
