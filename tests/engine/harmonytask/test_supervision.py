"""Background work never dies silently: an unexpected error in a loop stops the engine, hands
its running tasks back and ends the process with a non-zero status; database errors are ridden
out."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.harmonydb import DB, HarmonyDBError
from engine.harmonytask import (
    EXIT_CRASHED,
    Lifecycle,
    add_tasks,
    cordon,
    list_machines,
    task_history,
)
from engine.harmonytask import capacity as capacity_module
from engine.harmonytask.supervision import Supervisor
from support.probe import PATIENCE, Probe, wait_until


def refuse(task_ids: list[int]) -> list[int]:
    raise ValueError("can_accept has a bug")


async def test_an_error_in_the_scheduling_loop_stops_the_engine_with_a_nonzero_status(
    probe_db: DB, engines, caplog: pytest.LogCaptureFixture
) -> None:
    busy = Probe(probe_db, "m", "busy", block=True)
    picky = Probe(probe_db, "m", "picky", accept=refuse)
    engine = await engines([busy, picky], "m")
    (running,) = await add_tasks(probe_db, "busy", 1)
    await wait_until(lambda: busy.started == [running], 5)
    await add_tasks(probe_db, "picky", 1)  # the next cycle asks can_accept, which raises
    code = await asyncio.wait_for(asyncio.shield(engine.exit_code), 5 * PATIENCE)
    assert code == EXIT_CRASHED != 0
    assert engine.lifecycle is Lifecycle.STOPPED  # it left before reporting the status
    (machine,) = await list_machines(probe_db)
    assert machine.state == "offline"
    assert [h.outcome for h in await task_history(probe_db, task_id=running)] == ["released"]
    crash = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert crash and "harmony-scheduler crashed" in crash[0].getMessage()
    assert crash[0].exc_info is not None and "can_accept has a bug" in str(crash[0].exc_info[1])


async def test_an_error_in_the_heartbeat_loop_ends_the_process_instead_of_the_heartbeats(
    probe_db: DB, engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the loop ended silently: the process went on without heartbeats, and peers
    declared a live machine dead and ran its tasks again."""
    engine = await engines([Probe(probe_db, "m")], "m")

    def broken_probe() -> object:
        raise OSError("/proc is not mounted")

    monkeypatch.setattr(capacity_module, "usage", broken_probe)
    await cordon(probe_db, engine.machine_id)  # its NOTIFY makes the heartbeat loop beat now
    code = await asyncio.wait_for(asyncio.shield(engine.exit_code), 5 * PATIENCE)
    assert code == EXIT_CRASHED
    (machine,) = await list_machines(probe_db)
    assert machine.state == "offline"  # it left; it was not left behind to be declared dead


async def test_the_supervisor_rides_out_database_errors_but_not_bugs() -> None:
    crashes: list[str] = []
    supervisor = Supervisor(lambda name, exc: crashes.append(name))

    async def fail(exc: Exception) -> None:
        raise exc

    async def returns() -> None:
        return None

    await supervisor.spawn("one-shot", fail(HarmonyDBError("connection refused")))
    assert crashes == []  # a warning: the database being away is an expected state
    await supervisor.spawn("bug", fail(KeyError("x")))
    assert crashes == ["bug"]
    await supervisor.spawn("loop", fail(HarmonyDBError("escaped")), loop=True)
    assert crashes == ["bug", "loop"]  # a loop must handle its own database errors
    await supervisor.spawn("finished", returns())
    assert crashes == ["bug", "loop"]

    never_started = supervisor.spawn("cancelled at once", returns())
    never_started.cancel()
    await supervisor.cancel_all()
    assert never_started.cancelled()  # and no "coroutine was never awaited" warning
