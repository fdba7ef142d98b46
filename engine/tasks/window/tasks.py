"""``WdPost``, ``WdPostSubmit`` and ``WdPostRecover`` (Curio ``tasks/window``).

``WdPost`` proves one partition at its deadline's Challenge: randomness from the chain beacon at
Challenge (DST WindowedPoStChallengeSeed, top two bits cleared), vanilla proofs of
``(live − faulty) ∪ recovering`` over the replica files found on this host. A sector whose
files are missing, unreadable or corrupt is *skipped*: it goes in the message's skipped set, and
the chain marks it faulty when the message lands (Filecoin's own way to declare it; no separate
DeclareFaults message). The proof waits in ``wdpost_proofs`` (``submit_at_epoch`` = Open,
``submit_by_epoch`` = Close) for ``WdPostSubmit``, which sends it only if it lands before
Close; otherwise it refuses, records why in ``wdpost_proofs.submit_error``, and fails visibly.

``WdPostRecover`` declares recoveries for a partition's faulty sectors whose files check out
again, early enough to land before that deadline's FaultCutoff; the next WdPost proves them.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING, Any

from engine.chain import (
    DECLARE_FAULTS_RECOVERED,
    PROVABLE_STATES,
    SUBMIT_WINDOWED_POST,
    get_miner,
    new_deadline_info,
    post_randomness,
    send_message,
)
from engine.harmonytask import (
    AddTaskFn,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    retry_wait_linear,
)
from engine.proofs import WINDOW_POST_CHALLENGES, check_sector, generate_window_post
from engine.resources import MiB, Resources

from .files import (
    PartitionSector,
    ProveWhereFilesAre,
    locate,
    partition_sectors,
    prove_elsewhere,
)
from .scheduler import WDPOST, WDPOST_RECOVER, WDPOST_SUBMIT

if TYPE_CHECKING:
    from engine.harmonydb import Tx

    from ..workload import Workload

__all__ = ["SubmitRefused", "WdPostRecoverTask", "WdPostSubmitTask", "WdPostTask"]

log = logging.getLogger(__name__)


class SubmitRefused(RuntimeError):
    """A message would land too late to count; it was not sent."""


class AlreadySent(RuntimeError):
    """The proof's message was recorded by another attempt between our read and our write.

    Raised inside the sending transaction so the duplicate message it inserted rolls back.
    """


class WdPostTask(TaskType):
    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.db = workload.db

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=WDPOST,
            cost=Resources(cpu=1, ram=256 * MiB),  # Curio: 1 core, 1 GPU, 25 GiB
            storage=ProveWhereFilesAre(self.db, self.workload.host, WDPOST, self._sectors),
            max_failures=5,
            retry_wait=retry_wait_linear(0.5, 0.5),
            time_sensitive=True,
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        await self.workload.post.serve(WDPOST, add_task)

    async def _sectors(self, task_id: TaskID) -> tuple[int, list[PartitionSector]] | None:
        row = await self.partition(task_id)
        if row is None:
            return None
        sectors = await partition_sectors(
            self.db, row["sp_id"], row["deadline_index"], row["partition_index"], PROVABLE_STATES
        )
        return row["sp_id"], sectors

    async def partition(self, task_id: TaskID) -> dict[str, Any] | None:
        return await self.db.query_row(
            "SELECT sp_id, proving_period_start, deadline_index, partition_index "
            "FROM wdpost_partition_tasks WHERE task_id = $1",
            task_id,
        )

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        w = self.workload
        row = await self.partition(task_id)
        if row is None:
            return True
        config = await w.chain.wait_config()
        sp, dl, part = row["sp_id"], row["deadline_index"], row["partition_index"]
        info = new_deadline_info(config.profile, row["proving_period_start"], dl, w.chain.epoch())
        if info.has_elapsed:
            log.warning(
                "WdPost t0%d deadline %d partition %d: deadline closed; skipped", sp, dl, part
            )
            return True
        if w.chain.epoch() < info.challenge:
            await w.chain.sleep_until_epoch(info.challenge)
        randomness = post_randomness(await w.chain.beacon(info.challenge), info.challenge, sp)
        sectors = await partition_sectors(self.db, sp, dl, part, PROVABLE_STATES)
        if not sectors:
            log.info("WdPost t0%d deadline %d partition %d: no sector to prove", sp, dl, part)
            return True
        present, faults = await locate(self.db, w.host, sp, sectors)
        result = await w.pool.run(generate_window_post, present, randomness)
        remote, faults = await prove_elsewhere(
            self.db, w.host, sp, sectors, faults, randomness, WINDOW_POST_CHALLENGES
        )
        proofs = sorted([*result.proofs, *remote], key=lambda p: p.sector_id)
        faults = sorted([*faults, *result.faults], key=lambda f: f.sector_id)
        params = {
            "deadline": dl,
            "proving_period_start": info.period_start,
            "chain_commit_epoch": info.challenge,
            "partitions": [
                {
                    "index": part,
                    "skipped": [f.sector_id for f in faults],
                    "proofs": [base64.b64encode(p.to_bytes()).decode() for p in proofs],
                    "faults": [
                        {"sector": f.sector_id, "kind": f.kind, "detail": f.detail} for f in faults
                    ],
                }
            ],
        }
        if faults:
            log.warning(
                "WdPost t0%d deadline %d partition %d: skipping faulty sectors %s",
                sp,
                dl,
                part,
                [f"{f.sector_id} ({f.kind})" for f in faults],
            )
        if not await still_owned():
            return False
        await self.db.exec(
            'INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, "partition", '
            "submit_at_epoch, submit_by_epoch, proof_params) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT ON CONSTRAINT wdpost_proofs_identity_key DO NOTHING",
            sp,
            info.period_start,
            dl,
            part,
            info.open,
            info.close,
            json.dumps(params).encode(),
        )
        w.post.poke()
        return True


class WdPostSubmitTask(TaskType):
    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.db = workload.db

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=WDPOST_SUBMIT,
            cost=Resources(cpu=0, ram=16 * MiB),  # Curio: 10 MiB
            max_failures=3,
            retry_wait=retry_wait_linear(0.2, 0.2),
            time_sensitive=True,
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        await self.workload.post.serve(WDPOST_SUBMIT, add_task)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        w = self.workload
        row = await self.db.query_row(
            'SELECT sp_id, proving_period_start, deadline, "partition", submit_at_epoch, '
            "submit_by_epoch, proof_params, message_cid FROM wdpost_proofs "
            "WHERE submit_task_id = $1",
            task_id,
        )
        if row is None or row["message_cid"] is not None:
            return True
        config = await w.chain.wait_config()
        if w.chain.epoch() < row["submit_at_epoch"]:
            await w.chain.sleep_until_epoch(row["submit_at_epoch"])
        params = json.loads(bytes(row["proof_params"]))
        for p in params["partitions"]:
            p.pop("faults", None)
        close = row["submit_by_epoch"]
        where = (row["sp_id"], row["proving_period_start"], row["deadline"], row["partition"])

        async def refuse(lands: int) -> None:
            reason = (
                f"not sent: it would land at epoch {lands}, at or after the deadline's Close "
                f"(epoch {close})"
            )
            await self.db.exec(
                "UPDATE wdpost_proofs SET submit_error = $5 WHERE sp_id = $1 "
                'AND proving_period_start = $2 AND deadline = $3 AND "partition" = $4',
                *where,
                reason,
            )
            raise SubmitRefused(
                f"SubmitWindowedPoSt of t0{row['sp_id']} deadline {row['deadline']} "
                f"partition {row['partition']} {reason}"
            )

        epoch = w.chain.epoch()
        if epoch + config.profile.message_delay_epochs >= close:
            await refuse(epoch + config.profile.message_delay_epochs)
        if not await still_owned():
            return False

        async def send(tx: Tx) -> int | None:
            sent = await send_message(
                tx,
                config,
                row["sp_id"],
                SUBMIT_WINDOWED_POST,
                params,
                epoch=w.chain.epoch(),
                task_id=task_id,
            )
            if sent.land_epoch >= close:
                return -sent.land_epoch  # roll back: too late after all
            recorded = await tx.exec(
                "UPDATE wdpost_proofs SET message_cid = $5 WHERE sp_id = $1 "
                'AND proving_period_start = $2 AND deadline = $3 AND "partition" = $4 '
                "AND message_cid IS NULL",
                *where,
                sent.cid,
            )
            if recorded == 0:
                # Another attempt sent this proof since we read the row (or the row is gone):
                # raising rolls back the message inserted above, so it is sent at most once.
                raise AlreadySent(
                    f"SubmitWindowedPoSt of t0{row['sp_id']} deadline {row['deadline']} "
                    f"partition {row['partition']} was already sent (or its proof is gone); "
                    "this duplicate was rolled back"
                )
            await tx.commit()
            return sent.land_epoch

        try:
            lands = await self.db.transaction(send)
        except AlreadySent as exc:
            log.info("%s", exc)
            return True
        if lands is not None and lands < 0:
            await refuse(-lands)
        if lands is not None:
            w.chain.note_message(lands)
        return True


class WdPostRecoverTask(TaskType):
    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.db = workload.db

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=WDPOST_RECOVER,
            cost=Resources(cpu=0, ram=128 * MiB),  # Curio: 128 MiB
            max_failures=3,
            retry_wait=retry_wait_linear(0.5, 0.5),
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        await self.workload.post.serve(WDPOST_RECOVER, add_task)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        w = self.workload
        row = await self.db.query_row(
            "SELECT sp_id, proving_period_start, deadline_index, partition_index, message_cid "
            "FROM wdpost_recovery_tasks WHERE task_id = $1",
            task_id,
        )
        if row is None:
            return True
        if row["message_cid"] is not None:
            log.info("recoveries of task %d already declared in %s", task_id, row["message_cid"])
            return True
        config = await w.chain.wait_config()
        sp, dl, part = row["sp_id"], row["deadline_index"], row["partition_index"]
        info = new_deadline_info(config.profile, row["proving_period_start"], dl, w.chain.epoch())
        lands = w.chain.epoch() + config.profile.message_delay_epochs
        if lands >= info.fault_cutoff:
            raise SubmitRefused(
                f"recoveries for t0{sp} deadline {dl} would land at epoch {lands}, past its "
                f"fault cutoff (epoch {info.fault_cutoff}); not declared"
            )
        faulty = await partition_sectors(self.db, sp, dl, part, ("faulty",))
        if not faulty:
            return True
        miner = await get_miner(self.db, sp)
        present, _missing = await locate(self.db, w.host, sp, faulty)
        recovered = []
        for sector in present:
            fault = await w.pool.run(check_sector, sector)
            if fault is None:
                recovered.append(sector.sector_id)
            else:
                log.info("t0%d sector %d still faulty: %s", sp, sector.sector_id, fault.detail)
        if not recovered:
            return True
        if not await still_owned():
            return False
        params = {"declarations": [{"deadline": dl, "partition": part, "sectors": recovered}]}

        async def send(tx: Tx) -> int | None:
            sent = await send_message(
                tx,
                config,
                miner.sp_id,
                DECLARE_FAULTS_RECOVERED,
                params,
                epoch=w.chain.epoch(),
                task_id=task_id,
            )
            if sent.land_epoch >= info.fault_cutoff:
                return None
            # The durable "already declared" mark, committed with the message itself.
            recorded = await tx.exec(
                "UPDATE wdpost_recovery_tasks SET message_cid = $2 "
                "WHERE task_id = $1 AND message_cid IS NULL",
                task_id,
                sent.cid,
            )
            if recorded == 0:
                raise AlreadySent(
                    f"recoveries of t0{sp} deadline {dl} partition {part} were already "
                    "declared (or the task is gone); this duplicate was rolled back"
                )
            await tx.commit()
            return sent.land_epoch

        try:
            lands_at = await self.db.transaction(send)
        except AlreadySent as exc:
            log.info("%s", exc)
            return True
        if lands_at is None:
            raise SubmitRefused(f"recoveries for t0{sp} deadline {dl} would land too late")
        log.info("t0%d declared sectors %s recovered (deadline %d)", sp, recovered, dl)
        w.chain.note_message(lands_at)
        return True
