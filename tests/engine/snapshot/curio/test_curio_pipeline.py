"""The Curio read model's sealing pipeline on Curio-shaped rows (support.curio_schema): Curio's
summary predicates, the stage strip as Curio's rows say it (ids cleared when a stage is done, one
TreeRC id in both tree columns, batch ids shared by sectors, an id Curio deleted = failed),
failed and stuck sectors, stage start from successful attempts, chain state from sectors_meta;
as the owner and as a role that may only SELECT, and through the whole Curio reader.

The seed (``seed_curio``): sector 1 in SDR (running on seal-1), 2 in TreeD (queued), 3 in PoRep
(second try, running on gpu-1, seed epoch 4300), 4 failed at precommit-check, 5 committed and
moved; sectors_meta holds 5, 100 and 101.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.pipeline import read_pipeline
from engine.snapshot.model import PipelineSnap, SectorStrip
from support.curio_read import curio_session, owner, read_with, seeded_at, select_only
from support.curio_schema import SP_ID, CurioCluster

HEAD = 4500
STUCK = 12 * 3600.0
SEAL, GPU = "10.0.0.11:12300", "10.0.0.12:12300"


async def pipeline_at(
    cluster: CurioCluster,
    now: datetime,
    *,
    head: int | None = HEAD,
    url: str | None = None,
    sector_limit: int = 100,
    problem_limit: int = 100,
) -> PipelineSnap:
    snap, _ = await read_with(
        cluster,
        lambda tx: read_pipeline(
            tx,
            now,
            head_epoch=head,
            stuck_after=STUCK,
            sector_limit=sector_limit,
            problem_limit=problem_limit,
        ),
        url=url,
    )
    return snap


def strips(snap: PipelineSnap) -> dict[int, SectorStrip]:
    return {s.sector_number: s for s in snap.sectors}


def statuses(strip: SectorStrip) -> dict[str, str]:
    return {c.label: c.status for c in strip.cells}


async def machine_ids(cluster: CurioCluster) -> dict[str, int]:
    assert cluster.seed is not None
    return cluster.seed.machines


# --------------------------------------------------------------------------- summary


async def test_summary_as_seeded(curio_db: CurioCluster) -> None:
    snap = await pipeline_at(curio_db, await seeded_at(curio_db))
    assert snap.head_epoch == HEAD
    (s,) = snap.summaries
    assert s.sp_id == SP_ID
    # sector 4 (failed after Synthetic) is counted once, under failed, not in PreCommit Msg
    assert s.counts == {
        "SDR": 1,
        "Trees": 1,
        "PreCommit Msg": 0,
        "Wait Seed": 0,
        "PoRep": 1,
        "Commit Msg": 0,
    }
    assert s.running == {
        "SDR": 1,
        "Trees": 0,
        "PreCommit Msg": 0,
        "Wait Seed": 0,
        "PoRep": 1,
        "Commit Msg": 0,
    }
    assert (s.done, s.failed) == (1, 1)
    assert s.pending("Trees") == 1 and s.pending("SDR") == 0
    loads = {ld.bucket: (ld.pending, ld.running) for ld in snap.loads}
    assert loads["SDR"] == (0, 1) and loads["Trees"] == (1, 0) and loads["PoRep"] == (0, 1)
    # 1-4 still in the pipeline (4 failed stays there until someone acts), 5 committed and moved
    assert snap.in_progress == 4
    assert (snap.total, snap.done, snap.failed) == (5, 1, 1)


async def test_wait_seed_and_porep_follow_the_chain_head(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db)
    # Curio's predicates: seed_epoch > head waits, seed_epoch < head is PoRep
    early = (await pipeline_at(curio_db, now, head=4250)).summaries[0]
    assert (early.counts["Wait Seed"], early.counts["PoRep"]) == (1, 0)
    # no Lotus node: a landed precommit with a PoRep task is past its seed (Curio creates the
    # task only at seed_epoch + 3), one without waits
    blind = await pipeline_at(curio_db, now, head=None)
    assert blind.head_epoch is None
    assert (blind.summaries[0].counts["Wait Seed"], blind.summaries[0].counts["PoRep"]) == (0, 1)
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE sectors_sdr_pipeline SET task_id_porep = NULL WHERE sector_number = 3"
        )
    blind = await pipeline_at(curio_db, now, head=None)
    assert (blind.summaries[0].counts["Wait Seed"], blind.summaries[0].counts["PoRep"]) == (1, 0)
    assert statuses(strips(blind)[3])["Wait Seed"] == "waiting"


# --------------------------------------------------------------------------- strips


async def test_strips_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    ids = await machine_ids(curio_db)
    sdr_1, porep_3, _ = curio_db.seed.running
    tree_d_2 = curio_db.seed.pending[0]
    snap = await pipeline_at(curio_db, await seeded_at(curio_db))
    # created together: ordered by sector number; 5 is finished and not listed
    assert [s.sector_number for s in snap.sectors] == [1, 2, 3, 4]
    by = strips(snap)

    one = by[1]
    assert one.stage == "SDR" and one.state == "Sealing" and not one.stuck
    assert one.cells[0].status == "running"
    assert (one.cells[0].task_id, one.cells[0].owner_id) == (sdr_1, ids[SEAL])
    assert set(list(statuses(one).values())[1:]) == {"none"}
    assert (one.on_chain, one.chain_state) == ("no", None)

    two = statuses(by[2])
    assert two["SDR"] == "done" and two["TreeD"] == "queued" and two["TreeC"] == "none"
    assert by[2].cells[1].task_id == tree_d_2 and by[2].stage == "TreeD"

    three = by[3]
    cells = statuses(three)
    assert [cells[x] for x in ("SDR", "TreeD", "TreeC", "TreeR", "Synthetic")] == ["done"] * 5
    assert [cells[x] for x in ("PComm Msg", "PComm Wait", "Wait Seed")] == ["done"] * 3
    assert cells["PoRep"] == "running" and three.stage == "PoRep"
    porep = next(c for c in three.cells if c.label == "PoRep")
    assert (porep.task_id, porep.owner_id) == (porep_3, ids[GPU])
    assert [cells[x] for x in ("Clear Cache", "Move Storage", "Commit Msg", "Commit Wait")] == [
        "none"
    ] * 4
    # its precommit landed: on chain as precommitted (no sectors_meta row before the commit)
    assert (three.on_chain, three.chain_state) == ("yes", "precommitted")

    four = by[4]
    assert four.state == "Failed" and four.stage == "PComm Msg"
    assert statuses(four)["PComm Msg"] == "failed" and statuses(four)["Synthetic"] == "done"
    assert (four.failed_reason, four.failed_msg) == ("precommit-check", "ticket expired")
    assert not four.stuck


async def test_one_treerc_task_in_both_tree_columns(curio_db: CurioCluster) -> None:
    """Curio's pollStartSDRTreeRC puts one id in task_id_tree_c and task_id_tree_r."""
    ids = await machine_ids(curio_db)
    async with owner(curio_db) as conn:
        tree_rc = await conn.fetchval(
            "INSERT INTO harmony_task (name, added_by, posted_time, owner_id) "
            "VALUES ('TreeRC', $1, now(), $1) RETURNING id",
            ids[SEAL],
        )
        # TreeD done: its id cleared with after_tree_d set (task_treed.go)
        await conn.execute(
            "UPDATE sectors_sdr_pipeline SET after_tree_d = TRUE, task_id_tree_d = NULL, "
            "task_id_tree_c = $1, task_id_tree_r = $1 WHERE sector_number = 2",
            tree_rc,
        )
    snap = await pipeline_at(curio_db, await seeded_at(curio_db))
    two = strips(snap)[2]
    tree_c, tree_r = two.cells[2], two.cells[3]
    assert (tree_c.label, tree_r.label) == ("TreeC", "TreeR")
    assert tree_c.status == tree_r.status == "running"
    assert tree_c.task_id == tree_r.task_id == tree_rc
    assert two.stage == "TreeC" and statuses(two)["TreeD"] == "done"
    assert snap.summaries[0].running["Trees"] == 1


