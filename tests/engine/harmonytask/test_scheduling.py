"""Claims and admission: exactly once under contention, priorities, resources, limits, aging,
preemption, can_accept."""

from __future__ import annotations

import time

from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, Limiter, add_tasks, task_history
from engine.resources import GiB, Resources
from support.probe import Probe, wait_until


async def runs_per_task(db: DB) -> dict[int, int]:
    rows = await db.select("SELECT task_id, count(*) AS n FROM probe_runs GROUP BY task_id")
    return {r["task_id"]: r["n"] for r in rows}


async def queue_empty(db: DB) -> bool:
    return await db.query_value("SELECT count(*) FROM harmony_task") == 0


#: Manual heartbeats, and a lease that outlasts the drain: with the suite's 5 s machine timeout
#: a machine stops claiming 5 s after its one heartbeat, and a drain by polling (no NOTIFY, the
#: YugabyteDB-readiness mode) on a loaded machine took longer, so the queue was never emptied.
LONG_LEASE = EngineConfig(
    heartbeat_interval=3600, machine_timeout=600, poll_interval=30, housekeeping_interval=3600
)


async def test_every_task_runs_exactly_once_with_four_competing_engines(probe_db, engines) -> None:
    for i in range(4):
        await engines([Probe(probe_db, f"m{i}")], f"m{i}", config=LONG_LEASE)
    ids = await add_tasks(probe_db, "probe", 600)
    await wait_until(lambda: queue_empty(probe_db), 60, "queue to drain")
    runs = await runs_per_task(probe_db)
    assert runs == dict.fromkeys(ids, 1)
    history = await probe_db.select(
        "SELECT task_id, count(*) AS n FROM harmony_task_history WHERE outcome = 'done' "
        "GROUP BY task_id"
    )
    assert {r["task_id"]: r["n"] for r in history} == dict.fromkeys(ids, 1)
    machines = await probe_db.query_value("SELECT count(DISTINCT machine) FROM probe_runs")
    assert machines > 1  # the work really was shared


async def test_higher_priority_runs_first_then_oldest(probe_db, engines) -> None:
    probe = Probe(probe_db, "m", cost=Resources(cpu=4))  # one at a time on a 4-cpu box
    low = await add_tasks(probe_db, "probe", 2, priority=0)
    high = await add_tasks(probe_db, "probe", 2, priority=5)
    await engines([probe], "m")
    await wait_until(lambda: queue_empty(probe_db), 10)
    assert probe.started == [*high, *low]


async def test_a_task_never_starts_when_its_cost_does_not_fit(probe_db, engines) -> None:
    probe = Probe(probe_db, "m", cost=Resources(cpu=1, ram=3 * GiB), block=True)
    engine = await engines([probe], "m", capacity=Resources(cpu=8, ram=8 * GiB))
    await add_tasks(probe_db, "probe", 5)
    await wait_until(lambda: len(probe.started) == 2, 5)  # RAM allows 2 (6 of 8 GiB)
    assert (await engine.cycle()).claimed == ()  # a third does not fit: none is claimed
    assert len(engine.running_tasks()) == 2
    assert engine.resources_available().ram == 2 * GiB
    probe.release(probe.started[0])
    await wait_until(lambda: len(probe.started) == 3, 5)
    assert len(engine.running_tasks()) == 2


async def test_a_shared_limiter_caps_several_types_together(probe_db, engines) -> None:
    slots = Limiter(1)
    a = Probe(probe_db, "m", "alpha", block=True, max=slots)
    b = Probe(probe_db, "m", "beta", block=True, max=slots)
    engine = await engines([a, b], "m")
    await add_tasks(probe_db, "alpha", 2)
    await add_tasks(probe_db, "beta", 2)
    await wait_until(lambda: len(a.started) + len(b.started) == 1, 5)
    assert (await engine.cycle()).claimed == ()  # the one slot is taken, for both types
    assert len(engine.running_tasks()) == 1
    (a if a.started else b).release()
    await wait_until(lambda: len(a.started) + len(b.started) == 2, 5)
    assert len(engine.running_tasks()) == 1


async def test_per_type_max_is_respected(probe_db, engines) -> None:
    probe = Probe(probe_db, "m", block=True, max=3)
    engine = await engines([probe], "m")
    await add_tasks(probe_db, "probe", 10)
    await wait_until(lambda: len(probe.started) == 3, 5)
    assert (await engine.cycle()).claimed == ()
    assert len(engine.running_tasks()) == 3


