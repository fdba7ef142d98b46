"""An idle machine that provably owns no task skips the self-check's statement at its heartbeats
(it would find nothing); a claim that took a task, or a task running, makes the self-check run
again. The self-check itself, what it gives back and when, is tested in test_runtime_selfcheck."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from engine.harmonydb import DB
from engine.harmonytask import TaskEngine, add_tasks
from engine.harmonytask.engine import SELF_CHECK_EVERY
from support.probe import Probe, wait_until


@pytest.fixture
async def engine_db(pg_url: str, probe_db: DB) -> AsyncIterator[DB]:
    """The test's schema on a DB of the engine's own, so its statement count is the engine's."""
    db = await DB.open(pg_url, schema=probe_db.schema, migrate=False)
    try:
        yield db
    finally:
        await db.close()


async def quiet(db: DB, for_seconds: float = 0.3) -> None:
    """Until ``db`` has sent nothing for a while (the cycles a finished task woke are over)."""
    last, still = db.statements, 0.0
    while still < for_seconds:
        await asyncio.sleep(0.05)
        still = still + 0.05 if db.statements == last else 0.0
        last = db.statements


@dataclass(frozen=True)
class Beats:
    """What SELF_CHECK_EVERY heartbeats (one self-check's worth) sent."""

    #: self-check statements (the engine's tally)
    self_checks: int
    #: every statement of the machine's DB: the heartbeats' and the self-check's, and where
    #: the server refuses LISTEN also claim polls, which fall in the window at their own pace
    statements: int


async def beats(engine: TaskEngine, db: DB) -> Beats:
    before, checks = db.statements, engine.stats.self_checks
    for _ in range(SELF_CHECK_EVERY):
        await engine.beat()
    return Beats(engine.stats.self_checks - checks, db.statements - before)


async def test_an_idle_machine_that_owns_nothing_skips_the_self_check_statement(
    engine_db: DB, probe_db: DB, engines
) -> None:
    probe = Probe(probe_db, "m")
    engine = await engines([probe], "m", db=engine_db)
    exact = await engine_db.notify_supported()  # woken by NOTIFY: no polls in the window
    await asyncio.wait_for(quiet(engine_db), 10)  # its first claim cycle is over
    assert (await beats(engine, engine_db)).self_checks == 1  # the first one always runs
    skipped = await beats(engine, engine_db)  # nothing ran, nothing was claimed
    assert skipped.self_checks == 0
    if exact:
        assert skipped.statements == SELF_CHECK_EVERY  # the heartbeats' own, nothing else

    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task], 10, "the task to start")
    await wait_until(
        lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 10, "it to be done"
    )
    await asyncio.wait_for(quiet(engine_db), 10)
    claimed = await beats(engine, engine_db)  # it claimed since: the check runs once more
    again = await beats(engine, engine_db)
    assert (claimed.self_checks, again.self_checks) == (1, 0)
    if exact:
        assert (claimed.statements, again.statements) == (SELF_CHECK_EVERY + 1, SELF_CHECK_EVERY)


async def test_a_machine_running_a_task_runs_every_self_check(
    engine_db: DB, probe_db: DB, engines
) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m", db=engine_db)
    exact = await engine_db.notify_supported()
    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task], 10, "the task to start")
    await asyncio.wait_for(quiet(engine_db), 10)
    first = await beats(engine, engine_db)
    second = await beats(engine, engine_db)
    assert (first.self_checks, second.self_checks) == (1, 1)
    if exact:
        assert first.statements == second.statements == SELF_CHECK_EVERY + 1
    probe.release()
