"""The sealing pipeline's stages over Curio's ``sectors_sdr_pipeline``, failures and resume.

Each stage has its task type (Curio's names), its ``task_id_*``/``after_*`` columns, the
short ``failed_reason`` code it records when it gives up, and its SQL. SQL stays literal (one
statement per stage) so nothing is ever assembled from strings.

Failure: when a stage's task fails for the last time (``max_failures``), or its task is found
in the engine's failed state, the sector gets ``failed = TRUE``, ``failed_at``, the stage's code
in ``failed_reason`` (at most 20 characters; Curio's ``precommit-check`` where it applies) and
the error in ``failed_reason_msg``. :func:`resume_sector` takes it back from the failed stage,
as long as its PreCommit message was not sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, LiteralString

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "STAGES",
    "STAGE_BY_TASK",
    "ResumeRefused",
    "SectorNotInPipeline",
    "Stage",
    "clear_failure",
    "mark_failed",
    "resume_sector",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One pipeline stage run by a task."""

    task: str
    label: str
    #: ``failed_reason`` when the stage gives up (<= 20 chars)
    code: str
    #: task id -> sector(s): sp_id, sector_number, sector_size, failed, failed_reason
    lookup: LiteralString
    #: set the stage's task id: $1 sp_id, $2 sector numbers (bigint[]), $3 task id
    assign: LiteralString


_LOOKUP_HEAD = (
    "SELECT p.sp_id, p.sector_number, m.sector_size, p.failed, p.failed_reason "
    "FROM sectors_sdr_pipeline p JOIN chain_miners m ON m.sp_id = p.sp_id "
)

SDR = Stage(
    "SDR",
    "SDR",
    "sdr",
    _LOOKUP_HEAD + "WHERE p.task_id_sdr = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_sdr = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_sdr IS NULL AND NOT after_sdr "
    "AND NOT failed",
)
TREE_D = Stage(
    "TreeD",
    "TreeD",
    "tree-d",
    _LOOKUP_HEAD + "WHERE p.task_id_tree_d = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_tree_d = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_tree_d IS NULL AND after_sdr "
    "AND NOT after_tree_d AND NOT failed",
)
TREE_RC = Stage(
    "TreeRC",
    "TreeR",
    "tree-rc",
    _LOOKUP_HEAD + "WHERE p.task_id_tree_r = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_tree_c = $3, task_id_tree_r = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_tree_r IS NULL AND after_tree_d "
    "AND NOT after_tree_r AND NOT failed",
)
PRECOMMIT = Stage(
    "PreCommitBatch",
    "PComm Msg",
    "precommit-msg",
    _LOOKUP_HEAD + "WHERE p.task_id_precommit_msg = $1 AND NOT p.after_precommit_msg "
    "ORDER BY p.sector_number",
    "UPDATE sectors_sdr_pipeline SET task_id_precommit_msg = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_precommit_msg IS NULL "
    "AND after_tree_r AND after_synth AND NOT after_precommit_msg AND NOT failed",
)
POREP = Stage(
    "PoRep",
    "PoRep",
    "porep",
    _LOOKUP_HEAD + "WHERE p.task_id_porep = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_porep = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_porep IS NULL "
    "AND after_precommit_msg_success AND NOT after_porep AND NOT failed",
)
FINALIZE = Stage(
    "Finalize",
    "Clear Cache",
    "finalize",
    _LOOKUP_HEAD + "WHERE p.task_id_finalize = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_finalize = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_finalize IS NULL AND after_porep "
    "AND NOT after_finalize AND NOT failed",
)
MOVE_STORAGE = Stage(
    "MoveStorage",
    "Move Storage",
    "move-storage",
    _LOOKUP_HEAD + "WHERE p.task_id_move_storage = $1",
    "UPDATE sectors_sdr_pipeline SET task_id_move_storage = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_move_storage IS NULL "
    "AND after_finalize AND NOT after_move_storage AND NOT failed",
)
COMMIT = Stage(
    "CommitBatch",
    "Commit Msg",
    "commit-msg",
    _LOOKUP_HEAD + "WHERE p.task_id_commit_msg = $1 AND NOT p.after_commit_msg "
    "ORDER BY p.sector_number",
    "UPDATE sectors_sdr_pipeline SET task_id_commit_msg = $3 WHERE sp_id = $1 "
    "AND sector_number = ANY($2::bigint[]) AND task_id_commit_msg IS NULL AND after_porep "
    "AND NOT after_commit_msg AND NOT failed",
)

