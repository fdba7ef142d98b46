"""Jobs in the read model: each running task's target (sector, deadline and partition, epoch),
read only while jobs are shown and only for tasks not seen before, and the job states."""

from __future__ import annotations

from console.fixture import FIXED_NOW, seed
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader
from engine.snapshot.jobs import JobTarget, build_jobs

WDPOST = """
INSERT INTO wdpost_partition_tasks (task_id, sp_id, proving_period_start, deadline_index,
    partition_index) VALUES (106, 1000, 90514, 3, 1)
"""


async def test_targets_come_from_the_pipeline_and_the_post_tables(db: DB) -> None:
    await seed(db)
    await db.exec(WDPOST)
    reader = SnapshotReader(db)
    snap = await reader.snapshot(FIXED_NOW, lists={"jobs"})
    targets = snap.job_targets
    assert targets[101] == JobTarget("sector", 1000, 1000)
    # TreeRC's task id is in both task_id_tree_c and task_id_tree_r: one target all the same
    assert targets[102] == JobTarget("sector", 1000, 1002)
    assert targets[103].label() == "t01000:1006"
    assert targets[106] == JobTarget("wdpost", 1000, 3, 1)
    assert targets[106].label("f0") == "f01000 dl 3 p 1"
    assert 104 not in targets and 105 not in targets  # burn, and an SDR no sector names

    jobs = {j.id: j for j in build_jobs(snap)}
    assert [j.id for j in build_jobs(snap)][:2] == [105, 101]  # longest-running first
    assert jobs[105].state == "stopping"  # node-c drains
    assert jobs[104].state == "running"  # node-b is cordoned: its task runs on
    assert jobs[101].elapsed(snap) == 40 * 60


async def test_targets_are_read_only_for_jobs_on_screen_and_only_once(db: DB) -> None:
    await seed(db)
    reader = SnapshotReader(db)
    await reader.snapshot(FIXED_NOW, lists=())  # the first refresh fills the reader's caches
    without = await reader.snapshot(FIXED_NOW, lists=())
    assert dict(without.job_targets) == {}
    first = await reader.snapshot(FIXED_NOW, lists={"jobs"})
    assert first.statements == without.statements + 1
    assert 101 in first.job_targets
    # the running set did not change: nothing more to read, the targets are carried over
    again = await reader.snapshot(FIXED_NOW, lists={"jobs"})
    assert again.statements == without.statements
    assert again.job_targets == first.job_targets
    hidden = await reader.snapshot(FIXED_NOW, lists=())
    assert hidden.job_targets == first.job_targets
    # a new task is claimed: only its id is looked up
    await db.exec(
        "UPDATE harmony_task SET owner_id = 1, claimed_at = $1 WHERE id = 201",
        FIXED_NOW,
    )
    later = await reader.snapshot(FIXED_NOW, lists={"jobs"})
    assert later.statements == without.statements + 1
    assert later.job_targets[201] == JobTarget("sector", 1000, 1001)


async def test_a_job_on_a_stale_or_dead_machine_has_lost_its_owner(db: DB) -> None:
    await seed(db)
    await db.exec("UPDATE harmony_task SET owner_id = 5 WHERE id = 204")  # node-e: stale
    await db.exec("UPDATE harmony_task SET owner_id = 6 WHERE id = 205")  # node-f: dead
    snap = await SnapshotReader(db).snapshot(FIXED_NOW, lists=())
    states = {j.id: j.state for j in build_jobs(snap)}
    assert states[204] == "owner lost" and states[205] == "owner lost"
