"""The YugabyteDB-readiness mode (engine/harmonydb/yugabyte_mode.py): LISTEN refused by the
server, polling in its place, real serialization failures retried, claims exactly once.

Each test puts its own front between itself and the suite's server, so these run (and mean the
same) whether or not the suite runs in the mode (``HARMONY_TEST_YUGABYTE_MODE=1`` or ``engine``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from engine.harmonydb import DB
from engine.harmonydb.errors import HarmonyDBError
from engine.harmonydb.retry import RetryPolicy
from engine.harmonydb.yugabyte_mode import (
    ENGINE,
    ENV,
    SUITE,
    YugabyteFront,
    front_if_requested,
    in_mode,
    requested_scope,
)
from engine.harmonytask import EngineConfig, add_tasks
from support.probe import Probe, wait_until

POLLING = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, housekeeping_interval=3600, poll_max=0.5
)


@pytest.fixture
async def front(pg_url: str) -> AsyncIterator[YugabyteFront]:
    proxy = YugabyteFront.for_url(pg_url)
    front = YugabyteFront(proxy.upstream_host, proxy.upstream_port)
    async with front:
        yield front


@pytest.fixture
async def yb_db(front: YugabyteFront, pg_url: str, probe_db: DB) -> AsyncIterator[DB]:
    """The test's schema (with ``probe_runs``), opened through the front."""
    db = await DB.open(front.url(pg_url), schema=probe_db.schema, migrate=False)
    try:
        yield db
    finally:
        await db.close()


async def test_the_server_refuses_listen_and_every_session_is_serializable(
    front: YugabyteFront, pg_url: str
) -> None:
    conn = await asyncpg.connect(front.url(pg_url))
    try:
        assert await conn.fetchval("SHOW transaction_isolation") == "serializable"
        # simple protocol (the DB's probe) and extended protocol (asyncpg's add_listener)
        with pytest.raises(asyncpg.FeatureNotSupportedError, match="not supported yet"):
            await conn.execute("LISTEN harmony_probe; UNLISTEN harmony_probe")
        with pytest.raises(asyncpg.FeatureNotSupportedError):
            await conn.add_listener("chan", lambda *_: None)
        assert await conn.fetch("SELECT pg_listening_channels()") == []
        # refused by the server: a transaction block is aborted, as by any failed statement
        async with conn.transaction():
            with pytest.raises(asyncpg.FeatureNotSupportedError):
                await conn.execute("listen chan")
            with pytest.raises(asyncpg.InFailedSQLTransactionError):
                await conn.fetchval("SELECT 1")
        assert await conn.fetchval("SELECT 1") == 1  # and the session goes on
    finally:
        await conn.close()
    assert front.counts.listens_refused == 3
    # a client that chose its isolation keeps it
    conn = await asyncpg.connect(
        front.url(pg_url), server_settings={"default_transaction_isolation": "read committed"}
    )
    try:
        assert await conn.fetchval("SHOW transaction_isolation") == "read committed"
    finally:
        await conn.close()


async def test_engines_poll_for_work_when_the_server_refuses_listen(yb_db: DB, engines) -> None:
    assert await yb_db.notify_supported() is False
    probe = Probe(yb_db, "m")
    engine = await engines([probe], "m", db=yb_db, config=POLLING)
    assert engine.notify_mode is False
    assert engine.listener is not None and not engine.listener.connected
    await asyncio.sleep(1.0)  # idle long enough for the poll to back off to poll_max
    started = time.monotonic()
    (task,) = await add_tasks(yb_db, "probe", 1)  # its NOTIFY is skipped: nobody could hear it
    await wait_until(lambda: task in probe.started, 5, "the task picked up by polling")
    assert time.monotonic() - started < 0.5 + 0.5  # within one poll_max, plus scheduling slack


