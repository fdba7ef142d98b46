"""The Alerts pane (issue 16) on the seeded cluster with four recorded alerts: the inbox, the
header's badge on every pane at 80x24, ``a`` and ``m`` through their dialogs with the database
state asserted afterwards, ``enter`` to what an alert is about, the refusal under --read-only,
and ``harmony alerts list`` (and ``--count``) equal to what the console reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from console.cli import build_parser
from console.fixture import FIXED_NOW
from console.panes.alerts import AlertsPane
from console.screens.alert_change import AckScreen, MuteScreen
from console.screens.machine import MachineScreen
from console.screens.proving_check import ProvingCheckScreen
from console.screens.sector import SectorScreen
from console.screens.storage_path import StoragePathScreen
from console.screenshots import fixture_app
from console.widgets.status_line import StatusLine
from engine.alerts import Finding, Severity, evaluate_live
from engine.alerts.store import record
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader
from support.curio_schema import CurioCluster, curio_cluster
from support.probe import wait_until
from support.proving_check import check_cluster, check_from_post_pane, flip_bytes

OLD_PATH = "0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04"

FINDINGS = [
    Finding(
        "wdpost-missed",
        "t01000 dl6 p0",
        Severity.CRITICAL,
        "deadline 6 of t01000 closed without a landed proof. Check the PoSt machines.",
        {"miner": 1000, "deadline": 6, "partition": 0},
    ),
    Finding(
        "storage-path",
        f"{OLD_PATH} on node-e",
        Severity.WARNING,
        "the disk check of /mnt/old on node-e failed. Look at the disk.",
        {"path": OLD_PATH, "host": "node-e"},
    ),
    Finding(
        "sector-files",
        "t01000",
        Severity.WARNING,
        "2 live sectors of t01000 have no sealed file (5, 7). Restore them.",
        {"miner": 1000, "sectors": [5, 7]},
    ),
    Finding(
        "task-failure-rate",
        "machine node-a:worker",
        Severity.INFO,
        "6 failed task attempts on node-a:worker in the last 30m. Look at the machine.",
        {"machine": "node-a:worker"},
    ),
]
CHECKS = [f.check for f in FINDINGS]


@pytest.fixture
async def curio_now(pg_url: str) -> AsyncIterator[CurioCluster]:
    """A Curio schema seeded as of the console's frozen clock (as test_curio_console's)."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as cluster:
        yield cluster


async def _seed(db: DB) -> dict[str, int]:
    # The fixture's own alerts (its screenshot's) give way to these, recorded through the store.
    await db.exec("DELETE FROM harmony_alerts")
    await record(db, FINDINGS, CHECKS)
    rows = await db.select("SELECT id, check_name FROM harmony_alerts")
    return {r["check_name"]: r["id"] for r in rows}


def _badge(app: Any) -> str:
    return app.query_one(StatusLine).render().plain


async def _show_alerts(app: Any, pilot: Any) -> AlertsPane:
    await pilot.press("9")
    pane = app.pane("alerts")
    assert isinstance(pane, AlertsPane)
    await wait_until(lambda: len(pane.table.keys) == 4, 10, "the alerts listed")
    await pilot.pause()
    return pane


