"""The Events pane (issue 13): one scrolling, filterable stream of what happened, newest first,
at 80x24 and 160x48; kinds picked with keys, text with ``/``, an error whole with ``enter``; new
events arrive on top without moving the operator's selection. And ``harmony events`` prints the
same list as the pane's read model on one cluster."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from console.panes import PANE_TITLES
from console.panes.events import EventsPane
from console.screenshots import fixture_app, settle
from console.widgets.keyed_table import KeyedTable
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader
from engine.snapshot.events import FAILURES
from support.cli import harmony
from support.curio_cli import run_harmony
from support.curio_read import select_only
from support.curio_schema import CurioCluster, curio_cluster
from support.probe import PATIENCE

FIXED_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
KEY = str(list(PANE_TITLES).index("events") + 1)

EVENTS = """
INSERT INTO cluster_events (id, at, kind, machine_id, machine, message) VALUES
    (9001, $1::timestamptz - interval '50 minutes', 'machine-joined', NULL, 'node-x',
     'node-x joined (version 0.1.0, 3 task types)'),
    (9002, $1::timestamptz - interval '20 minutes', 'machine-cordoned', NULL, 'node-x',
     'cordoned: no new tasks start there'),
    (9003, $1::timestamptz - interval '10 minutes', 'machine-dead', NULL, 'node-x',
     'no heartbeat since 11:49:00 UTC; declared dead by machine 1')
"""

FAILED_ATTEMPT = """
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result, err,
    completed_by_host_and_port, outcome, machine_id, attempt)
VALUES (9100, 777, 'PoRep', $1::timestamptz - interval '9 minutes',
        $1::timestamptz - interval '8 minutes', $1::timestamptz - interval '5 minutes', FALSE,
        E'boom: proof did not verify\\n  at line 2 of the traceback', 'node-x', 'failed', NULL, 3)
