"""The sealing pipeline as Curio's GUI shows it, so operators coming from Curio read the same
buckets and stage labels.

Three bounded queries: the summary buckets per miner with Curio's exact predicates (one
aggregate over ``sectors_sdr_pipeline``), the sectors still in the pipeline (``LIMIT``ed, oldest
first) for the per-sector stage strip, and the failed or stuck sectors (``LIMIT``ed, oldest
first). A fourth looks up the harmony tasks those sectors point at, by primary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, LiteralString

from engine.harmonydb import Tx

from .model import (
    BUCKETS,
    PipelineSummary,
    SectorProblem,
    SectorStrip,
    StageLoad,
    StripCell,
)

__all__ = [
    "SEED_CONFIDENCE",
    "SUMMARY",
    "TASK_COLUMNS",
    "TaskState",
    "current_stage",
    "read_pipeline",
    "strip_cells",
    "summary_sql",
]

# Bucket predicates are Curio's PorepPipelineSummary ($1 = chain head), each with NOT failed
# added: Curio also counts a failed sector in its stage bucket; here it is counted once, under
# Failed. ``running`` (the pending/running split) checks the task of the stage the sector is in
# against the set of running tasks. One scan of the table gives the stage buckets and the totals.
# The summary's shared parts (Curio's reader composes its own with summary_sql): a ``stage`` row
# per sector with the bucket predicates that need no chain head and the pending/running split...
_SUMMARY_STAGE = """
WITH running AS (
    -- Few rows (at most what the cluster runs at once), via the partial owner index; the
    -- membership test below hashes them once instead of probing per sector.
    SELECT id FROM harmony_task WHERE owner_id IS NOT NULL
), stage AS (
    SELECT p.sp_id, p.failed, p.after_commit_msg_success AS done,
           NOT (p.after_commit_msg_success AND p.after_move_storage) AS in_progress,
           (p.after_sdr = false) AS b_sdr,
           (p.after_sdr AND (NOT p.after_tree_d OR NOT p.after_tree_c OR NOT p.after_tree_r))
               AS b_trees,
           (p.after_tree_r AND NOT p.after_precommit_msg) AS b_precommit,
           (NOT p.after_commit_msg_success AND p.after_porep) AS b_commit,
           (NOT p.after_commit_msg
            AND CASE WHEN NOT p.after_sdr THEN p.task_id_sdr
                     WHEN NOT p.after_tree_d THEN p.task_id_tree_d
                     WHEN NOT (p.after_tree_c AND p.after_tree_r) THEN p.task_id_tree_r
                     WHEN NOT p.after_synth THEN p.task_id_synth
                     WHEN NOT p.after_precommit_msg THEN p.task_id_precommit_msg
                     WHEN NOT p.after_porep THEN p.task_id_porep
                     ELSE p.task_id_commit_msg END IN (SELECT id FROM running)) AS running,
"""

# ...and one aggregate over them per miner.
_SUMMARY_COUNTS = """
      FROM sectors_sdr_pipeline p
)
SELECT sp_id,
       count(*) FILTER (WHERE staged AND b_sdr) AS sdr,
       count(*) FILTER (WHERE staged AND b_sdr AND running) AS sdr_running,
       count(*) FILTER (WHERE staged AND b_trees) AS trees,
       count(*) FILTER (WHERE staged AND b_trees AND running) AS trees_running,
       count(*) FILTER (WHERE staged AND b_precommit) AS precommit,
       count(*) FILTER (WHERE staged AND b_precommit AND running) AS precommit_running,
       count(*) FILTER (WHERE staged AND b_wait_seed) AS wait_seed,
       count(*) FILTER (WHERE staged AND b_porep) AS porep,
       count(*) FILTER (WHERE staged AND b_porep AND running) AS porep_running,
       count(*) FILTER (WHERE staged AND b_commit) AS commit,
       count(*) FILTER (WHERE staged AND b_commit AND running) AS commit_running,
       count(*) FILTER (WHERE done) AS done,
       count(*) FILTER (WHERE failed) AS failed,
       count(*) FILTER (WHERE in_progress) AS in_progress
  FROM stage
 GROUP BY sp_id
 ORDER BY sp_id
 LIMIT 1000