async def test_the_inbox_acks_and_mutes_through_dialogs_and_the_badge_follows(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    ids = await _seed(cluster)
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        lines = screen_text(app).splitlines()
        assert lines[1].rstrip().endswith("8 Events 9 Alerts")  # nine tabs fit 80 columns
        # the badge: open alerts neither acked nor muted, by the worst; left of the line, so
        # it stays at 80 columns on every pane (the status line is one widget above them)
        badge = " Harmony  fixture  4 alerts: critical "
        assert lines[0].startswith(badge)
        await pilot.press("5")
        await wait_until(lambda: app.active_pane == "post", 5, "the PoSt pane")
        assert screen_text(app).splitlines()[0].startswith(badge)
        pane = await _show_alerts(app, pilot)
        # most severe and oldest first, as `harmony alerts list`
        assert pane.table.keys == [
            str(ids[c])
            for c in ("wdpost-missed", "storage-path", "sector-files", "task-failure-rate")
        ]
        text = await shows(app, pilot, "4 open alerts; new: 1 critical, 2 warning, 1 info")
        assert "CRIT  new" in text and "wdpost-missed" in text and "t01000 dl6 p0" in text
        # the selected alert's whole message names what to do, and where enter goes
        flat = " ".join(text.split())
        assert "closed without a landed proof. Check the PoSt machines." in flat
        assert "enter: deadline 6 in the PoSt pane" in flat

        pane.table.select_key(str(ids["wdpost-missed"]))
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, AckScreen), 5, "the ack dialog")
        await pilot.press("enter")  # Cancel is focused: nothing happens
        await wait_until(lambda: not isinstance(app.screen, AckScreen), 5, "the dialog closed")
        assert (
            await cluster.query_value(
                "SELECT count(*) FROM harmony_alerts WHERE acked_at IS NOT NULL"
            )
            == 0
        )
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, AckScreen), 5, "the ack dialog")
        await pilot.click("#confirm")

        async def acked() -> bool:
            return bool(
                await cluster.query_value(
                    "SELECT acked_by IS NOT NULL FROM harmony_alerts WHERE id = $1",
                    ids["wdpost-missed"],
                )
            )

        await wait_until(acked, 10, "the alert acknowledged")
        # the badge follows: the critical one is acknowledged, the worst left is a warning
        await wait_until(lambda: "3 alerts: warning" in _badge(app), 10, "the badge")
        await shows(app, pilot, "new: 2 warning, 1 info; 1 acked, 0 muted")

        pane.table.select_key(str(ids["storage-path"]))
        await pilot.press("m")
        await wait_until(lambda: isinstance(app.screen, MuteScreen), 5, "the mute dialog")
        assert app.screen.query_one("#mute-for", Input).value == "1h"
        await pilot.press("enter")
        await wait_until(
            lambda: not isinstance(app.screen, MuteScreen), 5, "the mute dialog closed"
        )
        row = None

        async def muted() -> bool:
            nonlocal row
            row = await cluster.query_row(
                "SELECT muted_until - now() AS left, muted_by FROM harmony_alerts WHERE id = $1",
                ids["storage-path"],
            )
            return row["left"] is not None

        await wait_until(muted, 10, "the alert muted")
        assert row is not None and row["muted_by"]
        assert timedelta(minutes=55) < row["left"] <= timedelta(hours=1)
        await wait_until(lambda: "2 alerts: warning" in _badge(app), 10, "the badge")
        history = await cluster.select(
            "SELECT event FROM harmony_alert_history WHERE event IN ('acked', 'muted') ORDER BY id"
        )
        assert [r["event"] for r in history] == ["acked", "muted"]

        # a mute that is not a duration is refused in the dialog, and nothing is written
        pane.table.select_key(str(ids["sector-files"]))
        await pilot.press("m")
        await wait_until(lambda: isinstance(app.screen, MuteScreen), 5, "the mute dialog")
        box = app.screen.query_one("#mute-for", Input)
        box.value = "soon"
        await pilot.press("enter")
        await shows(app, pilot, "'soon' is not a duration")
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, MuteScreen), 5, "closed")
        assert (
            await cluster.query_value(
                "SELECT muted_until FROM harmony_alerts WHERE id = $1", ids["sector-files"]
            )
            is None
        )

        # enter opens what each alert is about
        for check, screen_type, what in (
            ("storage-path", StoragePathScreen, "storage_id"),
            ("sector-files", SectorScreen, "sector"),
            ("task-failure-rate", MachineScreen, "machine_id"),
        ):
            pane.table.select_key(str(ids[check]))
            pane.table.focus()
            await pilot.press("enter")
            await wait_until(lambda t=screen_type: isinstance(app.screen, t), 5, check)
            screen = app.screen
            if what == "storage_id":
                assert screen.storage_id == OLD_PATH
            elif what == "sector":
                assert (screen.sp_id, screen.sector) == (1000, 5)
            else:
                assert screen.machine_id == 1  # node-a:worker
            await pilot.press("escape")
            await wait_until(lambda: isinstance(app.pane(), AlertsPane), 5, "back")
            await wait_until(lambda: len(app.screen_stack) == 1, 5, "the detail closed")
        pane.table.select_key(str(ids["wdpost-missed"]))
        pane.table.focus()
        await pilot.press("enter")
        await wait_until(lambda: app.active_pane == "post", 5, "the PoSt pane")
        await pilot.pause()
        assert app.pane("post").filter_table.selected_key == "1000:6"


