"""A partition's sectors and where their files are, for PoSt on this host.

A sector whose files are on another host is proven there: :func:`prove_elsewhere` asks a host
serving them (``/remote/vanilla/single``, as Curio does) for the sector's vanilla proof and
checks it here like any proof, so a partition split across hosts is proven whole by whichever
host claims it. Only a sector no host can prove stays a fault, naming each URL and its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.proofs import (
    PostSector,
    SectorFault,
    SectorPostProof,
    sealed_cid_to_commitment,
    sector_proof_failure,
)
from engine.storage import SectorFileType, find_sector

from ..storage import LocalFiles

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "PartitionSector",
    "ProveWhereFilesAre",
    "better_host",
    "locate",
    "partition_sectors",
    "prove_elsewhere",
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


async def prove_elsewhere(
    db: DB,
    host: str,
    sp_id: int,
    sectors: list[PartitionSector],
    faults: list[SectorFault],
    randomness: bytes,
    challenges: int,
) -> tuple[list[SectorPostProof], list[SectorFault]]:
    """Vanilla proofs, made by the hosts holding them, of the ``missing`` faults among
    ``sectors``; returns those proofs and the faults that remain.

    Each proof is verified here before it is used (a host with a damaged replica, or a wrong
    answer, leaves a ``corrupt`` fault naming its URL); a sector no serving host answered for
    stays a fault naming every URL tried and why.
    """
    from engine.storage.remote import RemoteReader, RemoteReadError

    wanted = {s.sector_number: s for s in sectors}
    todo = [f for f in faults if f.kind == "missing" and f.sector_id in wanted]
    if not todo:
        return [], faults
    sector_size = await db.query_value(
        "SELECT sector_size FROM chain_miners WHERE sp_id = $1", sp_id
    )
    proofs: list[SectorPostProof] = []
    left = [f for f in faults if f not in todo]
    reader = RemoteReader(db)
    try:
        for fault in todo:
            sector = wanted[fault.sector_id]
            urls = await _serving_both(db, host, sp_id, sector.sector_number)
            if not urls:
                left.append(fault)
                continue
            try:
                url, answer = await reader.vanilla_single(
                    urls, sp_id, sector.sector_number, sector.comm_r, randomness, challenges
                )
            except RemoteReadError as exc:
                left.append(SectorFault(sector.sector_number, "unreadable", str(exc)))
                continue
            if not isinstance(answer, bytes):
                detail = f"{answer.detail} (proven at {url})"
                left.append(SectorFault(sector.sector_number, answer.kind, detail))  # type: ignore[arg-type]
                continue
            why = _failure(sector, answer, randomness, sector_size, challenges)
            if why is None:
                proofs.append(SectorPostProof.from_bytes(answer))
            else:
                detail = f"the proof from {url} does not verify: {why}"
                left.append(SectorFault(sector.sector_number, "corrupt", detail))
    finally:
        await reader.close()
    return proofs, sorted(left, key=lambda f: f.sector_id)


def _failure(
    sector: PartitionSector, data: bytes, randomness: bytes, sector_size: int, challenges: int
) -> str | None:
    try:
        proof = SectorPostProof.from_bytes(data)
    except Exception as exc:  # a malformed answer is the server's fault, not ours
        return f"malformed proof ({exc})"
    return sector_proof_failure(
        sector.sector_number, sector.comm_r, randomness, proof, sector_size, challenges
    )


async def _serving_both(db: DB, host: str, sp_id: int, number: int) -> list[str]:
    """URLs of hosts that serve both the sealed file and the cache (one host proves both)."""
    from engine.storage.remote import serving_all

    return await serving_all(db, host, sp_id, number, S | C)


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

    The host reaching the most sectors proves the partition (ties: whoever claims first): its
    files are read locally, and the sectors it lacks are proven by the hosts holding them
    (:func:`prove_elsewhere`), so a partition split across hosts is proven whole. A sector on a
    host serving none stays ``missing`` in the PoSt, which the chain marks faulty: a visible
    fault instead of a silently missed deadline.
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
