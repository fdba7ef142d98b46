"""The task engine's storage hook: "is there room for this work here?" and "hold it for me".

A task type's resource cost may carry a storage claim (Curio ``resources.Storage``:
``HasCapacity()`` and ``Claim(taskID)``). The engine asks :meth:`has_capacity` before claiming
work (no room = no claim, which is the cluster's back-pressure) and, once it owns a task,
:meth:`claim` reserves the space. Neither ever waits for space: a refusal is a
:class:`NoSuitablePath` whose message says why each path was passed over, so the operator
sees "1 path is seal-only, 1 denies sealed" instead of a task that never starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import NoSuitablePath
from .filetypes import SectorFileType
from .hosts import this_host
from .placement import load_path_states, rank
from .reservations import Reservation, reserve
from .units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["SectorOf", "SectorStorageClaim"]

SectorOf = Callable[[int], Awaitable[tuple[int, int]]]
"""Maps a task id to its (miner, sector) when the claim serves a whole task type."""


class SectorStorageClaim:
    """Storage needed by one sector's files on this host.

    Args:
        miner, sector: the sector; either may be None when ``sector_of`` resolves it per task
            (a claim attached to a task type rather than to one task).
        sector_size: bytes per sector; reservations use Curio's overheads per file type.
        file_types: the files the task will write, e.g. ``SEALED | CACHE``.
        seal: the files are for sealing (``can_seal`` paths, sealing overheads) rather than
            long-term storage (``can_store`` paths, finalized overheads).
        host: the host that will write the files (default: this machine).
    """

    def __init__(
        self,
        db: DB,
        miner: int | None,
        sector: int | None,
        sector_size: int,
        file_types: SectorFileType,
        seal: bool,
        *,
        host: str | None = None,
        sector_of: SectorOf | None = None,
    ) -> None:
        if (miner is None or sector is None) and sector_of is None:
            raise ValueError("give miner and sector, or sector_of to look them up per task")
        self.db = db
        self.miner = miner
        self.sector = sector
        self.sector_size = sector_size
        self.file_types = SectorFileType(file_types)
        self.seal = seal
        self.host = host or this_host()
        self.sector_of = sector_of
        #: why the last :meth:`has_capacity` said no (None after a yes)
        self.last_refusal: NoSuitablePath | None = None

    async def check(self) -> None:
        """Raise :class:`NoSuitablePath` if some file type fits on no local path right now."""
        states = await load_path_states(self.db, self.host)
        pending: dict[str, int] = {}
        for ft in self.file_types.bits():
            needed = ft.overhead(self.sector_size, sealing=self.seal)
            ranking = rank(
                states,
                ft,
                needed,
                seal=self.seal,
                miner=self.miner,
                host=self.host,
                pending=pending,
            )
            if not ranking.candidates:
                raise ranking.refusal(f"a {size_str(needed)} {ft} file")
            best = ranking.candidates[0].storage_id
            pending[best] = pending.get(best, 0) + needed

    async def has_capacity(self) -> bool:
        """Whether :meth:`claim` would find room now (a hint: it re-checks under a lock)."""
        try:
            await self.check()
        except NoSuitablePath as refusal:
            self.last_refusal = refusal
            return False
        self.last_refusal = None
        return True

    async def claim(self, task_id: int, machine_id: int) -> Reservation:
        """Reserve the space for ``task_id``, owned by ``machine_id``.

        Raises:
            NoSuitablePath: no room (nothing reserved); retry later, it is not permanent.
            StorageError: the task is not owned by that live machine.
        """
        miner, sector = self.miner, self.sector
        if self.sector_of is not None:
            miner, sector = await self.sector_of(task_id)
        assert miner is not None and sector is not None
        return await reserve(
            self.db,
            miner=miner,
            sector=sector,
            sector_size=self.sector_size,
            file_types=self.file_types,
            seal=self.seal,
            task_id=task_id,
            machine_id=machine_id,
            host=self.host,
        )