async def test_can_accept_picks_the_subset_this_machine_claims(probe_db, engines) -> None:
    evens = Probe(probe_db, "even", accept=lambda ids: [i for i in ids if i % 2 == 0])
    even = await engines([evens], "even")
    ids = await add_tasks(probe_db, "probe", 6)
    await wait_until(lambda: len(evens.started) == 3, 5)
    assert (await even.cycle()).claimed == ()  # the odd ones are offered, and declined
    assert sorted(evens.started) == [i for i in ids if i % 2 == 0]
    machine = evens.asked_by[-1]  # can_accept sees the machine, not the engine
    assert (machine.machine_id, machine.host_and_port) == (even.machine_id, "even")
    assert machine.capacity == even.capacity
    odds = Probe(probe_db, "odd")
    await engines([odds], "odd")
    await wait_until(lambda: queue_empty(probe_db), 5)
    assert sorted(odds.started) == [i for i in ids if i % 2]


async def test_a_big_task_is_not_starved_by_a_stream_of_small_ones(probe_db, engines) -> None:
    """Two 1-cpu tasks keep a 2-cpu machine busy; a 2-cpu task fits only when both end. Once it
    has waited past the threshold, the machine stops starting small tasks until it fits."""
    clock = ManualClock()
    small = Probe(probe_db, "m", "small", cost=Resources(cpu=1), block=True)
    big = Probe(probe_db, "m", "big", cost=Resources(cpu=2))
    engine = await engines([small, big], "m", capacity=Resources(cpu=2, ram=GiB), clock=clock)
    await add_tasks(probe_db, "small", 2)
    await wait_until(lambda: len(small.started) == 2, 5)
    await add_tasks(probe_db, "big", 1)
    await add_tasks(probe_db, "small", 5)
    small.release(small.started[0])  # not starving yet: a small one takes the free cpu
    await wait_until(lambda: len(small.started) == 3, 5)
    assert not big.started
    # the big task has now waited past starvation_after (by the database's clock, which aging
    # goes by: this machine's is not the one that stamped posted_time)
    await probe_db.exec(
        "UPDATE harmony_task SET posted_time = posted_time - interval '5 minutes' "
        "WHERE name = 'big'"
    )
    assert (await engine.cycle()).held_back_for == "big"
    advanced = time.monotonic()
    small.release()
    await wait_until(lambda: big.started, 5, "the big task to start")
    big_start = big.start_times[big.started[0]]
    later_smalls = [t for t in small.start_times.values() if t > advanced]
    assert all(t > big_start for t in later_smalls)  # nothing small started before it
    small.block = False
    small.release()
    await wait_until(lambda: len(small.started) == 7, 5)


async def test_time_sensitive_work_preempts_yielding_work(probe_db, engines) -> None:
    background = Probe(probe_db, "m", "bg", cost=Resources(cpu=1), block=True, can_yield=True)
    urgent = Probe(probe_db, "m", "wdpost", cost=Resources(cpu=1), time_sensitive=True)
    await engines([background, urgent], "m", capacity=Resources(cpu=1, ram=GiB))
    (victim,) = await add_tasks(probe_db, "bg", 1)
    await wait_until(lambda: background.started == [victim], 5)
    (proof,) = await add_tasks(probe_db, "wdpost", 1)
    await wait_until(lambda: urgent.started == [proof], 5, "the time-sensitive task")
    assert background.cancelled == [victim]
    rows = await task_history(probe_db, task_id=victim)
    assert [r.outcome for r in rows] == ["preempted"]
    retries = await probe_db.query_value("SELECT retries FROM harmony_task WHERE id = $1", victim)
    assert retries == 0  # a preemption is not a failure
    # The engine may already have re-claimed it (and blocked again) while we looked.
    background.block = False
    background.release(victim)
    await wait_until(lambda: queue_empty(probe_db), 5, "the preempted task to run again")
    assert background.started == [victim, victim]


async def test_a_task_whose_attempt_here_has_not_ended_is_not_claimed_here(
    probe_db, engines
) -> None:
    """A failed attempt's outcome can commit, making the task claimable, while the attempt still
    holds its slot here (its reply was lost and the re-send has not yet found the commit). This
    machine's claims pass over the task until that attempt is gone, then take it as usual."""
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m", config=LONG_LEASE)
    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task], 5)
    # the attempt's outcome is in the database (owner cleared, as a failure leaves it) ...
    await probe_db.exec("UPDATE harmony_task SET owner_id = NULL, claimed_at = NULL")
    # ... and the attempt here has not ended: no claim takes the task again
    assert (await engine.cycle()).claimed == ()
    row = await probe_db.query_row("SELECT owner_id, attempt FROM harmony_task")
    assert (row["owner_id"], row["attempt"]) == (None, 1)
    probe.block = False
    probe.release(task)
    await wait_until(lambda: queue_empty(probe_db), 10, "the task to run again")
    assert probe.started == [task, task]
    assert probe.owned_checks == [False, True]