async def test_a_batch_task_is_shared_by_its_sectors(curio_db: CurioCluster) -> None:
    ids = await machine_ids(curio_db)
    async with owner(curio_db) as conn:
        batch = await conn.fetchval(
            "INSERT INTO harmony_task (name, added_by, posted_time) "
            "VALUES ('PreCommitBatch', $1, now()) RETURNING id",
            ids[SEAL],
        )
        # sectors 6 and 7 in one PreCommitBatch, 8 ready and not picked by a batch yet
        for number, task in ((6, batch), (7, batch), (8, None)):
            await conn.execute(
                "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof, "
                "after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth, "
                "task_id_precommit_msg, create_time) "
                "VALUES ($1, $2, 8, TRUE, TRUE, TRUE, TRUE, TRUE, $3, now() + interval '1 s')",
                SP_ID,
                number,
                task,
            )
    snap = await pipeline_at(curio_db, await seeded_at(curio_db))
    by = strips(snap)
    for number in (6, 7):
        cell = next(c for c in by[number].cells if c.label == "PComm Msg")
        assert (cell.status, cell.task_id) == ("queued", batch)
    assert statuses(by[8])["PComm Msg"] == "batch"
    s = snap.summaries[0]
    assert s.counts["PreCommit Msg"] == 3 and s.running["PreCommit Msg"] == 0