"""


def summary_sql(stage_predicates: LiteralString) -> LiteralString:
    """The pipeline summary with a reader's own ``staged``, ``b_wait_seed`` and ``b_porep``
    columns (SQL expressions of ``p``, a ``sectors_sdr_pipeline`` row, and ``$1``, the head)."""
    return _SUMMARY_STAGE + stage_predicates + _SUMMARY_COUNTS


#: Epochs after its seed epoch before the PoRep task is added (our SealPoller's and Curio's
#: ``seedEpochConfidence``, ``engine.tasks.seal.porep.SEED_CONFIDENCE``).
SEED_CONFIDENCE = 3

# One rule for "the seed is ready", shared by the summary's Wait Seed / PoRep buckets and the
# strip (:func:`seed_done`): the seed value is recorded, or the PoRep task exists, or the head
# is SEED_CONFIDENCE epochs past the seed epoch (when the poller adds the task). Our poller
# reads the clock's epoch, which runs ahead of the devnet's last tipset, so the task may exist
# before the head says so. Curio's GUI puts a sector in PoRep from seed_epoch < head, three
# epochs before any PoRep task exists: the strip then read "PoRep queued" while the task
# queues held no PoRep task, and at head == seed_epoch the sector was in no bucket at all.
SUMMARY = summary_sql(
    """
           -- Rows that match no stage predicate are left out of every stage bucket: failed
           -- ones count only under Failed.
           (NOT p.failed AND NOT p.after_commit_msg_success) AS staged,
           coalesce(p.after_precommit_msg_success AND NOT p.after_porep
                    AND NOT (p.seed_value IS NOT NULL OR p.task_id_porep IS NOT NULL
                             OR p.seed_epoch + 3 <= $1::bigint), false) AS b_wait_seed,
           coalesce(p.after_precommit_msg_success AND NOT p.after_porep
                    AND (p.seed_value IS NOT NULL OR p.task_id_porep IS NOT NULL
                         OR p.seed_epoch + 3 <= $1::bigint), false) AS b_porep"""
)

_FIELDS = """p.sp_id, p.sector_number, p.create_time,
       p.after_sdr, p.after_tree_d, p.after_tree_c, p.after_tree_r, p.after_synth,
       p.after_precommit_msg, p.after_precommit_msg_success, p.seed_epoch,
       (p.seed_value IS NOT NULL OR p.task_id_porep IS NOT NULL) AS has_seed,
       p.after_porep, p.after_finalize,
       p.after_move_storage, p.after_commit_msg, p.after_commit_msg_success,
       p.task_id_sdr, p.task_id_tree_d, p.task_id_tree_c, p.task_id_tree_r, p.task_id_synth,
       p.task_id_precommit_msg, p.task_id_porep, p.task_id_finalize, p.task_id_move_storage,
       p.task_id_commit_msg, p.precommit_ready_at, p.commit_ready_at,
       p.failed, p.failed_at, p.failed_reason, p.failed_reason_msg"""

# When the sector entered its current stage: the latest of its creation, the batch-ready marks
# and its last recorded task attempt (sectors_pipeline_events).
_SINCE = """greatest(p.create_time, p.precommit_ready_at, p.commit_ready_at,
                (SELECT max(h.work_end)
                   FROM sectors_pipeline_events e
                   JOIN harmony_task_history h ON h.id = ANY (e.task_history_ids)
                  WHERE e.sp_id = p.sp_id AND e.sector_number = p.sector_number))"""

# The oldest sectors still in the pipeline: limited first, then the chain state and the stage
# start are looked up for those rows only.
SECTORS = (
    """
SELECT q.*,
       (SELECT c.state FROM chain_sectors c
         WHERE c.sp_id = q.sp_id AND c.sector_number = q.sector_number) AS chain_state
  FROM (SELECT """
    + _FIELDS
    + ",\n       "
    + _SINCE
    + """ AS since
          FROM (SELECT * FROM sectors_sdr_pipeline
                 WHERE NOT (after_commit_msg_success AND after_move_storage)
                 ORDER BY create_time, sp_id, sector_number
                 LIMIT $1) p) q
 ORDER BY q.create_time, q.sp_id, q.sector_number
"""
)

# $1 = now - stuck threshold. A sector created after it cannot have been stuck that long, which
# keeps the stage-start lookup to the candidates.
PROBLEMS = (
    """
SELECT q.*,
       (SELECT c.state FROM chain_sectors c
         WHERE c.sp_id = q.sp_id AND c.sector_number = q.sector_number) AS chain_state
  FROM (SELECT * FROM (SELECT """
    + _FIELDS
    + ",\n               "
    + _SINCE
    + """ AS since
                 FROM sectors_sdr_pipeline p
                WHERE p.failed
                   OR (NOT (p.after_commit_msg_success AND p.after_move_storage)
                       AND p.create_time < $1)) candidates
         WHERE failed OR since < $1
         ORDER BY CASE WHEN failed THEN coalesce(failed_at, since) ELSE since END,
                  sp_id, sector_number
         LIMIT $2) q
 ORDER BY CASE WHEN q.failed THEN coalesce(q.failed_at, q.since) ELSE q.since END,
          q.sp_id, q.sector_number
"""
)

TASKS = """
SELECT id, owner_id, failed_at IS NOT NULL AS failed
  FROM harmony_task
 WHERE id = ANY ($1::bigint[])
 ORDER BY id
