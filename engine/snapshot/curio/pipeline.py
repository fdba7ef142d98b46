"""Curio's sealing pipeline: ``sectors_sdr_pipeline`` read with Curio's own semantics, built into
the same :class:`~engine.snapshot.model.PipelineSnap` as ours by our builders
(:mod:`engine.snapshot.pipeline`).

What Curio's rows mean (filecoin-project/curio at e0294b0f):

* A stage's ``task_id_*`` is set only while its task is queued or running; the task that
  finishes the stage sets ``after_* = TRUE`` and clears the id in the same statement
  (``tasks/seal/poller.go``, the NOTE above ``pollTask``; ``task_sdr.go``, ``task_treed.go``,
  ``task_treerc.go``, ``task_porep.go``, ...). One TreeRC task builds both trees: its id sits
  in ``task_id_tree_c`` and ``task_id_tree_r`` at once (``pollStartSDRTreeRC``). PreCommitBatch
  and CommitBatch are batch tasks: one id is shared by every sector of the batch.
* Curio deletes a task at its failure limit (``harmony/harmonytask/task_type_handler.go``,
  ``MaxFailures``), so a ``task_id_*`` that names no ``harmony_task`` row is a task that gave
  up: the sector will not move again by itself. Curio's GUI lists these ids as the sector's
  missing tasks and shows the stage as failed (``web/api/webrpcporep/pipeline_porep.go``,
  ``missing_tasks``); here such a sector is also listed as stuck at once, whatever its age.
  Curio's ``harmony_task`` has no ``failed_at``: a task still there is queued or running.
* ``failed`` / ``failed_reason`` / ``failed_reason_msg`` / ``failed_at`` are set by the task that
  gave the sector up (``task_submit_precommit.go``: 'precommit-check', 'past-start-epoch').
* The summary buckets are Curio's ``PorepPipelineSummary`` predicates (``pipeline_porep.go``),
  which need the chain head for Wait Seed and PoRep; without one (no Lotus node) a sector with
  its precommit landed is in PoRep once its PoRep task exists (Curio creates it only at
  ``head >= seed_epoch + 3``, ``poller.go`` ``pollStartPoRep``), else in Wait Seed.
* Done is Curio's ``CountDone``: rows with ``after_commit_msg_success``. Curio's PipelineGC
  deletes a row once its commit landed, its storage moved and ``sectors_meta`` holds it
  (``tasks/gc/pipeline_meta_gc.go``, every 19 min), so like Curio's GUI this counts sectors
  sealed recently, not every sector ever sealed (those are ``sectors_meta``'s).
* ``sectors_meta`` gets a sector's row when its commit message is *sent*
  (``task_submit_commit.go``, ``transferFinalizedSectorData``); the SectorMetadata task keeps
  ``is_live`` / ``is_faulty`` in step with the chain (``tasks/metadata/
  task_sector_expirations.go``). The strip's chain state comes from that and the pipeline flags.
* A sector entered its current stage at the latest of its creation, Curio's batch-ready marks
  (``precommit_ready_at``, ``commit_ready_at``) and the end of the last *successful* task
  attempt recorded for it in ``sectors_pipeline_events`` (one row per history id,
  ``append_sector_pipeline_events``); failed and preempted attempts leave it in its stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..model import PipelineSnap, SectorProblem, SectorStrip, StripCell
from ..pipeline import (
    TASK_COLUMNS,
    TaskState,
    build_loads,
    build_problem,
    build_strip,
    build_summaries,
    summary_sql,
)
from ..sealing_history import HistoryStatements, SealingHistory, parse_search, read_history
from ..timing import TimedTx
from .kept import Kept

__all__ = ["HISTORY", "PROBLEMS", "SECTORS", "SUMMARY", "TASKS", "ProblemCache", "read_pipeline"]

# Curio's PorepPipelineSummary predicates ($1 = chain head, NULL when unknown), each with NOT
# failed added as in ours, except Wait Seed / PoRep: a sector is in PoRep from seed_epoch + 3
# <= head (when Curio's poller adds the PoRep task), not from seed_epoch < head as Curio's GUI,
# so the summary and the strip (``seed_done``, shared with our reader) agree. A failed sector is
# counted once, under Failed; ``running`` checks the task of the stage the sector is in against
# the tasks claimed now. One scan of the table.
SUMMARY = summary_sql(
    """
           (NOT p.failed AND (NOT p.after_commit_msg_success
                              OR coalesce(p.seed_epoch > $1::bigint, false))) AS staged,
           CASE WHEN $1::bigint IS NULL
                THEN p.after_precommit_msg_success AND NOT p.after_porep
                     AND p.task_id_porep IS NULL
                ELSE coalesce(p.after_precommit_msg_success
                              AND p.seed_epoch + 3 > $1::bigint, false)
           END AS b_wait_seed,
           CASE WHEN $1::bigint IS NULL
                THEN p.after_precommit_msg_success AND NOT p.after_porep
                     AND p.task_id_porep IS NOT NULL
                ELSE coalesce(NOT p.after_porep AND p.after_precommit_msg_success
                              AND p.seed_epoch + 3 <= $1::bigint, false)
           END AS b_porep"""
)

# The columns our strip builders read. The seed counts as drawn once Curio has created the
# PoRep task (it does so only past seed_epoch + 3), so the strip is right without a chain head.
_FIELDS = """p.sp_id, p.sector_number, p.create_time,
       p.after_sdr, p.after_tree_d, p.after_tree_c, p.after_tree_r, p.after_synth,
       p.after_precommit_msg, p.after_precommit_msg_success, p.seed_epoch,
       (p.seed_value IS NOT NULL OR p.task_id_porep IS NOT NULL) AS has_seed, p.after_porep,
       p.after_finalize, p.after_move_storage, p.after_commit_msg, p.after_commit_msg_success,
       p.task_id_sdr, p.task_id_tree_d, p.task_id_tree_c, p.task_id_tree_r, p.task_id_synth,
       p.task_id_precommit_msg, p.task_id_porep, p.task_id_finalize, p.task_id_move_storage,
       p.task_id_commit_msg, p.precommit_ready_at, p.commit_ready_at,
       p.failed, p.failed_at, p.failed_reason, p.failed_reason_msg"""

# When the sector entered its current stage (see the module docstring). The last successful
# attempt is the newest history id (ids are taken as attempts end), found backwards through the
# events' primary key: a probe or two per sector, not a scan of its whole history.
_SINCE = """greatest(p.create_time, p.precommit_ready_at, p.commit_ready_at,
                (SELECT h.work_end
                   FROM sectors_pipeline_events e
                   JOIN harmony_task_history h ON h.id = e.task_history_id
                  WHERE e.sp_id = p.sp_id AND e.sector_number = p.sector_number AND h.result
                  ORDER BY e.task_history_id DESC
                  LIMIT 1))"""

# A task id of the sector's that names no harmony_task row (Curio's ``missing_tasks``).
_MISSING = """EXISTS (SELECT 1
                  FROM unnest(ARRAY[p.task_id_sdr, p.task_id_tree_d, p.task_id_tree_c,
                                    p.task_id_tree_r, p.task_id_synth, p.task_id_precommit_msg,
                                    p.task_id_porep, p.task_id_finalize,
                                    p.task_id_move_storage, p.task_id_commit_msg]) AS t(id)
                 WHERE t.id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM harmony_task h WHERE h.id = t.id))"""

# What the DB knows of the sector on chain: its sectors_meta row (written when the commit was
# sent; is_live / is_faulty from the SectorMetadata task's crawl) and the pipeline's message
# flags. Same words as our chain_sectors states.
_CHAIN_STATE = """CASE WHEN m.sp_id IS NOT NULL AND NOT m.is_live THEN 'terminated'
            WHEN m.sp_id IS NOT NULL AND m.is_faulty THEN 'faulty'
            WHEN q.after_commit_msg_success THEN 'active'
            WHEN q.after_precommit_msg_success THEN 'precommitted'
       END"""

# The oldest sectors still in the pipeline: limited first, then their chain state and stage
# start are looked up for those rows only.
SECTORS = (
    """
