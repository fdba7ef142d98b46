"""When WindowPoSt work is due: one loop per process adds ``WdPost``, ``WdPostSubmit`` and
``WdPostRecover`` tasks (whichever of them this machine runs).

* ``WdPost`` per (miner, deadline, partition with live sectors), once the deadline's Challenge
  epoch is reached and before it closes; unique on Curio's ``wdpost_partition_tasks`` key.
* ``WdPostSubmit`` per ``wdpost_proofs`` row not yet sent, from its ``submit_at_epoch`` (Open).
* ``WdPostRecover`` per partition with faulty sectors of deadline ``(current + 2) % 48``, while
  a declaration can still land before that deadline's FaultCutoff (Curio ``recover_task.go``).

The loop computes deadlines from the chain clock and each miner's offset, so it queries the
database only when a deadline with sectors reaches its Challenge (or, while sectors are faulty,
when a deadline ends), when the chain advanced (new sectors, new faults), when a proof was
written here, or every 60 s; unsent proofs are looked for only while a deadline that has
partitions is open (the only time a proof can be sent).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString

from engine.chain import DeadlineInfo, Miner, new_deadline_info
from engine.harmonydb import Tx

from ..poller import Poller

if TYPE_CHECKING:
    from ..workload import Workload

__all__ = ["WDPOST", "WDPOST_RECOVER", "WDPOST_SUBMIT", "PostScheduler"]

log = logging.getLogger(__name__)

WDPOST = "WdPost"
WDPOST_SUBMIT = "WdPostSubmit"
WDPOST_RECOVER = "WdPostRecover"

#: The domain row a WdPost or WdPostRecover task is added with (the same columns in both).
_PARTITION_TASK_ROW: LiteralString = (
    " (task_id, sp_id, proving_period_start, deadline_index, partition_index) "
    "VALUES ($1, $2, $3, $4, $5)"
)
_INSERT_PARTITION_TASK: dict[str, LiteralString] = {
    WDPOST: "INSERT INTO wdpost_partition_tasks" + _PARTITION_TASK_ROW,
    WDPOST_RECOVER: "INSERT INTO wdpost_recovery_tasks" + _PARTITION_TASK_ROW,
}

_PARTITIONS = """
SELECT m.sp_id, m.sector_size, m.reg_seal_proof, m.proving_period_offset, m.created_epoch,
       s.deadline, s."partition",
       bool_or(s.state = 'faulty') AS has_faulty
  FROM chain_miners m
  LEFT JOIN chain_sectors s ON s.sp_id = m.sp_id
       AND s.state IN ('active', 'faulty', 'recovering')
 GROUP BY m.sp_id, m.sector_size, m.reg_seal_proof, m.proving_period_offset,
          m.created_epoch, s.deadline, s."partition"
 ORDER BY m.sp_id, s.deadline, s."partition"
"""

_UNSENT = """
SELECT sp_id, proving_period_start, deadline, "partition", submit_at_epoch
  FROM wdpost_proofs
 WHERE submit_task_id IS NULL AND message_cid IS NULL AND submit_error IS NULL
   AND submit_by_epoch > $1
