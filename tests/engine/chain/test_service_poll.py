"""The chain service where the server refuses LISTEN (YugabyteDB without
``yb_enable_listen_notify``): it reads the chain's state every ``poll_interval`` instead, so a
machine learns of another machine's advance and of another machine's message without NOTIFY.

The service's DB goes through a front of the YugabyteDB-readiness mode of its own, so this runs
and means the same in either mode of the suite; the "other machine" writes on the test's DB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.chain import DECLARE_FAULTS, DEVNET, advance_chain, init_chain, send_message
from engine.chain.service import ChainService
from engine.clock import ManualClock
from engine.harmonydb import DB, Tx
from engine.harmonydb.yugabyte_mode import YugabyteFront
from support.probe import wait_until


@pytest.fixture
async def no_notify_db(db: DB, pg_url: str) -> AsyncIterator[DB]:
    """The test's schema through a front that refuses LISTEN (and makes sessions serializable)."""
    proxy = YugabyteFront.for_url(pg_url)
    front = YugabyteFront(proxy.upstream_host, proxy.upstream_port)
    async with front:
        other = await DB.open(front.url(pg_url), schema=db.schema, migrate=False)
        try:
            yield other
        finally:
            await other.close()


async def test_without_notify_the_service_learns_others_heads_and_messages_by_polling(
    db: DB, no_notify_db: DB
) -> None:
    config, _ = await init_chain(db, DEVNET)
    clock = ManualClock(config.time_of(50))
    service = ChainService(no_notify_db, clock, idle_tick=3600, poll_interval=0.1)
    await service.start()
    assert await no_notify_db.notify_supported() is False
    await service.wait_config()
    # Another machine advances the chain: this one learns the head (and wants no tick of its
    # own: the clock stands at that epoch and nothing is due).
    await advance_chain(db, config, 50)
    await wait_until(lambda: service.head == 50, 10, "the poll to find the head")
    assert not service.tick_due()
    # Another machine sends a message: this one wants a tick when it lands, and only then.
    heads: list[int] = []
    service.on_head(heads.append)

    async def send(tx: Tx) -> int:
        sent = await send_message(tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=50)
        await tx.commit()
        return sent.land_epoch

    land = await db.transaction(send)
    await wait_until(lambda: service.due == land, 10, "the poll to find the message")
    assert not service.tick_due()
    clock.set(config.time_of(land))
    assert service.tick_due()
    # Once another machine has advanced past it, the poll says so and the want is gone.
    await advance_chain(db, config, land)
    await wait_until(lambda: service.head == land, 10, "the poll to find the new head")
    assert heads == [land]
    assert service.due is None and not service.tick_due()
    # Closing the DB stops the poll (no task left behind reading a closed pool).
    poller = service._poller
    assert poller is not None and not poller.done()
    await no_notify_db.close()
    assert poller.done()