async def test_a_real_serialization_failure_is_retried_as_a_whole(yb_db: DB) -> None:
    """Write skew: two transactions each read both rows and move one; SSI lets only one of
    them commit as they interleave. The other's COMMIT (or statement) fails with 40001 and its
    closure re-runs on a fresh snapshot, where the invariant (one on call) holds."""
    await yb_db.exec("CREATE TABLE on_call (doctor TEXT PRIMARY KEY, on_call BOOLEAN NOT NULL)")
    await yb_db.exec("INSERT INTO on_call VALUES ('alice', true), ('bob', true)")
    both_read = asyncio.Barrier(2)
    attempts: dict[str, int] = {"alice": 0, "bob": 0}
    failures: list[str] = []

    def leave(doctor: str):
        async def fn(tx) -> bool:
            attempts[doctor] += 1
            on = await tx.query_value("SELECT count(*) FROM on_call WHERE on_call")
            if attempts[doctor] == 1:
                await both_read.wait()  # the other has read too: their snapshots overlap
            if on < 2:
                return False  # the other left first: stay on call
            try:
                await tx.exec("UPDATE on_call SET on_call = false WHERE doctor = $1", doctor)
                await tx.commit()
            except HarmonyDBError as exc:
                failures.append(str(exc.sqlstate))
                raise
            return True

        return fn

    left = await asyncio.gather(yb_db.transaction(leave("alice")), yb_db.transaction(leave("bob")))
    assert failures == ["40001"]  # a real serialization failure, from the server
    assert sorted(left) == [False, True]
    assert sum(attempts.values()) == 3  # the loser re-ran once, as a whole
    assert await yb_db.query_value("SELECT count(*) FROM on_call WHERE on_call") == 1


async def test_without_the_retry_the_same_conflict_reaches_the_caller(yb_db: DB) -> None:
    """The failure above is the server's, not the retry's: unretried, it is raised."""
    await yb_db.exec("CREATE TABLE pair (k INT PRIMARY KEY, v INT NOT NULL)")
    await yb_db.exec("INSERT INTO pair VALUES (1, 0), (2, 0)")
    both_read = asyncio.Barrier(2)

    def bump(k: int):
        async def fn(tx) -> None:
            await tx.query_value("SELECT sum(v) FROM pair")
            await both_read.wait()
            await tx.exec("UPDATE pair SET v = v + 1 WHERE k = $1", k)
            await tx.commit()

        return fn

    results = await asyncio.gather(
        yb_db.transaction(bump(1), retry=False),
        yb_db.transaction(bump(2), retry=False),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert [getattr(e, "sqlstate", None) for e in errors] == ["40001"]


async def test_claims_are_exactly_once_under_serializable_without_listen(
    yb_db: DB, engines
) -> None:
    # a patient policy: four engines claiming one queue under SSI conflict often
    yb_db.retry_policy = RetryPolicy(attempts=30, max_delay=0.5)
    probes = [Probe(yb_db, f"m{i}") for i in range(4)]
    for i, probe in enumerate(probes):
        await engines([probe], f"m{i}", db=yb_db, config=POLLING)
    ids = await add_tasks(yb_db, "probe", 300)

    async def queue_empty() -> bool:
        return await yb_db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(queue_empty, 60, "queue to drain")
    rows = await yb_db.select("SELECT task_id, count(*) AS n FROM probe_runs GROUP BY task_id")
    assert {r["task_id"]: r["n"] for r in rows} == dict.fromkeys(ids, 1)
    done = await yb_db.select(
        "SELECT task_id, count(*) AS n FROM harmony_task_history WHERE outcome = 'done' "
        "GROUP BY task_id"
    )
    assert {r["task_id"]: r["n"] for r in done} == dict.fromkeys(ids, 1)
    # How the 300 spread over the four is not asserted: on a loaded machine (CI's second run,
    # two test processes on 2 cores) one engine's polls may win every claim.


def test_the_mode_names_the_whole_suite_or_the_engine_suite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``1`` the whole suite, ``engine`` tests/engine alone (CI's second run), a typo refused."""
    for value, scope, engine, rest in [
        (None, None, False, False),
        ("0", None, False, False),
        ("1", SUITE, True, True),
        ("engine", ENGINE, True, False),
    ]:
        if value is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, value)
        assert requested_scope() == scope
        assert (in_mode(ENGINE), in_mode(SUITE)) == (engine, rest)
    monkeypatch.setenv(ENV, "engines")
    with pytest.raises(ValueError, match="expected 1"):
        requested_scope()
    # one front, never two: the suite's fixture and the engine suite's each wrap only their own
    monkeypatch.setenv(ENV, "engine")
    with front_if_requested("postgresql://h/db", SUITE) as url:
        assert url == "postgresql://h/db"
