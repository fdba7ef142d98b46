"""The cluster-wide figures of the metrics endpoint: read once per interval however often it
is scraped, and equal to what the database holds (storage paths, a miner's sectors, deadlines
and missed PoSt, the sealing pipeline). No engine here: a machine serves these from its start,
before its engine is attached."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.chain import DEVNET, create_miner, init_chain
from engine.chain.actor import Execution, deadline_cron
from engine.harmonydb import DB
from engine.metrics import start_metrics

from .test_scrape import scrape


async def test_one_read_per_interval_however_often_scraped(db: DB) -> None:
    server = await start_metrics("127.0.0.1:0", db, interval=3600.0)
    try:
        first = await scrape(server.url)
        assert first.value("harmony_cluster_figures_errors_total") == 0
        figures = server.cluster.figures if server.cluster else None
        assert figures is not None
        assert "harmony_tasks_completed_total" not in first.names()  # no engine attached
        await db.exec(
            "INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('x', 1, now())"
        )
        statements = db.statements
        for _ in range(3):
            again = await scrape(server.url)
        assert db.statements == statements  # served from the cache: no statement at all
        assert server.cluster is not None and server.cluster.figures is figures
        assert 'task_type="x"' not in again.text  # read before the add, kept for the interval
        assert again.value("harmony_cluster_figures_age_seconds") > 0
        server.cluster.interval = 0.0  # due now: the next scrape reads again
        fresh = await scrape(server.url)
        assert fresh.value("harmony_queue_tasks", task_type="x", state="pending") == 1
    finally:
        await server.close()


async def test_storage_paths_are_the_databases(db: DB) -> None:
    now = datetime.now(UTC)
    await db.exec(
        "INSERT INTO storage_path (storage_id, can_seal, can_store, capacity, available, "
        "fs_available, reserved, used, last_heartbeat) VALUES "
        "('seal-1', true, false, 1000000, 600000, 650000, 0, 350000, $1), "
        "('store-1', false, true, 5000000, 4000000, 4000000, 0, 1000000, $1)",
        now,
    )
    server = await start_metrics("127.0.0.1:0", db, interval=0.0)
    try:
        got = await scrape(server.url)
    finally:
        await server.close()
    rows = await db.select("SELECT * FROM storage_path ORDER BY storage_id")
    for row in rows:
        labels = {
            "storage_id": row["storage_id"],
            "can_seal": str(row["can_seal"]).lower(),
            "can_store": str(row["can_store"]).lower(),
        }
        assert got.value("harmony_storage_capacity_bytes", **labels) == row["capacity"]
        assert got.value("harmony_storage_available_bytes", **labels) == row["available"]
        assert got.value("harmony_storage_used_bytes", **labels) == row["used"]
        assert got.value("harmony_storage_reserved_bytes", **labels) == 0
        age = got.value("harmony_storage_heartbeat_age_seconds", storage_id=row["storage_id"])
        assert 0 <= age < 600


async def test_a_miners_sectors_deadlines_and_missed_post(db: DB) -> None:
    """Three active sectors in the deadline open now, whose partitions (two) the chain's cron
    then finds unproven: faulty, and two post-missed events."""
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

    async def cron(tx: Any) -> list[int]:
        ex = Execution(tx, config, {miner.sp_id: miner}, beacon=_no_beacon)
        changed = await deadline_cron(ex, miner, info.period_start, info.index, info.close)
        await tx.commit()
        return changed

    assert len(await db.transaction(cron)) == 3
    # the sealing pipeline: four sectors just added (SDR), one of them failed since
    await db.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof) "
        "SELECT $1, n, 0 FROM generate_series(10, 13) AS n",
        miner.sp_id,
    )
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET failed = true, failed_at = now(), "
        "failed_reason = 'test' WHERE sp_id = $1 AND sector_number = 12",
        miner.sp_id,
    )
    server = await start_metrics("127.0.0.1:0", db, interval=0.0)
    try:
        before = miner.deadline(config, config.epoch_at(datetime.now(UTC)))
        got = await scrape(server.url)
        after = miner.deadline(config, config.epoch_at(datetime.now(UTC)))
    finally:
        await server.close()
    m = f"t0{miner.sp_id}"
    assert got.value("harmony_miner_sectors", miner=m, state="live") == 3
    assert got.value("harmony_miner_sectors", miner=m, state="faulty") == 3
    assert got.value("harmony_miner_sectors", miner=m, state="active") == 0
    assert got.value("harmony_miner_wdpost_missed_24h", miner=m) == 2
    assert got.value("harmony_miner_wdpost_submitted_24h", miner=m) == 0
    stages = {
        s.labels["stage"]: s.value
        for s in got.samples
        if s.name == "harmony_pipeline_sectors" and s.labels["miner"] == m
    }
    total = await db.query_value(
        "SELECT count(*) FROM sectors_sdr_pipeline WHERE sp_id = $1", miner.sp_id
    )
    assert sum(stages.values()) == total == 4
    assert stages["failed"] == 1
    assert stages["SDR"] == 3
    # the deadline open now by the chain's own clock (devnet deadlines last 20 s: the scrape
    # may straddle a change), and when it closes
    current = got.value("harmony_miner_current_deadline", miner=m)
    assert current in (before.index, after.index)
    open_now = before if current == before.index else after
    closes_in = config.time_of(open_now.close).timestamp() - time.time()
    got_closes_in = got.value("harmony_miner_current_deadline_closes_in_seconds", miner=m)
    assert abs(got_closes_in - closes_in) < 5
    # the next one holding sectors: the faulty sectors' deadline, in the next period
    assert got.value("harmony_miner_next_deadline", miner=m) == info.index
    opens_in = got.value("harmony_miner_next_deadline_opens_in_seconds", miner=m)
    period = DEVNET.wpost_proving_period * DEVNET.block_time
    assert 0 < opens_in <= period
    closes = got.value("harmony_miner_next_deadline_closes_in_seconds", miner=m)
    assert closes > opens_in


async def _no_beacon(epoch: int) -> bytes:
    raise AssertionError("the cron draws no randomness")


async def test_the_db_layers_retries_are_counted(db: DB) -> None:
    """A real serialization failure (SQLSTATE 40001 raised by the server) the DB layer retries
    shows as one retry; the policy's attempts are unchanged."""
    attempts = db.retry_policy.attempts
    server = await start_metrics("127.0.0.1:0", db, interval=3600.0)
    try:
        calls = 0

        async def once_conflicting(tx: Any) -> int:
            nonlocal calls
            calls += 1
            if calls == 1:
                await tx.exec("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$")
            return calls

        assert await db.transaction(once_conflicting) == 2
        got = await scrape(server.url)
    finally:
        await server.close()
    assert got.value("harmony_db_retries_total") == 1
    assert db.retry_policy.attempts == attempts


async def test_a_failed_read_keeps_the_last_figures_and_is_counted(db: DB) -> None:
    """A read that fails on the server (a table it reads is gone: a real error) counts an
    error; the endpoint still answers, with the last figures and their growing age, and
    reads again once the table is back."""
    await db.exec("INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('x', 1, now())")
    server = await start_metrics("127.0.0.1:0", db, interval=0.0)
    try:
        first = await scrape(server.url)
        assert first.value("harmony_queue_tasks", task_type="x", state="pending") == 1
        await db.exec("ALTER TABLE storage_path RENAME TO storage_path_away")
        try:
            failed = await scrape(server.url)
        finally:
            await db.exec("ALTER TABLE storage_path_away RENAME TO storage_path")
        assert failed.value("harmony_cluster_figures_errors_total") == 1
        assert failed.value("harmony_queue_tasks", task_type="x", state="pending") == 1
        age = failed.value("harmony_cluster_figures_age_seconds")
        assert age >= first.value("harmony_cluster_figures_age_seconds")
        assert server.cluster is not None
        kept = server.cluster.figures
        again = await scrape(server.url)
        assert again.value("harmony_cluster_figures_errors_total") == 1
        assert server.cluster.figures is not kept  # read again
    finally:
        await server.close()