async def test_read_only_refuses_ack_and_mute_and_checks_a_deadline(
    db: DB, tmp_path: Path, console_app: Any, first_render: Any, shows: Any
) -> None:
    """A --read-only console: ``a`` and ``m`` are refused with the reason and nothing is
    written; ``enter`` on a deadline in the PoSt pane runs the provability check (it only
    reads), live, and says which sector is bad and why."""
    checked = await check_cluster(db, tmp_path)
    flip_bytes(checked.sealed(1))
    # the devnet chain the PoSt pane times deadlines by (the fixture cluster's)
    await db.exec(
        "INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed, "
        "wpost_proving_period, wpost_challenge_window, wpost_period_deadlines, "
        "wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay, "
        "message_delay_epochs, chain_finality) VALUES (1, 'mainnet', "
        "'2025-12-01 00:00:00+00', 30, '\\x00', 2880, 60, 48, 20, 70, 150, 1, 900)"
    )
    ids = await _seed(db)
    app = console_app(db.url.dsn, db.schema, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        pane = await _show_alerts(app, pilot)
        pane.table.select_key(str(ids["wdpost-missed"]))
        for key in ("a", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert len(app.screen_stack) == 1  # no dialog: refused at once
        said = [n.message for n in app._notifications]
        assert any("read-only console: cannot acknowledge alerts" in m for m in said), said
        assert any("read-only console: cannot mute alerts" in m for m in said), said

        screen = await check_from_post_pane(app, pilot)
        assert isinstance(screen, ProvingCheckScreen)
        assert [(c.partition, c.sector, c.ok, c.kind) for c in screen.results] == [
            (0, 0, True, None),
            (0, 1, False, "corrupt"),
            (1, 2, True, None),
        ]
        text = await shows(app, pilot, "done: 3 sector(s) checked, 1 bad", "sector 1: corrupt:")
        assert "t01000 deadline 3" in text
        await pilot.press("escape")
        await wait_until(lambda: len(app.screen_stack) == 1, 5, "the check closed")
    row = await db.query_row(
        "SELECT count(acked_at) AS a, count(muted_until) AS m FROM harmony_alerts"
    )
    assert (row["a"], row["m"]) == (0, 0)


async def test_the_cli_and_the_console_read_the_same_alerts(
    cluster: DB, capsys: pytest.CaptureFixture[str]
) -> None:
    """``harmony alerts list`` (its own command function, in this process) and the console's
    read model, on one database: the same alerts, states and counts."""
    ids = await _seed(cluster)
    await cluster.exec(
        "UPDATE harmony_alerts SET acked_at = now(), acked_by = 'x' WHERE id = $1",
        ids["sector-files"],
    )
    await cluster.exec(
        "UPDATE harmony_alerts SET muted_until = now() + interval '1 hour', muted_by = 'x' "
        "WHERE id = $1",
        ids["task-failure-rate"],
    )

    async def cli(*args: str) -> str:
        argv = ["--db", cluster.url.dsn, "--schema", cluster.schema, "alerts", "list", *args]
        parsed = build_parser().parse_args(argv)
        assert await parsed.run(parsed) == 0
        return capsys.readouterr().out

    listed = json.loads(await cli("--json"))
    counted = json.loads(await cli("--count", "--json"))
    said = await cli("--count")
    now = await cluster.query_value("SELECT now()")
    snap = await SnapshotReader(cluster).snapshot(now)
    assert [(a["id"], a["state"], a["severity"]) for a in listed] == [
        (a.id, a.state(now), str(a.severity)) for a in snap.alerts.alerts
    ]
    assert [a.state(now) for a in snap.alerts.alerts] == ["new", "new", "acked", "muted"]
    assert {str(s): n for s, n in snap.alerts.counts.items()} == {"critical": 1, "warning": 1}
    assert counted == {"critical": 1, "warning": 1, "info": 0, "total": 2}
    assert said == "2 need attention: 1 critical, 1 warning\n"


async def test_a_curio_cluster_lists_its_checks_live_and_refuses_ack(
    curio_now: CurioCluster, monkeypatch: pytest.MonkeyPatch, first_render: Any, screen_text: Any
) -> None:
    """As ``harmony alerts list`` there: the Curio checks evaluated live (nothing stored, no
    table of ours), counted in the badge; ``a`` and ``m`` are Curio's web UI's."""
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)
    expected = await _curio_alerts(curio_now)
    assert expected, "the seeded Curio cluster raises no alert: nothing to show"
    app = fixture_app(curio_now.url, curio_now.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        assert f" {len(expected)} alert" in _badge(app)
        await pilot.press("9")
        pane = app.pane("alerts")
        assert isinstance(pane, AlertsPane)
        await wait_until(lambda: len(pane.table.keys) == len(expected), 10, "the alerts")
        assert pane.table.keys == [f"{a.check}|{a.subject}" for a in expected]
        await pilot.pause()
        assert "Curio: checks evaluated live" in screen_text(app)
        # no Lotus node: the header says which checks did not run, not only what was found
        text = " ".join(screen_text(app).split())  # the header breaks between words at 80
        assert "lotus-behind not evaluated: they need a Lotus node (--lotus-api)" in text
        for key in ("a", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert len(app.screen_stack) == 1
        said = [n.message for n in app._notifications]
        assert any("Curio cluster: acknowledge its alerts in Curio's web UI" in m for m in said)
        assert any("Curio cluster: mute its alerts in Curio's web UI" in m for m in said)


async def _curio_alerts(cluster: CurioCluster) -> list[Any]:
    db = await DB.open(cluster.url, schema=cluster.schema, read_only=True, migrate=False)
    try:
        return await evaluate_live(db)
    finally:
        await db.close()
