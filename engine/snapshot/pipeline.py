"""The sealing pipeline as Curio's GUI shows it, so operators coming from Curio read the same
buckets and stage labels.

Three bounded queries: the summary buckets per miner with Curio's exact predicates (one
aggregate over ``sectors_sdr_pipeline``), the sectors still in the pipeline (``LIMIT``ed, oldest
first) for the per-sector stage strip, and the failed or stuck sectors (``LIMIT``ed, oldest
first). A fourth looks up the harmony tasks those sectors point at, by primary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, LiteralString

from .model import (
    BUCKETS,
    PipelineSummary,
    SectorProblem,
    SectorStrip,
    StageLoad,
    StripCell,
)
from .sealing_history import HistoryStatements, SealingHistory, parse_search, read_history

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "HISTORY",
    "SECTOR",
    "SEED_CONFIDENCE",
    "STATUS_WORDS",
    "SUMMARY",
    "TASK_COLUMNS",
    "TaskState",
    "current_stage",
    "read_pipeline",
    "read_sector_strip",
    "read_stage_statuses",
    "stage_status",
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

#: A strip row's fields and its stage start (``q``) with the sector's chain state, looked up
#: for the rows selected only; followed by the FROM of the inner select.
_STRIP_ROWS = (
    """
SELECT q.*,
       (SELECT c.state FROM chain_sectors c
         WHERE c.sp_id = q.sp_id AND c.sector_number = q.sector_number) AS chain_state
  FROM (SELECT """
    + _FIELDS
    + ",\n       "
    + _SINCE
    + " AS since\n"
)

# The oldest sectors still in the pipeline: limited first, then the chain state and the stage
# start are looked up for those rows only.
SECTORS = (
    _STRIP_ROWS
    + """          FROM (SELECT * FROM sectors_sdr_pipeline
                 WHERE NOT (after_commit_msg_success AND after_move_storage)
                 ORDER BY create_time, sp_id, sector_number
                 LIMIT $1) p) q
 ORDER BY q.create_time, q.sp_id, q.sector_number
"""
)

# One sector's strip row, by primary key (the CLI's ``sectors status``).
SECTOR = (
    _STRIP_ROWS
    + """          FROM sectors_sdr_pipeline p
         WHERE p.sp_id = $1 AND p.sector_number = $2) q
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
        # Its inputs are ready but the poller has not added its task yet: not "queued", which
        # the task queues would contradict (they hold no such task).
        return StripCell(label, "batch" if batch else "ready")
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


#: What each strip cell status means, in the words the console's sector view and the CLI's
#: ``sectors status`` both print: one definition, so they never disagree.
STATUS_WORDS = {
    "done": "done",
    "running": "running",
    "queued": "queued",
    "ready": "ready, no task yet",
    "batch": "waiting for a batch",
    "waiting": "waiting for the chain",
    "failed": "failed",
    "none": "not started",
}


def stage_status(strip: SectorStrip) -> str:
    """The status of the stage ``strip`` is in (one of :data:`STATUS_WORDS`), "" when done.

    "queued" only when the stage's ``harmony_task`` row exists and waits for a machine;
    "ready" when the stage's inputs are ready but the poller has not added its task yet."""
    cell = next((c for c in strip.cells if c.label == strip.stage), None)
    return "" if cell is None else cell.status


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
    #: the finished sectors (read while the history view is shown, else carried over)
    history: SealingHistory = field(default_factory=SealingHistory)


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
    history: bool = False,
    history_limit: int = 100,
    history_search: str | None = None,
) -> PipelineRead:
    """The summary always; the strip list (``sectors``), the failed/stuck list (``problems``)
    and the sealing history (``history``: the newest ``history_limit`` finished sectors, or
    those numbered ``history_search``) when asked, else carried over from ``previous``."""
    summaries = await tx.select(SUMMARY, head)
    if history:
        number, bad = parse_search(history_search)
        finished = await read_history(
            tx, HISTORY, now, limit=history_limit, search=number, bad_search=bad
        )
    else:
        finished = previous.history if previous is not None else SealingHistory()
    if previous is None:
        sectors = problems = True
    strip = await tx.select(SECTORS, sector_limit) if sectors else previous.sectors  # type: ignore[union-attr]
    stuck = (
        await tx.select(PROBLEMS, now - timedelta(seconds=stuck_after), problem_limit)
        if problems
        else previous.problems  # type: ignore[union-attr]
    )
    if not (sectors or problems):
        return PipelineRead(summaries, strip, stuck, previous.tasks, finished)  # type: ignore[union-attr]
    ids = sorted({r[c] for r in (*strip, *stuck) for c in TASK_COLUMNS if r[c] is not None})
    tasks: dict[int, TaskState] = {}
    if ids:
        for t in await tx.select(TASKS, ids):
            tasks[t["id"]] = TaskState(t["owner_id"], t["failed"])
    return PipelineRead(summaries, strip, stuck, tasks, finished)


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
        "ready": "ready, no task yet",
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


