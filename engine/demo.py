"""The devnet demo: what ``harmony`` sets up on a fresh machine so every pane has live data.

:func:`ensure_demo` makes sure the cluster has

* a devnet chain (2-second epochs, deadlines every 20 s), if it has no chain; its genesis is a
  few minutes back so that the demo miner's first deadline comes soon (:func:`demo_genesis`);
* miner ``t01000`` with 2 KiB sectors;
* two storage paths on this host under ``demo_dir``: ``seal/`` (sealing only) and ``store/``
  (long-term storage only), so sectors are sealed on one and moved to the other;
* an auto-pledge that keeps 3 CC sectors sealing until the miner has 16, set once, just before
  the demo miner is created (so a start that fails after creating the miner cannot leave it
  without one; an operator who stops it with ``harmony sectors pledge --auto 0`` is not
  overridden at the next start).

Idempotent, and safe when several processes start at once: the chain and the miner are single
rows created with ``ON CONFLICT``, and the storage directories are attached under a file lock.
``harmony --no-demo`` skips all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from engine.chain import (
    DEVNET,
    ChainConfigConflict,
    UnknownMiner,
    create_miner,
    get_miner,
    init_chain,
    load_chain,
    proving_period_offset,
    require_chain,
)
from engine.storage import attach, this_host

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["DEMO_IN_FLIGHT", "DEMO_MAX_SECTORS", "DEMO_MINER", "DEMO_SECTOR_SIZE", "ensure_demo"]

log = logging.getLogger(__name__)

DEMO_MINER = 1000
DEMO_SECTOR_SIZE = 2048
DEMO_IN_FLIGHT = 3
DEMO_MAX_SECTORS = 16


async def ensure_demo(db: DB, demo_dir: Path, *, host: str | None = None) -> None:
    """Set up (or confirm) the devnet demo; see the module docstring."""
    config = await load_chain(db)
    if config is None:
        try:
            config, created = await init_chain(db, DEVNET, genesis=demo_genesis())
        except ChainConfigConflict:  # another process created a different chain meanwhile
            config, created = await require_chain(db), False
        if created:
            log.info("demo: created a devnet chain (genesis %s)", config.genesis_time.isoformat())
    try:
        await get_miner(db, DEMO_MINER)
        new_miner = False
    except UnknownMiner:
        # The auto-pledge goes in before the miner: "the demo miner exists" then implies "its
        # auto-pledge was set", whatever fails or crashes after this point, and a later start
        # (which sees the miner and leaves the pledge alone) cannot find it missing. The row
        # means nothing until the miner exists (auto_pledge joins chain_miners).
        await db.exec(
            "INSERT INTO sectors_auto_pledge (sp_id, in_flight, max_sectors) "
            "VALUES ($1, $2, $3) ON CONFLICT (sp_id) DO NOTHING",
            DEMO_MINER,
            DEMO_IN_FLIGHT,
            DEMO_MAX_SECTORS,
        )
        epoch = max(0, config.epoch_at(datetime.now(UTC)))
        try:
            await create_miner(db, config, DEMO_SECTOR_SIZE, epoch=epoch, sp_id=DEMO_MINER)
            new_miner = True
            log.info("demo: created miner t0%d (2 KiB sectors)", DEMO_MINER)
        except ValueError:  # another process created it a moment ago
            new_miner = False
    await _attach_paths(db, demo_dir, host)
    if new_miner:  # wake the sealing pollers: the miner and its paths are ready
        await db.notify("sealing", f"pledge:{DEMO_MINER}")


def demo_genesis(now: datetime | None = None) -> datetime:
    """A genesis a few minutes back, chosen so that miner t01000, created now, starts a proving
    period about 100 s from now: its first sectors (active after about 45 s) are assigned to
    deadline 0 (Filecoin picks the lowest mutable index), so the first WindowPoSt lands within
    two minutes instead of up to one proving period (16 minutes) later."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    period = DEVNET.wpost_proving_period
    for epoch in range(period):
        offset = proving_period_offset(DEVNET, DEMO_MINER, epoch)
        if 45 <= (offset - epoch) % period <= 60:
            return now - timedelta(seconds=epoch * DEVNET.block_time)
    return now


async def _attach_paths(db: DB, demo_dir: Path, host: str | None) -> None:
    seal, store = demo_dir / "seal", demo_dir / "store"
    await asyncio.to_thread(_make_dirs, seal, store)
    lock_fd = await asyncio.to_thread(_lock, demo_dir / ".demo.lock")
    try:
        await attach(db, seal, host=host or this_host(), can_seal=True, can_store=False)
        await attach(db, store, host=host or this_host(), can_seal=False, can_store=True)
    finally:
        with contextlib.suppress(OSError):
            os.close(lock_fd)


def _make_dirs(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd
