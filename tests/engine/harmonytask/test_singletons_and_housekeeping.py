"""Singleton tasks and IAmBored; history retention and forgetting departed machines."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import AddTaskFn, EngineConfig, housekeeping, singleton_adder
from support.probe import Probe, wait_until

FAST = EngineConfig(
    heartbeat_interval=3600, poll_interval=0.1, idle_try_interval=0.05, housekeeping_interval=3600
)


async def test_a_singleton_runs_once_per_interval_across_machines(probe_db: DB, engines) -> None:
    probes = [
        Probe(probe_db, f"m{i}", "tick", iam_bored=singleton_adder("tick", 0.5)) for i in range(3)
    ]
    for i, probe in enumerate(probes):
        await engines([probe], f"m{i}", config=FAST)

    async def runs() -> list[dict]:
        return await probe_db.select(
            "SELECT posted FROM harmony_task_history WHERE name = 'tick' ORDER BY posted"
        )

    await wait_until(lambda: _at_least(runs(), 3), 10, "three ticks")
    # Every 0.5 s, whichever machine was bored first; a second machine adding the same tick
    # would show a gap near 0. Each run's task was posted by the server's clock in the
    # transaction that took the singleton's slot (the run's own start jitters with the load).
    gaps = [
        (b["posted"] - a["posted"]).total_seconds() for a, b in itertools.pairwise(await runs())
    ]
    assert all(g >= 0.5 for g in gaps), gaps
    row = await probe_db.query_row(
        "SELECT task_name, last_run_time IS NOT NULL AS ran FROM harmony_task_singletons"
    )
    assert row == {"task_name": "tick", "ran": True}


async def _at_least(rows: Awaitable[list[dict]], n: int) -> bool:
    return len(await rows) >= n


async def test_a_singleton_does_not_start_while_one_is_live(probe_db: DB, engines) -> None:
    clock = ManualClock()
    tries = [0, 0]

    def counted(i: int) -> Callable[[AddTaskFn], Awaitable[None]]:
        adder = singleton_adder("tick", 0.05, clock=clock)

        async def bored(add_task: AddTaskFn) -> None:
            tries[i] += 1
            await adder(add_task)

        return bored

    probes = [Probe(probe_db, f"m{i}", "tick", block=True, iam_bored=counted(i)) for i in range(2)]
    machines = [
        await engines([probe], f"m{i}", config=FAST, clock=clock) for i, probe in enumerate(probes)
    ]
    await wait_until(lambda: sum(len(p.started) for p in probes) == 1, 5)
    for round_ in range(1, 4):  # several intervals later, every machine is bored again
        before = list(tries)
        clock.advance(1.0)
        for machine in machines:
            # Its loop or this cycle (they take turns) asks IAmBored once at this time.
            assert (await machine.cycle()).claimed == ()
        assert [t - b for t, b in zip(tries, before, strict=True)] == [1, 1], round_
    assert sum(len(p.started) for p in probes) == 1
    assert await probe_db.query_value("SELECT count(*) FROM harmony_task") == 1


async def test_housekeeping_deletes_history_past_retention_and_departed_machines(
    probe_db: DB,
) -> None:
    await probe_db.exec(
        "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, "
        "completed_by_host_and_port, outcome) SELECT g, 'noop', t, t, t, TRUE, 'm', 'done' "
        "FROM generate_series(0, 29) g, "
        "LATERAL (SELECT now() - make_interval(days => g, hours => 12) AS t) x"
    )
    await probe_db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, last_contact) "
        "VALUES ('gone', 1, 1, 0, NULL, now() - interval '3 days'), "
        "('alive', 1, 1, 0, 's', now()), ('recent', 1, 1, 0, NULL, now())"
    )
    config = EngineConfig(history_retention=7 * 86400, forget_machines_after=86400)
    removed = await housekeeping(probe_db, config, batch=5)
    assert removed == {"history": 23, "machines": 1}  # 7.5..29.5 days old, and 'gone'
    assert await probe_db.query_value("SELECT count(*) FROM harmony_task_history") == 7
    names = [
        r["host_and_port"]
        for r in await probe_db.select("SELECT host_and_port FROM harmony_machines ORDER BY 1")
    ]
    assert names == ["alive", "recent"]
    kept_all = EngineConfig(history_retention=None, forget_machines_after=86400)
    assert (await housekeeping(probe_db, kept_all))["history"] == 0