async def read_sector_strip(
    tx: Tx | DB, sp_id: int, sector: int, head: int | None, now: datetime, stuck_after: float
) -> SectorStrip | None:
    """One sector's strip, built as the console builds it (None: not in the pipeline). The
    CLI's ``sectors status`` says its stage status from this, so it reads as the console does."""
    rows = await tx.select(SECTOR, sp_id, sector)
    if not rows:
        return None
    row = rows[0]
    ids = sorted({row[c] for c in TASK_COLUMNS if row[c] is not None})
    tasks = {
        t["id"]: TaskState(t["owner_id"], t["failed"])
        for t in (await tx.select(TASKS, ids) if ids else [])
    }
    return build_strip(row, tasks, head, now, stuck_after)


# --------------------------------------------------------------------------- sealing history

# The distinct miners of the pipeline, one index probe each (a loose index scan of the primary
# key), so each miner's newest finished sectors come from its own probe.
_MINERS = """WITH RECURSIVE miners AS (
    SELECT min(sp_id) AS sp_id FROM sectors_sdr_pipeline
    UNION ALL
    SELECT (SELECT min(p.sp_id) FROM sectors_sdr_pipeline p WHERE p.sp_id > m.sp_id)
      FROM miners m
     WHERE m.sp_id IS NOT NULL
)"""

#: Finished: the commit landed and the sector moved to long-term storage (what leaves the
#: strip). $1 = limit. Served by sectors_sdr_pipeline_finished (20261203-04).
HISTORY_LATEST = (
    _MINERS
    + """
SELECT s.sp_id, s.sector_number, s.create_time
  FROM miners m
 CROSS JOIN LATERAL (
       SELECT p.sp_id, p.sector_number, p.create_time
         FROM sectors_sdr_pipeline p
        WHERE p.sp_id = m.sp_id AND p.after_commit_msg_success AND p.after_move_storage
        ORDER BY p.sector_number DESC
        LIMIT $1) s
 WHERE m.sp_id IS NOT NULL
 ORDER BY s.sector_number DESC, s.sp_id DESC
 LIMIT $1
"""
)

#: $1 = sector number, $2 = limit: that number's finished sector of each miner (a key probe).
HISTORY_SEARCH = (
    _MINERS
    + """
SELECT p.sp_id, p.sector_number, p.create_time
  FROM miners m
  JOIN sectors_sdr_pipeline p ON p.sp_id = m.sp_id AND p.sector_number = $1
 WHERE p.after_commit_msg_success AND p.after_move_storage
 ORDER BY p.sp_id DESC
 LIMIT $2
"""
)

#: The listed sectors' attempts: their events row by key, its history ids by primary key.
HISTORY_EVENTS = """
SELECT k.sp_id, k.sector_number, h.name, h.work_start, h.work_end, h.result
  FROM unnest($1::bigint[], $2::bigint[]) AS k(sp_id, sector_number)
  JOIN sectors_pipeline_events e ON e.sp_id = k.sp_id AND e.sector_number = k.sector_number
 CROSS JOIN LATERAL unnest(e.task_history_ids) AS i(id)
  JOIN harmony_task_history h ON h.id = i.id
 ORDER BY k.sp_id, k.sector_number, h.id
 LIMIT $3
"""

#: Our schema's sealing history statements (:mod:`.sealing_history`).
HISTORY = HistoryStatements(HISTORY_LATEST, HISTORY_SEARCH, HISTORY_EVENTS)


async def read_stage_statuses(
    tx: Tx | DB, head: int | None, now: datetime, limit: int
) -> dict[tuple[int, int], str]:
    """The status of the stage each sector in flight is in (:func:`stage_status`), for the
    oldest ``limit`` of them, keyed by (miner, sector): what the console's strips say, for the
    CLI's ``sectors list --json``."""
    rows = await tx.select(SECTORS, limit)
    ids = sorted({r[c] for r in rows for c in TASK_COLUMNS if r[c] is not None})
    tasks = {
        t["id"]: TaskState(t["owner_id"], t["failed"])
        for t in (await tx.select(TASKS, ids) if ids else [])
    }
    out = {}
    for r in rows:
        strip = build_strip(r, tasks, head, now, 0.0)
        if strip.stage != "Done":
            out[(strip.sp_id, strip.sector_number)] = stage_status(strip)
    return out
