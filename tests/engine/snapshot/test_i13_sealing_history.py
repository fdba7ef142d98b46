"""The sealing pane's read model (issue 13): a stage whose inputs are ready but whose task the
poller has not added yet says so ("ready", not "queued"), and finished sectors stay findable
in the sealing history, newest first, with each stage's time, read only while it is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.harmonydb import DB
from engine.snapshot import SnapshotReader
from engine.snapshot.pipeline import STATUS_WORDS, stage_status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=5)

FINISHED = """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth, after_precommit_msg,
    after_precommit_msg_success, after_porep, after_finalize, after_move_storage,
    after_commit_msg, after_commit_msg_success)
VALUES ($1, $2, $3, 8, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, $4, TRUE, TRUE)
"""

#: (task name, start offset s, took s, result) of a finished sector, from its creation
ATTEMPTS = (
    ("SDR", 10, 100, False),  # a failed first try
    ("SDR", 120, 600, True),
    ("TreeD", 730, 60, True),
    ("TreeRC", 800, 300, True),
    ("PreCommitBatch", 1110, 5, True),
    ("PoRep", 1415, 200, True),  # 300 s of chain wait after the PreCommit
    ("CommitBatch", 1620, 10, True),
    ("Finalize", 1625, 20, True),
    ("MoveStorage", 1650, 50, True),  # ends at 1700: the sector is finished
)


async def add_finished(
    db: DB, sp_id: int, number: int, created: datetime, *, moved: bool = True
) -> None:
    """A sector through every stage, with its attempts linked as the trigger links them."""
    await db.exec(FINISHED, sp_id, number, created, moved)
    ids = []
    for i, (name, start, took, result) in enumerate(ATTEMPTS):
        began = created + timedelta(seconds=start)
        (row,) = await db.select(
            "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port, outcome) VALUES ($1, $2, $3, $3, $4, $5, "
            "'seal-1:12300', $6) RETURNING id",
            number * 100 + i,
            name,
            began,
            began + timedelta(seconds=took),
            result,
            "done" if result else "retry",
        )
        ids.append(row["id"])
    await db.exec(
        "INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids) "
        "VALUES ($1, $2, $3)",
        sp_id,
        number,
        ids,
    )


async def test_a_ready_stage_without_a_task_is_not_queued(db: DB) -> None:
    """The issue's "PoRep queued" for 28 s beside 0 pending PoRep: TreeD's inputs are ready
    (SDR done) and no TreeD task exists yet, so the strip says ready, not queued; once the
    task row exists and waits for a machine, it says queued."""
    await db.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof, "
        "after_sdr, task_id_tree_d) VALUES (1000, 1, $1, 8, TRUE, NULL), "
        "(1000, 2, $1, 8, TRUE, 702)",
        T0,
    )
    await db.exec(
        "INSERT INTO harmony_task (id, name, posted_time, added_by, update_time) "
        "VALUES (702, 'TreeD', $1, 0, $1)",
        NOW - timedelta(minutes=1),
    )
    snap = await SnapshotReader(db).snapshot(NOW)
    strips = {s.sector_number: s for s in snap.pipeline.sectors}
    assert [strips[n].stage for n in (1, 2)] == ["TreeD", "TreeD"]
    assert stage_status(strips[1]) == "ready"
    assert STATUS_WORDS[stage_status(strips[1])] == "ready, no task yet"
    assert stage_status(strips[2]) == "queued"
    # The queue pane's pending TreeD count is the one queued sector, not the ready one.
    (tree_d,) = [t for t in snap.queues.types if t.name == "TreeD"]
    assert tree_d.pending == sum(stage_status(s) == "queued" for s in strips.values()) == 1


async def test_finished_sectors_newest_first_with_each_stage_time(db: DB) -> None:
    for sp_id, number in ((1000, 1), (1000, 2), (1000, 3), (1001, 2)):
        await add_finished(db, sp_id, number, T0 + timedelta(minutes=number))
    await add_finished(db, 1000, 4, T0, moved=False)  # commit landed, not moved yet: in flight
    snap = await SnapshotReader(db).snapshot(NOW)
    history = snap.pipeline.history
    assert history.read and history.search is None
    assert [s.key for s in history.sectors] == ["1000:3", "1001:2", "1000:2", "1000:1"]
    three = history.sectors[0]
    assert {s.stage: s.seconds for s in three.stages} == {
        "SDR": 600.0,  # the successful attempt's work; the failed one is counted apart
        "TreeD": 60.0,
        "TreeRC": 300.0,
        "Synth": None,  # Curio's SyntheticProofs; our pipeline has none
        "PreCommit": 5.0,
        "Wait seed": 300.0,
        "PoRep": 200.0,
        "Commit": 10.0,
        "Finalize": 20.0,
        "Move": 50.0,
    }
    assert (three.stage("SDR").attempts, three.stage("SDR").failed) == (2, 1)
    assert three.failed_attempts == 1
    assert three.finished_at == three.create_time + timedelta(seconds=1700)  # type: ignore[operator]
    assert three.total == 1700.0


async def test_history_is_searched_by_number_in_the_database(db: DB) -> None:
    """The search reaches sectors beyond the rows listed (limit 1 lists only the newest)."""
    for sp_id, number in ((1000, 1), (1000, 2), (1000, 3), (1001, 2)):
        await add_finished(db, sp_id, number, T0)
    reader = SnapshotReader(db, sealing_history_limit=1)
    snap = await reader.snapshot(NOW, lists={"sealing_history"})
    assert [s.key for s in snap.pipeline.history.sectors] == ["1000:3"]
    snap = await reader.snapshot(NOW, lists={"sealing_history"}, history_filter="1")
    assert [s.key for s in snap.pipeline.history.sectors] == ["1000:1"]
    assert snap.pipeline.history.search == 1
    # each miner's sector 2, within the limit of rows the view shows
    reader = SnapshotReader(db, sealing_history_limit=10)
    snap = await reader.snapshot(NOW, lists={"sealing_history"}, history_filter=" 2 ")
    assert [s.key for s in snap.pipeline.history.sectors] == ["1001:2", "1000:2"]
    snap = await reader.snapshot(NOW, lists={"sealing_history"}, history_filter="t01000")
    assert snap.pipeline.history.sectors == ()
    assert snap.pipeline.history.bad_search == "t01000"
    # the tasks' history keeps its own (no) filter while the sealing history is searched
    assert snap.queues.history_filter is None


async def test_history_is_read_only_while_shown(db: DB) -> None:
    await add_finished(db, 1000, 1, T0)
    reader = SnapshotReader(db)
    first = await reader.snapshot(NOW)  # the first refresh reads every list
    assert [s.key for s in first.pipeline.history.sectors] == ["1000:1"]
    await add_finished(db, 1000, 2, T0)
    hidden = await reader.snapshot(NOW, lists={"sectors"})
    assert [s.key for s in hidden.pipeline.history.sectors] == ["1000:1"]  # carried over
    shown = await reader.snapshot(NOW, lists={"sealing_history"})
    assert [s.key for s in shown.pipeline.history.sectors] == ["1000:2", "1000:1"]