STAGES = (SDR, TREE_D, TREE_RC, PRECOMMIT, POREP, FINALIZE, MOVE_STORAGE, COMMIT)
#: the task id column of each stage, in the order of STAGES
TASK_COLUMNS = (
    "task_id_sdr",
    "task_id_tree_d",
    "task_id_tree_r",
    "task_id_precommit_msg",
    "task_id_porep",
    "task_id_finalize",
    "task_id_move_storage",
    "task_id_commit_msg",
)
#: SDR, TreeD, TreeRC and PreCommitBatch: the stages a restart from SDR runs again
_BEFORE_POREP = STAGES.index(POREP)
STAGE_BY_TASK = {s.task: s for s in STAGES}

#: Failure codes of the chain waits (no task of their own).
PRECOMMIT_CHECK = "precommit-check"  # Curio's code: the PreCommit would be invalid
PRECOMMIT_FAILED = "precommit-failed"  # the PreCommit message landed with an error
COMMIT_FAILED = "commit-failed"  # the ProveCommit message landed with an error

_MARK_FAILED = """
UPDATE sectors_sdr_pipeline
   SET failed = TRUE, failed_at = now(), failed_reason = $3, failed_reason_msg = $4
 WHERE sp_id = $1 AND sector_number = ANY($2::bigint[]) AND NOT failed
"""


async def mark_failed(db: DB | Tx, sp_id: int, numbers: list[int], code: str, message: str) -> int:
    """Put sectors in the failed state (visible in the console, resumable); returns how many
    changed. Idempotent: an already-failed sector keeps its first reason."""
    changed = await db.exec(_MARK_FAILED, sp_id, numbers, code[:20], message)
    if changed:
        log.error("sector(s) %s of t0%d failed (%s): %s", numbers, sp_id, code, message)
    return changed


async def clear_failure(db: DB | Tx, sp_id: int, number: int, code: str) -> None:
    """A stage that was restarted by hand (``harmony task restart``) succeeded: the sector is
    no longer failed for that stage's reason."""
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET failed = FALSE, failed_at = NULL, failed_reason = '', "
        "failed_reason_msg = '' WHERE sp_id = $1 AND sector_number = $2 AND failed "
        "AND failed_reason = $3",
        sp_id,
        number,
        code,
    )


class SectorNotInPipeline(LookupError):
    """No such sector in ``sectors_sdr_pipeline``."""


class ResumeRefused(Exception):
    """The sector cannot be resumed safely; the message says why."""


@dataclass(frozen=True)
class Resumed:
    sp_id: int
    sector_number: int
    stage: str
    restarted_tasks: tuple[int, ...]
    description: str


_ROW = """
SELECT p.*, EXISTS (SELECT 1 FROM sectors_meta m WHERE m.sp_id = p.sp_id
                     AND m.sector_num = p.sector_number) AS in_meta
  FROM sectors_sdr_pipeline p WHERE p.sp_id = $1 AND p.sector_number = $2 FOR UPDATE
"""

_RESTART_FROM_SDR = """
UPDATE sectors_sdr_pipeline
   SET ticket_epoch = NULL, ticket_value = NULL, task_id_sdr = NULL, after_sdr = FALSE,
       tree_d_cid = NULL, task_id_tree_d = NULL, after_tree_d = FALSE,
       task_id_tree_c = NULL, after_tree_c = FALSE, tree_r_cid = NULL, task_id_tree_r = NULL,
       after_tree_r = FALSE, after_synth = FALSE, precommit_ready_at = NULL,
       task_id_precommit_msg = NULL,
       failed = FALSE, failed_at = NULL, failed_reason = '', failed_reason_msg = ''
 WHERE sp_id = $1 AND sector_number = $2
"""

_DELETE_UNREFERENCED = """
DELETE FROM harmony_task t
 WHERE t.id = ANY($1::bigint[])
   AND NOT EXISTS (SELECT 1 FROM sectors_sdr_pipeline p WHERE p.task_id_sdr = t.id)
   AND NOT EXISTS (SELECT 1 FROM sectors_sdr_pipeline p WHERE p.task_id_tree_d = t.id)
   AND NOT EXISTS (SELECT 1 FROM sectors_sdr_pipeline p WHERE p.task_id_tree_r = t.id)
   AND NOT EXISTS (SELECT 1 FROM sectors_sdr_pipeline p WHERE p.task_id_precommit_msg = t.id)
"""

_CLEAR = """
UPDATE sectors_sdr_pipeline
   SET failed = FALSE, failed_at = NULL, failed_reason = '', failed_reason_msg = '',
       task_id_sdr = CASE WHEN after_sdr OR task_id_sdr = ANY($3::bigint[])
                          THEN task_id_sdr END,
       task_id_tree_d = CASE WHEN after_tree_d OR task_id_tree_d = ANY($3::bigint[])
                             THEN task_id_tree_d END,
       task_id_tree_c = CASE WHEN after_tree_r OR task_id_tree_r = ANY($3::bigint[])
                             THEN task_id_tree_c END,
       task_id_tree_r = CASE WHEN after_tree_r OR task_id_tree_r = ANY($3::bigint[])
                             THEN task_id_tree_r END,
       task_id_precommit_msg = CASE WHEN after_precommit_msg
                                      OR task_id_precommit_msg = ANY($3::bigint[])
                                    THEN task_id_precommit_msg END
 WHERE sp_id = $1 AND sector_number = $2
"""


