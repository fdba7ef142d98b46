"""An idle machine that provably owns no task skips the self-check's statement at its heartbeats
(it would find nothing); a claim that took a task, or a task running, makes the self-check run
again. The self-check itself, what it gives back and when, is tested in test_runtime_selfcheck."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

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


async def statements_of_beats(engine: TaskEngine, db: DB) -> int:
    """Statements sent during SELF_CHECK_EVERY heartbeats (one self-check's worth)."""
    before = db.statements
    for _ in range(SELF_CHECK_EVERY):
        await engine.beat()
    return db.statements - before


async def test_an_idle_machine_that_owns_nothing_skips_the_self_check_statement(
    engine_db: DB, probe_db: DB, engines
) -> None:
    probe = Probe(probe_db, "m")
    engine = await engines([probe], "m", db=engine_db)
    await asyncio.wait_for(quiet(engine_db), 10)  # its first claim cycle is over
    await statements_of_beats(engine, engine_db)  # the first self-check always runs
    skipped = await statements_of_beats(engine, engine_db)  # nothing ran, nothing was claimed
    assert skipped == SELF_CHECK_EVERY  # the heartbeats' own statements, nothing else

    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task], 10, "the task to start")
    await wait_until(
        lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 10, "it to be done"
    )
    await asyncio.wait_for(quiet(engine_db), 10)
    assert await statements_of_beats(engine, engine_db) == skipped + 1  # it claimed since
    assert await statements_of_beats(engine, engine_db) == skipped


async def test_a_machine_running_a_task_runs_every_self_check(
    engine_db: DB, probe_db: DB, engines
) -> None:
    probe = Probe(probe_db, "m", block=True)
    engine = await engines([probe], "m", db=engine_db)
    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task], 10, "the task to start")
    await asyncio.wait_for(quiet(engine_db), 10)
    first = await statements_of_beats(engine, engine_db)
    assert await statements_of_beats(engine, engine_db) == first
    probe.release()
