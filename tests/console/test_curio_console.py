"""The console in Curio mode, on a Curio schema seeded as Curio's code writes it, with the clock
frozen at the instant the seed was written for and no Lotus node.

SVG snapshots of every pane and dialog (``__snapshots__/test_curio_console/``; ``harmony``'s
``screenshots/curio-*.svg`` are the same views at 120x34), a pane whose section cannot be read
showing why while the others stay live, and the operator's actions: each changes only the
columns it is meant to (the whole schema's ``pg_dump`` is identical once that change is put
back), and ``--read-only`` offers none.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import asyncpg
import pytest
from textual.widgets import Button

from console.app import HarmonyConsole
from console.fixture import FIXED_NOW
from console.panes.machines import MachinesPane
from console.screens.confirm import MachineActionScreen
from console.screens.machine import MachineScreen
from console.screenshots import CURIO_SHOTS, fixture_app, screen_text, settle
from engine.clock import ManualClock
from engine.harmonydb import parse_url
from support.curio_changes import changes, curio_dumper, machine_rows
from support.curio_read import owner, owner_exec, select_only
from support.curio_schema import (
    CurioCluster,
    create_curio_schema,
    curio_cluster,
    seed_curio,
    shift_to,
)
from support.probe import wait_until
from support.schema_dump import SchemaDump

BY_NAME = {shot.name: shot for shot in CURIO_SHOTS}
Dumper = Callable[[], Awaitable[SchemaDump]]


@pytest.fixture(autouse=True)
def _no_lotus(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Lotus node from the developer's shell: the PoSt pane says what it cannot know."""
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)