async def resume_sector(db: DB, sp_id: int, number: int) -> Resumed:
    """Take a failed sector back into the pipeline from its failed stage.

    Only before its PreCommit message is sent: after that the chain holds a precommitment
    (and a deposit, on a real network) tied to this exact replica and ticket, and re-running
    stages could seal something the chain would reject; the operator must decide.

    A stage whose task is in the engine's failed state is restarted in place (same task id,
    retries reset); a stage whose task vanished is re-created by the poller. A sector that
    failed the PreCommit check (its ticket grew too old) restarts from SDR with a new ticket.

    Raises:
        SectorNotInPipeline: no such sector.
        ResumeRefused: the sector is not failed, or resuming it is not safe.
    """

    async def work(tx: Tx) -> Resumed:
        row = await tx.query_row(_ROW, sp_id, number)
        if row is None:
            raise SectorNotInPipeline(f"no sector {number} of t0{sp_id} in the pipeline")
        existing = await tx.select(
            "SELECT id, name, failed_at IS NOT NULL AS stuck FROM harmony_task "
            "WHERE id = ANY($1::bigint[])",
            [row[c] for c in TASK_COLUMNS if row[c] is not None],
        )
        stuck = [r for r in existing if r["stuck"]]
        if not row["failed"] and not stuck:
            raise ResumeRefused(f"sector {number} of t0{sp_id} has not failed: nothing to resume")
        reason = row["failed_reason"] or (stuck[0]["name"] if stuck else "")
        if row["after_precommit_msg"]:
            raise ResumeRefused(
                f"sector {number} of t0{sp_id} cannot be resumed: its PreCommit message "
                f"{row['precommit_msg_cid']} was already sent, so re-running a stage is not "
                f"safe (failed: {reason}: {row['failed_reason_msg'] or '-'})"
            )
        stuck_ids = [r["id"] for r in stuck]
        if row["failed_reason"] == PRECOMMIT_CHECK:
            await tx.exec(_RESTART_FROM_SDR, sp_id, number)
            doomed = [row[c] for c in TASK_COLUMNS[:_BEFORE_POREP] if row[c] is not None]
            # The sector's own stage tasks go; a PreCommitBatch task it shared with other
            # sectors stays theirs (this sector was detached from it just above), so it is
            # deleted only if no sector refers to it any more.
            await tx.exec(_DELETE_UNREFERENCED, doomed)
            stage, restarted = "SDR", ()
            description = (
                f"sector {number} of t0{sp_id} restarts from SDR with a new ticket "
                f"(it failed {PRECOMMIT_CHECK}: {row['failed_reason_msg']})"
            )
        else:
            # Keep the task ids of finished stages and of tasks that still exist (restarted
            # below if failed); forget dangling ones so the poller creates them anew.
            await tx.exec(_CLEAR, sp_id, number, [r["id"] for r in existing])
            if stuck_ids:
                await tx.exec(
                    "UPDATE harmony_task SET failed_at = NULL, retries = 0, retry_after = NULL, "
                    "update_time = now() WHERE id = ANY($1::bigint[])",
                    stuck_ids,
                )
                for r in stuck:
                    tx.notify("task", r["name"])
            stage = next(
                (
                    s.task
                    for s, done in (
                        (SDR, row["after_sdr"]),
                        (TREE_D, row["after_tree_d"]),
                        (TREE_RC, row["after_tree_r"]),
                        (PRECOMMIT, row["after_precommit_msg"]),
                    )
                    if not done
                ),
                PRECOMMIT.task,
            )
            restarted = tuple(stuck_ids)
            how = (
                f"task {', '.join(map(str, stuck_ids))} restarted"
                if stuck_ids
                else "a new task will be created"
            )
            description = f"sector {number} of t0{sp_id} resumes at {stage} ({how})"
        # in this transaction, after the failed state was checked: one event per resume
        await tx.exec(
            "INSERT INTO cluster_events (kind, sp_id, sector_number, message) "
            "VALUES ('sector-resumed', $1, $2, $3)",
            sp_id,
            number,
            description,
        )
        tx.notify("sealing", f"resume:{sp_id}:{number}")
        await tx.commit()
        return Resumed(sp_id, number, stage, restarted, description)

    return await db.transaction(work)
