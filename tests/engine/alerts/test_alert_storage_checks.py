"""The two storage alerts in the real case (issue 16), each condition made by the engine's own
code: sealing work no path can hold (the scheduler turns the SDR tasks down before any claim, so
no history row says so) and a live sector's sealed file deleted from disk (noticed by the
storage heartbeat's own periodic look, nobody redeclaring). Each alert appears, is
acknowledged and muted, and clears once the condition is fixed."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.alerts import AlertSettings, ack, evaluate, list_alerts, mute
from engine.alerts.model import Alert, Severity
from engine.chain import DEVNET, create_miner, init_chain
from engine.harmonydb import DB
from engine.harmonytask import ProcessPool
from engine.snapshot.waits import explain_tasks
from engine.storage import (
    SectorFileType,
    StorageHeartbeat,
    attach,
    declare_sector,
    find_sector,
    sector_file_path,
)
from support.devnet import sdr_on_a_small_seal_path
from support.probe import wait_until

#: no grace for sealing work waiting on storage: the tests make the wait and look at once
S = AlertSettings(no_room_after=0)
FT = SectorFileType


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    workers = ProcessPool(1)
    yield workers
    await workers.close()


async def raised(db: DB, check: str) -> dict[str, Alert]:
    result = await evaluate(db, S)
    assert not result.failed, result.failed
    return {a.subject: a for a in await list_alerts(db) if a.check == check}


async def ack_and_mute(db: DB, alert: Alert) -> None:
    """As test_alert_checks' helper: acknowledged, kept through another evaluation as the same
    occurrence, then muted for 2 h."""
    now = datetime.now(UTC)
    assert await ack(db, str(alert.id), "alice@test") == [alert.id]
    await evaluate(db, S)
    (again,) = [a for a in await list_alerts(db) if a.id == alert.id]
    assert again.state(now) == "acked" and again.first_seen == alert.first_seen
    await mute(db, str(alert.id), 7200, "alice@test")
    (muted,) = [a for a in await list_alerts(db) if a.id == alert.id]
    assert muted.state(now) == "muted" and not muted.needs_attention(now)
    assert muted.muted_until is not None and muted.muted_until > now + timedelta(minutes=110)


async def test_sdr_tasks_no_seal_path_can_hold(
    db: DB, engines: Any, pool: ProcessPool, tmp_path: Path
) -> None:
    """The issue's scenario: two 8 MiB sectors pledged with only a 6 MiB seal path. The SDR
    machine's scheduler turns their tasks down before claiming (no row in the task history
    says so); the alert says why from the tasks' own explanation and clears once a big seal
    path is attached."""
    miner, numbers, ids = await sdr_on_a_small_seal_path(db, engines, pool, tmp_path)

    async def both_wait() -> bool:
        waits = await explain_tasks(db, ids)
        return all(waits[i].kind == "storage" for i in ids)

    await wait_until(both_wait, 30, "both SDR tasks waiting for storage")
    # a fresh wait is a full pipeline's everyday back-pressure: no alert by default ...
    fresh = await evaluate(db, AlertSettings())
    assert not [f for f in fresh.findings if f.check == "storage-no-room"]
    # ... one past the grace is (this module's S has none)
    alert = (await raised(db, "storage-no-room"))["SDR"]
    assert alert.severity is Severity.WARNING
    assert alert.links == {"task_type": "SDR", "task_ids": ids}
    assert alert.message.startswith(
        f"2 SDR task(s) wait because no storage path can hold their files (tasks {ids[0]}, "
        f"{ids[1]}): sector t0{miner.sp_id}-{numbers[0]} (8 MiB) needs 120.8 MiB on a seal path "
        "for its unsealed,cache; a 8 MiB unsealed file fits nowhere: 1 path is store-only, 1 "
        "lacks space (most free: 6 MiB). Attach a seal path with room (`harmony storage attach "
        "--seal DIR`)"
    ), alert.message
    await ack_and_mute(db, alert)

    (tmp_path / "big").mkdir()
    await attach(db, tmp_path / "big", can_seal=True, can_store=False)
    await StorageHeartbeat(db).beat_once()
    assert await raised(db, "storage-no-room") == {}
    (cleared,) = [a for a in await list_alerts(db, include_cleared=True) if a.id == alert.id]
    assert cleared.cleared_at is not None


async def test_a_sealed_file_deleted_from_disk(db: DB, tmp_path: Path) -> None:
    """A live sector's sealed file is deleted by hand. The storage heartbeat, running as a
    machine runs it (its look for gone files on a short interval here), marks the declaration
    gone without dropping it; the alert names the file and what to do. The file restored, the
    next look unmarks it and the alert clears."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    miner = await create_miner(db, config, 2048, epoch=config.epoch_at(now) - 100)
    root = tmp_path / "store"
    root.mkdir()
    path = await attach(db, root, can_store=True)
    sealed = sector_file_path(path.local_path, FT.SEALED, miner.sp_id, 7)
    sealed.parent.mkdir(parents=True, exist_ok=True)
    sealed.write_bytes(b"\x01" * 2048)
    cache = sector_file_path(path.local_path, FT.CACHE, miner.sp_id, 7)
    cache.mkdir(parents=True)
    (cache / "p_aux").write_bytes(b"\x02" * 64)
    for ft in (FT.SEALED, FT.CACHE):
        await declare_sector(db, path.storage_id, miner.sp_id, 7, ft, sector_size=2048)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "precommit_epoch, deadline, \"partition\") VALUES ($1, 7, 'active', 's', 'u', 1, 0, 0)",
        miner.sp_id,
    )
    beat = StorageHeartbeat(db, interval=0.1, missing_every=0.2)
    running = asyncio.create_task(beat.run())
    try:
        await run_the_scenario(db, beat, miner.sp_id, path.storage_id, sealed, tmp_path)
    finally:
        beat.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def gone_marks(db: DB, sp_id: int) -> dict[int, bool]:
    rows = await db.select(
        "SELECT sector_filetype, missing_since IS NOT NULL AS gone FROM sector_location "
        "WHERE miner_id = $1 AND sector_num = 7",
        sp_id,
    )
    return {r["sector_filetype"]: r["gone"] for r in rows}


