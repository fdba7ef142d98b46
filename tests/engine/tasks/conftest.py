"""A devnet for workload tests: a chain on a manual clock, miners, a seal and a store path on
this host, engines running the workload's task types, and a driver that moves time.

Epochs move only when a test moves the :class:`ManualClock`; the engines, pollers and the
chain-advance task react to it as they would to the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.chain import (
    DEVNET,
    ChainConfig,
    Miner,
    create_miner,
    init_chain,
)
from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, ProcessPool, TaskEngine, TaskType
from engine.storage import AttachedPath, StorageHeartbeat, attach, this_host
from engine.tasks import workload_tasks
from support.probe import PATIENCE

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
START_EPOCH = 100

#: Engines for workload tests: prompt polling, no heartbeat behind the test's back. The
#: machine timeout outlasts any jump of the manual clock (hundreds of epochs at once): an
#: engine's heartbeat lease is measured on its clock, and one that ran out stops its claims.
#: Where the server has no NOTIFY (the YugabyteDB-readiness mode) they poll at least as often
#: as their safety poll here: tests step an epoch every 50-100 ms, and a 2 s back-off let a
#: deadline's Open pass while a proof waited to be picked up.
QUICK = EngineConfig(
    heartbeat_interval=3600,
    machine_timeout=7 * 24 * 3600,
    poll_interval=0.5,
    poll_max=0.5,
    housekeeping_interval=3600,
)


@dataclass
class Devnet:
    db: DB
    config: ChainConfig
    clock: ManualClock
    pool: ProcessPool
    seal: AttachedPath
    store: AttachedPath
    start: Callable[..., Awaitable[TaskEngine]]
    miners: dict[int, Miner] = field(default_factory=dict)
    _beat: float = 0.0

    @property
    def epoch(self) -> int:
        return self.config.epoch_at(self.clock.now())

    def goto(self, epoch: int) -> None:
        if epoch > self.epoch:
            self.clock.set(self.config.time_of(epoch))

    def tasks(self, names: Sequence[str] | None = None) -> list[TaskType]:
        tasks = workload_tasks(self.db, self.pool, clock=self.clock, idle_tick=3600)
        if names is None:
            return tasks
        return [t for t in tasks if t.type_details().name in names]

    async def engine(self, name: str = "w1", names: Sequence[str] | None = None) -> TaskEngine:
        return await self.start(self.tasks(names), name, db=self.db, config=QUICK)

    async def miner(self, sector_size: int = 2048, sp_id: int | None = None) -> Miner:
        miner = await create_miner(self.db, self.config, sector_size, epoch=self.epoch, sp_id=sp_id)
        self.miners[miner.sp_id] = miner
        return miner

    async def value(self, sql: str, *args: object) -> Any:
        return await self.db.query_value(sql, *args)  # type: ignore[arg-type]

    async def beat(self) -> None:
        """Keep the storage paths fresh (placement skips paths silent for 50 s)."""
        if time.monotonic() - self._beat > 10:
            await StorageHeartbeat(self.db).beat_once()
            self._beat = time.monotonic()

    async def until(
        self,
        predicate: Callable[[], Awaitable[Any]],
        *,
        step: int = 1,
        max_epochs: int = 400,
        within: float = 90.0,
        pause: float = 0.05,
        what: str = "",
    ) -> int:
        """Advance ``step`` epochs at a time (pausing so tasks run) until ``predicate()`` is
        true; returns the epoch. Fails after ``max_epochs`` epochs or ``within`` seconds
        (times ``PATIENCE``)."""
        deadline = time.monotonic() + within * PATIENCE
        first = self.epoch
        while True:
            await self.beat()
            if await predicate():
                return self.epoch
            if self.epoch - first >= max_epochs or time.monotonic() > deadline:
                raise AssertionError(
                    f"not reached after {self.epoch - first} epochs: {what or predicate}"
                )
            await asyncio.sleep(pause)
            self.goto(self.epoch + step)

    async def settle(self, predicate: Callable[[], Awaitable[Any]], within: float = 20.0) -> None:
        """Wait (clock stopped) until ``predicate()`` is true."""
        deadline = time.monotonic() + within * PATIENCE
        while not await predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {predicate}")
            await self.beat()
            await asyncio.sleep(0.05)


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    workers = ProcessPool(2)
    yield workers
    await workers.close()


@pytest.fixture
async def devnet(db: DB, engines, pool: ProcessPool, tmp_path: Path) -> Devnet:
    config, _ = await init_chain(db, DEVNET, genesis=GENESIS, seed=bytes(range(32)))
    clock = ManualClock(config.time_of(START_EPOCH))
    (tmp_path / "seal").mkdir()
    (tmp_path / "store").mkdir()
    seal = await attach(db, tmp_path / "seal", host=this_host(), can_seal=True, can_store=False)
    store = await attach(db, tmp_path / "store", host=this_host(), can_seal=False, can_store=True)
    net = Devnet(db, config, clock, pool, seal, store, engines)
    await net.beat()
    return net