@pytest.fixture
def curio_fixed(pg_url: str) -> Iterator[CurioCluster]:
    """For the synchronous snapshot tests: a Curio schema seeded as of FIXED_NOW (built and
    dropped in loops of their own: an async generator would not outlive its loop)."""
    schema = f"itest_curio_{secrets.token_hex(5)}"

    async def create() -> CurioCluster:
        conn = await asyncpg.connect(parse_url(pg_url).dsn)
        try:
            async with conn.transaction():
                await create_curio_schema(conn, schema)
                seeded = await seed_curio(conn)
                await shift_to(conn, schema, FIXED_NOW)
        finally:
            await conn.close()
        return CurioCluster(url=pg_url, schema=schema, seed=seeded)

    async def drop() -> None:
        conn = await asyncpg.connect(parse_url(pg_url).dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    try:
        yield asyncio.run(create())
    finally:
        asyncio.run(drop())


@pytest.fixture
async def curio_now(pg_url: str) -> AsyncIterator[CurioCluster]:
    """The same, for async tests."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as cluster:
        yield cluster


# --------------------------------------------------------------------------- snapshots


def _compare(snap_compare: Any, cluster: CurioCluster, name: str, size: tuple[int, int]) -> bool:
    shot = BY_NAME[name]
    app = fixture_app(cluster.url, cluster.schema)
    return bool(
        snap_compare(
            app,
            terminal_size=size,
            run_before=partial(settle, keys=shot.keys, ready=shot.ready),
        )
    )


@pytest.mark.parametrize("name", list(BY_NAME))
def test_curio_view_at_80x24(snap_compare: Any, curio_fixed: CurioCluster, name: str) -> None:
    assert _compare(snap_compare, curio_fixed, name, (80, 24))


@pytest.mark.parametrize(
    "name", ["machines", "tasks", "pipeline", "storage", "post", "jobs", "miners", "events"]
)
def test_curio_view_at_160x48(snap_compare: Any, curio_fixed: CurioCluster, name: str) -> None:
    assert _compare(snap_compare, curio_fixed, name, (160, 48))


# --------------------------------------------------------------------------- behaviour


async def test_every_pane_shows_the_curio_cluster_with_curios_semantics(
    curio_now: CurioCluster, shows: Any
) -> None:
    app = fixture_app(curio_now.url, curio_now.schema)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(pilot)
        text = await shows(app, pilot, "3 machines", "load not reported by Curio", " Curio ")
        assert "restarting" in text and "cordoned" in text
        assert "?" not in text.split("Machine")[1]  # no unknown-load marks in the table
        await pilot.press("2")
        await shows(app, pilot, "3 pending")
        await pilot.press("3")
        await shows(app, pilot, "f01000", "4 in progress")
        await pilot.press("4")
        await shows(app, pilot, "2 paths")
        await pilot.press("5")
        text = await shows(app, pilot, "f01000", "not known:")
        assert "t01000" not in text
        assert app.node is None and app.snapshot is not None and not app.snapshot.errors


async def test_a_section_that_cannot_be_read_shows_its_error_in_its_pane_only(
    curio_now: CurioCluster, shows: Any
) -> None:
    """A Curio release that renamed a column: the storage pane says so, the others are live."""
    await owner_exec(curio_now, ("ALTER TABLE storage_path RENAME COLUMN urls TO url_list",))
    app = fixture_app(curio_now.url, curio_now.schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await shows(app, pilot, "3 machines")
        await pilot.press("4")
        text = await shows(app, pilot, "cannot read the storage:")
        assert "urls" in text
        assert app.error is None  # the refresh itself succeeded
        for key, needle in (("2", "3 pending"), ("3", "4 in progress"), ("5", "f01000")):
            await pilot.press(key)
            await shows(app, pilot, needle)
        assert app.snapshot is not None
        assert [e.section for e in app.snapshot.errors] == ["storage"]


# --------------------------------------------------------------------------- actions


@pytest.fixture
async def dumper(curio_now: CurioCluster) -> Dumper:
    return await curio_dumper(curio_now, rows_as_sets=True)


@contextlib.asynccontextmanager
async def _on_machines(
    cluster: CurioCluster,
    *,
    url: str | None = None,
    read_only: bool = False,
    size: tuple[int, int] = (100, 30),
) -> AsyncIterator[tuple[HarmonyConsole, Any]]:
    """The console on ``cluster`` (as ``url``'s role), once its machines pane shows them."""
    app = fixture_app(url or cluster.url, cluster.schema, read_only=read_only)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, ready="3 machines")
        yield app, pilot


def _machine_id(cluster: CurioCluster, name: str) -> int:
    assert cluster.seed is not None
    host = {"seal-1": "10.0.0.11:12300", "gpu-1": "10.0.0.12:12300", "post-1": "10.0.0.13:12300"}
    return cluster.seed.machines[host[name]]


async def _confirm(
    app: HarmonyConsole, pilot: Any, shows: Any, machine: str, key: str, title: str
) -> str:
    """Select ``machine``, press ``key``, check the dialog and confirm it."""
    pane = app.pane("machines")
    assert isinstance(pane, MachinesPane)
    pane.table.select_key(machine)
    await pilot.pause()
    await pilot.press(key)
    await wait_until(lambda: isinstance(app.screen, MachineActionScreen), 5, "the dialog")
    text = await shows(app, pilot, title)
    assert app.screen.focused is not None and app.screen.focused.id == "cancel"
    confirm = app.screen.query_one("#confirm", Button)
    await pilot.click(confirm)
    return text


@pytest.mark.parametrize(
    ("name", "key", "title", "column", "expected"),
    [
        ("seal-1", "c", "Cordon seal-1?", "unschedulable", True),
        ("gpu-1", "u", "Uncordon gpu-1?", "unschedulable", False),
        ("gpu-1", "R", "Restart gpu-1?", "restart_request", "set"),
        ("post-1", "A", "Abort restart post-1?", "restart_request", None),
    ],
)
async def test_an_action_changes_only_its_column_once_confirmed(
    curio_now: CurioCluster,
    dumper: Dumper,
    shows: Any,
    name: str,
    key: str,
    title: str,
    column: str,
    expected: object,
) -> None:
    before_dump = await dumper()
    before = await machine_rows(curio_now)
    machine_id = _machine_id(curio_now, name)
    async with _on_machines(curio_now) as (app, pilot):
        await _confirm(app, pilot, shows, str(machine_id), key, title)
        await wait_until(
            lambda: not app.busy and app.snapshot is not None, 5, "the action to finish"
        )

        async def changed() -> bool:
            return bool(changes(before, await machine_rows(curio_now)))

        for _ in range(100):
            if await changed():
                break
            await asyncio.sleep(0.05)
    diff = changes(before, await machine_rows(curio_now))
    assert list(diff) == [machine_id] and list(diff[machine_id]) == [column], diff
    old, new = diff[machine_id][column]
    if expected == "set":
        assert old is None and new is not None
    else:
        assert new == expected
    async with owner(curio_now) as conn:
        # identifiers from this test's own parameters; the value is a parameter
        await conn.execute(
            f"UPDATE harmony_machines SET {column} = $1 WHERE id = $2", old, machine_id
        )
    assert await dumper() == before_dump


async def test_drain_on_curio_cordons_and_shows_the_running_tasks_counting_down(
    curio_now: CurioCluster, shows: Any
) -> None:
    before = await machine_rows(curio_now)
    seal = _machine_id(curio_now, "seal-1")
    async with _on_machines(curio_now) as (app, pilot):
        text = await _confirm(app, pilot, shows, str(seal), "d", "Cordon seal-1?")
        assert "Curio has no drain" in text
        await wait_until(
            lambda: isinstance(app.screen, MachineScreen) and app.screen.watching,
            5,
            "the running tasks of the cordoned machine",
        )
        text = await shows(app, pilot, "Cordoned (Curio has no drain): 1 task(s) still running")
        assert "SDR" in text
        first = screen_text(app)
        assert isinstance(app.clock, ManualClock)
        app.clock.advance(60)
        app.now = app.clock.now()
        await pilot.pause()
        assert screen_text(app) != first  # elapsed and expected times move with the clock
    diff = changes(before, await machine_rows(curio_now))
    assert diff == {seal: {"unschedulable": (False, True)}}


async def test_no_task_restart_and_no_restart_of_a_schedulable_machine(
    curio_now: CurioCluster,
) -> None:
    before = await machine_rows(curio_now)
    seal = _machine_id(curio_now, "seal-1")
    async with _on_machines(curio_now) as (app, pilot):
        pane = app.pane("machines")
        assert isinstance(pane, MachinesPane)
        pane.table.select_key(str(seal))
        await pilot.pause()
        assert pane.check_action("machine", ("request_restart",)) is False  # not offered
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, MachineActionScreen)
        await pilot.press("2", "f")
        await pilot.pause()
        assert app.pane("tasks").check_action("restart", ()) is False
        await pilot.press("r")
        await pilot.pause()
    assert await machine_rows(curio_now) == before


