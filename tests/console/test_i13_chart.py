"""The tasks pane's history chart: stacked bars of done and failed per minute (issue 13 part 3).

The bars are read back from what the chart draws (the plot's cells and their colours), not from
what the widget was given: a minute with done and failed tasks is one bar, done at the bottom in
the theme's success colour and failed above it in the error colour, each as tall as its count.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual_plotext import PlotextPlot

from console.fixture import FIXED_NOW
from console.widgets.cells import styles_for
from console.widgets.chart import TITLE, ThroughputChart, y_ticks
from engine.harmonydb import DB
from engine.snapshot import ChartSnap

Cell = tuple[str, tuple[int, int, int] | None]


def _grid(text: Text, width: int) -> list[list[Cell]]:
    """Each cell of a rendered plot: its character and its foreground colour."""
    console = Console(width=width, color_system="truecolor", legacy_windows=False)
    grid: list[list[Cell]] = []
    for line in text.split("\n"):
        row: list[Cell] = []
        for segment in line.render(console):
            color = segment.style.color if segment.style else None
            rgb = None
            if color is not None and not color.is_default:
                t = color.get_truecolor()
                rgb = (t.red, t.green, t.blue)
            row.extend((ch, rgb) for ch in segment.text)
        grid.append(row)
    return grid


def _rgb(style: Any) -> tuple[int, int, int]:
    t = style.color.get_truecolor()
    return (t.red, t.green, t.blue)


def _bars(grid: list[list[Cell]], done: Any, failed: Any) -> list[tuple[int, int]]:
    """(done cells, failed cells) of each bar, left to right: a bar is a run of columns with
    coloured blocks; measured in its middle column. Failed cells sit above every done cell."""
    width = max(len(r) for r in grid)

    def kind(row: list[Cell], x: int) -> str:
        if x >= len(row) or row[x][0] != "█":
            return ""
        return {done: "d", failed: "f"}.get(row[x][1], "?")

    columns = [[kind(row, x) for row in grid] for x in range(width)]
    coloured = [any(c in ("d", "f") for c in col) for col in columns]
    runs: list[list[int]] = []
    for x, on in enumerate(coloured):
        if on and runs and runs[-1][-1] == x - 1:
            runs[-1].append(x)
        elif on:
            runs.append([x])
    bars = []
    for run in runs:
        col = columns[run[len(run) // 2]]
        stack = [c for c in col if c]  # top to bottom
        assert "?" not in stack, col
        assert stack == sorted(stack, key=lambda c: c == "d"), f"failed above done: {stack}"
        bars.append((stack.count("d"), stack.count("f")))
    return bars


class ChartApp(App[None]):
    CSS = "ThroughputChart { height: 30; }"

    def compose(self) -> ComposeResult:
        yield ThroughputChart(id="chart")


def _snap(done: list[int], failed: list[int]) -> ChartSnap:
    minutes = tuple(FIXED_NOW - timedelta(minutes=59 - i) for i in range(60))
    return ChartSnap(minutes, tuple(done), tuple(failed))


async def test_each_minute_is_a_bar_of_done_below_failed_as_tall_as_its_counts() -> None:
    done, failed = [0] * 60, [0] * 60
    done[10], done[30], failed[30], done[45], failed[45], failed[52] = 2, 6, 3, 4, 4, 1
    app = ChartApp()
    async with app.run_test(size=(100, 32)) as pilot:
        chart = app.query_one(ThroughputChart)
        chart.show(_snap(done, failed))
        await pilot.pause()
        plot = chart.query_one(PlotextPlot)
        styles = styles_for(app)
        rendered = plot.render()
        assert isinstance(rendered, Text)
        grid = _grid(rendered, plot.size.width)
        bars = _bars(grid, _rgb(styles.ok), _rgb(styles.crit))
        assert chart.bars == tuple(zip(done, failed, strict=True))
        # One bar per busy minute, oldest left; heights in rows follow the counts (the axis
        # runs 0..10 over the plot's rows, so a count's cells are the count times rows/10).
        assert len(bars) == 4
        rows_per_unit = bars[1][0] / 6
        expected = [(2, 0), (6, 3), (4, 4), (0, 1)]
        for (d_cells, f_cells), (d, f) in zip(bars, expected, strict=True):
            assert abs(d_cells - d * rows_per_unit) <= 1.5, (bars, expected)
            assert abs(f_cells - f * rows_per_unit) <= 1.5, (bars, expected)
            assert (f_cells > 0) == (f > 0) and (d_cells > 0) == (d > 0)
        text = "\n".join("".join(ch for ch, _ in row) for row in grid)
        # The y axis runs from 0 to 10 (the tallest bar is 9) over the plot's rows.
        axis_rows = sum(("┤" in line or "│" in line) for line in text.splitlines())
        assert abs(rows_per_unit * 10 - axis_rows) <= 2, (rows_per_unit, axis_rows)
        assert "minutes before now" in text and "tasks/min" in text  # labelled axes
        assert "-60m" in text and "now" in text
        title = chart.query_one(".chart-title").render()
        assert str(title).startswith(TITLE) and "done" in str(title) and "failed" in str(title)


async def test_a_short_chart_keeps_its_rows_for_the_bars() -> None:
    """At 80x24 the chart has 9 rows: no axis-label row, the tick labels say the units."""

    class Short(ChartApp):
        CSS = "ThroughputChart { height: 9; }"

    app = Short()
    async with app.run_test(size=(80, 12)) as pilot:
        chart = app.query_one(ThroughputChart)
        chart.show(_snap([3] * 60, [1] * 60))
        await pilot.pause()
        rendered = chart.query_one(PlotextPlot).render()
        text = rendered.plain if isinstance(rendered, Text) else str(rendered)
        assert "minutes before now" not in text
        assert "-60m" in text
        lines = text.splitlines()
        assert len(lines) == 8 and sum("█" in line for line in lines) == 6


def test_y_ticks_are_whole_and_even_and_reach_the_top() -> None:
    assert y_ticks(1, 6) == [0, 1]
    assert y_ticks(60, 6) == [0, 30, 60]
    assert y_ticks(9, 16) == [0, 3, 6, 9]
    assert y_ticks(37, 30) == [0, 10, 20, 30, 40]
    for top in range(1, 500, 7):
        for rows in (4, 6, 12, 30):
            ticks = y_ticks(top, rows)
            steps = {b - a for a, b in pairwise(ticks)}
            assert ticks[0] == 0 and ticks[-1] >= top and len(steps) == 1
            assert len(ticks) <= max(3, rows // 4 + 1)


async def test_the_tasks_pane_draws_the_snapshots_minutes(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    """On the seeded cluster (2 to 12 attempts a minute, every 11th failed): the bars drawn
    are the snapshot's counts per minute, and some minutes have failures on top."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2")
        await pilot.pause()
        chart = app.query_one("#tasks-chart", ThroughputChart)
        snap = app.snapshot
        assert snap is not None
        expected = tuple(zip(snap.queues.chart.done, snap.queues.chart.failed, strict=True))
        assert len(expected) == 60 and any(f for _, f in expected)
        assert chart.bars == expected
        assert chart.region.height == 9  # as small as before at 80x24
        styles = styles_for(app)
        plot = chart.query_one(PlotextPlot)
        rendered = plot.render()
        assert isinstance(rendered, Text)
        cells = [c for row in _grid(rendered, plot.size.width) for c in row]
        assert any(c == ("█", _rgb(styles.crit)) for c in cells)
        assert any(c == ("█", _rgb(styles.ok)) for c in cells)


async def test_the_bars_take_the_new_themes_colours() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 32)) as pilot:
        app.theme = "textual-dark"
        chart = app.query_one(ThroughputChart)
        chart.show(_snap([3] * 60, [1] * 60))
        await pilot.pause()
        app.theme = "textual-light"
        await pilot.pause()
        styles = styles_for(app)
        plot = chart.query_one(PlotextPlot)
        rendered = plot.render()
        assert isinstance(rendered, Text)
        cells = {c for row in _grid(rendered, plot.size.width) for c in row if c[0] == "█"}
        assert cells == {("█", _rgb(styles.ok)), ("█", _rgb(styles.crit))}
