"""Lost replies and frozen links, made by the fault proxy (tests/support/pgproxy.py).

A reply lost after the server committed must never be re-sent blindly (that is how one add
became ten), and a frozen link must never hold a call past its bound (that is how a worker went
silent for 30 s). Each test checks what the caller saw and what the server holds.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import (
    DB,
    AmbiguousCommit,
    Bounds,
    ConnectionLost,
    QueryError,
    TimedOut,
    Tx,
)
from support.probe import PATIENCE, wait_until

#: a tight bound, so frozen-link tests take a second, not the default 12
TIGHT = Bounds(statement_timeout=0.5, command_timeout=1.0)


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    async with PgProxy.for_url(pg_url) as running:
        yield running


@pytest.fixture
async def proxied(proxy: PgProxy, pg_url: str, db: DB) -> AsyncIterator[DB]:
    """The test schema, through the proxy, with a one-column table ``t``."""
    await db.exec("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT)")
    through = await DB.open(
        proxy.url(pg_url), schema=db.schema, migrate=False, bounds=TIGHT, max_size=3
    )
    try:
        yield through
    finally:
        proxy.thaw()
        await through.close()


async def rows(db: DB) -> int:
    return int(await db.query_value("SELECT count(*) FROM t"))


# ------------------------------------------------------------------ lost replies


async def test_a_lost_commit_reply_is_ambiguous_and_the_transaction_is_not_run_again(
    proxy: PgProxy, proxied: DB, db: DB
) -> None:
    runs = 0

    async def add(tx: Tx) -> None:
        nonlocal runs
        runs += 1
        await tx.exec("INSERT INTO t (v) VALUES ('once')")
        await tx.commit()

    rule = proxy.drop_reply("COMMIT")
    with pytest.raises(AmbiguousCommit) as caught:
        await proxied.transaction(add)
    assert rule.fired == 1
    assert runs == 1
    assert await rows(db) == 1  # it did commit: a re-run would have made two
    assert not caught.value.timed_out
    assert isinstance(caught.value, ConnectionLost)  # callers that catch the base still do
    assert "may have committed" in str(caught.value)


async def test_a_lost_autocommit_write_reply_is_ambiguous_and_not_resent(
    proxy: PgProxy, proxied: DB, db: DB
) -> None:
    rule = proxy.drop_reply("INSERT")
    with pytest.raises(AmbiguousCommit):
        await proxied.exec("INSERT INTO t (v) VALUES ('once')")
    assert rule.fired == 1
    assert await rows(db) == 1


async def test_a_lost_write_returning_rows_is_ambiguous_too(
    proxy: PgProxy, proxied: DB, db: DB
) -> None:
    """query_value gets PortalSuspended, not CommandComplete: the same ambiguity."""
    rule = proxy.drop_reply("INSERT")
    with pytest.raises(AmbiguousCommit):
        await proxied.query_value("INSERT INTO t (v) VALUES ('once') RETURNING id")
    assert rule.fired == 1
    assert await rows(db) == 1


async def test_a_write_declared_idempotent_is_resent(proxy: PgProxy, proxied: DB, db: DB) -> None:
    await db.exec("INSERT INTO t (id, v) VALUES (1, 'a')")
    rule = proxy.drop_reply("UPDATE")
    assert await proxied.exec("UPDATE t SET v = 'b' WHERE id = 1", idempotent=True) == 1
    assert rule.fired == 1
    assert await db.query_value("SELECT v FROM t WHERE id = 1") == "b"


async def test_a_lost_read_reply_is_retried(proxy: PgProxy, proxied: DB, db: DB) -> None:
    await db.exec("INSERT INTO t (v) VALUES ('a'), ('b')")
    rule = proxy.drop_reply("SELECT", sql_contains="FROM t")
    assert len(await proxied.select("SELECT v FROM t ORDER BY v FOR UPDATE")) == 2
    assert rule.fired == 1


async def test_a_transaction_that_lost_a_statement_before_commit_is_run_again(
    proxy: PgProxy, proxied: DB, db: DB
) -> None:
    """Nothing can commit without its COMMIT: the retry is safe and still happens."""
    runs = 0

    async def add(tx: Tx) -> None:
        nonlocal runs
        runs += 1
        await tx.exec("INSERT INTO t (v) VALUES ('once')")
        await tx.commit()

    rule = proxy.drop_reply("INSERT")
    await proxied.transaction(add)
    assert rule.fired == 1
    assert runs == 2
    assert await rows(db) == 1


async def test_a_write_the_server_aborted_is_retried(proxied: DB, db: DB) -> None:
    """57P01 (a terminated backend, as in a server restart) is the server saying it aborted
    the statement: provably not committed, so the write is sent again."""
    pid = await proxied.query_value("SELECT pg_backend_pid()")
    running = asyncio.create_task(proxied.exec("INSERT INTO t (v) SELECT 'x' FROM pg_sleep(0.3)"))
    await wait_until(lambda: _active(db, pid), within=5, what="the insert running on its backend")
    assert await db.query_value("SELECT pg_terminate_backend($1)", pid)
    assert await running == 1
    assert await rows(db) == 1


async def _active(db: DB, pid: int) -> bool:
    state = await db.query_value("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return state == "active"


# ------------------------------------------------------------------ frozen links


async def test_a_frozen_link_raises_timed_out_within_the_bound_and_the_pool_recovers(
    proxy: PgProxy, proxied: DB
) -> None:
    assert await proxied.query_value("SELECT 1") == 1
    proxy.freeze()
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await proxied.query_value("SELECT 2")
    took = time.monotonic() - started
    assert TIGHT.reply_timeout * 0.9 <= took < TIGHT.reply_timeout + 1.0 * PATIENCE
    proxy.thaw()
    assert await proxied.query_value("SELECT 3") == 3


async def test_a_write_on_a_frozen_link_is_ambiguous_and_says_it_timed_out(
    proxy: PgProxy, proxied: DB, db: DB
) -> None:
    proxy.freeze()
    with pytest.raises(AmbiguousCommit) as caught:
        await proxied.exec("INSERT INTO t (v) VALUES ('maybe')")
    assert caught.value.timed_out
    proxy.thaw()
    assert await proxied.exec("INSERT INTO t (v) VALUES ('sure')") == 1


async def test_a_commit_on_a_frozen_link_is_ambiguous_within_the_bound(
    proxy: PgProxy, proxied: DB
) -> None:
    started = time.monotonic()
    with pytest.raises(AmbiguousCommit):
        async with proxied.begin() as tx:
            await tx.exec("INSERT INTO t (v) VALUES ('maybe')")
            proxy.freeze()
            await tx.commit()
    assert time.monotonic() - started < TIGHT.reply_timeout + 1.0 * PATIENCE
    proxy.thaw()
    assert await proxied.query_value("SELECT 1") == 1


async def test_new_connections_on_a_frozen_link_time_out(proxy: PgProxy, proxied: DB) -> None:
    proxy.freeze()
    proxy.sever()  # the pool's connections are gone; a new one must be opened, and cannot be
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        await proxied.query_value("SELECT 1")
    assert time.monotonic() - started < (TIGHT.reply_timeout + TIGHT.connect_timeout) * PATIENCE


async def test_closing_a_db_on_a_frozen_link_is_bounded(proxy: PgProxy, proxied: DB) -> None:
    assert await proxied.query_value("SELECT 1") == 1
    proxy.freeze()
    started = time.monotonic()
    await proxied.close()
    assert time.monotonic() - started < TIGHT.reply_timeout + 1.0 * PATIENCE


async def test_a_caller_cancelled_while_its_connection_goes_back_leaves_no_stray_error(
    proxy: PgProxy, proxied: DB
) -> None:
    """Cancelled while the pool resets its connection on a frozen link, the caller goes at
    once; the reset still times out within the bound, and its failure is taken, not left
    for the loop to report as "Task exception was never retrieved" (asyncpg's own shield
    drops it on Python 3.11)."""
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    entered = asyncio.Event()

    async def use() -> None:
        async with proxied.connection() as conn:
            await conn.fetchval("SELECT 1")
            proxy.freeze()  # the release's reset cannot reach the server
            entered.set()

    try:
        user = asyncio.create_task(use())
        await entered.wait()
        await asyncio.sleep(0.1)  # inside the release now
        user.cancel()
        with pytest.raises(asyncio.CancelledError):
            await user
        await asyncio.sleep(TIGHT.reply_timeout + 0.5)  # the reset's bound passes
        gc.collect()
        await asyncio.sleep(0)
        assert [c.get("message") for c in reported] == []
        proxy.thaw()
        assert await proxied.query_value("SELECT 2") == 2
    finally:
        loop.set_exception_handler(None)


async def test_a_link_cut_while_opening_is_a_connection_lost(
    proxy: PgProxy, pg_url: str, db: DB
) -> None:
    """The reads DB.open makes on its first connection are translated like any call: the
    caller (an engine's start-up retry) sees ConnectionLost, not a driver error."""
    for create_schema in (True, False):  # the schema check, then the pool's first reads
        rule = proxy.drop_reply("SELECT", sql_contains="pg_namespace")
        with pytest.raises(ConnectionLost):
            await DB.open(
                proxy.url(pg_url),
                schema=db.schema,
                migrate=False,
                create_schema=create_schema,
                bounds=TIGHT,
            )
        assert rule.fired == 1


async def test_a_busy_pool_is_a_bounded_wait(pg_url: str, db: DB) -> None:
    one = await DB.open(pg_url, schema=db.schema, migrate=False, bounds=TIGHT, max_size=1)
    try:
        async with one.connection():
            started = time.monotonic()
            with pytest.raises(TimedOut, match="no database connection free"):
                await one.query_value("SELECT 1")
            assert time.monotonic() - started < TIGHT.reply_timeout + 1.0 * PATIENCE
        assert await one.query_value("SELECT 1") == 1
    finally:
        await one.close()


# ------------------------------------------------------------------ server-side bounds


async def test_the_server_cancels_a_statement_past_its_timeout_cleanly(pg_url: str, db: DB) -> None:
    """The server's bound fires first and says so: not a lost connection, not ambiguous."""
    tight = await DB.open(pg_url, schema=db.schema, migrate=False, bounds=TIGHT)
    try:
        with pytest.raises(QueryError) as caught:
            await tight.exec("SELECT pg_sleep(5)")
        assert caught.value.sqlstate == "57014"
        assert not isinstance(caught.value, ConnectionLost)
        assert await tight.query_value("SHOW statement_timeout") == "500ms"
    finally:
        await tight.close()


async def test_default_bounds_fit_the_engine_heartbeat(db: DB) -> None:
    assert await db.query_value("SHOW statement_timeout") == "10s"
    assert db.bounds.reply_timeout == 12.0


async def test_tcp_connections_keep_alive_on_both_ends(proxy: PgProxy, proxied: DB) -> None:
    async with proxied.connection() as conn:
        sock = conn._con._transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == TIGHT.keepalive_idle
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 1000
    listen = await proxied.listen_connection()
    try:
        sock = listen._transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        await listen.close()
