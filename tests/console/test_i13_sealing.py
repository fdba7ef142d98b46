"""The sealing pane (issue 13): a stage ready without a task says so, the sealing history
(``h``: finished sectors, newest first, each stage's time, ``/`` searches the database by
number, ``enter`` opens the sector's timeline), and the wide layout (pipeline | problems side by
side from 160 columns), with Pilot on the fixture cluster at 80x24 and 160x48.

The fixture: t01000 has sectors 1-60 finished (no attempts linked) and one sector per stage;
t01001's sector 2000 waits for its SDR task, which the poller has not added yet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.widgets import ContentSwitcher

from console.fixture import FIXED_NOW
from console.panes.pipeline import PipelinePane
from console.screens.sector import SectorScreen
from console.widgets.keyed_table import KeyedTable
from engine.harmonydb import DB

#: sector 7's attempts: (task, start before FIXED_NOW in s, took s, result)
ATTEMPTS = (
    ("SDR", 20000, 4000, True),
    ("TreeD", 15900, 300, True),
    ("TreeRC", 15500, 1200, False),
    ("TreeRC", 14000, 1200, True),
    ("PreCommitBatch", 12700, 20, True),
    ("PoRep", 9000, 600, True),
    ("CommitBatch", 8300, 30, True),
    ("Finalize", 8200, 40, True),
    ("MoveStorage", 8100, 100, True),  # ends 8000 s (2h13m) before FIXED_NOW
)


async def link_attempts(db: DB, sector: int) -> None:
    ids = []
    for i, (name, before, took, result) in enumerate(ATTEMPTS):
        began = FIXED_NOW - timedelta(seconds=before)
        (row,) = await db.select(
            "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port) VALUES ($1, $1, $2, $3, $3, $4, $5, "
            "'seal-1:12300') RETURNING id",
            900000 + i,
            name,
            began,
            began + timedelta(seconds=took),
            result,
        )
        ids.append(row["id"])
    # these attempts stand in for the fixture's own ones of that sector
    await db.exec(
        "INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids) "
        "VALUES (1000, $1, $2) ON CONFLICT (sp_id, sector_number) "
        "DO UPDATE SET task_history_ids = EXCLUDED.task_history_ids",
        sector,
        ids,
    )


def pane(app: Any) -> PipelinePane:
    return app.query_one(PipelinePane)


async def test_ready_without_a_task_is_shown_apart_from_queued(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("3")
        screen = await shows(app, pilot, "i in flight", "h history", "+ no task")
        assert "~ queued" in screen
        strip = next(s for s in app.snapshot.pipeline.sectors if s.sector_number == 2000)
        assert strip.cells[0].status == "ready"  # SDR: no task added yet
        table = app.query_one("#pipeline-sectors", KeyedTable)
        assert table.get_row("1001:2000")[4].plain.startswith("+")
        # its detail says it in words
        table.focus()
        table.select_key("1001:2000")
        await pilot.press("enter")
        await shows(app, pilot, "ready, no task yet")
        assert isinstance(app.screen, SectorScreen)


async def test_sealing_history_lists_searches_and_opens_a_timeline(
    cluster: DB, console_app: Any, first_render: Any, shows: Any, screen_text: Any
) -> None:
    await link_attempts(cluster, 7)
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("3", "h")
        await shows(app, pilot, "sealing history: newest 60 finished  / finds any")
        lists = app.feed._lists  # read while shown, the strips not
        assert "sealing_history" in lists and "sectors" not in lists
        history = app.query_one("#pipeline-history", KeyedTable)
        assert history.keys[:3] == ["1000:60", "1000:59", "1000:58"]  # newest first
        # the search goes to the database: found among every finished sector
        await pilot.press("slash", "7", "enter")
        await shows(app, pilot, "sector 7: 1 finished")
        assert history.keys == ["1000:7"]
        row = [c.plain.strip() for c in history.get_row("1000:7")]
        # Sector Ended SDR TreeD TreeRC PreC Seed PoRep Commit Total
        # created 2025-12-31 01:10 (the fixture), the PoRep began 1h01m after the PreCommit
        assert row[:10] == ["7", "2h13m", "1h06m", "5m", "20m", "20s", "1h01m", "10m",
                            "30s", "1d08h"]  # fmt: skip
        assert screen_text(app).count("2h13m") == 1
        history.focus()
        await pilot.press("enter")
        timeline = await shows(app, pilot, "state Finished", "TreeRC", "2 (1 failed)")
        assert "Wait seed" in timeline and "total 1d08h" in timeline
        await pilot.press("escape")
        # back to the sectors in flight: the history is no longer read
        await pilot.press("i")
        await pilot.pause()
        assert "sectors" in app.feed._lists and "sealing_history" not in app.feed._lists
        switcher = app.query_one("#pipeline-switcher", ContentSwitcher)
        assert switcher.current == "pipeline-flight"


async def test_a_search_that_is_no_number_says_so(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("3", "h", "slash", "x", "enter")
        await shows(app, pilot, "'x' is not a sector number")


async def test_wide_puts_the_pipeline_and_its_problems_side_by_side(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    for size, beside in (((160, 48), True), ((80, 24), False)):
        app = console_app(cluster.url.dsn, cluster.schema)
        async with app.run_test(size=size) as pilot:
            await first_render(app, pilot)
            await pilot.press("3")
            await shows(app, pilot, "failed or stuck, oldest first")
            sectors = app.query_one("#pipeline-sectors", KeyedTable).region
            problems = app.query_one("#pipeline-problems", KeyedTable).region
            if beside:
                assert problems.x >= sectors.right and problems.y < sectors.bottom
                # each takes the height the summary leaves it: far more than stacked
                assert problems.height > 30 and sectors.height > 20
            else:
                assert problems.y >= sectors.bottom and problems.x == sectors.x
                assert sectors.height >= 3 and problems.height >= 3
