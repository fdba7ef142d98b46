"""``TreeD`` (CommD over the unsealed data) and ``TreeRC`` (the replica, TreeC, TreeR, CommR)."""

from __future__ import annotations

from engine.harmonytask import StillOwned, TaskID
from engine.proofs import sealed_cid, tree_d, tree_rc, unsealed_cid, zero_comm
from engine.resources import MiB, Resources
from engine.storage import SectorFileType

from .files import local_files
from .pipeline import TREE_D, TREE_RC
from .stage import SectorRow, StageTask

__all__ = ["TreeDTask", "TreeRCTask"]

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
        sealed.parent.mkdir(parents=True, exist_ok=True)
        result = await w.pool.run(tree_rc, str(files[U]), str(sealed), str(files[C]))
        if not await still_owned():
            raise RuntimeError("lost the task before declaring the replica")
        await reservation.declare_and_release(S)
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
