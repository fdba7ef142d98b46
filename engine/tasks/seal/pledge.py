"""Starting CC sectors (``lotus-miner sectors pledge``) and the auto-pledge that keeps a few in
the pipeline (the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.chain import get_miner

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = ["AutoPledge", "auto_pledge", "pledge_sectors", "set_auto_pledge"]

_ALLOCATE = """
INSERT INTO sector_numbers (sp_id, next_number)
VALUES ($1, GREATEST(
    (SELECT COALESCE(max(sector_number) + 1, 0) FROM sectors_sdr_pipeline WHERE sp_id = $1),
    (SELECT COALESCE(max(sector_number) + 1, 0) FROM chain_sectors WHERE sp_id = $1)) + $2)
ON CONFLICT (sp_id) DO UPDATE SET next_number = sector_numbers.next_number + $2
RETURNING next_number
"""


async def _pledge(tx: Tx, sp_id: int, reg_seal_proof: int, count: int) -> list[int]:
    end = await tx.query_value(_ALLOCATE, sp_id, count)
    numbers = list(range(end - count, end))
    await tx.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof) "
        "SELECT $1, n, $2 FROM unnest($3::bigint[]) AS n",
        sp_id,
        reg_seal_proof,
        numbers,
    )
    tx.notify("sealing", f"pledge:{sp_id}")
    return numbers


async def pledge_sectors(db: DB, sp_id: int, count: int) -> list[int]:
    """Start ``count`` CC sectors for the miner; returns their numbers.

    Raises:
        UnknownMiner: no such miner on the chain.
    """
    if count < 1:
        raise ValueError("pledge at least one sector")
    miner = await get_miner(db, sp_id)

    async def work(tx: Tx) -> list[int]:
        numbers = await _pledge(tx, sp_id, miner.reg_seal_proof, count)
        await tx.commit()
        return numbers

    return await db.transaction(work)


@dataclass(frozen=True)
class AutoPledge:
    sp_id: int
    in_flight: int
    max_sectors: int


async def set_auto_pledge(db: DB, sp_id: int, in_flight: int, max_sectors: int) -> None:
    """Keep ``in_flight`` CC sectors sealing until the miner has ``max_sectors`` (0 = stop)."""
    await get_miner(db, sp_id)
    if in_flight <= 0 or max_sectors <= 0:
        await db.exec("DELETE FROM sectors_auto_pledge WHERE sp_id = $1", sp_id)
        return
    await db.exec(
        "INSERT INTO sectors_auto_pledge (sp_id, in_flight, max_sectors) VALUES ($1, $2, $3) "
        "ON CONFLICT (sp_id) DO UPDATE SET in_flight = EXCLUDED.in_flight, "
        "max_sectors = EXCLUDED.max_sectors",
        sp_id,
        in_flight,
        max_sectors,
    )


_AUTO = """
SELECT a.sp_id, a.in_flight, a.max_sectors, m.reg_seal_proof,
       (SELECT count(*) FROM sectors_sdr_pipeline p WHERE p.sp_id = a.sp_id
           AND NOT p.failed AND NOT p.after_commit_msg_success) AS sealing,
       (SELECT count(*) FROM sectors_sdr_pipeline p WHERE p.sp_id = a.sp_id) AS total
  FROM sectors_auto_pledge a JOIN chain_miners m ON m.sp_id = a.sp_id
   FOR UPDATE OF a
"""


async def auto_pledge(db: DB) -> tuple[list[int], bool]:
    """Top up every auto-pledging miner; returns (sectors started, whether any miner is still
    below its total). The rows are locked, so machines doing this at once do not overshoot."""

    async def work(tx: Tx) -> tuple[list[int], bool]:
        started: list[int] = []
        more = False
        for row in await tx.select(_AUTO):
            room = row["max_sectors"] - row["total"]
            count = min(row["in_flight"] - row["sealing"], room)
            if count > 0:
                started += await _pledge(tx, row["sp_id"], row["reg_seal_proof"], count)
            more = more or room - max(count, 0) > 0
        await tx.commit()
        return started, more

    return await db.transaction(work)
