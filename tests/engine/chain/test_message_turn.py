"""A message send and a chain advance that overlap, at every isolation level the engine may run
under: READ COMMITTED (PostgreSQL's default), REPEATABLE READ (YugabyteDB's Snapshot, and its
READ COMMITTED without ``yb_enable_read_committed_isolation``) and SERIALIZABLE.

Each side waits for the other on ``chain_config``; under the two snapshot levels the waiter's
snapshot predates what the holder committed, and only the ``chain_turn`` row both write makes
the waiter fail with 40001 and run again (engine/chain/messages.py). Both directions are here:
a send that waited for an advance, and an advance that waited for a send.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest

from engine.chain import DECLARE_FAULTS, DEVNET, advance_chain, init_chain, send_message
from engine.harmonydb import DB, Tx
from engine.harmonydb.yugabyte_mode import YugabyteFront
from support.probe import wait_until

T = TypeVar("T")

LEVELS = ["read_committed", "repeatable_read", "serializable"]


async def _blocked_by(db: DB, pid: int) -> bool:
    return await db.query_value(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid
    )


def _detached(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task in a fresh context: another node's transaction, outside this one's guard."""
    return asyncio.create_task(coro, context=contextvars.Context())


@pytest.mark.parametrize("isolation", LEVELS)
async def test_a_send_that_waited_for_an_advance_lands_after_its_head(
    db: DB, isolation: str
) -> None:
    config, _ = await init_chain(db, DEVNET)
    await advance_chain(db, config, 10)
    attempts = 0

    async def send(tx: Tx) -> int:
        nonlocal attempts
        attempts += 1
        sent = await send_message(tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=10)
        await tx.commit()
        return sent.land_epoch

    async with db.begin() as advance:
        # What the advance does: lock the config row, then write later tipsets.
        await advance.query_value("SELECT id FROM chain_config WHERE id = 1 FOR UPDATE")
        await advance.exec(
            "INSERT INTO chain_tipsets (epoch, beacon) SELECT e, '\\x00' "
            "FROM generate_series(11, 40) e"
        )
        sending = _detached(db.transaction(send, isolation=isolation))
        pid = await advance.query_value("SELECT pg_backend_pid()")
        await wait_until(
            lambda: _detached(_blocked_by(db, pid)), 20, "the send to wait for the advance"
        )
        assert not sending.done()
        await advance.commit()
    land = await asyncio.wait_for(sending, 30)
    assert land == 41  # not 11, an epoch the chain had already executed
    # Under the snapshot levels the first attempt fails (40001) and a fresh one sends.
    assert attempts == (1 if isolation == "read_committed" else 2)
    assert await db.query_value("SELECT count(*) FROM chain_messages") == 1


@pytest.fixture
async def snapshot_db(db: DB, pg_url: str) -> AsyncIterator[DB]:
    """The test's schema through a front whose sessions default to REPEATABLE READ, so code
    that opens its own transactions (the advance) runs at YugabyteDB's Snapshot level."""
    proxy = YugabyteFront.for_url(pg_url)
    front = YugabyteFront(proxy.upstream_host, proxy.upstream_port, isolation="repeatable read")
    async with front:
        other = await DB.open(front.url(pg_url), schema=db.schema, migrate=False)
        try:
            assert await other.query_value("SHOW default_transaction_isolation") == (
                "repeatable read"
            )
            yield other
        finally:
            await other.close()


