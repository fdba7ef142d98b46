"""CurioSnapshotReader as a whole: one section that cannot be read blanks only its own pane,
and the per-path sector counts are re-read only every ``counts_every`` seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.harmonydb import DB
from engine.snapshot import ClusterSnapshot
from engine.snapshot.curio import CurioSnapshotReader
from engine.storage import SectorFileType
from support.curio_read import owner, seeded_at
from support.curio_schema import SP_ID, CurioCluster


async def open_curio(cluster: CurioCluster) -> DB:
    return await DB.open(cluster.url, schema=cluster.schema, migrate=False, read_only=True)


async def test_a_section_that_fails_shows_its_error_and_the_others_still_read(
    curio_db: CurioCluster,
) -> None:
    """A Curio release that renamed a column the storage section reads: the storage pane
    says why, in one line; machines, tasks and the pipeline are read as before."""
    async with owner(curio_db) as conn:
        await conn.execute("ALTER TABLE storage_path RENAME COLUMN urls TO url_list")
    db = await open_curio(curio_db)
    try:
        snap = await CurioSnapshotReader(db).snapshot(datetime.now(UTC))
    finally:
        await db.close()
    assert snap.cluster == "curio"
    assert [e.section for e in snap.errors if e.section != "post"] == ["storage"]
    message = snap.error("storage")
    assert message is not None and "urls" in message and "\n" not in message
    assert snap.storage.paths == ()
    assert len(snap.machines) == 3
    assert snap.queues.types
    assert snap.pipeline.summaries


async def test_sector_counts_are_read_again_only_every_counts_every_seconds(
    curio_db: CurioCluster,
) -> None:
    assert curio_db.seed is not None
    seal_path = curio_db.seed.storage_ids[0]
    now = await seeded_at(curio_db) + timedelta(seconds=1)

    def sealed(snap: ClusterSnapshot) -> int:
        (info,) = [p for p in snap.storage.paths if p.storage_id == seal_path]
        return info.counts.get(SectorFileType.SEALED, 0)

    db = await open_curio(curio_db)
    try:
        reader = CurioSnapshotReader(db, counts_every=30.0)
        assert sealed(await reader.snapshot(now)) == 1
        async with owner(curio_db) as conn:
            await conn.execute(
                "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, "
                "is_primary) VALUES ($1, 2, $2, $3, TRUE)",
                SP_ID,
                int(SectorFileType.SEALED),
                seal_path,
            )
        assert sealed(await reader.snapshot(now + timedelta(seconds=10))) == 1
        assert sealed(await reader.snapshot(now + timedelta(seconds=31))) == 2
    finally:
        await db.close()


async def test_the_days_task_totals_are_read_again_only_when_a_quarter_minute_old(
    curio_db: CurioCluster,
) -> None:
    """The day's totals and the given-up list (a scan of the day's history) are kept for 15 s;
    the queue itself is read every refresh."""
    now = datetime.now(UTC)
    db = await open_curio(curio_db)
    try:
        reader = CurioSnapshotReader(db)
        first = await reader.snapshot(now)
        async with owner(curio_db) as conn:
            await conn.execute(
                "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
                "result, completed_by_host_and_port, err) VALUES (5000, 'TreeD', now(), now(), "
                "now(), FALSE, '10.0.0.11:12300', 'error: disk gone')"
            )
            await conn.execute(
                "INSERT INTO harmony_task (name, added_by, posted_time) "
                "VALUES ('TreeD', $1, now())",
                curio_db.seed.machines["10.0.0.11:12300"] if curio_db.seed else 1,
            )
        soon = await reader.snapshot(now + timedelta(seconds=5))
        later = await reader.snapshot(now + timedelta(seconds=16))
    finally:
        await db.close()
    assert soon.queues.failed_24h == first.queues.failed_24h
    assert soon.queues.failed_total == first.queues.failed_total
    assert soon.queues.pending == first.queues.pending + 1  # the queue is read every time
    assert later.queues.failed_24h == first.queues.failed_24h + 1
    assert later.queues.failed_total == first.queues.failed_total + 1
    assert later.queues.failed_tasks[0].id == 5000


async def test_failed_and_stuck_sectors_are_read_again_only_every_ten_seconds(
    curio_db: CurioCluster,
) -> None:
    """The problem list (each candidate's stage start found through its events) is kept for
    10 s; the strips and the summary are read every refresh."""
    now = datetime.now(UTC)
    db = await open_curio(curio_db)
    try:
        reader = CurioSnapshotReader(db)
        first = await reader.snapshot(now)
        async with owner(curio_db) as conn:
            await conn.execute(
                "UPDATE sectors_sdr_pipeline SET failed = TRUE, failed_at = now(), "
                "failed_reason = 'tree-d', failed_reason_msg = 'disk gone' WHERE sector_number = 2"
            )
        soon = await reader.snapshot(now + timedelta(seconds=5))
        later = await reader.snapshot(now + timedelta(seconds=11))
    finally:
        await db.close()

    def failed(snap: ClusterSnapshot) -> list[int]:
        return sorted(p.sector_number for p in snap.pipeline.problems if p.kind == "failed")

    assert failed(first) == failed(soon) == [4]
    assert soon.pipeline.failed == first.pipeline.failed + 1  # the summary is read every time
    assert failed(later) == [2, 4]
