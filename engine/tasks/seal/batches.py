"""``PreCommitBatch`` and ``CommitBatch``: the pipeline's messages to the chain.

One message per batch (Curio batches PreCommits and ProveCommits per miner). The message and
the pipeline's ``*_msg_cid`` / ``after_*_msg`` are written in one transaction, so a message is
never sent twice nor recorded without being sent; the chain's receipt reaches the pipeline
through ``message_waits`` (the poller's "PComm Wait" and "Commit Wait").
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from engine.chain import PRE_COMMIT_SECTOR, PROVE_COMMIT_SECTOR, choose_expiration, send_message
from engine.resources import MiB, Resources

from .pipeline import COMMIT, PRECOMMIT, PRECOMMIT_CHECK, mark_failed
from .stage import SectorRow, StageTask

if TYPE_CHECKING:
    from engine.harmonydb import Tx
    from engine.harmonytask import StillOwned, TaskID

__all__ = ["CommitBatchTask", "PreCommitBatchTask"]

#: Sectors of a CommitBatch task that it did not carry (they failed after joining the batch)
#: lose its id: the task is about to finish, and an id left behind would point at a task that
#: no longer exists. $1 sp_id, $2 task id, $3 the sector numbers sent.
_DETACH_UNSENT_COMMITS = (
    "UPDATE sectors_sdr_pipeline SET task_id_commit_msg = NULL "
    "WHERE sp_id = $1 AND task_id_commit_msg = $2 AND NOT after_commit_msg "
    "AND NOT (sector_number = ANY($3::bigint[]))"
)


class PreCommitBatchTask(StageTask):
    stage = PRECOMMIT
    cost = Resources(cpu=0, ram=8 * MiB)  # Curio: 0 cores, 1 MiB
    max_failures = 5
    batch = True

    async def run_batch(
        self, task_id: TaskID, rows: list[SectorRow], still_owned: StillOwned
    ) -> None:
        w = self.workload
        config = await w.chain.wait_config()
        sp_id = rows[0].sp_id
        details = await self.db.select(
            "SELECT sector_number, ticket_epoch, tree_d_cid, tree_r_cid, "
            "user_sector_duration_epochs FROM sectors_sdr_pipeline WHERE sp_id = $1 "
            "AND task_id_precommit_msg = $2 AND NOT after_precommit_msg AND NOT failed "
            "ORDER BY sector_number",
            sp_id,
            task_id,
        )
        epoch = w.chain.epoch()
        lands = epoch + config.profile.message_delay_epochs
        good, stale = [], []
        for d in details:
            (good if lands - d["ticket_epoch"] <= config.max_ticket_age else stale).append(d)
        for d in stale:
            await mark_failed(
                self.db,
                sp_id,
                [d["sector_number"]],
                PRECOMMIT_CHECK,
                f"the ticket from epoch {d['ticket_epoch']} would be {lands - d['ticket_epoch']} "
                f"epochs old when the PreCommit lands (at most {config.max_ticket_age}); "
                "resume the sector to seal it again with a new ticket",
            )
        if not good:
            return
        params = {
            "sectors": [
                {
                    "sector_number": d["sector_number"],
                    "sealed_cid": d["tree_r_cid"],
                    "unsealed_cid": d["tree_d_cid"],
                    "seal_rand_epoch": d["ticket_epoch"],
                    "expiration": choose_expiration(
                        config.profile, d["ticket_epoch"], d["user_sector_duration_epochs"]
                    ),
                }
                for d in good
            ]
        }
        numbers = [d["sector_number"] for d in good]
        if not await still_owned():
            raise RuntimeError("lost the task before sending the PreCommit")

        async def send(tx: Tx) -> int:
            sent = await send_message(
                tx, config, sp_id, PRE_COMMIT_SECTOR, params, epoch=w.chain.epoch(), task_id=task_id
            )
            changed = await tx.exec(
                "UPDATE sectors_sdr_pipeline SET precommit_msg_cid = $3, "
                "after_precommit_msg = TRUE WHERE sp_id = $1 AND sector_number = ANY($2::bigint[]) "
                "AND task_id_precommit_msg = $4 AND NOT after_precommit_msg",
                sp_id,
                numbers,
                sent.cid,
                task_id,
            )
            if changed != len(numbers):
                raise RuntimeError("the batch changed while sending; not sent")
            await tx.commit()
            return sent.land_epoch

        w.chain.note_message(await self.db.transaction(send))


class CommitBatchTask(StageTask):
    stage = COMMIT
    cost = Resources(cpu=0, ram=32 * MiB)  # Curio: 0 cores, 1 MiB (proofs are larger here)
    max_failures = 5
    batch = True

    async def run_batch(
        self, task_id: TaskID, rows: list[SectorRow], still_owned: StillOwned
    ) -> None:
        w = self.workload
        config = await w.chain.wait_config()
        sp_id = rows[0].sp_id
        details = await self.db.select(
            "SELECT sector_number, porep_proof FROM sectors_sdr_pipeline WHERE sp_id = $1 "
            "AND task_id_commit_msg = $2 AND after_porep AND NOT after_commit_msg AND NOT failed "
            "ORDER BY sector_number",
            sp_id,
            task_id,
        )
        if not details:
            await self.db.exec(_DETACH_UNSENT_COMMITS, sp_id, task_id, [])
            return
        params = {
            "sectors": [
                {
                    "sector_number": d["sector_number"],
                    "proof": base64.b64encode(bytes(d["porep_proof"])).decode(),
                }
                for d in details
            ]
        }
        numbers = [d["sector_number"] for d in details]
        if not await still_owned():
            raise RuntimeError("lost the task before sending the ProveCommit")

        async def send(tx: Tx) -> int:
            sent = await send_message(
                tx,
                config,
                sp_id,
                PROVE_COMMIT_SECTOR,
                params,
                epoch=w.chain.epoch(),
                task_id=task_id,
            )
            changed = await tx.exec(
                "UPDATE sectors_sdr_pipeline SET commit_msg_cid = $3, after_commit_msg = TRUE "
                "WHERE sp_id = $1 AND sector_number = ANY($2::bigint[]) "
                "AND task_id_commit_msg = $4 AND NOT after_commit_msg",
                sp_id,
                numbers,
                sent.cid,
                task_id,
            )
            if changed != len(numbers):
                raise RuntimeError("the batch changed while sending; not sent")
            await tx.exec(_DETACH_UNSENT_COMMITS, sp_id, task_id, numbers)
            await tx.commit()
            return sent.land_epoch

        w.chain.note_message(await self.db.transaction(send))
