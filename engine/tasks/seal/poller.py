"""The SealPoller (Curio ``tasks/seal/poller.go``): moves sectors from stage to stage.

On every machine that runs a sealing stage, one loop reads the open pipeline rows (one query)
and, for each sector whose previous stage is done and whose next stage has no task yet, adds
that stage's task, setting its ``task_id_*`` in the same transaction (so two machines polling
at once add it once). It also resolves the chain waits: "PComm Wait" (the PreCommit landed:
``seed_epoch``), "Wait Seed" (PoRep starts 3 epochs after the seed), "Commit Wait" (the
ProveCommit landed: the sector enters ``sectors_meta``); records stage tasks the engine gave up
on as sector failures; and tops up the auto-pledge.

It runs when a stage finishes here, when the chain advances or a pledge/resume happens
anywhere (NOTIFY), when a seed becomes ready, and otherwise every 5 s (30 s when no sector is
sealing).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.harmonydb import Tx

from ..poller import Poller
from .pipeline import (
    COMMIT,
    COMMIT_FAILED,
    FINALIZE,
    MOVE_STORAGE,
    POREP,
    PRECOMMIT,
    PRECOMMIT_FAILED,
    SDR,
    STAGE_BY_TASK,
    TREE_D,
    TREE_RC,
    Stage,
    mark_failed,
)
from .pledge import auto_pledge
from .porep import SEED_CONFIDENCE

if TYPE_CHECKING:
    from ..workload import Workload

__all__ = ["SealPoller"]

_OPEN = """
SELECT p.sp_id, p.sector_number, p.reg_seal_proof, m.sector_size,
       p.task_id_sdr, p.after_sdr, p.task_id_tree_d, p.after_tree_d,
       p.task_id_tree_r, p.after_tree_r, p.after_synth,
       p.task_id_precommit_msg, p.after_precommit_msg, p.after_precommit_msg_success,
       p.seed_epoch, p.task_id_porep, p.after_porep, p.task_id_finalize, p.after_finalize,
       p.task_id_move_storage, p.after_move_storage,
       p.task_id_commit_msg, p.after_commit_msg, p.after_commit_msg_success,
       pw.executed_tsk_epoch AS pc_epoch, pw.executed_tsk_cid AS pc_tsk,
       pw.executed_rcpt_exitcode AS pc_exit,
       convert_from(pw.executed_rcpt_return, 'UTF8') AS pc_receipt,
       cw.executed_tsk_epoch AS c_epoch, cw.executed_tsk_cid AS c_tsk,
       cw.executed_rcpt_exitcode AS c_exit,
       convert_from(cw.executed_rcpt_return, 'UTF8') AS c_receipt,
       f.id AS dead_task, f.name AS dead_name, f.last_error AS dead_error
  FROM sectors_sdr_pipeline p
  JOIN chain_miners m ON m.sp_id = p.sp_id
  LEFT JOIN message_waits pw ON pw.signed_message_cid = p.precommit_msg_cid
  LEFT JOIN message_waits cw ON cw.signed_message_cid = p.commit_msg_cid
  LEFT JOIN LATERAL (
      SELECT t.id, t.name, t.last_error FROM harmony_task t
       WHERE t.failed_at IS NOT NULL
         AND t.id IN (p.task_id_sdr, p.task_id_tree_d, p.task_id_tree_r,
                      p.task_id_precommit_msg, p.task_id_porep, p.task_id_finalize,
                      p.task_id_move_storage, p.task_id_commit_msg)
       LIMIT 1) f ON TRUE
 WHERE NOT p.failed AND NOT (p.after_commit_msg_success AND p.after_move_storage)
 ORDER BY p.sp_id, p.sector_number
"""

_PRECOMMIT_LANDED = """
UPDATE sectors_sdr_pipeline
   SET after_precommit_msg_success = TRUE, seed_epoch = $3, precommit_msg_tsk = $4
 WHERE sp_id = $1 AND sector_number = $2 AND after_precommit_msg
   AND NOT after_precommit_msg_success
"""

_COMMIT_LANDED = """
WITH p AS (
    UPDATE sectors_sdr_pipeline SET after_commit_msg_success = TRUE, commit_msg_tsk = $3
     WHERE sp_id = $1 AND sector_number = $2 AND after_commit_msg
       AND NOT after_commit_msg_success
    RETURNING *
)
INSERT INTO sectors_meta (sp_id, sector_num, reg_seal_proof, ticket_epoch, ticket_value,
                          orig_sealed_cid, orig_unsealed_cid, cur_sealed_cid, cur_unsealed_cid,
                          msg_cid_precommit, msg_cid_commit, seed_epoch, seed_value, is_cc,
                          expiration_epoch, deadline, "partition", is_live, is_faulty)
SELECT p.sp_id, p.sector_number, p.reg_seal_proof, p.ticket_epoch, p.ticket_value,
       p.tree_r_cid, p.tree_d_cid, p.tree_r_cid, p.tree_d_cid,
       p.precommit_msg_cid, p.commit_msg_cid, p.seed_epoch, p.seed_value, TRUE,
       s.expiration_epoch, s.deadline, s."partition",
       COALESCE(s.state <> 'terminated', TRUE),
       COALESCE(s.state IN ('faulty', 'recovering'), FALSE)
  FROM p LEFT JOIN chain_sectors s ON s.sp_id = p.sp_id AND s.sector_number = p.sector_number
