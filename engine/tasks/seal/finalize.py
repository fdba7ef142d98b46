"""``Finalize`` ("Clear Cache": drop the layers and the trees PoSt does not need, and the
all-zero unsealed copy of a CC sector) and ``MoveStorage`` (sealed file and cache to a store
path, crash-safely, through :func:`engine.storage.move_sector`)."""

from __future__ import annotations

import asyncio

from engine.harmonytask import StillOwned, TaskID
from engine.proofs import finalize
from engine.resources import MiB, Resources
from engine.storage import SectorFileType, find_sector, move_sector, undeclare_sector

from .files import local_files
from .pipeline import FINALIZE, MOVE_STORAGE
from .stage import SectorRow, StageTask
from .work import remove_path

__all__ = ["FinalizeTask", "MoveStorageTask"]

U, S, C = SectorFileType.UNSEALED, SectorFileType.SEALED, SectorFileType.CACHE


class FinalizeTask(StageTask):
    stage = FINALIZE
    cost = Resources(cpu=0, ram=100 * MiB)  # Curio: 0 cores, 100 MiB
    max_failures = 10
    reads = C

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        files = await local_files(self.db, w.host, row.sp_id, row.sector_number, C)
        await asyncio.to_thread(finalize, str(files[C]))
        # A CC sector's unsealed data is all zeros: nothing to keep. Forget it before deleting
        # it, so no declaration ever points at a missing file.
        for loc in await find_sector(self.db, row.sp_id, row.sector_number, U, host=w.host):
            if loc.local_path is None:
                continue
            await undeclare_sector(self.db, loc.storage_id, row.sp_id, row.sector_number, U)
            await asyncio.to_thread(remove_path, str(loc.local_path))
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_finalize = TRUE "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_finalize = $3",
            row.sp_id,
            row.sector_number,
            task_id,
        )


class MoveStorageTask(StageTask):
    stage = MOVE_STORAGE
    cost = Resources(cpu=0, ram=128 * MiB)  # Curio: 128 MiB
    max_failures = 6
    reads = S | C
    reads_remotely = True  # move_sector fetches from the host serving them
    writes = S | C
    writes_for_sealing = False  # reserve on a store path, with finalized overheads

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        assert self.storage is not None
        reservation = self.storage.reservation_for(task_id)
        if not await still_owned():
            raise RuntimeError("lost the task before moving")
        try:
            for ft in (S, C):
                await move_sector(
                    self.db,
                    row.sp_id,
                    row.sector_number,
                    ft,
                    dest=reservation.files[ft].storage_id,
                    sector_size=row.sector_size,
                    host=w.host,
                )
        finally:
            await reservation.release()
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_move_storage = TRUE "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_move_storage = $3",
            row.sp_id,
            row.sector_number,
            task_id,
        )
