"""Space reservations for in-flight work, held in the database.

Curio reserves in the memory of the process that will write (``Local.Reserve``), so another
machine sharing the path cannot see it, and a crash forgets it. Here a reservation is a row per
(path, file type, sector, task), written in the same transaction that chose the path while every
path row is locked, so two machines can never both take the last free bytes. A row counts only
while its machine is alive and still owns the task (view ``storage_reservations_live``); the
heartbeat deletes the rest, so a dead owner's space comes back without anyone releasing it.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import SectorFileSizeError, SectorNotFound, StorageError
from .filetypes import SectorFileType
from .hosts import this_host
from .placement import load_path_states, rank
from .sectors import declare_sector, sector_file_path
from .units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "Reservation",
    "ReservedFile",
    "cleanup_dead_reservations",
    "release_task_reservations",
    "reserve",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReservedFile:
    """Space for one sector file on one path.

    Attributes:
        root: the path's local directory on the reserving host (None if not local).
        path: where the file is to be written (None if not local).
    """

    reservation_id: int
    storage_id: str
    file_type: SectorFileType
    bytes: int
    root: Path | None
    path: Path | None


class Reservation:
    """Space held for one task's sector files until :meth:`release` (or the owner's death).

    Use :meth:`declare_and_release` once the files are written: it checks them, declares them
    and drops the reservation in one transaction. As an async context manager, leaving the block
    releases whatever is still held.
    """

    def __init__(
        self,
        db: DB,
        *,
        miner: int,
        sector: int,
        sector_size: int,
        task_id: int,
        machine_id: int,
        files: dict[SectorFileType, ReservedFile],
    ) -> None:
        self._db = db
        self.miner = miner
        self.sector = sector
        self.sector_size = sector_size
        self.task_id = task_id
        self.machine_id = machine_id
        self.files = files
        self.released = False

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files.values())

    def path_for(self, file_type: SectorFileType) -> Path:
        """Where to write the file of ``file_type`` on this host."""
        reserved = self.files.get(file_type)
        if reserved is None or reserved.path is None:
            raise StorageError(f"no local space reserved for the {file_type} file")
        return reserved.path

    async def release(self) -> None:
        """Give the space back (task done, failed or abandoned). Idempotent."""
        if self.released:
            return
        ids = [f.reservation_id for f in self.files.values()]
        await self._db.exec("DELETE FROM storage_reservations WHERE id = ANY($1::bigint[])", ids)
        self.released = True

    async def declare_and_release(
        self, file_types: SectorFileType | None = None, *, primary: bool = True
    ) -> None:
        """Declare the written files where they were reserved, and release the space.

        Every file is checked first (present; a sealed/unsealed/update file exactly one sector
        long), so either all are declared or none is.

        Raises:
            SectorNotFound: a file was not written.
            SectorFileSizeError: a file has the wrong size (e.g. truncated).
        """
        chosen = [
            self.files[ft] for ft in (file_types or SectorFileType.all()).bits() if ft in self.files
        ]
        for f in chosen:
            await asyncio.to_thread(_check_written, self.path_for(f.file_type), f, self.sector_size)

        async def work(tx: Tx) -> None:
            for f in chosen:
                await declare_sector(
                    tx,
                    f.storage_id,
                    self.miner,
                    self.sector,
                    f.file_type,
                    primary=primary,
                    sector_size=self.sector_size,
                )
            await tx.exec(
                "DELETE FROM storage_reservations WHERE id = ANY($1::bigint[])",
                [f.reservation_id for f in self.files.values()],
            )
            await tx.commit()

        await self._db.transaction(work)
        self.released = True

    async def __aenter__(self) -> Reservation:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    def __repr__(self) -> str:
        where = ", ".join(f"{ft}@{f.storage_id[:8]}" for ft, f in self.files.items())
        return (
            f"<Reservation sector t0{self.miner}-{self.sector} task {self.task_id} "
            f"{size_str(self.total_bytes)} [{where}]{' released' if self.released else ''}>"
        )


def _check_written(path: Path, f: ReservedFile, sector_size: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise SectorNotFound(f"{path} was not written") from None
    if f.file_type.is_directory != stat.S_ISDIR(st.st_mode):
        kind = "a directory" if f.file_type.is_directory else "a file"
        raise SectorNotFound(f"{path} should be {kind}")
    expected = f.file_type.expected_size(sector_size)
    if expected is not None and st.st_size != expected:
        raise SectorFileSizeError(path, st.st_size, expected)


async def reserve(
    db: DB,
    *,
    miner: int,
    sector: int,
    sector_size: int,
    file_types: SectorFileType,
    seal: bool,
    task_id: int,
    machine_id: int,
    host: str | None = None,
    allow_to: Mapping[SectorFileType, Sequence[str]] | None = None,
    groups: Sequence[str] = (),
) -> Reservation:
    """Choose a local path for each file type and reserve its space, atomically.

    Sizes follow Curio's overhead table: sealing (``seal=True``) reserves on ``can_seal``
    paths with the sealing overheads (a cache is 14.1 sector sizes), otherwise on
    ``can_store`` paths with the finalized ones. For a move, ``allow_to`` gives each file
    type's source path's ``allow_to`` groups (the new path must be in one, when any);
    ``groups`` confines every file to paths in one of them (the machine's ``--store-groups``).

    Raises:
        NoSuitablePath: some file type fits nowhere; nothing is reserved.
        StorageError: the task is not owned by a live ``machine_id``.
    """
    host = host or this_host()

    async def work(tx: Tx) -> dict[SectorFileType, ReservedFile]:
        owned = await tx.query_value(
            "SELECT 1 FROM harmony_task t JOIN harmony_machines m ON m.id = t.owner_id "
            "WHERE t.id = $1 AND t.owner_id = $2 AND m.session IS NOT NULL",
            task_id,
            machine_id,
        )
        if not owned:
            raise StorageError(
                f"cannot reserve storage for task {task_id}: it is not owned by live machine "
                f"{machine_id}"
            )
        # Serialise choosers: each sees the reservations of those before it.
        await tx.exec("SELECT 1 FROM storage_path ORDER BY storage_id FOR UPDATE")
        states = await load_path_states(tx, host)
        pending: dict[str, int] = defaultdict(int)
        files: dict[SectorFileType, ReservedFile] = {}
        for ft in file_types.bits():
            needed = ft.overhead(sector_size, sealing=seal)
            ranking = rank(
                states,
                ft,
                needed,
                seal=seal,
                miner=miner,
                host=host,
                pending=pending,
                allow_to=list((allow_to or {}).get(ft, ())),
                groups=groups,
            )
            if not ranking.candidates:
                raise ranking.refusal(f"a {size_str(needed)} {ft} file")
            best = ranking.candidates[0]
            pending[best.storage_id] += needed
            rid = await tx.query_value(
                "INSERT INTO storage_reservations (storage_id, miner_id, sector_num, "
                "sector_filetype, task_id, machine_id, bytes, sector_size, sealing) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT (storage_id, sector_filetype, miner_id, sector_num, task_id) "
                "DO UPDATE SET bytes = EXCLUDED.bytes, machine_id = EXCLUDED.machine_id "
                "RETURNING id",
                best.storage_id,
                miner,
                sector,
                int(ft),
                task_id,
                machine_id,
                needed,
                sector_size,
                seal,
            )
            root = best.local_path
            files[ft] = ReservedFile(
                reservation_id=rid,
                storage_id=best.storage_id,
                file_type=ft,
                bytes=needed,
                root=root,
                path=sector_file_path(root, ft, miner, sector) if root else None,
            )
        await tx.commit()
        return files

    files = await db.transaction(work)
    reservation = Reservation(
        db,
        miner=miner,
        sector=sector,
        sector_size=sector_size,
        task_id=task_id,
        machine_id=machine_id,
        files=files,
    )
    log.debug("reserved %r", reservation)
    return reservation


async def release_task_reservations(db: DB, task_id: int) -> int:
    """Release everything reserved for a task (the engine's cleanup after a failure)."""
    return await db.exec("DELETE FROM storage_reservations WHERE task_id = $1", task_id)


async def cleanup_dead_reservations(db: DB | Tx) -> int:
    """Delete reservations whose machine is dead or no longer owns the task.

    They are already ignored by every space calculation; deleting them keeps the table small.
    """
    return await db.exec(
        "DELETE FROM storage_reservations r WHERE NOT EXISTS "
        "(SELECT 1 FROM storage_reservations_live l WHERE l.id = r.id)"
    )
