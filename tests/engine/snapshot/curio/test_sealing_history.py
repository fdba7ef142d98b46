"""The sealing pane on a Curio cluster (issue 13): "ready, no task yet" and the sealing history,
from Curio-shaped rows (support.curio_schema).

The seed: sector 5 committed and moved (still in sectors_sdr_pipeline), sectors_meta holds 5,
100 and 101 (100 and 101 sealed before, their pipeline rows collected by Curio's PipelineGC);
sectors 1-4 are in flight or failed; attempts are linked for sectors 2 and 3.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from console.commands.sealing_history_format import history_json
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.pipeline import read_pipeline
from engine.snapshot.model import PipelineSnap
from engine.snapshot.pipeline import stage_status
from support.curio_cli import run_harmony
from support.curio_read import curio_session, owner_exec, read_with, seeded_at, select_only
from support.curio_schema import SP_ID, CurioCluster

STUCK = 12 * 3600.0

#: sector 5's attempts: (task name, started s before the seed, took s, result)
ATTEMPTS = (
    ("SDR", 9000, 3000, True),
    ("TreeD", 5900, 300, True),
    ("TreeRC", 5500, 1200, True),
    ("SyntheticProofs", 4200, 300, True),
    ("PreCommitBatch", 3800, 20, False),
    ("PreCommitBatch", 3700, 20, True),
    ("PoRep", 2680, 60, True),  # 1000 s after the PreCommit ended
    ("CommitBatch", 2600, 20, True),
    ("Finalize", 2570, 30, True),
    ("MoveStorage", 2530, 100, True),  # ends 2430 s before the seed
)


async def link_attempts(cluster: CurioCluster, seeded: datetime, sector: int) -> None:
    """Sector ``sector``'s attempts, linked as Curio's engine links them."""
    statements: list[tuple[object, ...]] = []
    for i, (name, before, took, result) in enumerate(ATTEMPTS):
        began = seeded - timedelta(seconds=before)
        statements.append(
            (
                "WITH h AS (INSERT INTO harmony_task_history (task_id, name, posted, "
                "work_start, work_end, result, completed_by_host_and_port, err) "
                "VALUES ($1, $2, $3, $3, $4, $5, '10.0.0.11:12300', '') RETURNING id) "
                "SELECT append_sector_pipeline_events($6, $7, (SELECT id FROM h))",
                9000 + sector * 20 + i,
                name,
                began,
                began + timedelta(seconds=took),
                result,
                SP_ID,
                sector,
            )
        )
    await owner_exec(cluster, *statements)


async def history_at(
    cluster: CurioCluster, now: datetime, *, search: str | None = None, url: str | None = None
) -> PipelineSnap:
    snap, _ = await read_with(
        cluster,
        lambda tx: read_pipeline(
            tx,
            now,
            head_epoch=4500,
            stuck_after=STUCK,
            sector_limit=100,
            problem_limit=100,
            history=True,
            history_limit=100,
            history_search=search,
        ),
        url=url,
    )
    return snap


async def test_curio_finished_sectors_with_their_stage_times(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    await link_attempts(curio_db, seeded, 5)
    snap = await history_at(curio_db, seeded + timedelta(seconds=5))
    history = snap.history
    # sectors_meta's sealed sectors, newest (highest number) first; 1-4 are not finished
    assert [s.sector_number for s in history.sectors] == [101, 100, 5]
    five = history.sectors[2]
    assert five.create_time == seeded  # its pipeline row is still there
    assert {s.stage: s.seconds for s in five.stages} == {
        "SDR": 3000.0,
        "TreeD": 300.0,
        "TreeRC": 1200.0,
        "Synth": 300.0,
        "PreCommit": 20.0,
        "Wait seed": 1000.0,
        "PoRep": 60.0,
        "Commit": 20.0,
        "Finalize": 30.0,
        "Move": 100.0,
    }
    assert five.stage("PreCommit").failed == 1
    assert five.finished_at == seeded - timedelta(seconds=2430)
    # sealed before the pipeline row was collected and no attempt linked: listed, no times
    hundred = history.sectors[1]
    assert hundred.create_time is None and hundred.finished_at is None and hundred.total is None


async def test_curio_history_search_as_a_select_only_role(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with select_only(curio_db) as url:
        found = await history_at(curio_db, seeded, search="100", url=url)
        in_flight = await history_at(curio_db, seeded, search="3", url=url)
    assert [s.key for s in found.history.sectors] == [f"{SP_ID}:100"]
    assert in_flight.history.sectors == () and in_flight.history.search == 3


async def test_curio_reader_reads_the_history_only_while_shown(curio_db: CurioCluster) -> None:
    seeded = await seeded_at(curio_db)
    async with curio_session(curio_db, read_only=True) as db:
        reader = CurioSnapshotReader(db)
        hidden = await reader.snapshot(seeded, lists={"sectors"})
        assert not hidden.pipeline.history.read
        shown = await reader.snapshot(seeded, lists={"sealing_history"}, history_filter="5")
        assert [s.sector_number for s in shown.pipeline.history.sectors] == [5]
        kept = await reader.snapshot(seeded, lists={"sectors"})
        assert kept.pipeline.history is shown.pipeline.history


async def test_curio_stage_ready_without_a_task(curio_db: CurioCluster) -> None:
    """Curio's poller has not added sector 2's TreeD task yet (no id): ready, not queued."""
    seeded = await seeded_at(curio_db)
    await owner_exec(
        curio_db,
        ("UPDATE sectors_sdr_pipeline SET task_id_tree_d = NULL WHERE sector_number = 2",),
    )
    snap = await history_at(curio_db, seeded)
    two = next(s for s in snap.sectors if s.sector_number == 2)
    assert (two.stage, stage_status(two)) == ("TreeD", "ready")


async def test_curio_sectors_history_cli_prints_the_read_models(curio_db: CurioCluster) -> None:
    """``harmony sectors history`` on the Curio cluster: the records the console's history view
    shows (one definition), miners named as Curio's nodes name them."""
    seeded = await seeded_at(curio_db)
    await link_attempts(curio_db, seeded, 5)
    snap = await history_at(curio_db, seeded)
    out = await run_harmony(curio_db.url, curio_db.schema, "sectors", "history", "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    assert cli == history_json("f0", snap.history)
    assert [r["sector"] for r in cli] == [101, 100, 5]
    found = await run_harmony(curio_db.url, curio_db.schema, "sectors", "history", "--sector", "5")
    assert found.returncode == 0, found.stderr
    line = found.stdout.splitlines()[1].split()
    assert line[:2] == [f"f0{SP_ID}", "5"] and line[4] == "50m"  # SDR: 3000 s
