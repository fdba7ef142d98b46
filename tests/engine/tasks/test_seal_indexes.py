"""Finding a sealing sector by its task: the stage lookups and the event-log trigger use the
partial ``task_id_*`` indexes (sql/20261123-09) instead of scanning the whole pipeline, and the
trigger still links every attempt to its sector(s)."""

from __future__ import annotations

import json

import pytest

from engine.harmonydb import DB, Tx
from engine.tasks.seal.pipeline import STAGES

#: Sectors in the test pipeline: enough that the planner prefers an index to a scan.
ROWS = 20_000

#: The stages' task id columns, each given ids from its own range (task id = base + n).
COLUMNS = {
    "task_id_sdr": 1_000_000,
    "task_id_tree_d": 2_000_000,
    "task_id_tree_r": 3_000_000,
    "task_id_precommit_msg": 4_000_000,
    "task_id_porep": 5_000_000,
    "task_id_finalize": 6_000_000,
    "task_id_move_storage": 7_000_000,
    "task_id_commit_msg": 8_000_000,
}


@pytest.fixture
async def big_pipeline(db: DB) -> DB:
    """Miner t01000 with ``ROWS`` sectors: the older half finished (every task id set, the
    batches' ids shared by 4 sectors), the newer half still without later stages' tasks."""
    await db.exec(
        "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset, "
        "created_epoch) VALUES (1000, 2048, 0, 0, 0)"
    )
    await db.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof, task_id_sdr, "
        "task_id_tree_d, task_id_tree_c, task_id_tree_r, task_id_precommit_msg, task_id_porep, "
        "task_id_finalize, task_id_move_storage, task_id_commit_msg) "
        "SELECT 1000, n, 0, 1000000 + n, 2000000 + n, 3000000 + n, 3000000 + n, "
        "       CASE WHEN n < $1 / 2 THEN 4000000 + n / 4 END, "
        "       CASE WHEN n < $1 / 2 THEN 5000000 + n END, "
        "       CASE WHEN n < $1 / 2 THEN 6000000 + n END, "
        "       CASE WHEN n < $1 / 2 THEN 7000000 + n END, "
        "       CASE WHEN n < $1 / 2 THEN 8000000 + n / 4 END "
        "  FROM generate_series(0, $1 - 1) AS n",
        ROWS,
    )
    await db.exec("ANALYZE sectors_sdr_pipeline")
    return db


def _scans(plan: list[dict]) -> list[tuple[str, str | None]]:
    """(node type, index name) of every node reading ``sectors_sdr_pipeline``."""
    found: list[tuple[str, str | None]] = []

    def walk(node: dict) -> None:
        if node.get("Relation Name") == "sectors_sdr_pipeline":
            found.append((node["Node Type"], node.get("Index Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.mark.parametrize("stage", STAGES, ids=[s.task for s in STAGES])
async def test_each_stage_finds_its_sectors_through_an_index(big_pipeline: DB, stage) -> None:
    db = big_pipeline
    column = {
        "SDR": "task_id_sdr",
        "TreeD": "task_id_tree_d",
        "TreeRC": "task_id_tree_r",
        "PreCommitBatch": "task_id_precommit_msg",
        "PoRep": "task_id_porep",
        "Finalize": "task_id_finalize",
        "MoveStorage": "task_id_move_storage",
        "CommitBatch": "task_id_commit_msg",
    }[stage.task]
    task_id = COLUMNS[column] + 7
    # The lookup is prepared with its parameter, as the stage runs it (a generic plan is as
    # good: `col = $1` implies the indexes' `col IS NOT NULL`).

    async def explain(tx: Tx) -> list[dict]:
        await tx.exec("SET LOCAL plan_cache_mode = force_generic_plan")
        return json.loads(await tx.query_value("EXPLAIN (FORMAT JSON) " + stage.lookup, task_id))

    plan = await db.transaction(explain)
    scans = _scans(plan)
    assert scans, plan
    assert all(kind != "Seq Scan" for kind, _ in scans), scans
    index = "sectors_sdr_pipeline_task_" + column.removeprefix("task_id_")
    assert {name for _, name in scans} == {index}
    rows = await db.select(stage.lookup, task_id)
    assert [r["sector_number"] for r in rows] == (
        [28, 29, 30, 31] if stage.task.endswith("Batch") else [7]
    )


async def test_the_history_trigger_links_attempts_without_scanning_the_pipeline(
    big_pipeline: DB,
) -> None:
    db = big_pipeline

    async def record(task_id: int, name: str) -> tuple[int, int, int]:
        """Insert one history row; returns (its id, seq scans, index scans) of the pipeline
        during that insert, read from this transaction's own statistics."""

        async def work(tx: Tx) -> tuple[int, int, int]:
            stats = (
                "SELECT seq_scan, COALESCE(idx_scan, 0) AS idx_scan "
                "FROM pg_stat_xact_user_tables "
                "WHERE relid = 'sectors_sdr_pipeline'::regclass"
            )
            before = await tx.query_row(stats)
            history_id = await tx.query_value(
                "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
                "result, completed_by_host_and_port, outcome) "
                "VALUES ($1, $2, now(), now(), now(), TRUE, 'w1', 'done') RETURNING id",
                task_id,
                name,
            )
            after = await tx.query_row(stats)
            await tx.commit()
            return (
                history_id,
                after["seq_scan"] - before["seq_scan"],
                after["idx_scan"] - before["idx_scan"],
            )

        return await db.transaction(work)

    async def linked(number: int) -> list[int]:
        return list(
            await db.query_value(
                "SELECT task_history_ids FROM sectors_pipeline_events "
                "WHERE sp_id = 1000 AND sector_number = $1",
                number,
            )
            or []
        )

    sdr, seq, idx = await record(COLUMNS["task_id_sdr"] + 12_345, "SDR")
    assert (seq, idx) == (0, 8)  # one probe per stage column, no scan
    assert await linked(12_345) == [sdr]
    # A batch task's attempt is linked to every sector of the batch, each once.
    batch, seq, _ = await record(COLUMNS["task_id_commit_msg"] + 2, "CommitBatch")
    assert seq == 0
    for n in (8, 9, 10, 11):
        assert await linked(n) == [batch]
    again, _, _ = await record(COLUMNS["task_id_commit_msg"] + 2, "CommitBatch")
    assert await linked(9) == [batch, again]
    # A task no sector refers to (any more) links nothing; a non-sealing task is not looked at.
    await record(99, "PoRep")
    _, seq, idx = await record(COLUMNS["task_id_sdr"] + 5, "WdPost")
    assert (seq, idx) == (0, 0)
    assert await linked(5) == []
    assert await db.query_value("SELECT count(*) FROM sectors_pipeline_events") == 5
