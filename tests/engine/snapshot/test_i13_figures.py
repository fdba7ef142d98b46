"""One definition per figure in the read model (issue 13): the sealing summary's buckets and the
per-sector strips, computed from the same rows, never contradict each other."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from engine.harmonydb import DB
from engine.snapshot import SnapshotReader

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEAD = 5000

# A sector whose PreCommit landed: every stage before Wait Seed done.
LANDED = """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth, after_precommit_msg,
    after_precommit_msg_success, seed_epoch, task_id_porep)
VALUES (1000, $1, $2, 0, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, $3, $4)
"""


async def test_wait_seed_and_porep_mean_the_same_in_summary_and_strip(db: DB) -> None:
    """The PoRep task is added SEED_CONFIDENCE (3) epochs after the seed epoch; until then, or
    until it exists, a sector waits for its seed in the summary and in its strip alike (the
    issue saw "PoRep 0" in the summary beside strips in PoRep, and strips "PoRep queued"
    while the task queues held no PoRep task)."""
    await db.exec("INSERT INTO chain_tipsets (epoch, beacon) VALUES ($1, '\\x00')", HEAD)
    await db.exec(
        "INSERT INTO harmony_task (id, name, posted_time, added_by, update_time) "
        "VALUES (701, 'PoRep', $1, 0, $1)",
        NOW - timedelta(minutes=1),
    )
    created = NOW - timedelta(hours=1)
    sectors = {
        1: (HEAD + 10, None),  # seed still ahead
        2: (HEAD, None),  # seed epoch reached, the task comes 3 epochs later
        3: (HEAD - 2, None),
        4: (HEAD - 3, None),  # ready: the poller adds the task now
        5: (HEAD + 1, 701),  # our poller reads the clock, ahead of the last tipset
    }
    for n, (seed, task) in sectors.items():
        await db.exec(LANDED, n, created, seed, task)
    snap = await SnapshotReader(db).snapshot(NOW)
    (summary,) = snap.pipeline.summaries
    stages = Counter(s.stage for s in snap.pipeline.sectors)
    assert summary.counts["Wait Seed"] == stages["Wait Seed"] == 3
    assert summary.counts["PoRep"] == stages["PoRep"] == 2
    strips = {s.sector_number: s for s in snap.pipeline.sectors}
    assert {n for n, s in strips.items() if s.stage == "PoRep"} == {4, 5}

    def cell(n: int, label: str) -> str:
        return next(c.status for c in strips[n].cells if c.label == label)

    assert cell(2, "Wait Seed") == "waiting" and cell(2, "PoRep") == "none"
    # The queued PoRep in the strip is the task the queue pane counts as pending.
    assert cell(5, "PoRep") == "queued"
    (porep,) = [t for t in snap.queues.types if t.name == "PoRep"]
    # Sector 4's task is the poller's next step (it adds it at seed + 3): counted as PoRep work
    # not started, without a task yet.
    assert porep.pending == 1 and summary.pending("PoRep") == 2
