"""A partition's sectors and where their files are, for PoSt on this host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.harmonydb import DB
from engine.proofs import PostSector, SectorFault, sealed_cid_to_commitment
from engine.storage import SectorFileType, find_sector

from ..storage import LocalFiles

__all__ = [
    "PartitionSector",
    "ProveWhereFilesAre",
    "better_host",
    "locate",
    "partition_sectors",
]

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


#: Per host, how many of the given sectors have both their sealed file and cache on a path
#: attached there; only the asking host ``$6`` and hosts with a live machine that runs ``$5``
#: (the WdPost task type), since a host nobody proves on must not be handed the partition.
_REACH = """
WITH reach AS (
    SELECT h.hostname, l.sector_num
      FROM sector_location l
      JOIN storage_path_hosts h ON h.storage_id = l.storage_id
     WHERE l.miner_id = $1 AND l.sector_num = ANY($2::bigint[])
       AND l.sector_filetype IN ($3, $4)
     GROUP BY h.hostname, l.sector_num
    HAVING count(DISTINCT l.sector_filetype) = 2
)
SELECT r.hostname, count(*) AS sectors
  FROM reach r
 WHERE r.hostname = $6
    OR EXISTS (SELECT 1 FROM harmony_machines m
                 JOIN harmony_machine_details d ON d.machine_id = m.id
                WHERE m.hostname = r.hostname AND m.session IS NOT NULL AND m.lost_at IS NULL
                  AND m.drained_at IS NULL AND NOT m.unschedulable
                  AND $5 = ANY(string_to_array(d.tasks, ',')))
 GROUP BY r.hostname
"""


async def better_host(
    db: DB, host: str, sp_id: int, sectors: list[PartitionSector], task_type: str
) -> None:
    """Raise :class:`LocalFiles` if another host running ``task_type`` reaches more of the
    partition's sectors than ``host`` does, so that host proves the partition instead.

    Files are read only where they are attached (no remote reads), so a partition whose
    sectors are split across hosts cannot be proven whole anywhere. Refusing whenever *some*
    sector was elsewhere (as before) made every host refuse such a partition and it was never
    proven; now the host reaching the most sectors proves it (ties: whoever claims first) and
    the sectors it cannot reach are skipped as ``missing`` in its PoSt, which the chain marks
    faulty: a visible fault instead of a silently missed deadline.
    """
    if not sectors:
        return
    rows = await db.select(
        _REACH,
        sp_id,
        [s.sector_number for s in sectors],
        int(S),
        int(C),
        task_type,
        host,
    )
    reach = {r["hostname"]: r["sectors"] for r in rows}
    mine = reach.get(host, 0)
    best = max(reach.items(), key=lambda kv: kv[1], default=(host, 0))
    if best[1] > mine:
        raise LocalFiles(
            f"{best[1]} of the {len(sectors)} sectors of this partition of t0{sp_id} are on "
            f"{best[0]}, {mine} on {host}: {best[0]} proves it"
        )


#: For one task: the miner and the sectors it proves (None: the task's rows are gone).
SectorsOf = Callable[[int], Awaitable[tuple[int, list[PartitionSector]] | None]]


class ProveWhereFilesAre:
    """The storage requirement of PoSt tasks: nothing is reserved, but the claim is refused
    (:class:`LocalFiles`, the task goes back to the queue) when another host reaches more of
    the sectors to prove; see :func:`better_host`."""

    def __init__(self, db: DB, host: str, task_type: str, sectors_of: SectorsOf) -> None:
        self.db, self.host, self.task_type, self.sectors_of = db, host, task_type, sectors_of

    async def has_capacity(self) -> bool:
        return True

    async def claim(self, task_id: int, machine_id: int) -> ProveWhereFilesAre:
        found = await self.sectors_of(task_id)
        if found is not None:
            await better_host(self.db, self.host, found[0], found[1], self.task_type)
        return self

    async def release(self) -> None:
        return None