async def test_read_only_offers_no_action_keys(curio_now: CurioCluster) -> None:
    before = await machine_rows(curio_now)
    async with _on_machines(curio_now, read_only=True, size=(120, 30)) as (app, pilot):
        text = screen_text(app)
        footer = text.splitlines()[-1]
        for word in ("Cordon", "Uncordon", "Drain", "Restart", "Abort"):
            assert word not in footer
        assert "read-only" in text.splitlines()[0]
        pane = app.pane("machines")
        for kind in ("cordon", "uncordon", "drain", "request_restart", "abort_restart"):
            assert pane.check_action("machine", (kind,)) is False
        for key in "cudRA":
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, MachineActionScreen)
        assert app.feed.link is not None and app.feed.link.action_db is None
    assert await machine_rows(curio_now) == before


async def test_a_role_that_may_not_read_curios_config_still_sees_the_cluster(
    curio_now: CurioCluster, shows: Any
) -> None:
    """Where the Lotus node would be named (harmony_config) cannot be read: the PoSt pane says
    so, and every pane is there."""
    async with (
        select_only(curio_now, unreadable=("harmony_config",)) as url,
        _on_machines(curio_now, url=url, read_only=True, size=(120, 34)) as (app, pilot),
    ):
        await pilot.press("5")
        await shows(app, pilot, "Curio's config layers could not be read", "f01000")
        assert app.snapshot is not None and not app.snapshot.errors
