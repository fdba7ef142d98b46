"""Miner actors: an id, a sector size and a proving-period offset fixed at creation.

The offset is Filecoin's (``assign_proving_period_offset``: blake2b of the address and the
creation epoch), so each miner's 48 deadlines open at their own times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.harmonydb import UniqueViolation
from engine.proofs import SEALABLE_SIZES, spec_for

from .deadlines import deadline_info_from_offset, proving_period_offset
from .errors import UnknownMiner

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .config import ChainConfig
    from .deadlines import DeadlineInfo

__all__ = [
    "FIRST_MINER_ID",
    "Miner",
    "create_miner",
    "get_miner",
    "list_miners",
    "parse_miner",
]

FIRST_MINER_ID = 1000


@dataclass(frozen=True)
class Miner:
    sp_id: int
    sector_size: int
    reg_seal_proof: int
    proving_period_offset: int
    created_epoch: int

    @property
    def address(self) -> str:
        return f"t0{self.sp_id}"

    @property
    def partition_size(self) -> int:
        return spec_for(self.sector_size).window_post_partition_sectors

    def deadline(self, config: ChainConfig, epoch: int) -> DeadlineInfo:
        """The deadline open (or current) at ``epoch`` (``StateMinerProvingDeadline``)."""
        return deadline_info_from_offset(config.profile, self.proving_period_offset, epoch)


_COLUMNS = "sp_id, sector_size, reg_seal_proof, proving_period_offset, created_epoch"


def parse_miner(text: str) -> int:
    """``f01000``, ``t01000`` or ``1000`` -> 1000."""
    raw = text.strip().lower()
    if raw[:2] in ("f0", "t0"):
        raw = raw[2:]
    if not raw.isdigit():
        raise ValueError(f"{text!r} is not a miner ID address (f0<id>) or actor id")
    return int(raw)


async def list_miners(db: DB | Tx) -> list[Miner]:
    return await db.select(f"SELECT {_COLUMNS} FROM chain_miners ORDER BY sp_id", into=Miner)


async def get_miner(db: DB | Tx, sp_id: int) -> Miner:
    miner = await db.query_row(
        f"SELECT {_COLUMNS} FROM chain_miners WHERE sp_id = $1", sp_id, into=Miner
    )
    if miner is None:
        raise UnknownMiner(f"no miner t0{sp_id} on this chain (see `harmony chain status`)")
    return miner


async def create_miner(
    db: DB, config: ChainConfig, sector_size: int, *, epoch: int, sp_id: int | None = None
) -> Miner:
    """Create a miner actor at ``epoch``; ``sp_id`` default: the next free id from 1000.

    Raises:
        UnsupportedSectorSize: not a size the devnet can seal.
        ValueError: ``sp_id`` is taken.
    """
    spec = spec_for(sector_size)
    if sector_size not in SEALABLE_SIZES:
        raise ValueError(f"the devnet seals 2KiB, 8MiB and 512MiB sectors, not {spec.name}")

    async def work(tx: Tx) -> Miner:
        actor = sp_id
        if actor is None:
            actor = await tx.query_value(
                "SELECT GREATEST(COALESCE(max(sp_id) + 1, $1), $1) FROM chain_miners",
                FIRST_MINER_ID,
            )
        offset = proving_period_offset(config.profile, actor, epoch)
        try:
            await tx.exec(
                "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, "
                "proving_period_offset, created_epoch) VALUES ($1, $2, $3, $4, $5)",
                actor,
                sector_size,
                spec.seal_proof,
                offset,
                epoch,
            )
        except UniqueViolation:
            raise ValueError(f"miner t0{actor} already exists") from None
        await tx.commit()
        return Miner(actor, sector_size, spec.seal_proof, offset, epoch)

    return await db.transaction(work)
