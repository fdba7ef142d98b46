"""Operator controls and shutdown: cordon, drain, restart requests, graceful termination, and
wake-ups in notify and polling modes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.harmonydb import DB
from engine.harmonytask import (
    EXIT_RESTART_REQUESTED,
    EngineConfig,
    Lifecycle,
    add_tasks,
    cordon,
    drain,
    list_machines,
    request_restart,
    task_history,
    uncordon,
)
from support.probe import Probe, wait_until

POLLING = EngineConfig(
    use_notify=False,
    heartbeat_interval=0.5,
    poll_min=0.02,
    poll_max=0.2,
    housekeeping_interval=3600,
)
NOTIFY = EngineConfig(heartbeat_interval=3600, poll_interval=3600, housekeeping_interval=3600)


async def state_of(db: DB, machine_id: int) -> str:
    return next(m.state for m in await list_machines(db) if m.id == machine_id)


@pytest.mark.parametrize("config", [NOTIFY, POLLING], ids=["notify", "polling"])
async def test_cordon_stops_new_claims_within_a_second(probe_db: DB, engines, config) -> None:
    probe = Probe(probe_db, "m")
    engine = await engines([probe], "m", config=config)
    assert engine.notify_mode == (config is NOTIFY)
    await cordon(probe_db, engine.machine_id)
    await wait_until(lambda: engine.flags.unschedulable, 2.0, "the cordon to be seen")
    await add_tasks(probe_db, "probe", 2)
    assert (await engine.cycle()).claimed == ()  # a claim cycle now takes nothing
    assert probe.started == [] and engine.running_tasks() == []
    assert await state_of(probe_db, engine.machine_id) == "cordoned"
    await uncordon(probe_db, engine.machine_id)
    await wait_until(lambda: len(probe.started) == 2, 2, "work to resume")


@pytest.mark.parametrize("config", [NOTIFY, POLLING], ids=["notify", "polling"])
async def test_a_task_added_elsewhere_starts_promptly(probe_db: DB, engines, config) -> None:
    """Notify mode: the NOTIFY of the adding transaction wakes the idle machine (its safety poll
    is an hour away). Polling mode: the adaptive poll (at most 0.2 s apart) finds it. Latency
    figures come from `harmony bench engine`; this only shows the wake-up path works."""
    probe = Probe(probe_db, "m")
    await engines([probe], "m", config=config)
    await asyncio.sleep(0.5)  # let the polling engine back off to its idle interval
    (task_id,) = await add_tasks(probe_db, "probe", 1)  # another connection, as another host
    await wait_until(lambda: probe.started == [task_id], 2)


async def test_drain_lets_running_tasks_finish_then_reports_drained(probe_db: DB, engines) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m")
    (running,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [running], 5)
    await drain(probe_db, engine.machine_id)
    await wait_until(lambda: engine.flags.drain_requested_at is not None, 2)
    (waiting,) = await add_tasks(probe_db, "probe", 1)
    assert await state_of(probe_db, engine.machine_id) == "draining"
    probe.release(running)

    async def drained() -> bool:
        return await state_of(probe_db, engine.machine_id) == "drained"

    await wait_until(drained, 5)
    assert probe.started == [running]
    assert (
        await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", waiting)
        is None
    )
    await uncordon(probe_db, engine.machine_id)
    await wait_until(lambda: probe.started == [running, waiting], 5)


async def test_a_restart_request_makes_an_idle_machine_exit_100(probe_db: DB, engines) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m")
    await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started, 5)
    await request_restart(probe_db, engine.machine_id)
    await wait_until(lambda: engine.flags.restart_request is not None, 2)
    assert await state_of(probe_db, engine.machine_id) == "restarting"
    assert not engine.exit_code.done()  # busy: it finishes first
    probe.release()
    assert await asyncio.wait_for(asyncio.shield(engine.exit_code), 5) == EXIT_RESTART_REQUESTED
    row = await probe_db.query_row(
        "SELECT unschedulable, restart_request FROM harmony_machines WHERE id = $1",
        engine.machine_id,
    )
    assert row == {"unschedulable": False, "restart_request": None}


async def test_graceful_terminate_waits_for_running_tasks(probe_db: DB, engines) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task_id], 5)
    stopping = asyncio.create_task(engine.graceful_terminate())
    await wait_until(lambda: engine.lifecycle is Lifecycle.STOPPING, 2, "the engine to stop")
    await add_tasks(probe_db, "probe", 1)
    assert (await engine.cycle()).claimed == ()  # not claimed: the machine is leaving
    assert not stopping.done()  # the running task holds it back
    assert await state_of(probe_db, engine.machine_id) == "active"  # still a member
    probe.release(task_id)
    await asyncio.wait_for(stopping, 5)
    assert [h.outcome for h in await task_history(probe_db, task_id=task_id)] == ["done"]
    assert probe.started == [task_id]
    assert await state_of(probe_db, engine.machine_id) == "offline"


async def test_graceful_terminate_with_a_grace_period_returns_ordinary_work_but_finishes_time_sensitive_work(  # noqa: E501
    probe_db: DB, engines
) -> None:
    ordinary = Probe(probe_db, "m", "ordinary", block=True)
    proof = Probe(probe_db, "m", "proof", block=True, time_sensitive=True)
    engine = await engines([ordinary, proof], "m")
    (o,) = await add_tasks(probe_db, "ordinary", 1)
    (p,) = await add_tasks(probe_db, "proof", 1)
    await wait_until(lambda: ordinary.started == [o] and proof.started == [p], 5)
    stopping = asyncio.create_task(engine.graceful_terminate(grace=0.2))
    await wait_until(lambda: ordinary.cancelled == [o], 5)
    assert not stopping.done()  # still waiting for the time-sensitive proof
    proof.release(p)
    await asyncio.wait_for(stopping, 5)
    assert [h.outcome for h in await task_history(probe_db, task_id=o)] == ["released"]
    assert [h.outcome for h in await task_history(probe_db, task_id=p)] == ["done"]
    assert await probe_db.query_row(
        "SELECT owner_id, retries FROM harmony_task WHERE id = $1", o
    ) == {"owner_id": None, "retries": 0}


async def test_a_dropped_listener_reconnects_and_catches_up(
    probe_db: DB, engines, caplog: pytest.LogCaptureFixture
) -> None:
    """Notifications sent while the LISTEN connection was down are lost; the reconnect wakes
    the scheduler so nothing waits for the (hour-long) safety poll. Its log line says which
    listener (a worker holds the engine's and the chain's)."""
    caplog.set_level(logging.INFO, "engine.harmonytask.wakeup")
    probe = Probe(probe_db, "m")
    engine = await engines([probe], "m", config=NOTIFY)
    listener = engine.listener
    assert listener is not None and listener.connected
    old_pid = listener.server_pid
    assert old_pid is not None
    await probe_db.exec("SELECT pg_terminate_backend($1)", old_pid)
    (missed,) = await add_tasks(probe_db, "probe", 1)  # its NOTIFY may reach nobody
    await wait_until(lambda: probe.started == [missed], 5, "the catch-up after reconnecting")
    await wait_until(lambda: listener.connected, 5)
    assert listener.server_pid not in (None, old_pid)
    assert "notification listener (task, machine) reconnected" in caplog.messages
    (later,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [missed, later], 2)
