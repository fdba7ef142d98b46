"""Issue 16's links, pressed with Pilot on real databases: every alert leads somewhere (the
Storage pane for store space, the PoSt pane for a stalled chain or a stuck message, a failed
check's own alerts, a deadline over its unreadable sectors, a Curio task's attempts though
Curio deleted the task), and every row about one sector leads to its drill-down (the
provability check's sectors, the Events pane's sector events, the jobs pane's ``s``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.panes.alerts import AlertsPane
from console.panes.events import EventsPane
from console.panes.tasks import TasksPane
from console.screens.proving_check import ProvingCheckScreen
from console.screens.sector import SectorScreen
from console.screenshots import fixture_app
from engine.alerts import Finding, Severity
from engine.alerts.store import record
from engine.harmonydb import DB
from support.curio_schema import CurioCluster
from support.probe import wait_until
from support.proving_check import check_cluster, check_from_post_pane, flip_bytes

FINDINGS = [
    Finding(
        "storage-space",
        "store paths",
        Severity.WARNING,
        "not enough long-term storage for the sectors being sealed. Attach a store path.",
        {},
    ),
    Finding(
        "chain-stalled",
        "devnet chain",
        Severity.CRITICAL,
        "the devnet chain has not advanced for 10m (head epoch 1234).",
        {"epoch": 1234},
    ),
    Finding(
        "alert-check",
        "sectors-faulty",
        Severity.WARNING,
        "the alert check sectors-faulty failed (TimeoutError); its alerts are kept as they were.",
        {"check": "sectors-faulty"},
    ),
    Finding(
        "sectors-faulty",
        "t01000",
        Severity.WARNING,
        "t01000 has 1 faulty sector(s) (5).",
        {"miner": 1000, "sectors": [5]},
    ),
    Finding(
        "partition-unreadable",
        "t01000 dl6 p0",
        Severity.WARNING,
        "t01000 deadline 6 partition 0: the last WindowPoSt skipped 2 sector(s) (5, 7).",
        {"miner": 1000, "deadline": 6, "partition": 0, "sectors": [5, 7]},
    ),
    # as Curio's check words it: the pending messages' CIDs, no miner
    Finding(
        "message-stuck",
        "message_waits",
        Severity.WARNING,
        "1 message(s) pending execution for more than 1h: bafy2bzacestuck",
        {},
    ),
]


async def _alerts(app: Any, pilot: Any, count: int) -> AlertsPane:
    await pilot.press("9")
    pane = app.pane("alerts")
    assert isinstance(pane, AlertsPane)
    await wait_until(lambda: len(pane.table.keys) == count, 10, "the alerts listed")
    await pilot.pause()
    return pane


async def _enter_on(app: Any, pilot: Any, pane: AlertsPane, key: str) -> None:
    """Back to the inbox, unfiltered, then ``enter`` on the alert ``key``."""
    await pilot.press("9")
    await wait_until(lambda: app.active_pane == "alerts", 5, "the alerts pane")
    pane.filter_text = ""
    await pilot.pause()
    assert pane.table.select_key(key), key
    pane.table.focus()
    await pilot.press("enter")


async def test_alerts_without_a_thing_lead_to_their_pane(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await cluster.exec("DELETE FROM harmony_alerts")
    await record(cluster, FINDINGS, sorted({f.check for f in FINDINGS}))
    ids = {
        r["check_name"]: str(r["id"])
        for r in await cluster.select("SELECT id, check_name FROM harmony_alerts")
    }
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        pane = await _alerts(app, pilot, len(FINDINGS))

        pane.table.select_key(ids["storage-space"])
        await shows(app, pilot, "enter: the Storage pane")
        await _enter_on(app, pilot, pane, ids["storage-space"])
        await wait_until(lambda: app.active_pane == "storage", 5, "the Storage pane")
        await shows(app, pilot, "Used/Capacity")

        for check in ("chain-stalled", "message-stuck"):
            await _enter_on(app, pilot, pane, ids[check])
            await wait_until(lambda: app.active_pane == "post", 5, f"{check}: the PoSt pane")
            await shows(app, pilot, "epoch")  # the chain's head, in the pane's header

        # a deadline wins over its sectors: the PoSt pane, the deadline selected
        await _enter_on(app, pilot, pane, ids["partition-unreadable"])
        await wait_until(lambda: app.active_pane == "post", 5, "the PoSt pane")
        await pilot.pause()
        assert app.pane("post").filter_table.selected_key == "1000:6"
        assert len(app.screen_stack) == 1  # no sector's drill-down

        # a failed check: its own alerts (kept as they were), here
        await _enter_on(app, pilot, pane, ids["alert-check"])
        await pilot.pause()
        assert app.active_pane == "alerts" and pane.filter_text == "sectors-faulty"
        assert set(pane.table.keys) == {ids["alert-check"], ids["sectors-faulty"]}
        assert pane.table.selected_key == ids["sectors-faulty"]
        await shows(app, pilot, "filter 'sectors-faulty': 2 of 6")


async def test_a_curio_task_failed_alert_shows_the_gone_task_s_attempts(
    curio_db: CurioCluster, monkeypatch: pytest.MonkeyPatch, first_render: Any, shows: Any
) -> None:
    """Curio deletes a task that failed for good: the alert's link is its attempts in the
    task history (filtered by its id), which Curio keeps. The seed is as old as the server's
    clock says: Curio's checks count failures in the 30 minutes before the database's now()."""
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)
    app = fixture_app(curio_db.url, curio_db.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        await pilot.press("9")
        pane = app.pane("alerts")
        assert isinstance(pane, AlertsPane)
        key = "task-failed|PoRep"
        await wait_until(lambda: key in pane.table.keys, 10, "the PoRep task-failed alert")
        alert = next(a for a in app.snapshot.alerts.alerts if a.check == "task-failed")
        task_id = int(alert.links["task_ids"][0])
        assert task_id == 1007  # the seed's failed PoRep attempt; its task row is gone
        pane.table.select_key(key)
        await shows(app, pilot, f"enter: task {task_id}'s attempts in the task history")
        pane.table.focus()
        await pilot.press("enter")
        await wait_until(lambda: app.active_pane == "tasks", 5, "the tasks pane")
        tasks = app.pane("tasks")
        assert isinstance(tasks, TasksPane) and tasks.view == "history"

        def attempts() -> list[Any]:
            q = app.snapshot.queues
            return list(q.history) if q.history_filter == str(task_id) else []

        await wait_until(lambda: attempts(), 10, "the task's attempts read")
        assert {h.task_id for h in attempts()} == {task_id}
        await shows(app, pilot, "error: computing snark")


async def test_enter_on_a_checked_sector_opens_its_drill_down(
    db: DB, tmp_path: Path, console_app: Any, first_render: Any, shows: Any
) -> None:
    """The provability check's bad sector (selected when the check ends): ``enter`` opens its
    drill-down above the check, ``esc`` comes back to the check's results."""
    checked = await check_cluster(db, tmp_path)
    flip_bytes(checked.sealed(1))
    await db.exec(
        "INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed, "
        "wpost_proving_period, wpost_challenge_window, wpost_period_deadlines, "
        "wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay, "
        "message_delay_epochs, chain_finality) VALUES (1, 'mainnet', "
        "'2025-12-01 00:00:00+00', 30, '\\x00', 2880, 60, 48, 20, 70, 150, 1, 900)"
    )
    app = console_app(db.url.dsn, db.schema, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        check = await check_from_post_pane(app, pilot)
        assert isinstance(check, ProvingCheckScreen)
        await shows(app, pilot, "the sector's drill-down; esc closes")
        await pilot.press("enter")  # on the bad sector, selected
        await wait_until(lambda: isinstance(app.screen, SectorScreen), 5, "the drill-down")
        assert (app.screen.sp_id, app.screen.sector) == (1000, 1)
        await shows(app, pilot, "Sector t01000 1 ")
        await pilot.press("escape")
        await wait_until(lambda: app.screen is check, 5, "back to the check")
        assert [c.ok for c in check.results] == [True, False, True]


async def test_enter_on_a_sector_event_opens_its_drill_down(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """A sector's event (t01000 1010 failed its PreCommit check): ``enter`` opens its
    drill-down; another event's ``enter`` still shows it whole, and ``d`` shows any whole."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("8")
        pane = app.pane("events")
        assert isinstance(pane, EventsPane)
        await wait_until(lambda: "s1000:1010" in pane.table.keys, 10, "the sector's event")
        pane.table.select_key("s1000:1010")
        pane.table.focus()
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, SectorScreen), 5, "the drill-down")
        assert (app.screen.sp_id, app.screen.sector) == (1000, 1010)
        await shows(app, pilot, "Sector t01000 1010", "P PComm Msg    failed")
        await pilot.press("escape")
        await wait_until(lambda: len(app.screen_stack) == 1, 5, "the drill-down closed")
        assert not pane.details_open
        await pilot.press("d")  # the sector's event whole
        await pilot.pause()
        assert pane.details_open
        await pilot.press("d")
        machine_event = next(k for k in pane.table.keys if k.startswith("e"))
        pane.table.select_key(machine_event)
        await pilot.press("enter")  # not about a sector: shown whole, no screen
        await pilot.pause()
        assert pane.details_open and len(app.screen_stack) == 1


async def test_s_on_a_sealing_job_opens_its_sector_s_drill_down(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("6")
        jobs = app.pane("jobs")
        await wait_until(lambda: "101" in jobs.table.keys, 10, "the SDR job of sector 1000")
        jobs.table.select_key("101")
        jobs.table.focus()
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, SectorScreen), 5, "the drill-down")
        assert (app.screen.sp_id, app.screen.sector) == (1000, 1000)