SELECT q.*, """
    + _CHAIN_STATE
    + """ AS chain_state
  FROM (SELECT """
    + _FIELDS
    + ",\n       "
    + _SINCE
    + """ AS since
          FROM (SELECT * FROM sectors_sdr_pipeline
                 WHERE NOT (after_commit_msg_success AND after_move_storage)
                 ORDER BY create_time, sp_id, sector_number
                 LIMIT $1) p) q
  LEFT JOIN sectors_meta m ON m.sp_id = q.sp_id AND m.sector_num = q.sector_number
 ORDER BY q.create_time, q.sp_id, q.sector_number
"""
)

# $1 = now - stuck threshold, $2 = limit. Candidates: failed sectors, sectors in progress since
# before $1 (one created after it cannot have been stuck that long), and sectors holding a task
# id Curio has deleted. OFFSET 0 keeps the candidates a subquery, so each one's stage start is
# computed once, not again for the sort (no MATERIALIZED: YugabyteDB speaks PostgreSQL 11).
PROBLEMS = (
    """
SELECT q.*, """
    + _CHAIN_STATE
    + """ AS chain_state
  FROM (SELECT * FROM (SELECT """
    + _FIELDS
    + ",\n               "
    + _SINCE
    + """ AS since,
               """
    + _MISSING
    + """ AS missing
                 FROM sectors_sdr_pipeline p
                WHERE p.failed
                   OR (NOT (p.after_commit_msg_success AND p.after_move_storage)
                       AND (p.create_time < $1 OR """
    + _MISSING
    + """))
               OFFSET 0) candidates
         WHERE failed OR since < $1 OR missing
         ORDER BY CASE WHEN failed THEN coalesce(failed_at, since) ELSE since END,
                  sp_id, sector_number
         LIMIT $2) q
  LEFT JOIN sectors_meta m ON m.sp_id = q.sp_id AND m.sector_num = q.sector_number
 ORDER BY CASE WHEN q.failed THEN coalesce(q.failed_at, q.since) ELSE q.since END,
          q.sp_id, q.sector_number