"""


async def seed_events(db: DB) -> None:
    await db.exec(EVENTS, FIXED_NOW)
    await db.exec(FAILED_ATTEMPT, FIXED_NOW)


async def until(pilot: Any, condition: Callable[[], bool], within: float = 10.0) -> None:
    """Pause until ``condition`` holds (a refresh has been read and drawn)."""
    deadline = asyncio.get_running_loop().time() + within * PATIENCE
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await pilot.pause(0.05)


def pane(app: Any) -> EventsPane:
    return app.query_one("#events", EventsPane)


def table(app: Any) -> KeyedTable:
    return app.query_one("#events-table", KeyedTable)


def rows(app: Any) -> dict[str, list[str]]:
    t = table(app)
    return {key: [c.plain for c in t.get_row(key)] for key in t.keys}


async def test_the_events_pane_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_events(cluster)
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press(KEY)
        text = await shows(app, pilot, "events:", "node-x")
        header = next(line for line in text.splitlines() if "Message" in line)
        for label in ("Time", "Age", "Kind", "Machine", "Subject", "Message"):
            assert label in header
        assert "in the last 24h" in text
        shown = rows(app)
        keys = list(shown)
        # newest first: the failed attempt 5 minutes ago above the machine's death at 10
        assert keys.index("h9100") < keys.index("e9003") < keys.index("e9002")
        assert keys.index("e9002") < keys.index("e9001")
        assert shown["h9100"][:5] == ["11:55:00", "5m", "task failed", "node-x", "PoRep 777"]
        assert shown["h9100"][5].startswith("boom: proof did not verify at line 2")  # one line
        assert shown["e9003"][2] == "dead" and shown["e9001"][2] == "joined"
        # each line fits 80 columns
        assert all(len(line) <= 80 for line in text.splitlines())

        await pilot.press("f")  # failures only
        await pilot.pause()
        failures = rows(app)
        assert "h9100" in failures and "e9003" in failures and "e9002" not in failures
        kinds = {e.key: e.kind for e in app.snapshot.events.events}
        assert all(kinds[k] in FAILURES for k in failures)
        assert "showing" in await shows(app, pilot, "failures;")

        await pilot.press("m")  # machines only
        await pilot.pause()
        assert set(rows(app)) >= {"e9001", "e9002", "e9003"} and "h9100" not in rows(app)

        await pilot.press("a", "slash", *"proof", "enter")  # text filter
        await pilot.pause()
        assert list(rows(app)) == ["h9100"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(rows(app)) > 1

        # enter shows the whole error, every line of it
        assert table(app).select_key("h9100")
        table(app).focus()
        await pilot.press("enter")
        text = await shows(app, pilot, "at line 2 of the traceback", "machine node-x")
        assert "2026-01-01 11:55:00 UTC (5m ago)" in text
        await pilot.press("enter")
        await pilot.pause()
        assert not app.query_one("#events-detail").display


async def test_new_events_arrive_on_top_and_the_selection_stays(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_events(cluster)
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press(KEY)
        await shows(app, pilot, "node-x")
        t = table(app)
        assert t.select_key("e9002")
        await pilot.pause()
        index = t.cursor_row
        assert rows(app)["e9002"][1] == "20m"
        app.clock.advance(60)  # ages move with the clock, between refreshes
        app._tick()
        await pilot.pause()
        assert rows(app)["e9002"][1] == "21m" and rows(app)["e9001"][1] == "51m"
        await cluster.exec(
            "INSERT INTO cluster_events (id, at, kind, machine, message) VALUES "
            "(9004, $1::timestamptz - interval '1 minute', 'machine-left', 'node-y', 'left'), "
            "(9005, $1::timestamptz - interval '30 seconds', 'machine-joined', 'node-z', 'in')",
            FIXED_NOW,
        )
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "e9005" in t.keys)
        keys = t.keys
        assert keys.index("e9005") < keys.index("e9004") < keys.index("e9002")  # newest first
        assert t.selected_key == "e9002" and t.cursor_row == index + 2  # same event selected
        assert rows(app)["e9002"][1] == "21m" and rows(app)["e9005"][1] == "1m30s"
        # on the newest row the cursor follows what comes in
        t.move_cursor(row=0)
        await pilot.pause()
        await cluster.exec(
            "INSERT INTO cluster_events (id, at, kind, machine, message) VALUES "
            "(9006, $1::timestamptz + interval '1 second', 'machine-drained', 'node-z', 'x')",
            FIXED_NOW,
        )
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "e9006" in t.keys)
        assert t.selected_key == "e9006" and t.cursor_row == 0


async def test_the_events_pane_at_160x48_shows_the_event_beside_the_list(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_events(cluster)
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        await pilot.press(KEY)
        await shows(app, pilot, "node-x")
        table(app).select_key("h9100")
        table(app).focus()
        text = await shows(app, pilot, "at line 2 of the traceback")
        detail = app.query_one("#events-detail")
        assert detail.display and detail.region.x > table(app).region.x  # beside, not below
        assert detail.region.y == table(app).region.y
        assert all(len(line) <= 160 for line in text.splitlines())


async def test_the_cli_prints_the_panes_events(db: DB) -> None:
    """``harmony events --json`` and the console's read model, on one cluster, list the same
    events in the same order."""
    now = datetime.now(UTC)
    await db.exec(EVENTS, now)
    await db.exec(FAILED_ATTEMPT, now)
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, included) "
        "VALUES (60, 1000, 10, $1, TRUE, FALSE)",
        now - timedelta(minutes=2),
    )
    snap = await SnapshotReader(db).snapshot(datetime.now(UTC), lists={"events"})
    out = await harmony(db, "events", "--json", "--limit", "500")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert [(e["kind"], e["machine"], e["subject"], e["message"]) for e in printed] == [
        (e.kind, e.machine or None, e.subject or None, e.message) for e in snap.events.events
    ]
    assert [datetime.fromisoformat(e["at"]) for e in printed] == [e.at for e in snap.events.events]
    assert len(printed) == 5
    # --kind and --since, as an operator types them
    out = await harmony(db, "events", "--kind", "failures", "--since", "7m")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["TIME", "KIND", "MACHINE", "SUBJECT", "MESSAGE"]
    assert [line.split()[2] for line in lines[1:]] == ["block-missed", "task-failed"]
    out = await harmony(db, "events", "--kind", "nonsense")
    assert out.returncode != 0 and "unknown kind 'nonsense'" in out.stderr


async def test_the_events_pane_on_a_curio_cluster(pg_url: str, shows: Any) -> None:
    """Curio mode: the events its tables record (the PoRep attempt that ran out of GPU memory,
    the restart request, the failed sector, the won block), and the header says what Curio
    keeps no record of."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as curio:
        app = fixture_app(curio.url, curio.schema)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press(KEY)
            text = await shows(app, pilot, "events:", "11 kinds Curio keeps no record of")
            assert "gpu out of memory" in text or "task failed" in text
            kinds = {e.kind for e in app.snapshot.events.events}
            assert {"task-failed", "machine-restart", "sector-failed", "block-won"} <= kinds
            assert len(app.snapshot.events.unsupported) == 11
            # machines by their names, as the machines pane shows them
            assert "post-1" in text and "10.0.0.13:1" not in text
            assert all(len(line) <= 80 for line in text.splitlines())


async def test_the_cli_on_a_curio_cluster(curio_db: CurioCluster) -> None:
    """``harmony events`` reads a Curio cluster's events as the pane does (as a role that may
    only SELECT), says which kinds Curio keeps no record of, and refuses to filter by one."""
    async with select_only(curio_db) as url:
        out = await run_harmony(url, curio_db.schema, "events", "--since", "2d")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("(Curio cluster: no record of machine-left, ")
        lines = out.stdout.splitlines()
        assert lines[1].split() == ["TIME", "KIND", "MACHINE", "SUBJECT", "MESSAGE"]
        kinds = [line.split()[2] for line in lines[2:]]
        assert {"task-failed", "machine-restart", "sector-failed", "block-won"} <= set(kinds)
        assert "error: computing snark: gpu out of memory" in out.stdout
        out = await run_harmony(url, curio_db.schema, "events", "--json", "--kind", "blocks")
        assert out.returncode == 0, out.stderr
        assert [e["kind"] for e in json.loads(out.stdout)] == ["block-won"]
        out = await run_harmony(url, curio_db.schema, "events", "--kind", "machine-drained")
        assert out.returncode != 0
        assert "a Curio cluster does not record machine-drained events" in out.stderr
