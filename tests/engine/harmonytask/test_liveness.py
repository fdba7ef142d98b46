"""Liveness and fencing: silent machines lose their tasks, live ones never do, and a machine
whose lease expired can neither complete nor fail a task that another machine re-claimed."""

from __future__ import annotations

import asyncio

import pytest

from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    Lifecycle,
    MachineIdentityInUse,
    add_tasks,
    task_history,
)
from support.probe import Probe, wait_until


async def expire(db: DB, machine_id: int) -> None:
    """The machine's last heartbeat is now long past the timeout (as if paused for minutes)."""
    await db.exec(
        "UPDATE harmony_machines SET last_contact = now() - interval '1 hour' WHERE id = $1",
        machine_id,
    )


async def test_a_machine_past_its_lease_cannot_complete_a_reclaimed_task(
    probe_db: DB, engines
) -> None:
    slow = Probe(probe_db, "a", block=True)
    a = await engines([slow], "a")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: slow.started == [task_id], 5)

    fast = Probe(probe_db, "b")
    b = await engines([fast], "b")
    await expire(probe_db, a.machine_id)
    await b.beat()  # b declares a dead and returns its task to the queue
    await wait_until(lambda: fast.started == [task_id], 5, "b to re-run the task")
    await wait_until(lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 5)

    slow.release()  # a wakes up and tries to finish its (lost) attempt
    await wait_until(lambda: slow.owned_checks == [False], 5)
    await wait_until(lambda: a.stats.fenced == 1, 5, "a's late result to be fenced off")
    history = await task_history(probe_db, task_id=task_id)
    assert sorted(h.outcome or "" for h in history) == ["done", "lost"]
    (done,) = [h for h in history if h.outcome == "done"]
    assert done.completed_by_host_and_port == "b"
    assert [r["machine"] for r in await probe_db.select("SELECT machine FROM probe_runs")] == ["b"]
    assert a.stats.fenced == 1

    await a.beat()  # a learns it was declared dead, drops its work and rejoins
    assert a.lifecycle is Lifecycle.RUNNING
    state = await probe_db.query_value(
        "SELECT session IS NOT NULL FROM harmony_machines WHERE id = $1", a.machine_id
    )
    assert state is True


async def test_a_fenced_failure_changes_nothing(probe_db: DB, engines) -> None:
    doomed = Probe(probe_db, "a", block=True, fail=True, max_failures=1)
    a = await engines([doomed], "a")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: doomed.started == [task_id], 5)
    # Another machine re-claimed the task (newer attempt) while a was away.
    other = await probe_db.query_value(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session) "
        "VALUES ('other', 1, 1, 0, 'x') RETURNING id"
    )
    await probe_db.exec(
        "UPDATE harmony_task SET attempt = attempt + 1, owner_id = $2 WHERE id = $1",
        task_id,
        other,
    )
    doomed.release()
    await wait_until(lambda: a.stats.fenced == 1, 5)
    row = await probe_db.query_row(
        "SELECT retries, failed_at FROM harmony_task WHERE id = $1", task_id
    )
    assert row == {"retries": 0, "failed_at": None}  # the late failure did not count
    assert await task_history(probe_db, task_id=task_id) == []


async def test_silent_machines_lose_their_tasks_but_busy_live_ones_keep_them(
    probe_db: DB, engines
) -> None:
    """Real heartbeats every 0.25 s, a 1.5 s timeout: a task that runs for several timeouts on
    a live machine is never taken away; a machine that goes silent loses its task."""
    live = EngineConfig(heartbeat_interval=0.25, machine_timeout=1.5, poll_interval=0.2)
    busy = Probe(probe_db, "busy", "long", block=True)
    await engines([busy], "busy", config=live)
    (long_task,) = await add_tasks(probe_db, "long", 1)
    await wait_until(lambda: busy.started == [long_task], 5)

    silent = Probe(probe_db, "silent", block=True)
    quiet = EngineConfig(heartbeat_interval=3600, machine_timeout=1.5, poll_interval=0.2)
    s = await engines([silent], "silent", config=quiet)
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: silent.started == [task_id], 5)

    rescuer = Probe(probe_db, "rescuer")
    await engines([rescuer], "rescuer", config=live)
    await wait_until(lambda: rescuer.started == [task_id], 10, "the silent machine's task")
    await asyncio.sleep(3.2)  # more than two timeouts
    assert busy.started == [long_task]  # still running where it started, never rescued
    assert (
        await probe_db.query_value(
            "SELECT m.host_and_port FROM harmony_task t "
            "JOIN harmony_machines m ON m.id = t.owner_id WHERE t.id = $1",
            long_task,
        )
        == "busy"
    )
    dead = await probe_db.query_value(
        "SELECT session IS NULL AND lost_at IS NOT NULL FROM harmony_machines WHERE id = $1",
        s.machine_id,
    )
    assert dead is True


async def test_a_second_live_process_cannot_take_a_machine_identity(probe_db: DB, engines) -> None:
    await engines([Probe(probe_db, "x")], "worker-x")
    with pytest.raises(MachineIdentityInUse, match="worker-x"):
        await engines([Probe(probe_db, "x")], "worker-x")


async def test_a_stopped_machines_identity_can_be_reused_at_once(probe_db: DB, engines) -> None:
    first = await engines([Probe(probe_db, "x")], "worker-x")
    await first.graceful_terminate()
    second = await engines([Probe(probe_db, "x")], "worker-x")
    assert second.machine_id == first.machine_id


async def test_peers_wait_one_timeout_after_their_own_outage_before_declaring_deaths(
    probe_db: DB, engines
) -> None:
    """After a database outage every machine looks silent; a peer that was itself cut off must
    not declare the others dead before they had a chance to report in."""
    victim_probe = Probe(probe_db, "v", block=True)
    victim = await engines([victim_probe], "victim")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: victim_probe.started == [task_id], 5)
    clock = ManualClock()
    peer = await engines([Probe(probe_db, "p")], "peer", clock=clock)
    await expire(probe_db, victim.machine_id)
    # The peer's last heartbeat was three intervals ago: it was cut off itself.
    clock.advance(3 * peer.config.heartbeat_interval)
    await peer.beat()
    owner = await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
    assert owner == victim.machine_id
    clock.advance(peer.config.machine_timeout - 0.5)  # not yet a whole timeout later
    await peer.beat()
    owner = await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
    assert owner == victim.machine_id
    clock.advance(0.5)  # a timeout later the victim still has not reported in
    await peer.beat()
    # declared dead, its task given back: free, or already the peer's (a polling peer, as in
    # the YugabyteDB-readiness mode, may claim it before this looks; done, the row is gone)
    owner = await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
    assert owner in (None, peer.machine_id)
    dead = await probe_db.query_value(
        "SELECT session IS NULL FROM harmony_machines WHERE id = $1", victim.machine_id
    )
    assert dead is True