"""
)

# Curio's harmony_task has no failed_at: a row still there is queued or claimed.
TASKS = """
SELECT id, owner_id
  FROM harmony_task
 WHERE id = ANY ($1::bigint[])
 ORDER BY id
 LIMIT $2
"""


# --------------------------------------------------------------------------- sealing history

# Curio's finished sectors are its sectors_meta rows (written when the commit message is sent)
# whose pipeline row, if PipelineGC has not deleted it yet, is through its commit and storage
# move. Each miner's newest come from a backward probe of sectors_meta's primary key; the
# miners themselves from a loose index scan of it (one probe each). Nothing here needs an index
# of ours: Curio's schema is never changed.
_MINERS = """WITH RECURSIVE miners AS (
    SELECT min(sp_id) AS sp_id FROM sectors_meta
    UNION ALL
    SELECT (SELECT min(x.sp_id) FROM sectors_meta x WHERE x.sp_id > m.sp_id)
      FROM miners m
     WHERE m.sp_id IS NOT NULL
)"""

_IN_FLIGHT = """EXISTS (SELECT 1 FROM sectors_sdr_pipeline q
                      WHERE q.sp_id = x.sp_id AND q.sector_number = x.sector_num
                        AND NOT (q.after_commit_msg_success AND q.after_move_storage))"""

#: $1 = limit
HISTORY_LATEST = (
    _MINERS
    + """
SELECT s.sp_id, s.sector_number, p.create_time
  FROM miners m
 CROSS JOIN LATERAL (
       SELECT x.sp_id, x.sector_num AS sector_number
         FROM sectors_meta x
        WHERE x.sp_id = m.sp_id AND NOT """
    + _IN_FLIGHT
    + """
        ORDER BY x.sector_num DESC
        LIMIT $1) s
  LEFT JOIN sectors_sdr_pipeline p ON p.sp_id = s.sp_id AND p.sector_number = s.sector_number
 WHERE m.sp_id IS NOT NULL
 ORDER BY s.sector_number DESC, s.sp_id DESC
 LIMIT $1
"""
)

#: $1 = sector number, $2 = limit
HISTORY_SEARCH = (
    _MINERS
    + """
SELECT x.sp_id, x.sector_num AS sector_number, p.create_time
  FROM miners m
  JOIN sectors_meta x ON x.sp_id = m.sp_id AND x.sector_num = $1
  LEFT JOIN sectors_sdr_pipeline p ON p.sp_id = x.sp_id AND p.sector_number = x.sector_num
 WHERE NOT """
    + _IN_FLIGHT
    + """
 ORDER BY x.sp_id DESC
 LIMIT $2
"""
)

#: One events row per history id (Curio's shape), found through its primary key.
HISTORY_EVENTS = """
SELECT k.sp_id, k.sector_number, h.name, h.work_start, h.work_end, h.result
  FROM unnest($1::bigint[], $2::bigint[]) AS k(sp_id, sector_number)
  JOIN sectors_pipeline_events e ON e.sp_id = k.sp_id AND e.sector_number = k.sector_number
  JOIN harmony_task_history h ON h.id = e.task_history_id
 ORDER BY k.sp_id, k.sector_number, h.id
 LIMIT $3
