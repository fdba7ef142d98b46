"""The tasks pane's history chart: stacked bars of done and failed per minute (issue 13 part 3).

The bars are read back from what the chart draws (the plot's characters, eighths of a cell, and
their colours), not from what the widget was given: a minute with done and failed tasks is one
bar, done at the bottom in the theme's success colour and failed above it in the error colour,
each as tall as its count.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from console.fixture import FIXED_NOW
from console.widgets.cells import styles_for
from console.widgets.chart import (
    BLOCKS,
    TITLE,
    BarPlot,
    ThroughputChart,
    bar_lines,
    eighths,
    y_ticks,
)
from engine.harmonydb import DB
from engine.snapshot import ChartSnap

RGB = tuple[int, int, int]
Cell = tuple[str, RGB | None, RGB | None]


def _rgb_of(color: Any) -> RGB | None:
    if color is None or color.is_default:
        return None
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def _grid(lines: list[Text], width: int) -> list[list[Cell]]:
    """Each cell of the drawn plot: its character, foreground and background colours."""
    console = Console(width=width, color_system="truecolor", legacy_windows=False)
    grid: list[list[Cell]] = []
    for line in lines:
        row: list[Cell] = []
        for segment in line.render(console):
            style = segment.style
            fg = _rgb_of(style.color) if style else None
            bg = _rgb_of(style.bgcolor) if style else None
            row.extend((ch, fg, bg) for ch in segment.text)
        grid.append(row)
    return grid


def _rgb(style: Any) -> RGB:
    rgb = _rgb_of(style.color)
    assert rgb is not None
    return rgb


def _bars(grid: list[list[Cell]], done: RGB, failed: RGB) -> list[tuple[int, int]]:
    """(done, failed) eighths of a cell of each bar, left to right, read from the characters
    (``▁`` .. ``█``) and their colours; a bar is a run of columns with coloured cells, read in
    its middle column. No done part is above a failed one."""
    width = max(len(r) for r in grid)

    def parts(cell: Cell) -> tuple[int, int]:
        ch, fg, bg = cell
        if ch not in BLOCKS[1:]:
            return 0, 0
        filled = BLOCKS.index(ch)
        assert fg in (done, failed), cell
        if fg == failed:
            return 0, filled
        return filled, (8 - filled if bg == failed else 0)

    columns = [[parts(row[x]) if x < len(row) else (0, 0) for row in grid] for x in range(width)]
    runs: list[list[int]] = []
    for x, col in enumerate(columns):
        if any(d or f for d, f in col):
            if runs and runs[-1][-1] == x - 1:
                runs[-1].append(x)
            else:
                runs.append([x])
    bars = []
    for run in runs:
        col = [c for c in columns[run[len(run) // 2]] if c != (0, 0)]  # top to bottom
        seen_done = False
        for d, f in col:
            assert not (seen_done and f and not d), f"failed below done: {col}"
            seen_done = seen_done or d > 0
        bars.append((sum(d for d, _ in col), sum(f for _, f in col)))
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
        plot = chart.query_one(BarPlot)
        styles = styles_for(app)
        lines = plot.lines()
        assert len(lines) == plot.size.height == 29  # the chart's 30 rows less the title
        grid = _grid(lines, plot.size.width)
        bars = _bars(grid, _rgb(styles.ok), _rgb(styles.crit))
        assert chart.bars == tuple(zip(done, failed, strict=True))
        # One bar per busy minute, oldest left; heights follow the counts: the y axis runs
        # from 0 to 10 (the tallest bar is 9) over the 26 rows above the x axis, its tick
        # labels and the axes' names, 26 * 8 / 10 eighths of a cell a task.
        text = "\n".join(line.plain for line in lines)
        assert text.splitlines()[0].startswith("10┤") and "\n 0┤" in text
        unit = 26 * 8 / 10
        expected = [(2, 0), (6, 3), (4, 4), (0, 1)]
        assert len(bars) == len(expected), bars
        for (d_e, f_e), (d, f) in zip(bars, expected, strict=True):
            assert abs(d_e - d * unit) <= 1 and abs(f_e - f * unit) <= 4, (bars, expected)
            assert (f_e > 0) == (f > 0) and (d_e > 0) == (d > 0)
        # the busy minutes stand where the x axis puts them: -49, -29, -14 and -7 minutes
        plot_rows = grid[:26]
        columns = [x for x in range(len(grid[0])) if any(r[x][0] in BLOCKS[1:] for r in plot_rows)]
        axis = text.splitlines()[26]
        ticks = [x for x, ch in enumerate(axis) if ch == "┬"]
        assert len(ticks) == 4  # -45m, -30m, -15m, now
        starts = [c for i, c in enumerate(columns) if i == 0 or columns[i - 1] != c - 1]
        assert [sum(t < c for t in ticks) for c in starts] == [0, 2, 3, 3]
        assert "minutes before now" in text and "tasks/min" in text  # labelled axes
        assert "-60m" in text and "now" in text and "-15m" in text
        title = chart.query_one(".chart-title", Static).render()
        assert str(title).startswith(TITLE) and "done" in str(title) and "failed" in str(title)


def test_a_single_failure_on_a_tall_axis_still_shows() -> None:
    ok, crit = Style(color="#00ff00"), Style(color="#ff0000")
    done, failed = (500,) + (0,) * 59, (0,) * 59 + (1,)
    lines = bar_lines(done, failed, 78, 8, ok, crit)
    bars = _bars(_grid(lines, 78), (0, 255, 0), (255, 0, 0))
    assert bars[-1] == (0, 1) and bars[0][0] > 0
    assert eighths(1, 500, 6) == 1 and eighths(0, 500, 6) == 0


async def test_a_short_chart_keeps_its_rows_for_the_bars() -> None:
    """At 80x24 the chart has 9 rows: no axis-label row, the tick labels say the units."""

    class Short(ChartApp):
        CSS = "ThroughputChart { height: 9; }"

    app = Short()
    async with app.run_test(size=(80, 12)) as pilot:
        chart = app.query_one(ThroughputChart)
        chart.show(_snap([3] * 60, [1] * 60))
        await pilot.pause()
        lines = [line.plain for line in chart.query_one(BarPlot).lines()]
        assert len(lines) == 8 and not any("minutes before now" in line for line in lines)
        assert "-60m" in lines[-1] and "now" in lines[-1]
        assert sum(any(ch in BLOCKS[1:] for ch in line) for line in lines) == 6


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
        plot = chart.query_one(BarPlot)
        grid = _grid(plot.lines(), plot.size.width)
        bars = _bars(grid, _rgb(styles.ok), _rgb(styles.crit))
        assert any(f for _, f in bars) and all(d for d, _ in bars)


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
        plot = chart.query_one(BarPlot)
        rendered = plot.render()
        assert isinstance(rendered, Text)
        colours = {
            (fg, bg)
            for row in _grid(rendered.split("\n"), plot.size.width)
            for ch, fg, bg in row
            if ch in BLOCKS[1:]
        }
        ok, crit = _rgb(styles.ok), _rgb(styles.crit)
        assert colours and colours <= {(ok, None), (crit, None), (ok, crit)}
        assert (ok, None) in colours
