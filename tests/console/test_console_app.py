"""The console driven with Pilot against the seeded cluster on a real PostgreSQL: dialogs with
Cancel focused change the database only when confirmed; restart of a failed task; a read-only
role sees everything and can change nothing; quitting with a running engine asks first;
filter, refresh interval, pause, and LISTEN/NOTIFY-driven refreshes."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from textual.widgets import Button

from console.app import HarmonyConsole
from console.feed import NOTICE_GAP
from console.palette import ConsoleCommands
from console.panes.machines import MachinesPane
from console.panes.tasks import TasksPane
from console.screens.confirm import MachineActionScreen
from console.screens.help import HelpScreen
from console.screens.machine import MachineScreen
from console.screens.quit import QuitScreen
from console.screens.sector import SectorScreen
from console.screens.storage_path import StoragePathScreen
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, add_tasks, drain
from engine.node import start_node
from support.probe import wait_until


def machines_table(app: HarmonyConsole):
    pane = app.query_one("#machines", MachinesPane)
    return pane.table


async def machine_flags(db: DB, machine_id: int) -> dict:
    row = await db.query_row(
        "SELECT unschedulable, drain_requested_at IS NOT NULL AS draining FROM harmony_machines "
        "WHERE id = $1",
        machine_id,
    )
    assert row is not None
    return row


# --------------------------------------------------------------------------- first paint


async def test_every_pane_shows_the_seeded_cluster(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        text = await shows(app, pilot, "7 machines: 2 active, 1 cordoned, 1 draining")
        assert "node-a" in text and "stale" in text and "lost" in text
        for key, expected in (
            ("2", "8 pending"),
            ("3", "13 in progress, 60 done, 1 failed, 1 stuck"),
            ("4", "4 paths: 2 OK, 1 stale, 1 error"),
            ("5", "520 live sectors, 70 faulty"),
        ):
            await pilot.press(key)
            await shows(app, pilot, expected)
        await shows(app, pilot, "-00:13:00")  # t01000 deadline 3 opened 13 minutes ago


async def test_empty_cluster_panes_say_what_to_do(
    db: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(120, 30)) as pilot:
        await first_render(app, pilot)
        await shows(app, pilot, "no machines have joined the cluster yet")
        for key, expected in (
            ("2", "no tasks queued"),
            ("3", "no sectors in the sealing pipeline"),
            ("4", "no storage paths attached: `harmony storage attach PATH"),
            ("5", "no chain configured yet"),
        ):
            await pilot.press(key)
            await shows(app, pilot, expected)


# --------------------------------------------------------------------------- machine actions


async def test_cordon_dialog_focuses_cancel_and_changes_nothing_until_confirmed(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        assert machines_table(app).selected_key == "1"  # node-a, active
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, MachineActionScreen)
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")  # Cancel
        await pilot.pause()
        assert not isinstance(app.screen, MachineActionScreen)
        assert (await machine_flags(cluster, 1))["unschedulable"] is False

        await pilot.press("c")
        await pilot.pause()
        await pilot.press("right", "enter")  # move to "Cordon" and confirm
        await wait_until(lambda: _flag(cluster, 1, "unschedulable"), 10, "node-a cordoned")
        await wait_until(lambda: app.snapshot.machine(1).state == "cordoned", 10, "refresh")


async def test_app_keys_wait_while_a_dialog_is_open(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MachineActionScreen)
        await pilot.press("q", "question_mark", "3", "slash")
        await pilot.pause()
        assert isinstance(app.screen, MachineActionScreen)  # nothing stacked on the dialog
        assert len(app.screen_stack) == 2
        assert app.is_running
        assert app.active_pane == "machines"
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert not (await machine_flags(cluster, 1))["draining"]
        await pilot.press("3")
        await pilot.pause()
        assert app.active_pane == "pipeline"


async def _flag(db: DB, machine_id: int, name: str) -> bool:
    return bool((await machine_flags(db, machine_id))[name])


async def test_drain_dialog_lists_running_tasks_and_warns_about_open_deadlines(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("d")
        text = await shows(app, pilot, "3 task(s) still running there")
        assert isinstance(app.screen, MachineActionScreen)
        assert "101  SDR" in text and "103  PoRep" in text
        assert "WARNING: PoSt deadlines" in text
        assert "t01000 deadline 3 (50 live sectors): open now, closes in 17m" in text
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("escape")
        await pilot.pause()
        assert not (await machine_flags(cluster, 1))["draining"]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("tab", "enter")
        await wait_until(lambda: _flag(cluster, 1, "draining"), 10, "node-a draining")
        assert await _flag(cluster, 1, "unschedulable")


async def test_an_open_dialog_follows_the_live_snapshot(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    """The drain dialog is drawn from the app's snapshot, not from a copy taken when it opened:
    a task that ends while the operator decides leaves the list, and the status line and the
    dialog show the same refresh."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("d")
        text = await shows(app, pilot, "3 task(s) still running there")
        assert "101  SDR" in text
        await cluster.exec("UPDATE harmony_task SET owner_id = NULL WHERE id = 101")
        app.refresh_now()
        text = await shows(app, pilot, "2 task(s) still running there")
        assert isinstance(app.screen, MachineActionScreen)
        assert "101  SDR" not in text and "103  PoRep" in text
        assert app.snapshot is not None and len(app.snapshot.running_on(1)) == 2


