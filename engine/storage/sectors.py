"""Sector files: Lotus naming, and declaring where each file lives (``sector_location``).

A declaration is the cluster's only knowledge that a file exists on a path: tasks find their
inputs through it and PoSt proves from it. So a file is declared only once it is whole and in
its final place, and a declaration is removed as soon as the file is known to be gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UnknownStoragePath
from .filetypes import SectorFileType
from .hosts import this_host

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "SectorLocation",
    "declare_sector",
    "find_sector",
    "parse_sector_name",
    "sector_file_path",
    "sector_name",
    "undeclare_sector",
]

_NAME = re.compile(r"^s-t0(\d+)-(\d+)$")


def sector_name(miner: int, sector: int) -> str:
    """Lotus ``SectorName``: ``s-t0<miner>-<number>`` (the same on every network)."""
    return f"s-t0{miner}-{sector}"


def parse_sector_name(name: str) -> tuple[int, int] | None:
    """``"s-t01000-7"`` -> ``(1000, 7)``; None for any other name (temp files included)."""
    m = _NAME.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def sector_file_path(root: Path, file_type: SectorFileType, miner: int, sector: int) -> Path:
    """Where a sector's file of ``file_type`` lives under a storage path's local directory."""
    return root / file_type.dir_name / sector_name(miner, sector)


@dataclass(frozen=True)
class SectorLocation:
    """One declared copy of one sector file.

    Attributes:
        local_path: the file on the asking host, or None when the path is not attached there.
        urls: every host's URL for the storage path.
    """

    miner: int
    sector: int
    file_type: SectorFileType
    storage_id: str
    is_primary: bool
    sector_size: int | None
    local_path: Path | None
    urls: list[str]


async def declare_sector(
    db: DB | Tx,
    storage_id: str,
    miner: int,
    sector: int,
    file_type: SectorFileType,
    *,
    primary: bool = True,
    sector_size: int | None = None,
) -> None:
    """Record that a whole file of ``file_type`` for the sector is on ``storage_id``.

    Idempotent. As in Curio, ``is_primary`` only goes false -> true: a secondary copy
    re-declared as secondary must not demote the primary. A file declared again is whole and
    in place: a mark that it had gone missing (:mod:`.missing`) is cleared.

    Raises:
        UnknownStoragePath: no storage path has this ID.
        ValueError: ``file_type`` is not a single type.
    """
    if not file_type.is_single():
        raise ValueError(f"declare one file type at a time, not {file_type}")
    count = await db.exec(
        "INSERT INTO sector_location "
        "(miner_id, sector_num, sector_filetype, storage_id, is_primary, sector_size) "
        "SELECT $1, $2, $3, storage_id, $5, $6 FROM storage_path WHERE storage_id = $4 "
        "ON CONFLICT (miner_id, sector_num, sector_filetype, storage_id) DO UPDATE SET "
        "is_primary = sector_location.is_primary OR EXCLUDED.is_primary, "
        "sector_size = COALESCE(EXCLUDED.sector_size, sector_location.sector_size), "
        "missing_since = NULL",
        miner,
        sector,
        int(file_type),
        storage_id,
        primary,
        sector_size,
    )
    if count == 0:
        raise UnknownStoragePath(f"no storage path with ID {storage_id}")


async def undeclare_sector(
    db: DB | Tx, storage_id: str, miner: int, sector: int, file_type: SectorFileType
) -> bool:
    """Forget one declared copy; returns whether it was declared."""
    count = await db.exec(
        "DELETE FROM sector_location "
        "WHERE miner_id = $1 AND sector_num = $2 AND sector_filetype = $3 AND storage_id = $4",
        miner,
        sector,
        int(file_type),
        storage_id,
    )
    return count > 0


async def find_sector(
    db: DB,
    miner: int,
    sector: int,
    file_types: SectorFileType | None = None,
    *,
    host: str | None = None,
) -> list[SectorLocation]:
    """Every declared copy of the sector's files of ``file_types`` (default: all types).

    Copies on paths attached to ``host`` (default: this machine) carry their local file path;
    primary copies come first within a type.
    """
    mask = int(file_types) if file_types is not None else int(SectorFileType.all())
    rows = await db.select(
        "SELECT l.sector_filetype, l.storage_id, l.is_primary, l.sector_size, p.urls, "
        "h.local_path "
        "FROM sector_location l JOIN storage_path p ON p.storage_id = l.storage_id "
        "LEFT JOIN storage_path_hosts h ON h.storage_id = l.storage_id AND h.hostname = $4 "
        "WHERE l.miner_id = $1 AND l.sector_num = $2 AND (l.sector_filetype & $3) <> 0 "
        "ORDER BY l.sector_filetype, l.is_primary DESC, l.storage_id",
        miner,
        sector,
        mask,
        host or this_host(),
    )
    found = []
    for row in rows:
        file_type = SectorFileType(row["sector_filetype"])
        root = row["local_path"]
        found.append(
            SectorLocation(
                miner=miner,
                sector=sector,
                file_type=file_type,
                storage_id=row["storage_id"],
                is_primary=row["is_primary"],
                sector_size=row["sector_size"],
                local_path=sector_file_path(Path(root), file_type, miner, sector) if root else None,
                urls=[u for u in row["urls"].split(",") if u],
            )
        )
    return found
