"""The provability check (``lotus-miner proving check``): can each sector of a deadline be
proven right now?

Every live sector of the deadline (or of one partition) is put through the same code paths as
the ``WdPost`` task: :func:`~.files.locate` finds its sealed file and cache on this host,
:func:`~engine.proofs.generate_window_post` generates and checks its vanilla proof over the
files, and a sector whose files are on another host is proven there
(:func:`~.files.prove_elsewhere`, ``/remote/vanilla/single``) and verified here. That matters:
a sector the check calls good is one the next real WindowPoSt will prove, and a sector it
calls bad is one that PoSt would skip (and the chain would mark faulty), for the same reason.

The challenge is fresh randomness (like Curio's ``SimpleFaultTracker.CheckProvable``), never
the chain's, so a check never hints at, nor precomputes, a real challenge; and over a few runs
different leaves are opened. The check is read-only: it SELECTs from the database (it works
under ``--read-only`` and a SELECT-only role), opens sector files for reading, and submits,
declares or records nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.chain import LIVE_STATES
from engine.proofs import WINDOW_POST_CHALLENGES, PostSector, SectorFault, generate_window_post
from engine.proofs.errors import ProofError, SectorFileMissing, SectorFileUnreadable
from engine.proofs.post import FaultKind, prove_sector
from engine.storage import this_host

from .files import PartitionSector, locate, partition_sectors, prove_elsewhere

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.harmonytask import ProcessPool

__all__ = [
    "CHECK_CONCURRENCY",
    "SECTOR_TIMEOUT",
    "NoSuchPartition",
    "SectorCheck",
    "check_provable",
    "deadline_partitions",
    "sector_fault",
]

#: Sectors checked at once on this host (Curio's ``parallelCheckLimit``): reads of one
#: partition's files overlap, without flooding a disk with a whole deadline at once.
CHECK_CONCURRENCY = 8

#: Seconds one sector's local check may take before it is reported bad (a hung mount must not
#: hang the check; Curio's ``singleCheckTimeout``).
SECTOR_TIMEOUT = 60.0

#: What a fault kind is called in the report (lotus's "bad (reason)").
_LABELS = {"missing": "missing file", "unreadable": "unreadable", "corrupt": "corrupt"}

#: Messages of the proofs code (local and remote) saying the cache does not match the sector's
#: on-chain CommR: reported as "wrong CommR" instead of plain "corrupt".
_WRONG_COMM_R = ("does not hash to the sector's comm_r", "H(comm_c || comm_r_last) != comm_r")


class NoSuchPartition(ValueError):
    """The deadline has no such partition (or no live sector at all)."""


@dataclass(frozen=True)
class SectorCheck:
    """One sector's verdict.

    Attributes:
        ok: its vanilla proof for a fresh challenge was generated and verified.
        kind: ``None`` when ok; else ``missing``, ``unreadable``, ``corrupt``, ``wrong-commr``
            or ``timeout``.
        reason: empty when ok; else what is wrong, naming the file or the URL asked.
    """

    deadline: int
    partition: int
    sector: int
    ok: bool
    reason: str = ""
    kind: str | None = None
    state: str = "active"


async def deadline_partitions(db: DB, sp_id: int, deadline: int) -> list[int]:
    """The partitions of a deadline that hold live sectors, in order."""
    rows = await db.select(
        'SELECT DISTINCT "partition" AS p FROM chain_sectors WHERE sp_id = $1 AND deadline = $2 '
        'AND state = ANY($3::text[]) ORDER BY "partition"',
        sp_id,
        deadline,
        list(LIVE_STATES),
    )
    return [r["p"] for r in rows]


async def check_provable(
    db: DB,
    miner: int,
    deadline: int,
    *,
    partition: int | None = None,
    only_bad: bool = False,
    slow: bool = True,
    host: str | None = None,
    faulty: bool = False,
    storage_id: str | None = None,
    pool: ProcessPool | None = None,
    sector_timeout: float = SECTOR_TIMEOUT,
) -> list[SectorCheck]:
    """Check every live sector of ``deadline`` of miner ``miner`` (an actor id), or of one
    ``partition``; ordered by partition, then sector.

    Args:
        only_bad: leave good sectors out of the result.
        slow: generate and verify the vanilla proof (what WindowPoSt does). Off, only the files
            are checked: present, sized, the cache hashing to the sector's CommR and TreeR's
            root matching it; no leaf is opened.
        host: the host whose storage paths are read locally (default: this one); sectors on
            other hosts are proven by a host serving them.
        faulty: check only sectors the chain has as faulty (will they recover?).
        storage_id: check only sectors with a file in that storage path.
        pool: run the proofs in this process pool (default: threads; the work is mostly reads).
        sector_timeout: seconds a local sector's check may take before it is reported bad.

    Raises:
        NoSuchPartition: ``partition`` is not one of the deadline's.
    """
    host = host or this_host()
    partitions = await deadline_partitions(db, miner, deadline)
    if partition is not None:
        if partition not in partitions:
            have = ", ".join(map(str, partitions)) or "none"
            raise NoSuchPartition(
                f"deadline {deadline} of t0{miner} has no partition {partition} with live "
                f"sectors (partitions: {have})"
            )
        partitions = [partition]
    only: set[int] | None = None
    if storage_id is not None:
        rows = await db.select(
            "SELECT DISTINCT sector_num FROM sector_location WHERE storage_id = $1 "
            "AND miner_id = $2",
            storage_id,
            miner,
        )
        only = {r["sector_num"] for r in rows}
    randomness = secrets.token_bytes(32)  # never the chain's: see the module's docstring
    limit = asyncio.Semaphore(CHECK_CONCURRENCY)
    results: list[SectorCheck] = []
    for part in partitions:
        states = ("faulty",) if faulty else LIVE_STATES
        sectors = await partition_sectors(db, miner, deadline, part, states)
        if only is not None:
            sectors = [s for s in sectors if s.sector_number in only]
        faults = await _check_partition(
            db, host, miner, sectors, randomness, slow, pool, limit, sector_timeout
        )
        for s in sectors:
            fault = faults.get(s.sector_number)
            if fault is None:
                if not only_bad:
                    results.append(
                        SectorCheck(deadline, part, s.sector_number, True, state=s.state)
                    )
                continue
            kind, reason = _verdict(fault)
            results.append(
                SectorCheck(deadline, part, s.sector_number, False, reason, kind, s.state)
            )
    return results


async def _check_partition(
    db: DB,
    host: str,
    miner: int,
    sectors: list[PartitionSector],
    randomness: bytes,
    slow: bool,
    pool: ProcessPool | None,
    limit: asyncio.Semaphore,
    sector_timeout: float,
) -> dict[int, SectorFault]:
    """The faults of one partition's sectors, found as ``WdPost`` finds them: the files on
    ``host`` read here, the others proven by a host serving them (always the full vanilla
    proof: that is all ``/remote/vanilla/single`` serves)."""
    present, faults = await locate(db, host, miner, sectors)

    async def one(sector: PostSector) -> SectorFault | None:
        async with limit:
            call = (
                pool.run(sector_fault, sector, randomness, slow)
                if pool is not None
                else asyncio.to_thread(sector_fault, sector, randomness, slow)
            )
            try:
                return await asyncio.wait_for(call, sector_timeout)
            except TimeoutError:
                return SectorFault(
                    sector.sector_id,
                    "unreadable",
                    f"timeout: its files gave no answer within {sector_timeout:g} s "
                    f"({sector.sealed_path})",
                )

    local = await asyncio.gather(*(one(s) for s in present))
    faults.extend(f for f in local if f is not None)
    _, faults = await prove_elsewhere(
        db, host, miner, sectors, faults, randomness, WINDOW_POST_CHALLENGES
    )
    return {f.sector_id: f for f in faults}


def sector_fault(sector: PostSector, randomness: bytes, slow: bool = True) -> SectorFault | None:
    """Why ``sector`` cannot be proven from its local files, or ``None``.

    Slow: :func:`~engine.proofs.generate_window_post`, the very call ``WdPost`` makes, on this
    one sector. Fast: :func:`~engine.proofs.post.prove_sector` with no challenge, which checks
    t_aux, p_aux against CommR and the replica's and TreeR's sizes and root, and opens no leaf.
    """
    if slow:
        result = generate_window_post([sector], randomness)
        return result.faults[0] if result.faults else None
    try:
        prove_sector(sector, randomness, 0)
    except (ProofError, OSError) as exc:
        return SectorFault(sector.sector_id, _fault_kind(exc), str(exc))
    return None


def _fault_kind(error: BaseException) -> FaultKind:
    """As ``generate_window_post`` classifies a failure."""
    if isinstance(error, SectorFileMissing):
        return "missing"
    if isinstance(error, (SectorFileUnreadable, OSError)):
        return "unreadable"
    return "corrupt"


def _verdict(fault: SectorFault) -> tuple[str, str]:
    """``(kind, reason)`` of a fault, the reason led by its label ("missing file: …")."""
    detail = fault.detail
    if detail.startswith("timeout:"):
        return "timeout", detail
    if fault.kind == "corrupt" and any(p in detail for p in _WRONG_COMM_R):
        return "wrong-commr", f"wrong CommR: {detail}"
    return fault.kind, f"{_LABELS.get(fault.kind, fault.kind)}: {detail}"
