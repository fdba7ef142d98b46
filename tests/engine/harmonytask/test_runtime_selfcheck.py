"""Nothing stays owned by a live machine that does not run it: the periodic self-check gives
such tasks back, a machine that lost its session re-adopts what its id still owns when it
rejoins, and a machine that is stopping does not rejoin at all."""

from __future__ import annotations

import asyncio

from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, Lifecycle, MachineView, add_tasks, task_history
from engine.harmonytask.engine import SELF_CHECK_EVERY
from engine.harmonytask.selfcheck import REASON
from support.probe import PATIENCE, Probe, wait_until


async def expire(db: DB, machine_id: int) -> None:
    await db.exec(
        "UPDATE harmony_machines SET last_contact = now() - interval '1 hour' WHERE id = $1",
        machine_id,
    )


async def own(db: DB, task_id: int, machine_id: int) -> None:
    """What a claim whose reply was lost (or that raced a reap) leaves behind: the task owned by
    the machine's id under a new attempt, and no attempt running anywhere."""
    await db.exec(
        "UPDATE harmony_task SET owner_id = $2, attempt = attempt + 1, claimed_at = now() "
        "WHERE id = $1",
        task_id,
        machine_id,
    )


async def test_the_self_check_gives_back_only_what_is_not_running_here(
    probe_db: DB, engines
) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m")
    (running,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [running], 5)
    (stray,) = await add_tasks(probe_db, "other", 1)  # a type nobody here runs
    await own(probe_db, stray, engine.machine_id)
    assert await engine.self_check() == [stray]
    rows = await probe_db.select("SELECT id, owner_id FROM harmony_task ORDER BY id")
    assert [(r["id"], r["owner_id"]) for r in rows] == [
        (running, engine.machine_id),
        (stray, None),
    ]
    (history,) = await task_history(probe_db, task_id=stray)
    assert (history.outcome, history.err) == ("released", REASON)
    assert await engine.self_check() == []  # the running attempt is never touched
    probe.release()
    await wait_until(lambda: probe_db.query_value("SELECT count(*) = 1 FROM harmony_task"), 5)


async def test_heartbeats_run_the_self_check(probe_db: DB, engines) -> None:
    engine = await engines([Probe(probe_db, "m")], "m")
    (stray,) = await add_tasks(probe_db, "other", 1)
    await own(probe_db, stray, engine.machine_id)
    for _ in range(SELF_CHECK_EVERY):
        await engine.beat()
    assert (
        await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", stray) is None
    )


async def test_a_claim_that_raced_the_reap_is_readopted_when_the_machine_rejoins(
    probe_db: DB, engines
) -> None:
    """The reap skips rows a claim has locked; the claim commits them to the dead machine's id.
    When that machine rejoins, they must not stay owned by a live machine that runs none."""
    probe = Probe(probe_db, "a", block=True)
    clock = ManualClock()
    a = await engines([probe], "a", clock=clock)
    reaper = await engines([Probe(probe_db, "r", "reaper-only")], "reaper")
    (first,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [first], 5)
    await expire(probe_db, a.machine_id)
    await reaper.beat()  # a is declared dead; its task goes back to the queue
    (raced,) = await add_tasks(probe_db, "probe", 1)
    await own(probe_db, raced, a.machine_id)  # the claim's commit, after the reap looked
    # a was cut off (that is why it was declared dead): its first beat back declares nobody
    # dead, its own leftovers included, before it rejoins.
    clock.advance(3 * a.config.heartbeat_interval)
    await a.beat()  # a learns it lost its session and rejoins
    assert a.lifecycle is Lifecycle.RUNNING
    await wait_until(lambda: raced in probe.started, 5, "the raced task to run on a")
    probe.release()
    await wait_until(
        lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 10, "all done"
    )
    runs = await probe_db.select("SELECT task_id FROM probe_runs ORDER BY task_id")
    assert [r["task_id"] for r in runs] == [first, raced]


async def test_a_machine_that_is_stopping_does_not_rejoin(probe_db: DB, engines) -> None:
    probe = Probe(probe_db, "a", block=True)
    a = await engines([probe], "a")
    reaper = await engines([Probe(probe_db, "r", "reaper-only")], "reaper")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task_id], 5)
    stopping = asyncio.ensure_future(a.graceful_terminate())
    await wait_until(lambda: a.lifecycle is Lifecycle.STOPPING, 5)
    await expire(probe_db, a.machine_id)
    await reaper.beat()
    await a.beat()  # session lost while draining: abandon the task, do not come back
    await asyncio.wait_for(stopping, 10 * PATIENCE)
    assert a.lifecycle is Lifecycle.STOPPED
    row = await probe_db.query_row(
        "SELECT session, lost_at IS NOT NULL AS declared_dead FROM harmony_machines WHERE id = $1",
        a.machine_id,
    )
    assert row == {"session": None, "declared_dead": True}
    assert probe.cancelled == [task_id]  # abandoned, not finished as if it were still a's


#: Cycles only when woken, with NOTIFY or without (the YugabyteDB-readiness mode): a polling
#: cycle that began before the insert claimed nothing of the plain type, then found the other.
WAKE_ONLY = EngineConfig(
    heartbeat_interval=3600,
    machine_timeout=5,
    poll_interval=3600,
    poll_min=3600,
    poll_max=3600,
    housekeeping_interval=3600,
)


class Hesitant(Probe):
    """A type with its own ``can_accept`` that waits for the test before answering: the claim
    cycle pauses with the other types' tasks already claimed and not yet admitted."""

    def __init__(self, db: DB, machine: str, name: str) -> None:
        super().__init__(db, machine, name)
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def can_accept(self, task_ids: list[int], machine: MachineView) -> list[int]:
        self.asked.set()
        await self.answer.wait()
        return task_ids


async def test_the_self_check_never_takes_a_task_between_its_claim_and_its_start(
    probe_db: DB, engines
) -> None:
    plain = Probe(probe_db, "m", block=True)
    hesitant = Hesitant(probe_db, "m", "hesitant")
    engine = await engines([plain, hesitant], "m", config=WAKE_ONLY)
    # Both at once, so one cycle finds both: it claims the plain one, then asks the other type.
    claimed = await probe_db.query_value(
        "WITH t AS (INSERT INTO harmony_task (name, added_by, posted_time) "
        "VALUES ('probe', 0, now()), ('hesitant', 0, now()) RETURNING id, name) "
        "SELECT id FROM t WHERE name = 'probe'"
    )
    engine.wake()
    await asyncio.wait_for(hesitant.asked.wait(), 5 * PATIENCE)
    # The plain task is this machine's in the database now, and not running here yet.
    owner = await probe_db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", claimed)
    assert owner == engine.machine_id and plain.started == []
    checking = asyncio.ensure_future(engine.self_check())
    await asyncio.sleep(0.2)
    assert not checking.done()  # it waits for the cycle to end
    hesitant.answer.set()
    assert await asyncio.wait_for(checking, 5 * PATIENCE) == []
    assert plain.started == [claimed]
    assert await task_history(probe_db, task_id=claimed) == []
    plain.release()
