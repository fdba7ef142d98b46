"""Each alert check against the condition made real through the engine's own APIs: the alert
appears with its severity and first-seen time, can be acknowledged and muted, and clears when
the condition is fixed. Evaluations are driven directly (``evaluate``, the AlertEval task's
own code path); no test waits for an interval."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.alerts import AlertSettings, ack, evaluate, list_alerts, mute
from engine.alerts.model import Alert, Severity
from engine.chain import DEVNET, advance_chain, create_miner, init_chain, send_message
from engine.chain.actor import Execution, deadline_cron
from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    MachineView,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
)
from engine.resources import MiB, Resources
from engine.storage import (
    SectorFileType,
    StorageHeartbeat,
    attach,
    declare_sector,
    sector_file_path,
)
from engine.storage.placement import best_path
from engine.storage.redeclare import redeclare
from support.probe import wait_until

S = AlertSettings()
FT = SectorFileType


async def alerts_of(db: DB, check: str) -> dict[str, Alert]:
    return {a.subject: a for a in await list_alerts(db) if a.check == check}


async def raised(db: DB, check: str, settings: AlertSettings = S) -> dict[str, Alert]:
    result = await evaluate(db, settings)
    assert not result.failed, result.failed
    return await alerts_of(db, check)


async def ack_and_mute(db: DB, alert: Alert) -> None:
    """Acknowledged by id, then muted for 2 h: kept open, in those states, through another
    evaluation (the condition still holds)."""
    now = datetime.now(UTC)
    assert await ack(db, str(alert.id), "alice@test") == [alert.id]
    await evaluate(db, S)
    (again,) = [a for a in await list_alerts(db) if a.id == alert.id]
    assert again.state(now) == "acked" and again.acked_by == "alice@test"
    assert again.first_seen == alert.first_seen  # the same occurrence
    await mute(db, str(alert.id), 7200, "alice@test")
    (muted,) = [a for a in await list_alerts(db) if a.id == alert.id]
    assert muted.state(now) == "muted" and not muted.needs_attention(now)
    assert muted.muted_until is not None and muted.muted_until > now + timedelta(minutes=110)


async def _no_beacon(epoch: int) -> bytes:
    raise AssertionError("the cron draws no randomness")


async def test_a_missed_deadline_and_its_faulty_sectors(db: DB) -> None:
    """No PoSt machine ran: the chain's cron closes the deadline with its three sectors
    unproven (two partitions). Each partition is a critical alert, the faults one warning;
    a proof that lands for the deadline clears the missed alerts, a recovery the faults."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    epoch = config.epoch_at(now)
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    info = miner.deadline(config, epoch)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT $1, n, 'active', 's', 'u', 1, $2, n / 2 FROM generate_series(0, 2) AS n",
        miner.sp_id,
        info.index,
    )
    assert await raised(db, "wdpost-missed") == {}

    async def cron(tx: Any) -> list[int]:
        ex = Execution(tx, config, {miner.sp_id: miner}, beacon=_no_beacon)
        changed = await deadline_cron(ex, miner, info.period_start, info.index, info.close)
        await tx.commit()
        return changed

    assert len(await db.transaction(cron)) == 3
    m = f"t0{miner.sp_id}"
    missed = await raised(db, "wdpost-missed")
    assert sorted(missed) == [f"{m} dl{info.index} p0", f"{m} dl{info.index} p1"]
    p0 = missed[f"{m} dl{info.index} p0"]
    assert p0.severity is Severity.CRITICAL
    assert "without a landed WindowPoSt" in p0.message and "WdPost" in p0.message
    assert p0.links == {"miner": miner.sp_id, "deadline": info.index, "partition": 0}
    faulty = (await alerts_of(db, "sectors-faulty"))[m]
    assert faulty.severity is Severity.WARNING
    assert f"{m} has 3 faulty sector(s) (0, 1, 2)" in faulty.message
    await ack_and_mute(db, p0)
    # the next period's proof of partition 0 lands; partition 1 is still unproven
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        '"partition", landed_epoch, message_cid) VALUES ($1, $2, $3, 0, $4, $5)',
        miner.sp_id,
        info.period_start + config.profile.wpost_proving_period,
        info.index,
        info.close + config.profile.wpost_proving_period - 5,
        "bafy-proof",
    )
    assert sorted(await raised(db, "wdpost-missed")) == [f"{m} dl{info.index} p1"]
    (p0_after,) = [a for a in await list_alerts(db, include_cleared=True) if a.id == p0.id]
    assert p0_after.cleared_at is not None and p0_after.state(now) == "cleared"
    await db.exec("UPDATE chain_sectors SET state = 'active', faulty_since = NULL")
    assert await raised(db, "sectors-faulty") == {}