"""

#: The pipeline row's task id columns, one per stage (Curio's names; ours are the same)
TASK_COLUMNS = (
    "task_id_sdr",
    "task_id_tree_d",
    "task_id_tree_c",
    "task_id_tree_r",
    "task_id_synth",
    "task_id_precommit_msg",
    "task_id_porep",
    "task_id_finalize",
    "task_id_move_storage",
    "task_id_commit_msg",
)


@dataclass(frozen=True)
class TaskState:
    owner_id: int | None
    failed: bool


def _task_cell(
    label: str,
    done: bool,
    task_id: int | None,
    ready: bool,
    tasks: Mapping[int, TaskState],
    *,
    batch: bool = False,
) -> StripCell:
    if done:
        return StripCell(label, "done", task_id)
    if task_id is not None:
        task = tasks.get(task_id)
        if task is None or task.failed:
            # Curio: a task id missing from harmony_task is shown as FAILED.
            return StripCell(label, "failed", task_id)
        if task.owner_id is not None:
            return StripCell(label, "running", task_id, task.owner_id)
        return StripCell(label, "queued", task_id)
    if ready:
        return StripCell(label, "batch" if batch else "queued")
    return StripCell(label, "none")


def _wait_cell(label: str, done: bool, ready: bool) -> StripCell:
    if done:
        return StripCell(label, "done")
    return StripCell(label, "waiting" if ready else "none")


def seed_done(row: Mapping[str, Any], head: int | None) -> bool:
    """Wait Seed is over: the summary's rule (see :data:`SUMMARY`); ``has_seed`` is true once
    the seed value is recorded or the PoRep task exists."""
    if row["has_seed"] or row["after_porep"]:
        return True
    seed = row["seed_epoch"]
    return bool(
        row["after_precommit_msg_success"]
        and seed is not None
        and head is not None
        and head >= seed + SEED_CONFIDENCE
    )


def strip_cells(
    row: Mapping[str, Any], tasks: Mapping[int, TaskState], head: int | None
) -> tuple[StripCell, ...]:
    """The stage strip of one ``sectors_sdr_pipeline`` row, labels as Curio's GUI."""
    r = row
    seeded = seed_done(r, head)
    cells = [
        _task_cell("SDR", r["after_sdr"], r["task_id_sdr"], True, tasks),
        _task_cell("TreeD", r["after_tree_d"], r["task_id_tree_d"], r["after_sdr"], tasks),
        _task_cell("TreeC", r["after_tree_c"], r["task_id_tree_c"], r["after_tree_d"], tasks),
        _task_cell("TreeR", r["after_tree_r"], r["task_id_tree_r"], r["after_tree_d"], tasks),
        _task_cell("Synthetic", r["after_synth"], r["task_id_synth"], r["after_tree_r"], tasks),
        _task_cell(
            "PComm Msg",
            r["after_precommit_msg"],
            r["task_id_precommit_msg"],
            r["after_synth"],
            tasks,
            batch=True,
        ),
        _wait_cell("PComm Wait", r["after_precommit_msg_success"], r["after_precommit_msg"]),
        _wait_cell("Wait Seed", seeded, r["after_precommit_msg_success"]),
        _task_cell("PoRep", r["after_porep"], r["task_id_porep"], seeded, tasks),
        _task_cell(
            "Clear Cache", r["after_finalize"], r["task_id_finalize"], r["after_porep"], tasks
        ),
        _task_cell(
            "Move Storage",
            r["after_move_storage"],
            r["task_id_move_storage"],
            r["after_finalize"],
            tasks,
        ),
        _task_cell(
            "Commit Msg",
            r["after_commit_msg"],
            r["task_id_commit_msg"],
            r["after_porep"],
            tasks,
            batch=True,
        ),
        _wait_cell("Commit Wait", r["after_commit_msg_success"], r["after_commit_msg"]),
    ]
    if r["failed"]:
        stage = current_stage(cells)
        cells = [
            StripCell(c.label, "failed", c.task_id, c.owner_id) if c.label == stage else c
            for c in cells
        ]
    return tuple(cells)


#: The main line; Clear Cache and Move Storage run beside Commit Msg (Curio's poller does not
#: make the commit wait for them), so they only count once the main line is through.
_MAIN_LINE = (
    "SDR",
    "TreeD",
    "TreeC",
    "TreeR",
    "Synthetic",
    "PComm Msg",
    "PComm Wait",
    "Wait Seed",
    "PoRep",
    "Commit Msg",
    "Commit Wait",
    "Clear Cache",
    "Move Storage",
)


def current_stage(cells: tuple[StripCell, ...] | list[StripCell]) -> str:
    """The first stage not done, in pipeline order, or "Done"."""
    by_label = {c.label: c for c in cells}
    for label in _MAIN_LINE:
        if by_label[label].status != "done":
            return label
    return "Done"


