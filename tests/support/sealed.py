"""Real small sectors for storage and proof tests: 2 KiB sealed by the engine's own proofs code
into a storage path's directories (``unsealed/``, ``sealed/`` and ``cache/``)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from engine.proofs import fr32
from engine.proofs.challenges import prover_id
from engine.proofs.cid import sealed_cid
from engine.proofs.sdr import SealResult, finalize, seal
from engine.proofs.sizes import SECTOR_2KIB
from engine.storage import SectorFileType, sector_file_path
from engine.tasks.window.files import PartitionSector

__all__ = ["seal_into", "seal_unfinalized", "ticket_of"]

FT = SectorFileType


def ticket_of(number: int) -> bytes:
    """The sealing ticket these helpers use for sector ``number``."""
    return hashlib.sha256(b"ticket %d" % number).digest()


def seal_unfinalized(root: Path, number: int, miner: int = 1000) -> SealResult:
    """Seal sector ``number`` of ``miner`` (2 KiB of data seeded by its number) into ``root``,
    as a sealing path holds it before PoRep: the Fr32-padded unsealed file, the replica and
    the whole cache (layers and trees)."""
    unsealed = sector_file_path(root, FT.UNSEALED, miner, number)
    sealed = sector_file_path(root, FT.SEALED, miner, number)
    cache = sector_file_path(root, FT.CACHE, miner, number)
    for parent in (unsealed.parent, sealed.parent):
        parent.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True)
    unsealed.write_bytes(fr32.pad(random.Random(number).randbytes(2032)))
    return seal(
        str(unsealed),
        str(sealed),
        str(cache),
        SECTOR_2KIB,
        prover_id(miner),
        number,
        ticket_of(number),
    )


def seal_into(root: Path, number: int, miner: int = 1000) -> PartitionSector:
    """Seal sector ``number`` into ``root``'s ``sealed/`` and ``cache/`` and finalize the
    cache (no unsealed copy), as a storage path holds a proven sector; returns it as a
    partition lists it (active, with its CommR's CID)."""
    r = seal_unfinalized(root, number, miner)
    finalize(str(sector_file_path(root, FT.CACHE, miner, number)))
    sector_file_path(root, FT.UNSEALED, miner, number).unlink()
    return PartitionSector(number, sealed_cid(r.comm_r), "active")