async def test_a_deleted_sealed_file(db: DB, tmp_path: Path) -> None:
    """A live sector whose sealed file is deleted: a redeclare (the storage heartbeat's 4-hourly
    one) keeps the declaration and marks it gone, critical; the operator's ``--drop-missing``
    forgets it, still critical (declared nowhere); the file restored and redeclared clears it.
    (The heartbeat's own 10-minute look: test_alert_storage_checks.)"""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    miner = await create_miner(db, config, 2048, epoch=config.epoch_at(now) - 100)
    root = tmp_path / "store"
    root.mkdir()
    path = await attach(db, root, can_store=True)
    sealed = sector_file_path(path.local_path, FT.SEALED, miner.sp_id, 7)
    sealed.write_bytes(b"\x01" * 2048)
    await declare_sector(db, path.storage_id, miner.sp_id, 7, FT.SEALED, sector_size=2048)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "precommit_epoch, deadline, \"partition\") VALUES ($1, 7, 'active', 's', 'u', 1, 0, 0)",
        miner.sp_id,
    )
    assert await raised(db, "sector-no-file") == {}
    kept = tmp_path / "kept"
    shutil.move(sealed, kept)
    [report] = await redeclare(db, storage_id=path.storage_id)
    assert report.missing == 1 and report.dropped == 0
    alert = (await raised(db, "sector-no-file"))[f"t0{miner.sp_id}"]
    assert alert.severity is Severity.CRITICAL
    assert "1 live sector(s) have no sealed file on any storage path (7)" in alert.message
    assert "gone from disk by the storage heartbeat (1): sealed of sector 7" in alert.message
    assert alert.links == {"miner": miner.sp_id, "sectors": [7]}
    await ack_and_mute(db, alert)
    await redeclare(db, storage_id=path.storage_id, drop_missing=True)
    (dropped,) = (await raised(db, "sector-no-file")).values()
    assert dropped.id == alert.id and "Declared on no path (1): re-attach" in dropped.message
    shutil.move(kept, sealed)
    await redeclare(db, storage_id=path.storage_id, sector_size=2048)
    assert await raised(db, "sector-no-file") == {}


FAST = EngineConfig(
    heartbeat_interval=1, machine_timeout=120, poll_interval=0.05, housekeeping_interval=3600
)


async def test_a_task_type_failing_repeatedly(db: DB) -> None:
    """Three tasks of one type failed twice each (six failed attempts, more than five), the
    rows as the engine's failure path writes them: the type and the machine pass the rate
    threshold, and the three failed tasks are an alert of their own; restarted and done, the
    failed-task alert clears, and the window moving past the failures clears the rest.
    (Driving a real engine here was timing-dependent on a loaded 2-core box: left out.)"""
    await db.exec(
        "INSERT INTO harmony_task (id, name, posted_time, added_by, retries, failed_at, "
        "last_error) SELECT n, 'flaky', now(), 0, 2, now(), 'RuntimeError: disk on fire' "
        "FROM generate_series(1, 3) AS n"
    )
    await db.exec(
        "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, "
        "err, completed_by_host_and_port, outcome, machine_id, attempt) "
        "SELECT t, 'flaky', now(), now(), now(), FALSE, 'RuntimeError: disk on fire', "
        "'m1:1', CASE a WHEN 2 THEN 'failed' ELSE 'retry' END, 1, a "
        "FROM generate_series(1, 3) AS t, generate_series(1, 2) AS a"
    )
    failed = (await raised(db, "task-failed"))["flaky"]
    assert failed.severity is Severity.WARNING  # not a sealing or PoSt type
    assert failed.message.startswith("3 flaky task(s) failed for good (ids 3, 2, 1)")
    assert "disk on fire" in failed.message
    rates = await alerts_of(db, "task-failure-rate")
    assert sorted(rates) == ["machine m1:1", "type flaky"]
    assert "6 failed flaky attempts" in rates["type flaky"].message
    assert await ack(db, "task-failure-rate", "bob") == sorted(a.id for a in rates.values())
    await ack_and_mute(db, failed)
    await db.exec("DELETE FROM harmony_task WHERE name = 'flaky'")  # restarted and done
    assert await raised(db, "task-failed") == {}
    assert len(await alerts_of(db, "task-failure-rate")) == 2  # still within the window
    assert await raised(db, "task-failure-rate", AlertSettings(failure_window=0.001)) == {}