async def test_a_task_curio_deleted_shows_failed_and_stuck_at_once(
    curio_db: CurioCluster,
) -> None:
    """Curio drops a task at its failure limit; the sector's id then names no row."""
    assert curio_db.seed is not None
    tree_d_2 = curio_db.seed.pending[0]
    async with owner(curio_db) as conn:
        await conn.execute("DELETE FROM harmony_task WHERE id = $1", tree_d_2)
    now = await seeded_at(curio_db) + timedelta(seconds=5)
    snap = await pipeline_at(curio_db, now)
    two = strips(snap)[2]
    tree_d = two.cells[1]
    assert (tree_d.label, tree_d.status, tree_d.task_id) == ("TreeD", "failed", tree_d_2)
    assert two.state == "Sealing" and two.stuck
    # the failed one (4) first, then 2: listed although only seconds in its stage
    assert [(p.sector_number, p.kind) for p in snap.problems] == [(4, "failed"), (2, "stuck")]
    gone = snap.problems[1]
    assert gone.stage == "TreeD" and gone.reason == "task gone"
    assert str(tree_d_2) in gone.message
    assert snap.stuck == 1
    # the others are in time
    assert not any(s.stuck for s in snap.sectors if s.sector_number != 2)


# --------------------------------------------------------------------------- problems