def _state(row: Mapping[str, Any]) -> str:
    if row["failed"]:
        return "Failed"
    return "Sealed" if row["after_commit_msg_success"] else "Sealing"


def _age(now: datetime, ts: datetime | None) -> float:
    return 0.0 if ts is None else max(0.0, (now - ts).total_seconds())


@dataclass
class PipelineRead:
    summaries: list[dict[str, Any]]
    sectors: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    tasks: dict[int, TaskState]


async def read_pipeline(
    tx: Tx,
    head: int | None,
    now: datetime,
    stuck_after: float,
    sector_limit: int,
    problem_limit: int,
    previous: PipelineRead | None = None,
    *,
    sectors: bool = True,
    problems: bool = True,
) -> PipelineRead:
    """The summary always; the strip list (``sectors``) and the failed/stuck list
    (``problems``) when asked, else carried over from ``previous``."""
    summaries = await tx.select(SUMMARY, head)
    if previous is None:
        sectors = problems = True
    strip = await tx.select(SECTORS, sector_limit) if sectors else previous.sectors  # type: ignore[union-attr]
    stuck = (
        await tx.select(PROBLEMS, now - timedelta(seconds=stuck_after), problem_limit)
        if problems
        else previous.problems  # type: ignore[union-attr]
    )
    if not (sectors or problems):
        return PipelineRead(summaries, strip, stuck, previous.tasks)  # type: ignore[union-attr]
    ids = sorted({r[c] for r in (*strip, *stuck) for c in TASK_COLUMNS if r[c] is not None})
    tasks: dict[int, TaskState] = {}
    if ids:
        for t in await tx.select(TASKS, ids):
            tasks[t["id"]] = TaskState(t["owner_id"], t["failed"])
    return PipelineRead(summaries, strip, stuck, tasks)


_BUCKET_KEYS = {
    "SDR": "sdr",
    "Trees": "trees",
    "PreCommit Msg": "precommit",
    "Wait Seed": "wait_seed",
    "PoRep": "porep",
    "Commit Msg": "commit",
}


def build_summaries(rows: list[dict[str, Any]]) -> tuple[PipelineSummary, ...]:
    out = []
    for r in rows:
        counts = {b: int(r[k]) for b, k in _BUCKET_KEYS.items()}
        running = {b: int(r.get(f"{k}_running") or 0) for b, k in _BUCKET_KEYS.items()}
        out.append(PipelineSummary(r["sp_id"], counts, running, int(r["done"]), int(r["failed"])))
    return tuple(out)


def build_loads(summaries: tuple[PipelineSummary, ...]) -> tuple[StageLoad, ...]:
    return tuple(
        StageLoad(
            b,
            sum(s.pending(b) for s in summaries),
            sum(s.running.get(b, 0) for s in summaries),
        )
        for b in BUCKETS
    )


def build_strip(
    row: Mapping[str, Any],
    tasks: Mapping[int, TaskState],
    head: int | None,
    now: datetime,
    stuck_after: float,
) -> SectorStrip:
    cells = strip_cells(row, tasks, head)
    stage = current_stage(cells)
    since = row["since"] or row["create_time"]
    state = _state(row)
    return SectorStrip(
        sp_id=row["sp_id"],
        sector_number=row["sector_number"],
        create_time=row["create_time"],
        age=_age(now, row["create_time"]),
        cells=cells,
        stage=stage,
        state=state,
        since=since,
        stuck=state == "Sealing" and _age(now, since) > stuck_after,
        failed_reason=row["failed_reason"] or "",
        failed_msg=row["failed_reason_msg"] or "",
        on_chain="yes" if row["chain_state"] not in (None, "terminated") else "no",
        chain_state=row["chain_state"],
    )


def build_problem(
    row: Mapping[str, Any], tasks: Mapping[int, TaskState], head: int | None, now: datetime
) -> SectorProblem:
    cells = strip_cells(row, tasks, head)
    stage = current_stage(cells)
    if row["failed"]:
        since = row["failed_at"] or row["since"] or row["create_time"]
        return SectorProblem(
            row["sp_id"],
            row["sector_number"],
            "failed",
            stage,
            since,
            _age(now, since),
            row["failed_reason"] or "",
            row["failed_reason_msg"] or "",
        )
    since = row["since"] or row["create_time"]
    cell = next(c for c in cells if c.label == stage) if stage != "Done" else None
    what = {
        "queued": "task waiting for a machine",
        "running": "task running",
        "failed": "task failed or missing",
        "batch": "waiting for a batch",
        "waiting": "waiting for the chain",
        "none": "not started",
    }.get(cell.status if cell else "", "")
    return SectorProblem(
        row["sp_id"],
        row["sector_number"],
        "stuck",
        stage,
        since,
        _age(now, since),
        "stuck",
        what,
    )