async def test_a_stale_path_heartbeat_and_a_failed_disk_check(db: DB, tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    path = await attach(db, root, host="host-a", can_store=True)
    beat = StorageHeartbeat(db, host="host-a")
    await beat.beat_once()
    assert await raised(db, "storage-path") == {}
    subject = f"{path.storage_id} on host-a"
    # host-a's machine stopped ten minutes ago
    await db.exec("UPDATE storage_path_hosts SET last_heartbeat = now() - interval '10 minutes'")
    stale = (await raised(db, "storage-path"))[subject]
    assert "its heartbeat is stale (the last one 10m ago)" in stale.message
    assert stale.links == {"path": path.storage_id, "host": "host-a"}
    await ack_and_mute(db, stale)
    await beat.beat_once()  # it is back
    assert await raised(db, "storage-path") == {}
    # the disk goes away under the path: the heartbeat's check fails
    shutil.move(root, tmp_path / "gone")
    await beat.beat_once()
    broken = (await raised(db, "storage-path"))[subject]
    assert "its disk check failed (" in broken.message
    assert broken.acked_at is None  # a new occurrence: the old acknowledgement is gone
    shutil.move(tmp_path / "gone", root)
    await beat.beat_once()
    assert await raised(db, "storage-path") == {}


async def test_a_stuck_message_and_a_stalled_chain(db: DB) -> None:
    """A message in the pool longer than the threshold, on a chain that stopped an hour ago:
    both alerts; the chain advancing lands the message and clears both."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=2))
    epoch = config.epoch_at(now) - 10
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    await advance_chain(db, config, epoch)
    async with db.begin() as tx:
        sent = await send_message(
            tx, config, miner.sp_id, "DeclareFaults", {"declarations": []}, epoch=epoch
        )
        await tx.commit()
    await db.exec(
        "UPDATE chain_messages SET submitted_at = now() - interval '2 hours' WHERE cid = $1",
        sent.cid,
    )
    await db.exec("UPDATE chain_tipsets SET created_at = now() - interval '1 hour'")
    stuck = (await raised(db, "message-stuck"))[f"t0{miner.sp_id}"]
    assert f"DeclareFaults {sent.cid}" in stuck.message
    assert "unconfirmed for more than 1h" in stuck.message
    stalled = (await alerts_of(db, "chain-stalled"))["devnet chain"]
    assert stalled.severity is Severity.CRITICAL and "ChainTick" in stalled.message
    await ack_and_mute(db, stuck)
    await advance_chain(db, config, config.epoch_at(datetime.now(UTC)))
    assert await db.query_value(
        "SELECT landed_epoch IS NOT NULL FROM chain_messages WHERE cid = $1", sent.cid
    )
    assert await raised(db, "message-stuck") == {}
    assert await alerts_of(db, "chain-stalled") == {}


class NeedsRoom(TaskType):
    """A sealing-like task whose storage is placed by the real placement: an 8 MiB sector's
    sealed file on a seal path."""

    def __init__(self, db: DB) -> None:
        self.db = db
        self.room = Room(db)

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="needsroom", cost=Resources(ram=1 * MiB), storage=self.room)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        return True

    async def can_accept(self, task_ids: list[TaskID], machine: MachineView) -> list[TaskID]:
        return task_ids


class Room:
    def __init__(self, db: DB) -> None:
        self.db = db

    async def has_capacity(self) -> bool:
        return True

    async def claim(self, task_id: TaskID, machine_id: int) -> Any:
        await best_path(self.db, FT.SEALED, 8 * MiB, seal=True)

        class Nothing:
            async def release(self) -> None:
                pass

        return Nothing()


async def test_sealing_work_no_path_can_hold(probe_db: DB, engines: Any, tmp_path: Path) -> None:
    """Only a 6 MiB seal path for an 8 MiB sector, for a type the wait explanation does not
    know (not a sealing stage) whose storage says it has room: the task is given back with
    the placement's reason, and the alert says why it waits; a bigger path fixes it. (The
    sealing stages, turned down before any claim: test_alert_storage_checks.)"""
    db = probe_db
    small = tmp_path / "small"
    small.mkdir()
    await attach(db, small, can_seal=True, max_storage=6 * MiB)
    await StorageHeartbeat(db).beat_once()
    engine = await engines([NeedsRoom(db)], "m1", config=FAST)
    task_id = await engine.add_task("needsroom")

    async def given_back() -> bool:
        return bool(
            await db.query_value(
                "SELECT count(*) FROM harmony_task_history WHERE task_id = $1 "
                "AND outcome = 'released'",
                task_id,
            )
        )

    await wait_until(given_back, 30, "the task given back for lack of room")
    alert = (await raised(db, "storage-no-room"))["needsroom"]
    assert alert.message.startswith(
        "1 needsroom task(s) wait because no storage path can hold their files"
    )
    assert f"(tasks {task_id})" in alert.message and "storage not available" in alert.message
    assert "no storage path" in alert.message
    await ack_and_mute(db, alert)
    big = tmp_path / "big"
    big.mkdir()
    await attach(db, big, can_seal=True)
    await StorageHeartbeat(db).beat_once()
    await db.exec("UPDATE harmony_task SET retry_after = NULL")
    engine.wake()

    async def done() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(done, 30, "the task ran on the big path")
    assert await raised(db, "storage-no-room") == {}


async def test_a_won_block_not_included_and_not_mined(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_task (id, name, posted_time, added_by) VALUES "
        "(901, 'WinPost', now(), 0), (902, 'WinPost', now(), 0), (903, 'WinPost', now(), 0)"
    )
    # 50: mined, not included; 55: its WinPost ran and recorded the block lost before mining
    # one (a lost block, not a gap: no machine missing); 60: no WinPost ran
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, mined_cid, "
        "included) VALUES (901, 1000, 50, now() - interval '10 minutes', TRUE, 'bafy-b', FALSE),"
        " (903, 1000, 55, now() - interval '7 minutes', TRUE, NULL, FALSE),"
        " (902, 1000, 60, now() - interval '5 minutes', TRUE, NULL, NULL)"
    )
    lost = (await raised(db, "block-not-included"))["t01000 epoch 50"]
    assert lost.severity is Severity.CRITICAL and "bafy-b" in lost.message
    assert "t01000 epoch 55" in await alerts_of(db, "block-not-included")
    gap = (await alerts_of(db, "winpost-gap"))["t01000"]
    assert "won 1 epoch(s) (60) without mining a block" in gap.message
    await ack_and_mute(db, gap)
    await db.exec("UPDATE mining_tasks SET mined_cid = 'bafy-c' WHERE task_id = 902")
    await db.exec("UPDATE mining_tasks SET included = TRUE WHERE task_id = 901")
    # a lost block stays lost: its alert goes once the loss is older than the checks look back
    await db.exec(
        "UPDATE mining_tasks SET base_compute_time = now() - interval '2 days' WHERE task_id = 903"
    )
    assert await raised(db, "winpost-gap") == {}
    assert await alerts_of(db, "block-not-included") == {}


async def test_store_space_for_the_sectors_being_sealed(db: DB, tmp_path: Path) -> None:
    """Two 2 KiB sectors sealing, a store path limited to 300 MiB: one fits (2 x 2 KiB +
    200 MiB each, Curio's rule), the other does not."""
    root = tmp_path / "s"
    root.mkdir()
    await attach(db, root, can_store=True, max_storage=300 * MiB)
    await StorageHeartbeat(db).beat_once()
    await db.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof) "
        "VALUES (1000, 1, 0), (1000, 2, 0)"
    )
    alert = (await raised(db, "storage-space"))["store paths"]
    assert "1 of 2 will not fit on any store path (200.0 MiB more needed" in alert.message
    await ack_and_mute(db, alert)
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET after_move_storage = TRUE WHERE sector_number = 2"
    )
    assert await raised(db, "storage-space") == {}