async def test_failed_and_stuck_sectors(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    snap = await pipeline_at(curio_db, seeded + timedelta(seconds=60))
    # in time: only the failed one
    assert [(p.sector_number, p.kind) for p in snap.problems] == [(4, "failed")]
    failed = snap.problems[0]
    assert (failed.stage, failed.reason, failed.message) == (
        "PComm Msg",
        "precommit-check",
        "ticket expired",
    )
    # failed_at: 1800 s before the seed
    assert abs(failed.age - 1860.0) < 1.0

    later = await pipeline_at(curio_db, seeded + timedelta(seconds=STUCK + 60))
    assert [(p.sector_number, p.kind) for p in later.problems] == [
        (4, "failed"),
        (1, "stuck"),
        (2, "stuck"),
        (3, "stuck"),
    ]
    assert [p.stage for p in later.problems[1:]] == ["SDR", "TreeD", "PoRep"]
    assert later.stuck == 3
    assert {s.sector_number for s in later.sectors if s.stuck} == {1, 2, 3}
    # bounded, oldest first
    few = await pipeline_at(curio_db, seeded + timedelta(seconds=STUCK + 60), problem_limit=2)
    assert [p.sector_number for p in few.problems] == [4, 1]


async def test_a_stage_starts_when_the_last_successful_attempt_ended(
    curio_db: CurioCluster,
) -> None:
    """Sector 3's events: TreeD, TreeRC (one preempted), Synthetic, PreCommitBatch (ended
    2500 s before the seed), a failed PoRep (1700 s): the failure leaves it in its stage."""
    seeded = await seeded_at(curio_db)
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE sectors_sdr_pipeline SET create_time = create_time - interval '2 days' "
            "WHERE sector_number = 3"
        )
    snap = await pipeline_at(curio_db, seeded)
    three = next(s for s in snap.sectors if s.sector_number == 3)
    assert abs((seeded - three.since).total_seconds() - 2500.0) < 1.0
    # listed first now: the oldest
    assert snap.sectors[0].sector_number == 3


# --------------------------------------------------------------------------- chain state


async def test_chain_state_from_sectors_meta(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with owner(curio_db) as conn:
        # commit landed, storage not moved yet: still in the pipeline, sectors_meta has it
        await conn.execute(
            "UPDATE sectors_sdr_pipeline SET after_move_storage = FALSE WHERE sector_number = 5"
        )
        five = strips(await pipeline_at(curio_db, seeded))[5]
        assert (five.state, five.stage, five.on_chain, five.chain_state) == (
            "Sealed",
            "Move Storage",
            "yes",
            "active",
        )
        await conn.execute(
            "UPDATE sectors_meta SET is_faulty = TRUE WHERE sp_id = $1 AND sector_num = 5", SP_ID
        )
        five = strips(await pipeline_at(curio_db, seeded))[5]
        assert (five.on_chain, five.chain_state) == ("yes", "faulty")
        await conn.execute(
            "UPDATE sectors_meta SET is_live = FALSE WHERE sp_id = $1 AND sector_num = 5", SP_ID
        )
        five = strips(await pipeline_at(curio_db, seeded))[5]
        assert (five.on_chain, five.chain_state) == ("no", "terminated")
    # Curio's GUI counts Done from the pipeline rows (PipelineGC deletes them later)
    assert (await pipeline_at(curio_db, seeded)).summaries[0].done == 1


async def test_strips_are_bounded_oldest_first(curio_db: CurioCluster) -> None:
    snap = await pipeline_at(curio_db, await seeded_at(curio_db), sector_limit=2)
    assert [s.sector_number for s in snap.sectors] == [1, 2]
    assert snap.in_progress == 4


# --------------------------------------------------------------------------- access


async def test_a_select_only_role_reads_it(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with select_only(curio_db) as url:
        snap = await pipeline_at(curio_db, seeded + timedelta(seconds=STUCK + 60), url=url)
    assert [s.sector_number for s in snap.sectors] == [1, 2, 3, 4]
    assert len(snap.problems) == 4 and snap.summaries[0].done == 1


async def test_the_curio_reader_reads_pipeline_and_storage(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with curio_session(curio_db, read_only=True) as db:
        snap = await CurioSnapshotReader(db).snapshot(seeded + timedelta(seconds=3))
    assert snap.cluster == "curio"
    assert snap.error("pipeline") is None and snap.error("storage") is None
    assert [s.sector_number for s in snap.pipeline.sectors] == [1, 2, 3, 4]
    assert (snap.pipeline.done, snap.pipeline.failed, snap.pipeline.in_progress) == (1, 1, 4)
    assert len(snap.storage.paths) == 2 and all(p.healthy for p in snap.storage.paths)
