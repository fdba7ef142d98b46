"""``WinPost``: on a won epoch, prove 66 challenges of one sector and "mine" the block.

The sector is chosen from the eligible set by Filecoin's ``winning_sector_index``; the proof is
generated in the process pool and verified against the chain's view of the sector. The block
counts (``mining_tasks.included``) only if the proof verifies and the epoch has not passed yet
(Curio's ``WinInclCheck`` learns the same from the next tipsets).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.chain import Dst, draw_randomness, miner_entropy, object_cid
from engine.harmonytask import (
    AddTaskFn,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    retry_wait_linear,
)
from engine.proofs import (
    WINNING_POST_CHALLENGES,
    PostSector,
    ProofError,
    WinningPostProof,
    clear_top_bits,
    generate_winning_post,
    prover_id,
    verify_winning_post,
    winning_sector_index,
)
from engine.resources import MiB, Resources

from ..window.files import PartitionSector, ProveWhereFilesAre, locate, prove_elsewhere
from .lottery import WINPOST

if TYPE_CHECKING:
    from ..workload import Workload

__all__ = ["WinPostTask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Draw:
    sp_id: int
    epoch: int
    sector_size: int
    eligible: list[dict[str, Any]]
    index: int
    beacon: bytes
    rand: bytes

    @property
    def chosen(self) -> PartitionSector | None:
        if not self.eligible:
            return None
        row = self.eligible[self.index]
        return PartitionSector(row["sector_number"], row["sealed_cid"], "active")


class WinPostTask(TaskType):
    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.db = workload.db

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=WINPOST,
            cost=Resources(cpu=1, ram=256 * MiB),
            max_failures=2,
            retry_wait=retry_wait_linear(0.1, 0.1),
            time_sensitive=True,
            storage=ProveWhereFilesAre(self.db, self.workload.host, WINPOST, self._sector),
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        await self.workload.lottery.serve(WINPOST, add_task)

    async def _sector(self, task_id: TaskID) -> tuple[int, list[PartitionSector]] | None:
        """Locality: the randomness fixes the one sector to prove, so the block is mined on a
        host holding that sector's files whenever a machine running WinPost is there."""
        draw = await self.draw(task_id)
        if draw is None or draw.chosen is None:
            return None
        return draw.sp_id, [draw.chosen]

    async def draw(self, task_id: TaskID) -> Draw | None:
        """The won epoch's challenged sector, as Filecoin draws it: the chain's randomness picks
        one of the sectors active ``winning_post_lookback`` epochs before."""
        w = self.workload
        row = await self.db.query_row(
            "SELECT t.sp_id, t.epoch, m.sector_size FROM mining_tasks t "
            "JOIN chain_miners m ON m.sp_id = t.sp_id WHERE t.task_id = $1",
            task_id,
        )
        if row is None:
            return None
        config = await w.chain.wait_config()
        sp, epoch = row["sp_id"], row["epoch"]
        eligible = await self.db.select(
            "SELECT sector_number, sealed_cid FROM chain_sectors WHERE sp_id = $1 "
            "AND state = 'active' AND activation_epoch <= $2 ORDER BY sector_number",
            sp,
            epoch - config.winning_post_lookback,
        )
        beacon = await w.chain.beacon(epoch)
        rand = clear_top_bits(
            draw_randomness(beacon, Dst.WINNING_POST_CHALLENGE_SEED, epoch, miner_entropy(sp))
        )
        index = winning_sector_index(prover_id(sp), rand, 0, len(eligible)) if eligible else 0
        return Draw(sp, epoch, row["sector_size"], eligible, index, beacon, rand)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        w = self.workload
        draw = await self.draw(task_id)
        if draw is None:
            return True
        sp, epoch, sector_size, eligible = draw.sp_id, draw.epoch, draw.sector_size, draw.eligible
        header: dict[str, object] = {"miner": f"t0{sp}", "epoch": epoch}
        included = False
        mined_cid = None
        if draw.chosen is None:
            header["error"] = "no eligible sector"
        else:
            beacon, rand, index, chosen = draw.beacon, draw.rand, draw.index, draw.chosen
            pid = prover_id(sp)
            present, missing = await locate(self.db, w.host, sp, [chosen])
            remote, missing = await prove_elsewhere(
                self.db, w.host, sp, [chosen], missing, rand, WINNING_POST_CHALLENGES
            )
            sectors = [PostSector(r["sector_number"], b"", "", "") for r in eligible]
            header["winning_sector"] = chosen.sector_number
            header["beacon"] = beacon.hex()
            if missing:
                header["error"] = missing[0].detail
            else:
                if present:
                    sectors[index] = present[0]
                try:
                    if remote:  # proven by the host holding it, checked below like ours
                        proof = WinningPostProof(index, remote[0])
                    else:
                        proof = await w.pool.run(generate_winning_post, pid, rand, sectors)
                    listed = [(s.sector_id, s.comm_r) for s in sectors]
                    listed[index] = (chosen.sector_number, chosen.comm_r)
                    ok = await asyncio.to_thread(
                        verify_winning_post, pid, rand, listed, proof, sector_size
                    )
                    header["proof"] = hashlib.sha256(proof.proof.to_bytes()).hexdigest()
                    if not ok:
                        header["error"] = "the WinningPoSt proof does not verify"
                    in_time = w.chain.epoch() == epoch
                    if ok and not in_time:
                        header["error"] = "block finished after its epoch"
                    included = ok and in_time
                except (ProofError, OSError) as exc:
                    header["error"] = str(exc)
            if included:
                mined_cid = object_cid("block", header)
        # Conditional: a retry (after a crash between this write and the task's completion,
        # or run too late) must never overwrite a block that was already mined and included.
        written = await self.db.exec(
            "UPDATE mining_tasks SET mined_cid = $2, mined_header = $3::jsonb, mined_at = now(), "
            "submitted_at = CASE WHEN $4 THEN now() END, included = $4 "
            "WHERE task_id = $1 AND included IS NOT TRUE",
            task_id,
            mined_cid,
            json.dumps(header),
            included,
        )
        if written == 0:
            log.info("t0%d epoch %d: a block was already included; kept", sp, epoch)
            return True
        if not included:
            log.warning("t0%d won epoch %d but mined no block: %s", sp, epoch, header.get("error"))
        return True
