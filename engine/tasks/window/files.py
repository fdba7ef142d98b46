"""A partition's sectors and where their files are, for PoSt on this host."""

from __future__ import annotations

from dataclasses import dataclass

from engine.harmonydb import DB
from engine.proofs import PostSector, SectorFault, sealed_cid_to_commitment
from engine.storage import SectorFileType, find_sector

from ..storage import LocalFiles

__all__ = ["PartitionSector", "locate", "partition_sectors", "remote_only"]

S, C = SectorFileType.SEALED, SectorFileType.CACHE


@dataclass(frozen=True)
class PartitionSector:
    sector_number: int
    sealed_cid: str
    state: str

    @property
    def comm_r(self) -> bytes:
        return sealed_cid_to_commitment(self.sealed_cid)


async def partition_sectors(
    db: DB, sp_id: int, deadline: int, partition: int, states: tuple[str, ...]
) -> list[PartitionSector]:
    return await db.select(
        "SELECT sector_number, sealed_cid, state FROM chain_sectors WHERE sp_id = $1 "
        'AND deadline = $2 AND "partition" = $3 AND state = ANY($4::text[]) '
        "ORDER BY sector_number",
        sp_id,
        deadline,
        partition,
        list(states),
        into=PartitionSector,
    )


async def locate(
    db: DB, host: str, sp_id: int, sectors: list[PartitionSector]
) -> tuple[list[PostSector], list[SectorFault]]:
    """PoSt inputs for the sectors whose sealed file and cache are declared on this host; a
    fault (``missing``) for each of the others."""
    found: list[PostSector] = []
    faults: list[SectorFault] = []
    for s in sectors:
        paths = {}
        for loc in await find_sector(db, sp_id, s.sector_number, S | C, host=host):
            if loc.local_path is not None:
                paths.setdefault(loc.file_type, loc.local_path)
        if S in paths and C in paths:
            found.append(PostSector(s.sector_number, s.comm_r, str(paths[S]), str(paths[C])))
        else:
            faults.append(
                SectorFault(
                    s.sector_number,
                    "missing",
                    f"no sealed file and cache of sector {s.sector_number} declared on {host}",
                )
            )
    return found, faults


async def remote_only(db: DB, host: str, sp_id: int, sectors: list[PartitionSector]) -> None:
    """Raise :class:`LocalFiles` if a sector's files are declared only on other hosts: another
    machine should prove this partition (a sector declared nowhere is a fault anywhere)."""
    for s in sectors:
        locs = await find_sector(db, sp_id, s.sector_number, S | C, host=host)
        if locs and not any(loc.local_path is not None for loc in locs):
            raise LocalFiles(
                f"sector t0{sp_id}-{s.sector_number} is stored on another host, not {host}"
            )
