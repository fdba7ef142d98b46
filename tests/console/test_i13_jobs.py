"""The jobs pane (key 6): what runs where now, like lotus-miner ``sealing jobs``.

On the seeded fixture cluster (clock held at FIXED_NOW): six running tasks, each with its
target where the pipeline or the PoSt tables name one, its machine, its elapsed time (ticking
with the clock), its attempt and its state (node-c drains: its jobs are ``stopping``).
"""

from __future__ import annotations

from typing import Any

from console.panes.jobs import JobsPane
from console.panes.tasks import TasksPane
from console.screens.task import TaskScreen
from console.screenshots import fixture_app, settle
from console.widgets.jobs_table import JobsTable, job_cells
from console.widgets.keyed_table import same_cell
from engine.harmonydb import DB
from support.curio_schema import CurioCluster, curio_cluster


def _rows(app: Any) -> dict[str, list[str]]:
    table = app.query_one("#jobs-table", JobsTable)
    return {key: [c.plain for c in table.get_row(key)] for key in table.keys}


async def test_jobs_show_target_machine_elapsed_and_state_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        text = await shows(app, pilot, "6 jobs", "t01000:1000")
        assert "4 running, 2 stopping" in text and "on 3 machines" in text
        # every column an operator reads first fits 80 columns
        header = next(line for line in text.splitlines() if "Task ID" in line)
        for label in ("Type", "Target", "Machine", "Elapsed", "State", "Try"):
            assert label in header
        rows = _rows(app)
        # SDR on node-a for 40 minutes, on sector 1000 of t01000; TreeRC and PoRep name theirs
        assert rows["101"][:7] == ["101", "SDR", "t01000:1000", "node-a", "40m", "running", "1"]
        assert rows["102"][2] == "t01000:1002" and rows["103"][2] == "t01000:1006"
        # node-c drains: its tasks are stopping; a task with no target says so
        assert rows["105"][3:6] == ["node-c", "1h15m", "stopping"]
        assert rows["104"][2] == "-" and rows["104"][5] == "running"
        # the header, the machines pane and the jobs agree in the same frame
        assert len(app.snapshot.running) == len(rows) == 6
        # elapsed ticks with the clock, between refreshes
        app.clock.advance(65)
        app._tick()
        await pilot.pause()
        assert _rows(app)["101"][4] == "41m"


async def test_hidden_panes_are_filled_before_they_are_first_shown(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Once the console has settled, the panes not on screen already hold the first snapshot's
    rows (their first fill is not the step of the key that shows them); shown, the pane is
    rendered again for its width."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        assert app.active_pane == "machines"
        assert len(_rows(app)) == 6  # the jobs pane was never shown
        assert app.query_one("#events-table").row_count > 0
        await pilot.press("6")
        text = await shows(app, pilot, "6 jobs", "t01000:1000")
        assert "4 running, 2 stopping" in text and "on 3 machines" in text


async def test_jobs_at_160x48_show_the_host(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        text = await shows(app, pilot, "6 jobs", "node-a:worker")
        line = next(line for line in text.splitlines() if " 101 " in line)
        assert "node-a:worker" in line and "t01000:1000" in line


async def test_a_refresh_builds_only_the_jobs_that_changed(
    cluster: DB, console_app: Any, first_render: Any, shows: Any, refreshed: Any
) -> None:
    """Rows are kept while they read the same (2,000 jobs are not built again at each
    refresh); the elapsed cells are redrawn apart, and the table reads as a fresh build."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        await shows(app, pilot, "6 jobs")
        table = app.query_one("#jobs-table", JobsTable)
        await refreshed(app, pilot)
        assert table._rows.built == 0 and table._elapsed.built == 0
        # node-a drains: its jobs turn "stopping", no other row is built again
        on_a = [str(j.id) for j in table.jobs if j.task.owner_id == 1]
        await cluster.exec(
            "UPDATE harmony_machines SET unschedulable = true,"
            " drain_requested_at = '2026-01-01 11:59:00+00' WHERE id = 1"
        )
        await refreshed(app, pilot)
        assert table._rows.built == len(on_a) < len(table.jobs)
        assert table._elapsed.built == 0
        assert {_rows(app)[key][5] for key in on_a} == {"stopping"}
        assert _rows(app)["101"][3:6] == ["node-a", "40m", "stopping"]
        # the clock moves on (machines not yet stale): elapsed times move (the tick or the
        # refresh redraws them), no row is built again
        before = _rows(app)
        app.clock.advance(5)
        await refreshed(app, pilot)
        assert [key for key, row in _rows(app).items() if row[4] != before[key][4]]
        assert table._rows.built == 0
        styles = app.query_one(JobsPane).palette
        snap = app.snapshot
        for job in table.jobs:
            fresh = job_cells(job, snap, app.clock.now(), styles)
            drawn = table.get_row(str(job.id))
            assert all(same_cell(a, b) for a, b in zip(drawn, fresh, strict=True)), job.id


async def test_a_job_whose_machine_is_lost_says_owner_lost(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    # node-e (stale: 90 s without a heartbeat) takes a task
    await cluster.exec(
        "UPDATE harmony_task SET owner_id = 5, claimed_at = '2026-01-01 11:59:00+00' WHERE id = 204"
    )
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        await shows(app, pilot, "7 jobs", "1 owner lost")
        assert _rows(app)["204"][3:6] == ["node-e", "1m", "owner lost"]


async def test_enter_on_a_job_shows_its_detail_and_h_its_attempts(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        await shows(app, pilot, "6 jobs")
        table = app.query_one("#jobs-table", JobsTable)
        assert table.select_key("101")
        await pilot.press("enter")
        text = await shows(app, pilot, "Task 101", "t01000:1000")
        assert isinstance(app.screen, TaskScreen)
        assert "node-a (node-a:worker, active)" in text and "40m" in text
        # live: the clock moves on, the running time with it
        app.clock.advance(60)
        app._tick()
        await shows(app, pilot, "41m")
        await pilot.press("escape")
        await pilot.pause()
        assert table.select_key("104")
        await pilot.press("enter")
        await shows(app, pilot, "Task 104")
        await pilot.press("h")
        # burn 104 was preempted once on node-b: its history row is found by the task's id
        text = await shows(app, pilot, "filter '104'", "preempted")
        tasks = app.pane("tasks")
        assert isinstance(tasks, TasksPane) and tasks.view == "history"
        assert app.active_pane == "tasks" and tasks.filter_text == "104"
        history = tasks.table("history")
        assert [history.get_row(k)[2].plain for k in history.keys] == ["104"]
        assert not isinstance(app.screen, TaskScreen)


async def test_jobs_in_curio_mode_name_curios_sectors_and_machines(pg_url: str, shows: Any) -> None:
    from console.fixture import FIXED_NOW

    async with curio_cluster(pg_url, at=FIXED_NOW) as cluster:
        assert isinstance(cluster, CurioCluster) and cluster.seed is not None
        app = fixture_app(cluster.url, cluster.schema)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("6")
            await shows(app, pilot, "3 jobs", "f01000:1")
            sdr, porep, wdpost = (str(i) for i in cluster.seed.running)
            rows = _rows(app)
            assert rows[sdr][1:4] == ["SDR", "f01000:1", "seal-1"]
            assert rows[porep][1:4] == ["PoRep", "f01000:3", "gpu-1"]
            assert rows[porep][6] == "2"  # its second try
            assert rows[wdpost][2].startswith("f01000 dl ")
            assert isinstance(app.pane("jobs"), JobsPane)
            assert app.snapshot is not None and not app.snapshot.errors
