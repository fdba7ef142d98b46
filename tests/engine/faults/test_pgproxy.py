"""The fault proxy itself, with a real asyncpg client and the real test server behind it.

Each test checks both sides of a fault: what the client sees (a lost connection, a timeout) and
what the server did (the row is there), because the proxy is only useful if a lost reply really
means "the server acted, the client cannot know".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB

LOST = (asyncpg.exceptions.ConnectionDoesNotExistError, ConnectionError, asyncpg.InterfaceError)


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    async with PgProxy.for_url(pg_url) as running:
        yield running


@pytest.fixture
async def table(db: DB) -> DB:
    await db.exec("CREATE TABLE proxied (id INT PRIMARY KEY, v TEXT)")
    return db


async def _client(proxy: PgProxy, pg_url: str, db: DB) -> asyncpg.Connection:
    return await asyncpg.connect(
        proxy.url(pg_url), server_settings={"search_path": db.schema}, timeout=10
    )


async def test_a_dropped_commit_reply_leaves_the_row_committed_and_the_client_disconnected(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    conn = await _client(proxy, pg_url, table)
    rule = proxy.drop_reply("COMMIT")
    tx = conn.transaction()
    await tx.start()
    await conn.execute("INSERT INTO proxied VALUES (1, 'a')")
    with pytest.raises(LOST):
        await tx.commit()
    await conn.close()
    assert rule.fired == 1 and rule.dropped == ["COMMIT"]
    assert await table.query_value("SELECT v FROM proxied WHERE id = 1") == "a"
    assert proxy.tags["COMMIT"] == 1


async def test_a_dropped_autocommit_update_reply_was_applied_and_only_the_matching_one(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    await table.exec("INSERT INTO proxied VALUES (1, 'a'), (2, 'b')")
    conn = await _client(proxy, pg_url, table)
    rule = proxy.drop_reply("UPDATE", sql_contains="SET v = 'claimed'")
    # another UPDATE passes untouched: the rule matches the statement text too
    assert await conn.execute("UPDATE proxied SET v = 'other' WHERE id = 2") == "UPDATE 1"
    with pytest.raises(LOST):
        await conn.fetch("UPDATE proxied SET v = 'claimed' WHERE id = $1 RETURNING id", 1)
    await conn.close()
    assert rule.fired == 1 and rule.dropped == ["UPDATE 1"]
    assert await table.query_value("SELECT v FROM proxied WHERE id = 1") == "claimed"
    # a fresh connection through the proxy works again (count=1: the rule is spent)
    conn = await _client(proxy, pg_url, table)
    assert await conn.fetchval("SELECT count(*) FROM proxied") == 2
    await conn.close()
    assert proxy.connections == 2


async def test_a_row_limited_fetch_ends_in_portal_suspended_and_is_dropped_too(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    """query_row/query_value (fetchrow/fetchval) get no CommandComplete; the drop still works."""
    await table.exec("INSERT INTO proxied VALUES (1, 'a')")
    conn = await _client(proxy, pg_url, table)
    rule = proxy.drop_reply("UPDATE")
    with pytest.raises(LOST):
        await conn.fetchval("UPDATE proxied SET v = 'z' RETURNING id")
    conn.terminate()
    assert rule.dropped == ["UPDATE ?"]
    assert await table.query_value("SELECT v FROM proxied WHERE id = 1") == "z"


async def test_hang_after_a_dropped_reply_leaves_the_client_waiting(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    conn = await _client(proxy, pg_url, table)
    proxy.drop_reply("INSERT", after="hang")
    with pytest.raises(TimeoutError):
        await conn.execute("INSERT INTO proxied VALUES (3, 'c')", timeout=0.5)
    conn.terminate()
    assert await table.query_value("SELECT v FROM proxied WHERE id = 3") == "c"


async def test_probability_draws_are_seeded_and_counted(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    rule = proxy.drop_reply("SELECT", count=None, probability=0.5, seed=7)
    outcomes = []
    for _ in range(12):
        conn = await _client(proxy, pg_url, table)
        try:
            await conn.fetch("SELECT 1")
            outcomes.append(True)
        except LOST:
            outcomes.append(False)
        finally:
            conn.terminate()
    assert rule.seen == 12, (proxy.tags, proxy.backend, proxy.frontend)
    assert rule.fired == outcomes.count(False)
    assert 0 < rule.fired < 12


async def test_freeze_makes_a_query_time_out_and_thaw_resumes(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    conn = await _client(proxy, pg_url, table)
    assert await conn.fetchval("SELECT 1") == 1
    proxy.freeze()
    with pytest.raises(TimeoutError):
        await conn.fetchval("SELECT 2", timeout=0.3)
    # new connections are accepted but go nowhere while frozen
    with pytest.raises(TimeoutError):
        await _connect_within(proxy, pg_url, table, 0.3)
    assert proxy.open_links >= 2
    conn.terminate()
    proxy.thaw()
    conn = await _client(proxy, pg_url, table)
    assert await conn.fetchval("SELECT 3") == 3
    await conn.close()


async def test_what_was_held_back_by_a_freeze_arrives_after_thaw(
    proxy: PgProxy, pg_url: str, table: DB
) -> None:
    conn = await _client(proxy, pg_url, table)
    proxy.freeze()
    pending = asyncio.ensure_future(conn.execute("INSERT INTO proxied VALUES (4, 'd')"))
    await asyncio.sleep(0.2)
    assert not pending.done()
    assert await table.query_value("SELECT count(*) FROM proxied") == 0
    proxy.thaw()
    assert await asyncio.wait_for(pending, 10) == "INSERT 0 1"
    await conn.close()


async def test_sever_closes_every_link(proxy: PgProxy, pg_url: str, table: DB) -> None:
    conns = [await _client(proxy, pg_url, table) for _ in range(3)]
    assert proxy.sever() == 3
    for conn in conns:
        with pytest.raises(LOST):
            await conn.fetchval("SELECT 1")
    proxy.refusing = True
    with pytest.raises((*LOST, OSError)):
        await _client(proxy, pg_url, table)


async def _connect_within(proxy: PgProxy, pg_url: str, db: DB, seconds: float) -> None:
    conn = await asyncpg.connect(
        proxy.url(pg_url), server_settings={"search_path": db.schema}, timeout=seconds
    )
    await conn.close()
