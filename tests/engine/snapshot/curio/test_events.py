"""The cluster's events on a Curio cluster: derived from Curio's own tables (machines started,
silent, asked to restart; failed attempts with their error, a preemption not among them;
submitted proofs; failed sectors; won blocks), read under a role that may only SELECT, and the
kinds Curio keeps no record of said, not guessed."""

from __future__ import annotations

from datetime import timedelta

from engine.harmonydb import DB
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.events import CURIO_UNSUPPORTED, read_curio_events
from engine.snapshot.events import select_events
from support.curio_read import owner, seeded_at, select_only
from support.curio_schema import CurioCluster

SEAL, GPU, POST = "10.0.0.11:12300", "10.0.0.12:12300", "10.0.0.13:12300"


async def test_events_from_curios_tables_under_a_select_only_role(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with owner(curio_db) as conn:  # a WdPostSubmit attempt that did its job
        await conn.execute(
            "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port, err) VALUES "
            "(2000, 'WdPostSubmit', $1, $1, $1, TRUE, $2, '')",
            seeded - timedelta(seconds=50),
            POST,
        )
    # 700 s after the seed: every machine's last beat is past Curio's dead threshold (600 s)
    now = seeded + timedelta(seconds=700)
    async with select_only(curio_db) as url:
        db = await DB.open(url, schema=curio_db.schema, migrate=False, read_only=True)
        try:
            reader = CurioSnapshotReader(db)
            reader.events_window = 2 * 86400.0  # the machines started a day before the seed
            snap = await reader.snapshot(now, lists={"events"})
            hidden = await reader.snapshot(now, lists=())
        finally:
            await db.close()
    assert snap.error("events") is None
    events = snap.events.events
    assert hidden.events is snap.events  # not re-read while the pane is hidden
    assert snap.events.unsupported == CURIO_UNSUPPORTED
    by_kind: dict[str, list[str]] = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append(e.machine or e.subject)
    assert sorted(by_kind["machine-joined"]) == [SEAL, GPU, POST]
    assert sorted(by_kind["machine-dead"]) == [SEAL, GPU, POST]
    assert by_kind["machine-restart"] == [POST]
    # the PoRep attempt that ran out of GPU memory; the preempted TreeRC is not a failure
    (failed,) = select_events(events, kind="task-failed")
    assert failed.machine == GPU and failed.task_name == "PoRep"
    assert failed.message == "error: computing snark: gpu out of memory"
    assert by_kind["post-submitted"] == [POST]
    (sector,) = select_events(events, kind="sector-failed")
    assert sector.sp_id is not None and sector.sector_number is not None
    (block,) = select_events(events, kind="blocks")
    assert block.kind == "block-won" and "epoch 4499" in block.message
    # newest first, in one total order
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    assert len({e.key for e in events}) == len(events)


async def test_a_kind_filter_reads_only_that_kind(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db) + timedelta(seconds=1)
    db = await DB.open(curio_db.url, schema=curio_db.schema, migrate=False, read_only=True)
    try:
        snap = await read_curio_events(
            db, now, window=86400, limit=10, dead_after=600, kind="failures"
        )
    finally:
        await db.close()
    assert {e.kind for e in snap.events} == {"task-failed", "sector-failed"}
