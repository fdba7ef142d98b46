"""``SDR``: draw the sealing ticket, write a CC sector's unsealed file and its label layers.

The files are written under hidden temporary names on the reserved seal path and renamed into
place only when whole; only then are they declared. A worker killed mid-SDR leaves at most an
undeclared temporary (removed by the next attempt), never a declared partial cache, so
nothing downstream, and no ``storage redeclare``, can mistake it for a sealed layer set.

The ticket is drawn once per sector and stored before the layers are written: a retry, or a
second machine re-running SDR after this one lost the task, reads the stored ticket back and
computes the same layers, instead of drawing a newer one from the chain's current epoch (and
overwriting the ticket the other run's layers were made with). Only a resume after the
PreCommit check clears it, to seal again with a fresh one.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from engine.chain import seal_randomness
from engine.harmonytask import StillOwned, TaskID
from engine.proofs import prover_id, zero_comm
from engine.resources import MiB, Resources
from engine.storage import SectorFileType, find_sector, sector_name, undeclare_sector

from .pipeline import SDR
from .stage import SectorRow, StageTask
from .work import make_parents, remove_path, remove_prefixed, sdr_into

__all__ = ["SDRTask"]

TEMP_PREFIX = ".sdr-"


class SDRTask(StageTask):
    stage = SDR
    # Curio: one core per SDR producer and 64 GiB for 32 GiB sectors; a devnet sector's layers
    # are memory-mapped, so a fixed 256 MiB covers every size the devnet seals.
    cost = Resources(cpu=1, ram=256 * MiB)
    max_failures = 2
    writes = SectorFileType.CACHE | SectorFileType.UNSEALED

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        ticket_epoch, ticket = await self._ticket(task_id, row)
        assert self.storage is not None
        reservation = self.storage.reservation_for(task_id)
        cache = reservation.path_for(SectorFileType.CACHE)
        unsealed = reservation.path_for(SectorFileType.UNSEALED)
        await self._clear_previous(row, [cache, unsealed])
        token = secrets.token_hex(4)
        temps = [p.parent / f"{TEMP_PREFIX}{p.name}.{token}" for p in (cache, unsealed)]
        try:
            await asyncio.to_thread(make_parents, *map(str, temps))
            await w.pool.run(
                sdr_into,
                str(temps[0]),
                str(temps[1]),
                row.sector_size,
                prover_id(row.sp_id),
                row.sector_number,
                ticket,
                zero_comm(row.sector_size),
            )
            if not await still_owned():
                raise RuntimeError("lost the task before declaring the layers")
            await asyncio.to_thread(os.replace, temps[0], cache)
            await asyncio.to_thread(os.replace, temps[1], unsealed)
        finally:
            for p in temps:
                await asyncio.to_thread(remove_path, str(p))
        await reservation.declare_and_release(SectorFileType.CACHE | SectorFileType.UNSEALED)
        # The layers count only if the stored ticket is still the one they were made with
        # (a resume may have cleared it meanwhile).
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_sdr = TRUE "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_sdr = $5 "
            "AND ticket_epoch = $3 AND ticket_value = $4",
            row.sp_id,
            row.sector_number,
            ticket_epoch,
            ticket,
            task_id,
        )

    async def _ticket(self, task_id: TaskID, row: SectorRow) -> tuple[int, bytes]:
        """The sector's sealing ticket: fixed by the first attempt that gets here, then read
        back by every later one (``ticket_epoch IS NULL`` makes the write happen once, whoever
        races for it), so the layers never depend on when an attempt happened to run.

        Raises:
            RuntimeError: the sector no longer belongs to this SDR task.
        """
        w = self.workload
        stored = await self._stored_ticket(task_id, row)
        if stored is None:
            config = await w.chain.wait_config()
            epoch = max(0, w.chain.epoch() - config.seal_randomness_lookback)
            value = seal_randomness(await w.chain.beacon(epoch), epoch, row.sp_id)
            await self.db.exec(
                "UPDATE sectors_sdr_pipeline SET ticket_epoch = $3, ticket_value = $4 "
                "WHERE sp_id = $1 AND sector_number = $2 AND task_id_sdr = $5 "
                "AND NOT after_sdr AND ticket_epoch IS NULL",
                row.sp_id,
                row.sector_number,
                epoch,
                value,
                task_id,
            )
            stored = await self._stored_ticket(task_id, row)
        if stored is None:
            raise RuntimeError(f"sector {row.name} is no longer sealed by SDR task {task_id}")
        return stored

    async def _stored_ticket(self, task_id: TaskID, row: SectorRow) -> tuple[int, bytes] | None:
        found = await self.db.query_row(
            "SELECT ticket_epoch, ticket_value FROM sectors_sdr_pipeline "
            "WHERE sp_id = $1 AND sector_number = $2 AND task_id_sdr = $3 "
            "AND ticket_epoch IS NOT NULL AND ticket_value IS NOT NULL",
            row.sp_id,
            row.sector_number,
            task_id,
        )
        if found is None:
            return None
        return found["ticket_epoch"], bytes(found["ticket_value"])

    async def _clear_previous(self, row: SectorRow, finals: list[Path]) -> None:
        """Forget and remove what an earlier attempt left (declared or not), and temporaries
        of killed attempts, before writing anew."""
        kinds = SectorFileType.CACHE | SectorFileType.UNSEALED
        for loc in await find_sector(
            self.db, row.sp_id, row.sector_number, kinds, host=self.workload.host
        ):
            await undeclare_sector(
                self.db, loc.storage_id, row.sp_id, row.sector_number, loc.file_type
            )
            if loc.local_path is not None:
                await asyncio.to_thread(remove_path, str(loc.local_path))
        name = sector_name(row.sp_id, row.sector_number)
        for final in finals:
            await asyncio.to_thread(remove_path, str(final))
            await asyncio.to_thread(remove_prefixed, str(final.parent), f"{TEMP_PREFIX}{name}.")
