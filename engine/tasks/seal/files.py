"""Finding a sector's files on this host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.storage import SectorFileType, SectorNotFound, find_sector

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["local_files"]


async def local_files(
    db: DB, host: str, sp_id: int, number: int, types: SectorFileType
) -> dict[SectorFileType, Path]:
    """The local path of each of the sector's files of ``types`` (primary copies first).

    Raises:
        SectorNotFound: a type has no declared copy on a path attached to ``host``.
    """
    found: dict[SectorFileType, Path] = {}
    for loc in await find_sector(db, sp_id, number, types, host=host):
        if loc.local_path is not None and loc.file_type not in found:
            found[loc.file_type] = loc.local_path
    missing = [str(ft) for ft in types.bits() if ft not in found]
    if missing:
        raise SectorNotFound(
            f"sector t0{sp_id}-{number}: no {', '.join(missing)} file on a path of {host}"
        )
    return found