"""

#: Curio's sealing history statements (:mod:`engine.snapshot.sealing_history`).
HISTORY = HistoryStatements(HISTORY_LATEST, HISTORY_SEARCH, HISTORY_EVENTS)


def _gone(cells: tuple[StripCell, ...]) -> StripCell | None:
    """The first stage whose task Curio gave up on (its id names no harmony_task row)."""
    return next((c for c in cells if c.status == "failed" and c.task_id is not None), None)


def _strip(
    row: dict[str, Any],
    tasks: dict[int, TaskState],
    head: int | None,
    now: datetime,
    stuck_after: float,
) -> SectorStrip:
    strip = build_strip(row, tasks, head, now, stuck_after)
    if strip.state == "Sealing" and not strip.stuck and _gone(strip.cells) is not None:
        return replace(strip, stuck=True)
    return strip


def _problem(
    row: dict[str, Any], tasks: dict[int, TaskState], head: int | None, now: datetime
) -> SectorProblem:
    problem = build_problem(row, tasks, head, now)
    if problem.kind != "stuck":
        return problem
    cell = _gone(build_strip(row, tasks, head, now, 0.0).cells)
    if cell is None:
        return problem
    return replace(
        problem,
        stage=cell.label,
        reason="task gone",
        message=f"{cell.label} task {cell.task_id} is no longer in harmony_task "
        "(Curio drops a task at its failure limit)",
    )


@dataclass
class ProblemCache(Kept[list[dict[str, Any]]]):
    """The failed and stuck sectors, kept between refreshes: the section's costliest statement
    (each candidate's stage start found through its events: 25 ms at 5,000 sectors in flight),
    for a list whose "stuck" is measured in hours. Re-read after ``max_age`` seconds on the
    caller's clock (a failure shows within that), or when the threshold or limit changed; the
    state of each listed sector's tasks is read every refresh."""

    max_age: float = 10.0


async def read_pipeline(
    tx: TimedTx,
    now: datetime,
    *,
    head_epoch: int | None,
    stuck_after: float,
    sector_limit: int,
    problem_limit: int,
    cache: ProblemCache | None = None,
    history: bool = False,
    history_limit: int = 100,
    history_search: str | None = None,
    previous_history: SealingHistory | None = None,
) -> PipelineSnap:
    """The summary per miner, the strips of the oldest ``sector_limit`` sectors in the
    pipeline, and up to ``problem_limit`` failed or stuck ones (oldest first; from ``cache``
    while it is fresh). With ``history``, the sealing history too: the newest
    ``history_limit`` finished sectors, or those numbered ``history_search``; without it,
    ``previous_history`` is kept (the history view is not on screen)."""
    summary_rows = await tx.select(SUMMARY, head_epoch)
    if history:
        number, bad = parse_search(history_search)
        finished = await read_history(
            tx, HISTORY, now, limit=history_limit, search=number, bad_search=bad
        )
    else:
        finished = previous_history or SealingHistory()
    sector_rows = [dict(r) for r in await tx.select(SECTORS, sector_limit)]
    key = (stuck_after, problem_limit)
    if cache is not None and cache.fresh(key, now) and cache.value is not None:
        problem_rows = cache.value
    else:
        problem_rows = [
            dict(r)
            for r in await tx.select(PROBLEMS, now - timedelta(seconds=stuck_after), problem_limit)
        ]
        if cache is not None:
            cache.keep(key, now, problem_rows)
    ids = sorted(
        {r[c] for r in (*sector_rows, *problem_rows) for c in TASK_COLUMNS if r[c] is not None}
    )
    tasks: dict[int, TaskState] = {}
    if ids:
        for t in await tx.select(TASKS, ids, len(ids)):
            tasks[t["id"]] = TaskState(t["owner_id"], False)
    summaries = build_summaries(summary_rows)
    return PipelineSnap(
        head_epoch=head_epoch,
        summaries=summaries,
        loads=build_loads(summaries),
        sectors=tuple(_strip(r, tasks, head_epoch, now, stuck_after) for r in sector_rows),
        in_progress=sum(int(r["in_progress"]) for r in summary_rows),
        problems=tuple(_problem(r, tasks, head_epoch, now) for r in problem_rows),
        stuck_after=stuck_after,
        history=finished,
    )