async def test_uncordon_from_the_machine_detail_view(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("down", "enter")  # node-b, cordoned, with one running task
        text = await shows(app, pilot, "node-b", "burn")
        assert isinstance(app.screen, MachineScreen)
        assert "node-b" in text and "cordoned" in text and "burn" in text
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, MachineActionScreen)
        await pilot.press("right", "enter")
        await wait_until(lambda: _not(_flag(cluster, 2, "unschedulable")), 10, "node-b uncordoned")
        await pilot.pause()
        assert isinstance(app.screen, MachineScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, MachineScreen)


async def _not(value: object) -> bool:
    return not await value  # type: ignore[misc]


# --------------------------------------------------------------------------- tasks


async def test_r_restarts_the_selected_failed_task(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2")
        await pilot.pause()
        assert "r Restart" not in screen_text(app)  # nothing restartable in the queue view
        await pilot.press("f")
        await shows(app, pilot, "301", "RuntimeError: the fail task", "r Restart")
        await pilot.press("r")

        async def restarted() -> bool:
            return await cluster.query_value(
                "SELECT failed_at IS NULL AND retries = 0 FROM harmony_task WHERE id = 301"
            )

        await wait_until(restarted, 10, "task 301 restarted")
        await wait_until(
            lambda: [t.id for t in app.snapshot.queues.failed_tasks] == [302], 10, "refresh"
        )


async def test_history_filter_goes_to_the_database(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2", "h", "slash")
        await pilot.pause()
        await pilot.press(*"exit status", "enter")
        await wait_until(lambda: app.snapshot.queues.history_filter == "exit status", 10)
        history = app.snapshot.queues.history
        assert history and all("exit status" in (h.err or "") for h in history)
        await shows(app, pilot, "matching attempts")


# --------------------------------------------------------------------------- read-only


async def test_read_only_role_sees_everything_and_can_change_nothing(
    cluster: DB,
    select_only_role: str,
    console_app: Any,
    first_render: Any,
    screen_text: Any,
    shows: Any,
) -> None:
    ro = await DB.open(select_only_role, schema=cluster.schema, read_only=True)
    try:
        with pytest.raises(Exception, match=r"permission denied|read-only"):
            await ro.exec("UPDATE harmony_machines SET unschedulable = true WHERE id = 1")
    finally:
        await ro.close()
    app = console_app(select_only_role, cluster.schema, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        text = await shows(app, pilot, "7 machines", "read-only")
        assert app.error is None, app.error
        assert "Cordon" not in text and "Drain" not in text
        for key in ("c", "u", "d"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, MachineActionScreen)
        await pilot.press("2", "f")
        assert "Restart" not in await shows(app, pilot, "301")
        await pilot.press("r")
        await pilot.pause()
        for key in ("3", "4", "5"):
            await pilot.press(key)
            await pilot.pause()
    assert (await machine_flags(cluster, 1))["unschedulable"] is False
    assert await cluster.query_value(
        "SELECT failed_at IS NOT NULL FROM harmony_task WHERE id = 301"
    )


# --------------------------------------------------------------------------- quitting


async def test_q_with_running_engine_asks_then_quit_now_requeues(
    db: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    node = await start_node(
        db,
        "test:console",
        task_names=["sleep"],
        config=EngineConfig(heartbeat_interval=3600, housekeeping_interval=3600),
        storage_heartbeat=False,
    )
    try:
        (task_id,) = await add_tasks(db, "sleep", 1, {"ms": 120_000})
        await wait_until(lambda: bool(node.engine.running_tasks()), 10, "the sleep task to start")
        app = console_app(db.url.dsn, db.schema, engine=node)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)
            await pilot.press("q")
            await shows(app, pilot, "running 1 task(s)")
            assert isinstance(app.screen, QuitScreen)
            assert app.focused is not None and app.focused.id == "cancel"
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, QuitScreen)
            await pilot.press("q")
            await pilot.pause()
            await pilot.press("right", "right", "enter")  # Cancel -> Drain first -> Quit now
            await wait_until(lambda: not app.is_running, 20, "the console to exit")
        assert app.return_code == 0
        assert node.engine.exit_code.done()
        owner = await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
        assert owner is None  # back in the queue
    finally:
        await node.stop_now()


async def test_q_without_an_engine_quits_at_once(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("q")
        await wait_until(lambda: not app.is_running, 10, "the console to exit")


# --------------------------------------------------------------------------- live data


async def test_filter_interval_and_pause(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema, refresh_s=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("slash", *"node-c")
        await shows(app, pilot, "filter 'node-c': 1 of 7")
        assert machines_table(app).row_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert machines_table(app).row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        assert machines_table(app).row_count == 7

        await pilot.press("plus")
        assert app.refresh_s == 3
        await pilot.press("minus", "minus", "minus")
        assert app.refresh_s == 1  # never below a second

        await pilot.press("p")
        await pilot.pause()
        assert app.paused
        await shows(app, pilot, "PAUSED")
        before = app.snapshot
        app.refresh_now()
        await pilot.pause(1.5)
        assert app.snapshot is before  # paused: the poll ran no queries
        await pilot.press("p")
        await wait_until(lambda: app.snapshot is not before, 10, "a refresh after resuming")


async def test_a_notification_refreshes_sooner_than_the_interval(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        assert app.live  # LISTEN works on PostgreSQL
        await drain(cluster, 5)  # NOTIFY machine

        def draining() -> bool:
            # The gap between a notification and its refresh is timed on the console's clock,
            # a manual one here: move it on while waiting (the interval is an hour away).
            app.clock.advance(NOTICE_GAP)
            return app.snapshot.machine(5).state == "draining"

        await wait_until(draining, 10, "refresh after NOTIFY")


async def test_help_and_palette(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        await pilot.press("question_mark")
        await shows(app, pilot, "cordon / uncordon / drain")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        provider = ConsoleCommands(app.screen)
        titles = [title for title, _, _ in provider.commands()]
        assert "Machine node-c (draining)" in titles
        assert "Task 301 fail (failed)" in titles
        assert "Sector t01000 1011 (TreeD)" in titles
        app.goto_machine(3)
        await pilot.pause()
        assert machines_table(app).selected_key == "3"


async def test_sector_and_storage_path_details_and_palette_jumps(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        commands = {title: run for title, run, _ in ConsoleCommands(app.screen).commands()}
        commands["Sector t01000 1011 (TreeD)"]()
        await shows(app, pilot, "Sector t01000 1011", "stage TreeD", "esc closes")
        assert isinstance(app.screen, SectorScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SectorScreen)
        await pilot.press("4", "enter")
        await shows(app, pilot, "Storage path", "Health:", "esc closes")
        assert isinstance(app.screen, StoragePathScreen)
        commands["Task 302 TreeD (failed)"]()  # closes the detail, shows the failed tasks
        await shows(app, pilot, "RuntimeError: the fail task")
        assert app.active_pane == "tasks"
        tasks = app.query_one("#tasks", TasksPane)
        assert tasks.view == "failed" and tasks.table().selected_key == "302"


def test_headless_paths_never_import_textual() -> None:
    code = (
        "import sys, console.cli, engine, engine.snapshot, engine.node; "
        "assert 'textual' not in sys.modules, 'textual imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


async def test_no_color_still_tells_states_apart(
    cluster: DB,
    console_app: Any,
    first_render: Any,
    shows: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under NO_COLOR every state keeps a word or a glyph: bars, strip and grid read in
    monochrome."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = console_app(cluster.url.dsn, cluster.schema)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await shows(app, pilot, "stale", "lost", "cordoned", "[###")
        await pilot.press("3")
        await shows(app, pilot, "= ! .", "Stuck", "Failed")
        await pilot.press("5")
        await shows(app, pilot, "[#####xX#.", "^")