"""


def following(config_profile: Any, info: DeadlineInfo, steps: int) -> DeadlineInfo:
    """The deadline ``steps`` after ``info`` (into the next period if it wraps)."""
    n = config_profile.wpost_period_deadlines
    index = info.index + steps
    start = info.period_start + (index // n) * config_profile.wpost_proving_period
    return new_deadline_info(config_profile, start, index % n, info.current_epoch)


class PostScheduler(Poller):
    def __init__(self, workload: Workload) -> None:
        super().__init__(workload, "post")
        self.db = workload.db
        #: (kind, sp, period start, deadline, partition) already added or found added
        self._seen: set[tuple[str, int, int, int, int]] = set()
        self._cleaned_before = 0
        # New sectors (and faults) appear when the chain advances: look again then.
        workload.chain.on_head(self.poke)

    async def start(self) -> None:
        await self.workload.chain.wait_config()

    async def run_once(self) -> tuple[float, datetime | None]:
        chain = self.workload.chain
        config = await chain.wait_config()
        profile = config.profile
        epoch = chain.epoch()
        partitions: dict[int, dict[int, dict[int, bool]]] = defaultdict(lambda: defaultdict(dict))
        miners: dict[int, Miner] = {}
        for row in await self.db.select(_PARTITIONS):
            miners[row["sp_id"]] = Miner(
                row["sp_id"],
                row["sector_size"],
                row["reg_seal_proof"],
                row["proving_period_offset"],
                row["created_epoch"],
            )
            if row["deadline"] is not None:
                partitions[row["sp_id"]][row["deadline"]][row["partition"]] = row["has_faulty"]
        wake: int | None = None

        def wake_at(e: int) -> None:
            nonlocal wake
            if e > epoch and (wake is None or e < wake):
                wake = e

        submitting = False  # a deadline with partitions is open: its proofs may await sending
        for sp, miner in miners.items():
            current = miner.deadline(config, epoch)
            busy = partitions[sp]
            submitting = submitting or current.index in busy
            for step in range(profile.wpost_period_deadlines + 1):
                info = following(profile, current, step)
                if info.index not in busy:
                    continue
                if info.challenge <= epoch < info.close:
                    for part in busy[info.index]:
                        await self._add_partition(WDPOST, sp, info, part)
                    # Proven from the challenge on, sent from the open: a proof made before
                    # the open must not wait for the next minute's poll to be sent.
                    wake_at(info.open)
                elif info.challenge > epoch:
                    wake_at(info.challenge)  # the next deadline with sectors
                    break
            target = following(profile, current, 2)
            faulty = [part for part, f in busy.get(target.index, {}).items() if f]
            if faulty and epoch + profile.message_delay_epochs < target.fault_cutoff:
                for part in faulty:
                    await self._add_partition(WDPOST_RECOVER, sp, target, part)
            if any(f for parts in busy.values() for f in parts.values()):
                wake_at(current.close)  # the next deadline's recoveries
        if WDPOST_SUBMIT in self.adders and submitting:
            for row in await self.db.select(_UNSENT, epoch):
                if row["submit_at_epoch"] <= epoch:
                    await self._add_submit(row)
                else:
                    wake_at(row["submit_at_epoch"])
        await self._cleanup(miners, config, epoch)
        return 60.0, None if wake is None else config.time_of(wake)

    async def _add_partition(self, kind: str, sp: int, info: DeadlineInfo, part: int) -> None:
        key = (kind, sp, info.period_start, info.index, part)
        if key in self._seen or kind not in self.adders:
            return

        async def extra(task_id: int, tx: Any) -> bool:
            assert isinstance(tx, Tx)
            await tx.exec(
                _INSERT_PARTITION_TASK[kind], task_id, sp, info.period_start, info.index, part
            )
            return True

        added = await self.add(kind, extra)
        self._seen.add(key)  # added now, or by another machine before (unique key)
        if added is not None:
            log.info(
                "%s task %d for t0%d deadline %d partition %d (period %d)",
                kind,
                added,
                sp,
                info.index,
                part,
                info.period_start,
            )

    async def _add_submit(self, row: dict[str, Any]) -> None:
        async def extra(task_id: int, tx: Any) -> bool:
            assert isinstance(tx, Tx)
            return (
                await tx.exec(
                    "UPDATE wdpost_proofs SET submit_task_id = $5 WHERE sp_id = $1 "
                    'AND proving_period_start = $2 AND deadline = $3 AND "partition" = $4 '
                    "AND submit_task_id IS NULL AND message_cid IS NULL",
                    row["sp_id"],
                    row["proving_period_start"],
                    row["deadline"],
                    row["partition"],
                    task_id,
                )
                > 0
            )

        await self.add(WDPOST_SUBMIT, extra)

    async def _cleanup(self, miners: dict[int, Miner], config: Any, epoch: int) -> None:
        """Drop bookkeeping older than two proving periods (once per period)."""
        if not miners:
            return
        period = config.profile.wpost_proving_period
        before = min(m.deadline(config, epoch).period_start for m in miners.values()) - 2 * period
        if before <= self._cleaned_before:
            return
        self._cleaned_before = before + period
        self._seen = {k for k in self._seen if k[2] >= before}
        await self.db.exec(
            "DELETE FROM wdpost_partition_tasks w WHERE w.proving_period_start < $1 "
            "AND NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = w.task_id)",
            before,
        )
        await self.db.exec(
            "DELETE FROM wdpost_recovery_tasks w WHERE w.proving_period_start < $1 "
            "AND NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = w.task_id)",
            before,
        )
        await self.db.exec("DELETE FROM wdpost_proofs WHERE proving_period_start < $1", before)
