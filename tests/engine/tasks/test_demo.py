"""The devnet demo set-up: idempotent, safe when several processes start at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.chain import DEVNET, MAINNET, init_chain, load_chain, proving_period_offset
from engine.demo import DEMO_MINER, demo_genesis, ensure_demo
from engine.harmonydb import DB, itest_db


async def test_two_processes_set_up_one_demo(db: DB, tmp_path: Path) -> None:
    other = await itest_db(db.url.dsn, db.schema.removeprefix("itest_"), migrate=False)
    try:
        await asyncio.gather(ensure_demo(db, tmp_path), ensure_demo(other, tmp_path))
    finally:
        await other.close()
    await ensure_demo(db, tmp_path)  # and again at the next start: nothing changes
    config = await load_chain(db)
    assert config is not None and config.profile == DEVNET
    assert await db.query_value("SELECT count(*) FROM chain_miners") == 1
    paths = await db.select(
        "SELECT h.local_path, p.can_seal, p.can_store FROM storage_path p "
        "JOIN storage_path_hosts h USING (storage_id) ORDER BY h.local_path"
    )
    assert [(Path(p["local_path"]).name, p["can_seal"], p["can_store"]) for p in paths] == [
        ("seal", True, False),
        ("store", False, True),
    ]
    pledge = await db.query_row("SELECT sp_id, in_flight, max_sectors FROM sectors_auto_pledge")
    assert pledge == {"sp_id": DEMO_MINER, "in_flight": 3, "max_sectors": 16}


async def test_the_demo_keeps_an_existing_chain_and_an_operators_pledge_choice(
    db: DB, tmp_path: Path
) -> None:
    await init_chain(db, MAINNET)
    await ensure_demo(db, tmp_path)
    assert (await load_chain(db)).profile == MAINNET
    await db.exec("DELETE FROM sectors_auto_pledge")  # `harmony sectors pledge --auto 0`
    await ensure_demo(db, tmp_path)
    assert await db.query_value("SELECT count(*) FROM sectors_auto_pledge") == 0


def test_the_demo_genesis_brings_the_first_deadline_close() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    genesis = demo_genesis(now)
    epoch = int((now - genesis).total_seconds() / DEVNET.block_time)
    offset = proving_period_offset(DEVNET, DEMO_MINER, epoch)
    assert 45 <= (offset - epoch) % DEVNET.wpost_proving_period <= 60


async def test_a_start_that_fails_after_creating_the_miner_still_sets_the_auto_pledge(
    db: DB, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(OSError):  # the storage paths cannot be made: the start fails
        await ensure_demo(db, blocker)
    assert await db.query_value("SELECT count(*) FROM chain_miners") == 1
    await ensure_demo(db, tmp_path / "demo")  # the next start sees the miner already there
    pledge = await db.query_row("SELECT sp_id, in_flight, max_sectors FROM sectors_auto_pledge")
    assert pledge == {"sp_id": DEMO_MINER, "in_flight": 3, "max_sectors": 16}
