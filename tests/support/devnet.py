"""A devnet for workload tests: a chain on a manual clock, miners, a seal and a store path on
this host, engines running the workload's task types, a driver that moves time, and the PoSt
helpers several suites share (the tasks suite, the alert checks).

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
    DeadlineInfo,
    Miner,
    create_miner,
    init_chain,
)
from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, ProcessPool, TaskEngine, TaskType
from engine.resources import MiB
from engine.storage import (
    AttachedPath,
    SectorFileType,
    StorageHeartbeat,
    attach,
    find_sector,
    this_host,
)
from engine.tasks import pledge_sectors, workload_tasks
from support.probe import PATIENCE, wait_until

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
    """The devnet's proof workers (import it into a suite's conftest or module to use it)."""
    workers = ProcessPool(2)
    yield workers
    await workers.close()


async def open_devnet(
    db: DB,
    engines: Callable[..., Awaitable[TaskEngine]],
    pool: ProcessPool,
    tmp_path: Path,
    *,
    genesis: datetime = GENESIS,
) -> Devnet:
    """A devnet on ``db`` at :data:`START_EPOCH`, its seal and store paths under ``tmp_path``."""
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(range(32)))
    clock = ManualClock(config.time_of(START_EPOCH))
    (tmp_path / "seal").mkdir()
    (tmp_path / "store").mkdir()
    seal = await attach(db, tmp_path / "seal", host=this_host(), can_seal=True, can_store=False)
    store = await attach(db, tmp_path / "store", host=this_host(), can_seal=False, can_store=True)
    net = Devnet(db, config, clock, pool, seal, store, engines)
    await net.beat()
    return net


# ------------------------------------------------------------------------------ PoSt helpers


async def sealed_path(devnet: Devnet, sp_id: int, number: int) -> Path:
    (loc,) = await find_sector(devnet.db, sp_id, number, SectorFileType.SEALED)
    assert loc.local_path is not None
    return loc.local_path


async def states(devnet: Devnet) -> dict[int, tuple[str, bool]]:
    rows = await devnet.db.select(
        "SELECT c.sector_number, c.state, m.is_faulty FROM chain_sectors c "
        "JOIN sectors_meta m ON m.sp_id = c.sp_id AND m.sector_num = c.sector_number"
    )
    return {r["sector_number"]: (r["state"], r["is_faulty"]) for r in rows}


async def until_active(devnet: Devnet, count: int) -> None:
    """Advance the devnet until ``count`` sectors are active (in Curio's catalogue) and their
    files settled on the store path (MoveStorage may end after the commit message landed)."""

    async def active() -> bool:
        return (
            await devnet.value("SELECT count(*) FROM sectors_meta") == count
            and await devnet.value(
                "SELECT count(*) FROM sectors_sdr_pipeline WHERE after_move_storage"
            )
            == count
        )

    await devnet.until(active)


async def prove_deadline(devnet: Devnet, info: DeadlineInfo, sp_id: int = 1000) -> dict:
    """Move to the deadline's Challenge (the proof is computed), to its Open (it is sent), on
    until it landed; returns the proof row."""
    db = devnet.db

    async def proof() -> dict | None:
        return await db.query_row(
            "SELECT * FROM wdpost_proofs WHERE proving_period_start = $1 AND deadline = $2 "
            "AND sp_id = $3",
            info.period_start,
            info.index,
            sp_id,
        )

    async def sent() -> bool:
        row = await proof()
        return row is not None and row["message_cid"] is not None

    async def landed() -> bool:
        return bool(
            await devnet.value(
                "SELECT count(*) FROM chain_post_submissions WHERE proving_period_start = $1 "
                "AND deadline = $2 AND sp_id = $3",
                info.period_start,
                info.index,
                sp_id,
            )
        )

    devnet.goto(info.challenge)
    await devnet.settle(proof)
    devnet.goto(info.open)
    await devnet.settle(sent)
    await devnet.until(landed, max_epochs=info.close - info.open, pause=0.1)
    row = await proof()
    assert row is not None
    return row


async def sdr_on_a_small_seal_path(
    db: DB,
    engines: Callable[..., Awaitable[TaskEngine]],
    pool: ProcessPool,
    tmp_path: Path,
) -> tuple[Miner, list[int], list[int]]:
    """Issue 16's scenario: two 8 MiB sectors pledged with only a 6 MiB seal path (and a store
    path), an engine running SDR. Returns the miner, the sector numbers and their SDR task ids
    once the poller has added the tasks (which then wait: no seal path can hold them)."""
    config, _ = await init_chain(db, DEVNET, genesis=GENESIS, seed=bytes(range(32)))
    clock = ManualClock(config.time_of(START_EPOCH))
    miner = await create_miner(db, config, 8 * MiB, epoch=START_EPOCH)
    for name in ("small", "store"):
        (tmp_path / name).mkdir()
    await attach(db, tmp_path / "small", can_seal=True, can_store=False, max_storage=6 * MiB)
    await attach(db, tmp_path / "store", can_seal=False, can_store=True)
    await StorageHeartbeat(db).beat_once()
    sdr = [
        t
        for t in workload_tasks(db, pool, clock=clock, idle_tick=3600)
        if t.type_details().name == "SDR"
    ]
    await engines(sdr, "sealer", db=db)
    numbers = await pledge_sectors(db, miner.sp_id, 2)

    async def tasks_added() -> bool:
        added = "SELECT count(*) FROM sectors_sdr_pipeline WHERE task_id_sdr IS NOT NULL"
        return await db.query_value(added) == len(numbers)

    await wait_until(tasks_added, 30, "the SDR tasks added by the poller")
    rows = await db.select("SELECT task_id_sdr FROM sectors_sdr_pipeline ORDER BY sector_number")
    return miner, numbers, [r["task_id_sdr"] for r in rows]