async def test_an_advance_that_waited_for_a_send_executes_its_message_when_due(
    db: DB, snapshot_db: DB
) -> None:
    config, _ = await init_chain(db, DEVNET)
    await advance_chain(db, config, 10)
    async with db.begin(isolation="repeatable_read") as sender:
        sent = await send_message(
            sender, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=10
        )
        assert sent.land_epoch == 10 + config.profile.message_delay_epochs
        # The advance (REPEATABLE READ) takes its snapshot, then waits on the send's lock.
        advancing = _detached(advance_chain(snapshot_db, config, sent.land_epoch + 5))
        pid = await sender.query_value("SELECT pg_backend_pid()")
        await wait_until(
            lambda: _detached(_blocked_by(db, pid)), 20, "the advance to wait for the send"
        )
        assert not advancing.done()
        await sender.commit()
    result = await asyncio.wait_for(advancing, 30)
    # Its first snapshot did not hold the message; the 40001 from chain_turn made it read
    # again, so the message executed at its landing epoch, not at the next advance.
    assert [(m.cid, m.epoch) for m in result.landed] == [(sent.cid, sent.land_epoch)]
    landed = await db.query_value(
        "SELECT landed_epoch FROM chain_messages WHERE cid = $1", sent.cid
    )
    assert landed == sent.land_epoch


async def test_two_sends_at_a_snapshot_level_both_land_after_the_head(db: DB) -> None:
    """Sends write the same row: the later of two overlapping ones runs again, and both land."""
    config, _ = await init_chain(db, DEVNET)
    await advance_chain(db, config, 10)
    first_in = asyncio.Event()
    release = asyncio.Event()
    pids: list[int] = []

    async def first(tx: Tx) -> int:
        sent = await send_message(tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=10)
        pids.append(await tx.query_value("SELECT pg_backend_pid()"))
        first_in.set()
        await asyncio.wait_for(release.wait(), 30)
        await tx.commit()
        return sent.land_epoch

    attempts = 0

    async def second(tx: Tx) -> int:
        nonlocal attempts
        attempts += 1
        sent = await send_message(tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=11)
        await tx.commit()
        return sent.land_epoch

    one = _detached(db.transaction(first, isolation="repeatable_read"))
    await asyncio.wait_for(first_in.wait(), 30)
    two = _detached(db.transaction(second, isolation="repeatable_read"))
    await wait_until(
        lambda: _detached(_blocked_by(db, pids[0])), 20, "the second send to wait for the first"
    )
    assert attempts == 1
    release.set()
    lands = await asyncio.wait_for(asyncio.gather(one, two), 30)
    delay = config.profile.message_delay_epochs
    assert lands == [10 + delay, 11 + delay]
    assert attempts == 2  # waited on the first one's chain_turn write, then 40001, then sent
    assert await db.query_value("SELECT count(*) FROM chain_messages") == 2


@pytest.mark.parametrize("isolation", LEVELS)
async def test_an_advance_that_waited_for_another_continues_from_its_head(
    db: DB, pg_url: str, isolation: str
) -> None:
    """Two advances overlap (two ChainTick runs, or a tick and `chain advance`): the later one
    waits on chain_config, then goes on from the head the first one committed; it never writes
    an epoch again (a duplicate tipset, 23505, which no retry would have cleared)."""
    config, _ = await init_chain(db, DEVNET)
    await advance_chain(db, config, 10)
    front = YugabyteFront.for_url(pg_url)
    level = isolation.replace("_", " ")
    waiter_front = YugabyteFront(front.upstream_host, front.upstream_port, isolation=level)
    async with waiter_front:
        waiter = await DB.open(waiter_front.url(pg_url), schema=db.schema, migrate=False)
        try:
            async with db.begin() as first:
                # What an advance does: lock the config row, then write later tipsets.
                await first.query_value("SELECT id FROM chain_config WHERE id = 1 FOR UPDATE")
                await first.exec(
                    "INSERT INTO chain_tipsets (epoch, beacon) SELECT e, '\\x00' "
                    "FROM generate_series(11, 20) e"
                )
                second = _detached(advance_chain(waiter, config, 25))
                pid = await first.query_value("SELECT pg_backend_pid()")
                await wait_until(lambda: _detached(_blocked_by(db, pid)), 20, "the advance to wait")
                assert not second.done()
                await first.commit()
            result = await asyncio.wait_for(second, 30)
        finally:
            await waiter.close()
    assert (result.previous_head, result.head) == (20, 25)
    epochs = [r["epoch"] for r in await db.select("SELECT epoch FROM chain_tipsets ORDER BY 1")]
    assert epochs == list(range(epochs[0], 26))
