"""``TreeD`` (CommD over the unsealed data) and ``TreeRC`` (the replica, TreeC, TreeR, CommR)."""

from __future__ import annotations

import asyncio
import logging

from engine.harmonytask import StillOwned, TaskID
from engine.proofs import sealed_cid, tree_d, tree_rc, unsealed_cid, zero_comm
from engine.resources import MiB, Resources
from engine.storage import SectorFileType, find_sector, undeclare_sector

from .files import local_files
from .pipeline import TREE_D, TREE_RC
from .stage import SectorRow, StageTask
from .work import make_parents, remove_path

__all__ = ["TreeDTask", "TreeRCTask"]

log = logging.getLogger(__name__)

U, S, C = SectorFileType.UNSEALED, SectorFileType.SEALED, SectorFileType.CACHE


class TreeDTask(StageTask):
    stage = TREE_D
    cost = Resources(cpu=1, ram=128 * MiB)  # Curio: 1 core, 1 GiB
    max_failures = 3
    reads = U | C

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        files = await local_files(self.db, w.host, row.sp_id, row.sector_number, U | C)
        comm_d = await w.pool.run(tree_d, str(files[U]), str(files[C]), row.sector_size)
        expected = zero_comm(row.sector_size)  # CC: no pieces
        if comm_d != expected:
            raise ValueError(
                f"CommD {unsealed_cid(comm_d)} of the unsealed file differs from the pieces' "
                f"{unsealed_cid(expected)}"
            )
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_tree_d = TRUE, tree_d_cid = $3 "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_tree_d = $4",
            row.sp_id,
            row.sector_number,
            unsealed_cid(comm_d),
            task_id,
        )


class TreeRCTask(StageTask):
    """Writes the replica where this attempt reserved space, and leaves it the sector's only
    sealed copy: an earlier attempt that declared its replica and then failed (or lost the
    task) may have put it on another path, and two declared replicas would make PoRep, the
    move to storage and PoSt pick either."""

    stage = TREE_RC
    cost = Resources(cpu=1, ram=256 * MiB)  # Curio: 1 core + a GPU
    max_failures = 3
    reads = U | C
    writes = S

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        files = await local_files(self.db, w.host, row.sp_id, row.sector_number, U | C)
        assert self.storage is not None
        reservation = self.storage.reservation_for(task_id)
        sealed = reservation.path_for(S)
        await asyncio.to_thread(make_parents, str(sealed))
        result = await w.pool.run(tree_rc, str(files[U]), str(sealed), str(files[C]))
        if not await still_owned():
            raise RuntimeError("lost the task before declaring the replica")
        await reservation.declare_and_release(S)
        await self._drop_other_replicas(row, reservation.files[S].storage_id)
        # Non-synthetic proof types pass the SyntheticProofs stage without work.
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_tree_c = TRUE, after_tree_r = TRUE, "
            "after_synth = TRUE, tree_r_cid = $3 "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_tree_r = $4",
            row.sp_id,
            row.sector_number,
            sealed_cid(result.comm_r),
            task_id,
        )

    async def _drop_other_replicas(self, row: SectorRow, keep: str) -> None:
        """Forget, then delete, every sealed copy but the one just declared on ``keep``.

        Done after declaring the new replica, so a crash in between leaves two copies that the
        next attempt (the stage is not marked done yet) cleans up, never none. A copy on a path
        this host cannot reach is forgotten and its file left for its host's operator.
        """
        for loc in await find_sector(
            self.db, row.sp_id, row.sector_number, S, host=self.workload.host
        ):
            if loc.storage_id == keep:
                continue
            await undeclare_sector(self.db, loc.storage_id, row.sp_id, row.sector_number, S)
            if loc.local_path is not None:
                await asyncio.to_thread(remove_path, str(loc.local_path))
                log.info("sector %s: removed the replica of an earlier attempt", row.name)
            else:
                log.warning(
                    "sector %s: forgot the replica of an earlier attempt on path %s, "
                    "which is not attached to this host (its file is left there)",
                    row.name,
                    loc.storage_id,
                )
