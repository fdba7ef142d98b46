"""A layout that uses the terminal (issue 13 part 3): from 160 columns related views stand side by
side (queues | chart, PoSt overview | deadlines), the chart grows with the height, and 80x24
stays complete (every pane's key columns on screen, nothing cut)."""

from __future__ import annotations

import re
from typing import Any

from textual.geometry import Region
from textual.widget import Widget

from console.app import HarmonyConsole
from console.fixture import FIXED_NOW
from console.screenshots import fixture_app, settle
from console.widgets.chart import ThroughputChart
from console.widgets.jobs_table import JobsTable
from engine.harmonydb import DB
from support.curio_schema import CurioCluster, curio_cluster


def _region(app: HarmonyConsole, selector: str) -> Region:
    widget = app.query_one(selector, Widget)
    assert widget.display and widget.region.area, f"{selector} is not on screen"
    return widget.region


def side_by_side(left: Region, right: Region) -> bool:
    """``right`` starts where ``left`` ends or later, on rows that overlap."""
    rows_overlap = left.y < right.bottom and right.y < left.bottom
    return right.x >= left.right and rows_overlap


def stacked(top: Region, below: Region) -> bool:
    return below.y >= top.bottom


async def test_at_160_columns_related_views_stand_side_by_side(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        assert app.screen.has_class("-wide")
        await pilot.press("2")
        text = await shows(app, pilot, "tasks done and failed per minute", "Fail 24h", "Mean")
        table, chart = _region(app, "#types-table"), _region(app, "#tasks-chart")
        assert side_by_side(table, chart), (table, chart)
        assert chart.height >= 30 and chart.width >= 70  # the pane's height, the rest of the width
        assert "minutes before now" in text  # room for the axis labels
        await pilot.press("5")
        text = await shows(app, pilot, "FaultCutoff", "Proven")
        overview, deadlines = _region(app, "#post-overview"), _region(app, "#post-deadlines")
        assert side_by_side(overview, deadlines), (overview, deadlines)
        assert deadlines.height >= 40  # the deadlines' table keeps the pane's full height
        countdowns = _region(app, "#post-countdowns")
        assert countdowns.right <= deadlines.x
        assert "(current)" in text
        # Back to 80 columns: the same panes stack again.
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.screen.has_class("-wide")
        assert stacked(_region(app, "#post-countdowns"), _region(app, "#post-deadlines"))


async def test_at_80x24_every_pane_is_complete_and_stacked(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        assert not app.screen.has_class("-wide")
        await shows(app, pilot, "Machine", "State", "CPU", "RAM", "GPU", "Run", "Contact")
        await pilot.press("2")
        text = await shows(
            app, pilot, "Pending", "Failed", "Oldest", "Done 24h", "Fail 24h", "Mean", "-60m"
        )
        assert "tasks done and failed per minute" in text
        table, chart = _region(app, "#types-table"), _region(app, "#tasks-chart")
        assert stacked(table, chart) and chart.height == 9 and chart.width >= 78
        await pilot.press("4")
        await shows(app, pilot, "Path", "Usage", "Used/Capacity", "Health", "Harmony")
        await pilot.press("5")
        text = await shows(app, pilot, "Challenge", "FaultCutoff", "Partitions", "Proven")
        # The deadlines' table fits: its last column ("(current)") is not cut at 80 columns,
        # and the miner's line keeps its countdown to the next period.
        assert "(current)" in text
        assert re.search(r"next in \d+[smhd]", text), text
        assert stacked(_region(app, "#post-countdowns"), _region(app, "#post-deadlines"))


async def test_at_120x40_the_chart_is_taller_and_below_the_queues(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2")
        await shows(app, pilot, "tasks done and failed per minute")
        table, chart = _region(app, "#types-table"), _region(app, "#tasks-chart")
        assert stacked(table, chart)
        assert chart.height >= 15 and table.height >= 12  # the height shared, not left blank


def _job_rows(app: HarmonyConsole) -> dict[str, list[str]]:
    table = app.query_one("#machines-jobs-table", JobsTable)
    return {key: [c.plain for c in table.get_row(key)] for key in table.keys}


async def test_at_160_columns_the_jobs_stand_beside_the_machines(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """The seeded cluster runs six tasks: beside the machines, each with its target (read only
    while the jobs are on screen), elapsed time ticking; enter on one shows its attempts. At 80
    columns the jobs go, and the machines pane no longer asks for their targets."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        await shows(app, pilot, "6 jobs running", "t01000:1000")
        machines, jobs = _region(app, "#machines-table"), _region(app, "#machines-jobs-table")
        assert side_by_side(machines, jobs), (machines, jobs)
        assert "jobs" in app._pane_lists
        rows = _job_rows(app)
        assert len(rows) == len(app.snapshot.running) == 6
        assert rows["101"][:6] == ["101", "SDR", "t01000:1000", "node-a", "40m", "running"]
        app.clock.advance(65)
        app._tick()
        await pilot.pause()
        assert _job_rows(app)["101"][4] == "41m"
        table = app.query_one("#machines-jobs-table", JobsTable)
        table.focus()
        assert table.select_key("104")
        await pilot.press("enter")
        await shows(app, pilot, "filter '104'", "preempted")
        assert app.active_pane == "tasks"
        await pilot.press("escape", "1")
        await pilot.resize_terminal(80, 24)
        await shows(app, pilot, "Contact")
        assert not app.query_one("#machines-jobs", Widget).display
        assert "jobs" not in app._pane_lists
        assert app.query_one("#machines-table", Widget).region.width == 80


async def test_a_storage_paths_detail_is_a_box_its_size_when_wide(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        await pilot.press("4")
        await shows(app, pilot, "Used/Capacity")
        await pilot.press("enter")
        await shows(app, pilot, "Storage path", "esc closes")
        box = app.screen.query_one(".dialog.detail", Widget).region
        assert box.height < 24 and box.width == 120  # not 90% of a 160x48 screen, blank


async def test_the_wide_layout_in_curio_mode(pg_url: str, shows: Any) -> None:
    """On a Curio cluster: machines | jobs (Curio's sectors and machines), queues | chart
    (the bars are Curio's minutes), PoSt overview | deadlines."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as cluster:
        assert isinstance(cluster, CurioCluster) and cluster.seed is not None
        app = fixture_app(cluster.url, cluster.schema)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            await shows(app, pilot, "3 jobs running", "f01000:1")
            machines, jobs = _region(app, "#machines-table"), _region(app, "#machines-jobs-table")
            assert side_by_side(machines, jobs)
            sdr = str(cluster.seed.running[0])
            assert _job_rows(app)[sdr][1:4] == ["SDR", "f01000:1", "seal-1"]
            await pilot.press("2")
            await shows(app, pilot, "tasks done and failed per minute")
            assert side_by_side(_region(app, "#types-table"), _region(app, "#tasks-chart"))
            chart = app.query_one("#tasks-chart", ThroughputChart)
            snap = app.snapshot
            assert snap is not None and snap.cluster == "curio"
            drawn = tuple(zip(snap.queues.chart.done, snap.queues.chart.failed, strict=True))
            assert chart.bars == drawn and any(d + f for d, f in drawn)
            await pilot.press("5")
            await shows(app, pilot, "Sectors (faults)")
            assert side_by_side(_region(app, "#post-overview"), _region(app, "#post-deadlines"))
