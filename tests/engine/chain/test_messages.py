"""The message pool: a message sent while the chain advances lands after the new head."""

from __future__ import annotations

import asyncio
import contextvars

from engine.chain import DECLARE_FAULTS, DEVNET, advance_chain, init_chain, send_message
from engine.harmonydb import DB, Tx
from support.probe import wait_until


async def test_a_message_sent_during_an_advance_lands_after_the_new_head(db: DB) -> None:
    config, _ = await init_chain(db, DEVNET)
    await advance_chain(db, config, 10)
    async with db.begin() as advance:
        # What the chain advance does: lock the config row, then write later tipsets.
        await advance.query_value("SELECT id FROM chain_config WHERE id = 1 FOR UPDATE")
        for epoch in range(11, 41):
            await advance.exec(
                "INSERT INTO chain_tipsets (epoch, beacon) VALUES ($1, $2)", epoch, b"x"
            )

        async def send(tx: Tx) -> int:
            sent = await send_message(
                tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=10
            )
            await tx.commit()
            return sent.land_epoch

        # Another node's transaction: a fresh context, outside this one's transaction guard.
        # Retried as senders are (under REPEATABLE READ / SERIALIZABLE the wait ends in 40001).
        sending = asyncio.create_task(db.transaction(send), context=contextvars.Context())
        advancing = await advance.query_value("SELECT pg_backend_pid()")

        async def blocked_by_the_advance() -> bool:
            return await db.query_value(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                advancing,
            )

        await wait_until(
            lambda: asyncio.create_task(blocked_by_the_advance(), context=contextvars.Context()),
            10,
            "the send to wait for the advance's lock",
        )
        assert not sending.done()
        await advance.commit()
    land = await sending
    assert land == 41  # not 11, an epoch the chain had already executed
