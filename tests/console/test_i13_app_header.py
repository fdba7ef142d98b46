"""The status line and the body agree in every frame: this machine's state and running tasks
in the header are its row of the same snapshot the machines pane draws, also while the engine
runs ahead of the snapshot and while the console quits with a drain."""

from __future__ import annotations

from typing import Any

from console.app import HarmonyConsole
from console.widgets.status_line import StatusLine
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, add_tasks
from engine.node import Node, start_node
from support.probe import wait_until


def header(app: HarmonyConsole) -> str:
    return app.query_one(StatusLine).render().plain


def row_words(app: HarmonyConsole, node: Node) -> str:
    """What the machines pane's row says of the machine: its state and running count."""
    assert app.snapshot is not None
    m = app.snapshot.machine(node.engine.machine_id)
    assert m is not None
    return f"engine {m.state}, {m.running} running"


async def _node(db: DB) -> Node:
    return await start_node(
        db,
        "test:console",
        task_names=["sleep"],
        config=EngineConfig(heartbeat_interval=3600, housekeeping_interval=3600),
        storage_heartbeat=False,
    )


async def test_the_header_counts_running_tasks_from_the_snapshot_the_body_draws(
    db: DB, console_app: Any, first_render: Any, screen_text: Any
) -> None:
    """A task ends in the engine between two refreshes: the header keeps the snapshot's count
    (as the machines row does) until the next refresh shows both at 0."""
    node = await _node(db)
    try:
        await add_tasks(db, "sleep", 1, {"ms": 8000})
        await wait_until(lambda: bool(node.engine.running_tasks()), 10, "the task to start")
        app = console_app(db.url.dsn, db.schema, engine=node)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)
            assert row_words(app, node) == "engine active, 1 running"
            await wait_until(lambda: not node.engine.running_tasks(), 20, "the task to end")
            await pilot.pause(1.2)  # a tick of the status line's clock, no refresh (1 h)
            assert "engine active, 1 running" in header(app)
            assert row_words(app, node) in header(app)
            app.refresh_now()
            await wait_until(
                lambda: row_words(app, node) == "engine active, 0 running", 10, "a refresh"
            )
            await pilot.pause()
            assert "engine active, 0 running" in header(app)
            await pilot.press("q")
            await wait_until(lambda: not app.is_running, 20, "the console to exit")
    finally:
        await node.stop_now()


async def test_quitting_with_a_drain_the_header_keeps_the_machine_rows_state(
    db: DB, console_app: Any, first_render: Any, screen_text: Any, shows: Any
) -> None:
    """The engine leaving after its tasks is not a machine state in the tables (the row stays
    'active'): the header says the row's state and that the console is quitting, not
    'draining'."""
    node = await _node(db)
    try:
        await add_tasks(db, "sleep", 1, {"ms": 6000})
        await wait_until(lambda: bool(node.engine.running_tasks()), 10, "the task to start")
        app = console_app(db.url.dsn, db.schema, engine=node)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)
            await pilot.press("q")
            await shows(app, pilot, "running 1 task(s)")
            await pilot.press("right", "enter")  # Cancel -> Drain first
            await wait_until(lambda: "quitting" in header(app), 10, "the header to say quitting")
            app.refresh_now()
            await pilot.pause(0.5)
            text = header(app)
            assert "draining" not in text
            assert "updated 0s ago" in text  # the whole line fits in 80 columns
            assert f"{row_words(app, node)}, quitting" in text
            assert row_words(app, node) == "engine active, 1 running"
            (row,) = [ln for ln in screen_text(app).splitlines() if "test:console" in ln]
            assert " active " in row
            await wait_until(lambda: not app.is_running, 30, "the console to exit")
        assert app.return_code == 0
    finally:
        await node.stop_now()