ON CONFLICT (sp_id, sector_num) DO NOTHING
"""


#: Real seconds between runs at most where the server has no NOTIFY, even with no open sector.
NO_NOTIFY_FALLBACK = 5.0


class SealPoller(Poller):
    def __init__(self, workload: Workload) -> None:
        super().__init__(workload, "seal")
        self.db = workload.db
        workload.chain.subscribe("sealing", self.poke)
        workload.chain.on_head(self.poke)
        self._next_auto = 0.0

    async def start(self) -> None:
        await self.workload.chain.wait_config()

    async def run_once(self) -> tuple[float, datetime | None]:
        w = self.workload
        chain = w.chain
        config = await chain.wait_config()
        now = time.monotonic()
        if SDR.task in self.adders and now >= self._next_auto:
            started, more = await auto_pledge(self.db)
            self._next_auto = now + (10.0 if started or more else 60.0)
        rows = await self.db.select(_OPEN)
        if rows:
            w.paths.sector_size = min(r["sector_size"] for r in rows)
        epoch = chain.epoch()
        wake_at: datetime | None = None
        precommits: dict[tuple[int, int], list[int]] = defaultdict(list)
        commits: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            sp, n = r["sp_id"], r["sector_number"]
            if r["dead_task"] is not None:
                stage = STAGE_BY_TASK.get(r["dead_name"])
                await mark_failed(
                    self.db,
                    sp,
                    [n],
                    stage.code if stage else "task-failed",
                    f"{r['dead_name']} task {r['dead_task']} is in the failed state: "
                    f"{r['dead_error'] or 'no error recorded'}",
                )
                continue
            if not await self._chain_waits(r, config.profile.precommit_challenge_delay):
                continue
            if not r["after_sdr"]:
                if r["task_id_sdr"] is None:
                    await self._add(SDR, sp, [n])
            elif not r["after_tree_d"]:
                if r["task_id_tree_d"] is None:
                    await self._add(TREE_D, sp, [n])
            elif not r["after_tree_r"]:
                if r["task_id_tree_r"] is None:
                    await self._add(TREE_RC, sp, [n])
            elif (
                not r["after_precommit_msg"]
                and r["task_id_precommit_msg"] is None
                and r["after_synth"]
            ):
                precommits[(sp, r["reg_seal_proof"])].append(n)
            if (
                r["after_precommit_msg_success"]
                and not r["after_porep"]
                and r["task_id_porep"] is None
            ):
                ready = r["seed_epoch"] + SEED_CONFIDENCE
                if epoch >= ready:
                    await self._add(POREP, sp, [n])
                else:
                    at = config.time_of(ready)
                    wake_at = at if wake_at is None else min(wake_at, at)
                    chain.want_tick_at(r["seed_epoch"])
            if r["after_porep"]:
                if not r["after_finalize"] and r["task_id_finalize"] is None:
                    await self._add(FINALIZE, sp, [n])
                if (
                    r["after_finalize"]
                    and not r["after_move_storage"]
                    and r["task_id_move_storage"] is None
                ):
                    await self._add(MOVE_STORAGE, sp, [n])
                if not r["after_commit_msg"] and r["task_id_commit_msg"] is None:
                    commits[sp].append(n)
        for (sp, _proof), numbers in precommits.items():
            await self._add(PRECOMMIT, sp, numbers)
        for sp, numbers in commits.items():
            await self._add(COMMIT, sp, numbers)
        fallback = 5.0 if rows else 30.0
        if chain.polling:
            # No NOTIFY (YugabyteDB without yb_enable_listen_notify): a pledge or a resume is
            # announced on "sealing", which never comes, so look as often as for open rows.
            fallback = min(fallback, NO_NOTIFY_FALLBACK)
        if SDR.task in self.adders:
            fallback = min(fallback, max(0.5, self._next_auto - time.monotonic()))
        return fallback, wake_at

    async def _chain_waits(self, r: dict[str, Any], delay: int) -> bool:
        """PComm Wait and Commit Wait: act on landed messages; False if the sector failed."""
        sp, n = r["sp_id"], r["sector_number"]
        pending_pc = r["after_precommit_msg"] and not r["after_precommit_msg_success"]
        if pending_pc and r["pc_epoch"] is not None:
            if r["pc_exit"] != 0:
                await mark_failed(
                    self.db,
                    sp,
                    [n],
                    PRECOMMIT_FAILED,
                    f"PreCommit failed on chain at epoch {r['pc_epoch']} "
                    f"(exit {r['pc_exit']}): {r['pc_receipt']}",
                )
                return False
            seed_epoch = r["pc_epoch"] + delay
            await self.db.exec(_PRECOMMIT_LANDED, sp, n, seed_epoch, r["pc_tsk"].encode())
            r["after_precommit_msg_success"] = True
            r["seed_epoch"] = seed_epoch
        pending_c = r["after_commit_msg"] and not r["after_commit_msg_success"]
        if pending_c and r["c_epoch"] is not None:
            if r["c_exit"] != 0:
                await mark_failed(
                    self.db,
                    sp,
                    [n],
                    COMMIT_FAILED,
                    f"ProveCommit failed on chain at epoch {r['c_epoch']} "
                    f"(exit {r['c_exit']}): {r['c_receipt']}",
                )
                return False
            await self.db.exec(_COMMIT_LANDED, sp, n, r["c_tsk"].encode())
        return True

    async def _add(self, stage: Stage, sp_id: int, numbers: list[int]) -> int | None:
        async def extra(task_id: int, tx: Any) -> bool:
            assert isinstance(tx, Tx)
            return await tx.exec(stage.assign, sp_id, numbers, task_id) > 0

        return await self.add(stage.task, extra)
