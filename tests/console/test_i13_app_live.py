"""Views stay live: a detail opened over any pane follows its data, the quit dialog and the
machine view move with each refresh, a new refresh interval applies at once, and a database
that cannot be reached is said in the panes with the next try, not "waiting" forever."""

from __future__ import annotations

import socket
from typing import Any

from console.app import HarmonyConsole
from console.palette import ConsoleCommands
from console.panes.base import Pane
from console.screens.machine import MachineScreen
from console.screens.quit import QuitScreen
from console.screens.sector import SectorScreen
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, add_tasks
from engine.node import start_node
from support.probe import wait_until


async def test_a_sector_opened_from_the_palette_over_the_machines_pane_follows_its_stage(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """The pipeline's lists are read only for a view that shows them: the sector's detail is
    one, wherever it was opened from."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_render(app, pilot)
        assert app.active_pane == "machines"
        commands = {title: run for title, run, _ in ConsoleCommands(app.screen).commands()}
        commands["Sector t01000 1011 (TreeD)"]()
        await shows(app, pilot, "Sector t01000 1011", "stage TreeD")
        assert isinstance(app.screen, SectorScreen)
        await cluster.exec(
            "UPDATE sectors_sdr_pipeline SET after_tree_d = TRUE "
            "WHERE sp_id = 1000 AND sector_number = 1011"
        )
        app.refresh_now()
        text = await shows(app, pilot, "TreeD        done")
        assert "stage TreeD" not in text
        assert isinstance(app.screen, SectorScreen)
        await pilot.press("escape")
        await pilot.pause()
        # Closed: the machines pane alone is on screen again, the lists go back to its own.
        before = app.feed.refreshes
        await cluster.exec(
            "UPDATE sectors_sdr_pipeline SET after_tree_d = FALSE "
            "WHERE sp_id = 1000 AND sector_number = 1011"
        )
        app.refresh_now()
        await wait_until(lambda: app.feed.refreshes > before, 10, "a refresh")
        s = app.snapshot
        assert s is not None
        assert all(r.stage != "TreeD" for r in s.pipeline.sectors if r.sector_number == 1011)


async def test_the_machine_view_says_how_old_its_figures_are_and_counts_on(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """The machine view covers the status line: it carries its own "updated Ns ago", which
    moves with the clock between refreshes and starts again at each one."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("enter")
        text = await shows(app, pilot, "node-a", "updated 0s ago")
        assert "   101  SDR" in text
        assert isinstance(app.screen, MachineScreen)
        app.clock.advance(13)
        await shows(app, pilot, "updated 13s ago")
        await cluster.exec("UPDATE harmony_task SET owner_id = NULL WHERE id = 101")
        app.refresh_now()
        text = await shows(app, pilot, "updated 0s ago", "   102  TreeRC")
        assert "   101  SDR" not in text
        assert isinstance(app.screen, MachineScreen)


async def test_the_quit_dialog_counts_the_running_tasks_of_the_latest_refresh(
    db: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    node = await start_node(
        db,
        "test:console",
        task_names=["sleep"],
        config=EngineConfig(heartbeat_interval=3600, housekeeping_interval=3600),
        storage_heartbeat=False,
    )
    try:
        await add_tasks(db, "sleep", 1, {"ms": 120_000})
        await wait_until(lambda: bool(node.engine.running_tasks()), 10, "the task to start")
        app = console_app(db.url.dsn, db.schema, engine=node)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)
            await pilot.press("q")
            await shows(app, pilot, "running 1 task(s)")
            assert isinstance(app.screen, QuitScreen)
            await add_tasks(db, "sleep", 1, {"ms": 120_000})
            await wait_until(lambda: len(node.engine.running_tasks()) == 2, 10, "a second task")
            app.refresh_now()
            await shows(app, pilot, "running 2 task(s)")
            assert isinstance(app.screen, QuitScreen)
            await pilot.press("escape")
    finally:
        await node.stop_now()


async def test_a_shorter_interval_applies_at_once(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema, refresh_s=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        before = app.feed.refreshes
        app.clock.advance(5)
        await pilot.pause(0.3)
        assert app.feed.refreshes == before  # 60 s to go
        await pilot.press(*["minus"] * 6)
        assert app.refresh_s == 1
        app.clock.advance(1)
        await wait_until(lambda: app.feed.refreshes > before, 10, "a refresh at the new interval")


def unreachable_url() -> str:
    """A PostgreSQL URL on a local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://harmony@127.0.0.1:{port}/harmony"


async def test_an_unreachable_database_is_said_in_the_pane_with_the_next_try(
    console_app: Any, shows: Any
) -> None:
    app: HarmonyConsole = console_app(unreachable_url(), "harmony")
    async with app.run_test(size=(80, 24)) as pilot:
        text = await shows(app, pilot, "cannot reach the database (trying again in 1s")
        assert Pane.WAITING not in text
        app.clock.advance(1)  # the first retry fails too; the next waits 2 s
        text = await shows(app, pilot, "(trying again in 2s, at 12:00:03 UTC)")
        app.clock.advance(1)
        await shows(app, pilot, "(trying again in 1s, at 12:00:03 UTC)")
        for key, pane in enumerate(("tasks", "pipeline", "storage", "post"), start=2):
            await pilot.press(str(key))
            await pilot.pause()
            assert app.active_pane == pane
            await shows(app, pilot, "cannot reach the database")
