"""The delay proxy with a real asyncpg client and the suite's server behind it: each direction is
delayed (a round trip costs at least twice the delay), large replies arrive intact and in order,
and each client's statements and notifications are counted."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from engine.faults.delay_proxy import DelayProxy, DelayProxyProcess
from engine.harmonydb import DB


async def _connect(proxy: DelayProxy | DelayProxyProcess, pg_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(proxy.url(pg_url), timeout=30)


async def test_a_round_trip_waits_the_delay_both_ways_and_bytes_stay_in_order(pg_url: str) -> None:
    async with DelayProxy.for_url(pg_url, delay_ms=40) as proxy:
        conn = await _connect(proxy, pg_url)
        try:
            started = time.monotonic()
            assert await conn.fetchval("SELECT 1") == 1
            # A lower bound only: the proxy holds each direction at least the delay.
            assert time.monotonic() - started >= 2 * 0.040 * 0.95
            # Many chunks in flight at once (a 2 MB reply; executemany's pipelined batch) arrive
            # whole.
            text = await conn.fetchval(
                "SELECT string_agg(lpad(i::text, 8, '0'), '') FROM generate_series(1, 250000) i"
            )
            assert text == "".join(f"{i:08d}" for i in range(1, 250001))
            await conn.execute("CREATE TEMP TABLE seq (i int)")
            await conn.executemany("INSERT INTO seq VALUES ($1)", [(i,) for i in range(200)])
            assert await conn.fetchval("SELECT array_agg(i ORDER BY i) FROM seq") == list(
                range(200)
            )
        finally:
            await conn.close()
        counts = proxy.stats()["127.0.0.1"]
        assert counts.connections == 1
        assert counts.statements >= 200
        assert counts.bytes_down > 2_000_000


async def test_statements_and_notifications_are_counted_per_client(pg_url: str, db: DB) -> None:
    proxy = await asyncio.to_thread(DelayProxyProcess.for_url, pg_url, listen_host="127.0.0.1")
    try:
        listener = await _connect(proxy, pg_url)
        got: asyncio.Queue[str] = asyncio.Queue()
        channel = db.channel("proxytest")
        await listener.add_listener(channel, lambda *args: got.put_nowait(args[3]))
        for i in range(3):
            await db.notify("proxytest", str(i))
        assert [await asyncio.wait_for(got.get(), 30) for _ in range(3)] == ["0", "1", "2"]
        await listener.execute("SELECT 1")
        await listener.close()
        counts = (await asyncio.to_thread(proxy.stats))["127.0.0.1"]
        assert counts.channels == {channel: 3}
        assert counts.notifications == 3
        assert counts.statements >= 2  # LISTEN and SELECT 1
        assert counts.opaque == 0
    finally:
        await asyncio.to_thread(proxy.close)