async def run_the_scenario(
    db: DB, beat: StorageHeartbeat, sp_id: int, storage_id: str, sealed: Path, tmp_path: Path
) -> None:
    async def looked() -> bool:
        return await db.query_value(
            "SELECT last_heartbeat IS NOT NULL FROM storage_path WHERE storage_id = $1",
            storage_id,
        )

    await wait_until(looked, 30, "the heartbeat running")
    assert await raised(db, "sector-no-file") == {}
    kept = tmp_path / "kept"
    shutil.move(sealed, kept)

    async def marked_gone() -> bool:
        return (await gone_marks(db, sp_id)) == {int(FT.SEALED): True, int(FT.CACHE): False}

    await wait_until(marked_gone, 60, "the heartbeat's look marking the sealed file gone")
    assert len(await find_sector(db, sp_id, 7, FT.SEALED)) == 1  # still declared
    alert = (await raised(db, "sector-no-file"))[f"t0{sp_id}"]
    assert alert.severity is Severity.CRITICAL
    assert alert.links == {"miner": sp_id, "sectors": [7]}
    message = alert.message
    assert message.startswith(
        f"t0{sp_id}: 1 live sector(s) have no sealed file on any storage path (7): they cannot "
        "be proven and will fault at their deadline. Declared, but found gone from disk by "
        f"the storage heartbeat (1): sealed of sector 7 (path {storage_id}, {beat.host}:"
        f"{sealed}; gone since "
    ), message
    assert "Restore the files there" in message
    assert "`harmony storage redeclare --drop-missing` on that host" in message
    assert "Declared on no path" not in message
    await ack_and_mute(db, alert)

    shutil.move(kept, sealed)

    async def back() -> bool:
        return not any((await gone_marks(db, sp_id)).values())

    await wait_until(back, 60, "the heartbeat's look finding the sealed file again")
    assert await raised(db, "sector-no-file") == {}
