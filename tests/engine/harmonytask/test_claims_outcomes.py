"""An outcome write whose reply is lost after the server committed it: sent again, it must
recognise its own earlier commit (the attempt's history row) instead of reporting the attempt
fenced out, and nothing is recorded twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, add_tasks
from support.probe import Probe, wait_until

CONFIG = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, poll_interval=0.5, housekeeping_interval=3600
)


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    async with PgProxy.for_url(pg_url) as running:
        yield running


@pytest.fixture
async def proxied(proxy: PgProxy, pg_url: str, probe_db: DB) -> AsyncIterator[DB]:
    db = await DB.open(proxy.url(pg_url), schema=probe_db.schema, migrate=False)
    try:
        yield db
    finally:
        await db.close()


async def history(db: DB) -> list[tuple[int, str]]:
    rows = await db.select("SELECT task_id, outcome FROM harmony_task_history ORDER BY id")
    return [(r["task_id"], r["outcome"]) for r in rows]


async def test_a_lost_done_reply_is_recognised_and_recorded_once(
    probe_db: DB, proxied: DB, proxy: PgProxy, engines
) -> None:
    rule = proxy.drop_reply("", count=3, sql_contains="DELETE FROM harmony_task t USING input")
    engine = await engines([Probe(probe_db, "m")], "m", db=proxied, config=CONFIG)
    ids = await add_tasks(probe_db, "probe", 10)

    async def queue_empty() -> bool:
        return await probe_db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(queue_empty, 30, "every task to be done")
    assert rule.fired == 3
    assert sorted(await history(probe_db)) == [(i, "done") for i in ids]
    await wait_until(lambda: engine.stats.done == 10, 10, "every completion to be counted")
    assert engine.stats.fenced == 0


async def test_a_lost_failure_reply_is_recognised_and_the_retry_comes(
    probe_db: DB, proxied: DB, proxy: PgProxy, engines
) -> None:
    rule = proxy.drop_reply("", count=1, sql_contains="retries = t.retries + 1")
    probe = Probe(probe_db, "m", fail=lambda task_id: len(probe.started) == 1)
    engine = await engines([probe], "m", db=proxied, config=CONFIG)
    (task,) = await add_tasks(probe_db, "probe", 1)

    async def done() -> bool:
        return await probe_db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(done, 30, "the task to be retried and done")
    assert rule.fired == 1
    assert await history(probe_db) == [(task, "retry"), (task, "done")]
    await wait_until(lambda: engine.stats.done == 1, 10, "the completion to be counted")
    assert engine.stats.fenced == 0


async def test_a_done_reply_left_hanging_is_sent_again_long_before_the_db_bound(
    probe_db: DB, proxied: DB, proxy: PgProxy, engines
) -> None:
    """The reply to a completion batch lost on a link left open and silent: the batcher waits a
    third of the machine timeout for it (not the DB's 12 s bound, during which every completion
    of the machine would wait behind it and the runner would give the tasks up for peers to run
    again), then sends it again in the form that recognises its own commit."""
    assert proxied.bounds.reply_timeout >= 12
    rule = proxy.drop_reply(
        "", count=1, sql_contains="DELETE FROM harmony_task t USING input", after="hang"
    )
    probe = Probe(probe_db, "m")
    engine = await engines([probe], "m", db=proxied, config=CONFIG)
    ids = await add_tasks(probe_db, "probe", 5)

    async def queue_empty() -> bool:
        return await probe_db.query_value("SELECT count(*) FROM harmony_task") == 0

    # Two machine timeouts is when the runner gives an unrecorded outcome up.
    await wait_until(queue_empty, 2 * 5 - 1, "every task to be done before the runner gives up")
    assert rule.fired == 1
    assert sorted(await history(probe_db)) == [(i, "done") for i in ids]
    assert sorted(probe.started) == sorted(ids)  # each ran once
    await wait_until(lambda: engine.stats.done == 5, 10, "every completion to be counted")
    assert engine.stats.fenced == 0


async def test_a_heartbeat_reply_left_hanging_costs_one_beat_not_the_machine(
    probe_db: DB, proxied: DB, proxy: PgProxy, engines
) -> None:
    """A heartbeat whose reply is lost on a silent link: waited on for the DB's 12 s bound, the
    machine would stay silent past its 5 s timeout and a peer would declare it dead and run
    its task a second time. The beat gives up after a third of the timeout, and the next one,
    on a fresh connection, keeps the machine alive."""
    config = EngineConfig(
        heartbeat_interval=0.5, machine_timeout=5, poll_interval=0.5, housekeeping_interval=3600
    )
    held = Probe(probe_db, "m", block=True)
    await engines([held], "m", db=proxied, config=config)
    (task,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: held.started == [task], 10, "the task to start")
    peer = Probe(probe_db, "peer")
    await engines([peer], "peer", config=config)
    rule = proxy.drop_reply("", count=1, sql_contains="machine_timeout_setting", after="hang")
    await wait_until(lambda: rule.fired == 1, 10, "a heartbeat's reply to be lost")
    await asyncio.sleep(2 * 5)  # two machine timeouts: a dead machine's task would move
    assert peer.started == []
    assert await history(probe_db) == []
    held.release(task)

    async def queue_empty() -> bool:
        return await probe_db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(queue_empty, 10, "the task to be done")
    assert await history(probe_db) == [(task, "done")]


async def test_ownership_is_vouched_for_only_within_the_heartbeat_lease(
    probe_db: DB, engines
) -> None:
    """An answer to ``still_owned`` that arrives after the machine's lease ran out (its last
    heartbeat the database took, plus the machine timeout) proves nothing: peers may have
    declared the machine dead meanwhile, and the answer may have been held up on a frozen
    link. Here no heartbeat follows registration, so the lease ends after the timeout."""
    config = EngineConfig(
        heartbeat_interval=3600, machine_timeout=2, poll_interval=0.5, housekeeping_interval=3600
    )
    probe = Probe(probe_db, "m", block=True)
    await engines([probe], "m", config=config)
    first, second = await add_tasks(probe_db, "probe", 2)
    await wait_until(lambda: len(probe.started) == 2, 10, "both tasks to start")
    probe.release(first)
    await wait_until(lambda: len(probe.owned_checks) == 1, 10, "the first ownership check")
    await asyncio.sleep(2.5)  # the registration's lease has run out; no heartbeat renewed it
    probe.release(second)
    await wait_until(lambda: len(probe.owned_checks) == 2, 10, "the second ownership check")
    # Nor does it claim again while its lease is out: the failed attempt's retry waits in the
    # queue instead of being claimed, disowned and failed in a loop.
    await asyncio.sleep(4 * config.poll_interval)
    assert probe.owned_checks == [True, False]
    assert probe.started == [first, second]
    assert await probe_db.query_value(
        "SELECT owner_id IS NULL FROM harmony_task WHERE id = $1", second
    )
