"""ChainService: callers that arrive while the chain config is first loaded share that load."""

from __future__ import annotations

import asyncio

from engine.chain import DEVNET, ChainService, init_chain
from engine.clock import ManualClock
from engine.harmonydb import DB


async def test_concurrent_first_reads_of_the_config_all_see_it(db: DB) -> None:
    config, _ = await init_chain(db, DEVNET)
    service = ChainService(db, ManualClock(config.time_of(50)))
    # A task's do() and the adder of the same process ask at once on a fresh service; before,
    # the second read "no chain yet" while the first load was in flight and slept 30 s.
    first, second = await asyncio.gather(service.config(), service.config())
    assert first == config and second == config
    waited = await asyncio.wait_for(
        asyncio.gather(*(ChainService(db).wait_config() for _ in range(2))), 5
    )
    assert waited == [config, config]
