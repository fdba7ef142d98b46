"""Sector sizes, proof-type numbers and piece-size arithmetic (go-state-types ``abi``).

Everything that depends on "which sector size is this" lives here, so the seal, the PoSt code
and the task engine agree on layer counts, partition sizes and challenge counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.proofs.errors import InvalidPieceError, UnsupportedSectorSize

__all__ = [
    "GIB",
    "KIB",
    "MIB",
    "MIN_PIECE_PAYLOAD",
    "NODE_SIZE",
    "SEALABLE_SIZES",
    "SECTOR_2KIB",
    "SECTOR_8MIB",
    "SECTOR_32GIB",
    "SECTOR_64GIB",
    "SECTOR_512MIB",
    "WINDOW_POST_CHALLENGES",
    "WINNING_POST_CHALLENGES",
    "WINNING_POST_SECTORS",
    "SectorSpec",
    "format_sector_size",
    "is_padded_piece_size",
    "padded_piece_size",
    "padded_size",
    "parse_sector_size",
    "sector_size_of_proof",
    "spec_for",
    "unpadded_size",
]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

NODE_SIZE = 32
"""Bytes per Merkle leaf / field element."""

MIN_PIECE_PAYLOAD = 65
"""go-fil-commp-hashhash refuses smaller payloads: the padded tree would be under 128 bytes."""

SECTOR_2KIB = 2 * KIB
SECTOR_8MIB = 8 * MIB
SECTOR_512MIB = 512 * MIB
SECTOR_32GIB = 32 * GIB
SECTOR_64GIB = 64 * GIB

WINDOW_POST_CHALLENGES = 10
WINNING_POST_CHALLENGES = 66
WINNING_POST_SECTORS = 1


@dataclass(frozen=True)
class SectorSpec:
    """What the proofs need to know about one sector size.

    Attributes:
        size: sector size in bytes (padded).
        name: human form, e.g. ``"2KiB"``.
        seal_proof: RegisteredSealProof number (V1_1 family).
        sdr_layers: SDR layer count, as rust-fil-proofs uses for this size.
        window_post_partition_sectors: sectors per WindowPoSt partition.
        porep_challenges: PoRep challenges of our devnet seal (a parameter, not Filecoin's).
    """

    size: int
    name: str
    seal_proof: int
    sdr_layers: int
    window_post_partition_sectors: int
    porep_challenges: int

    @property
    def nodes(self) -> int:
        """32-byte leaves in the sector."""
        return self.size // NODE_SIZE

    @property
    def tree_height(self) -> int:
        """Height of a binary tree over the sector's leaves (6 for 2 KiB)."""
        return self.nodes.bit_length() - 1

    @property
    def unpadded(self) -> int:
        """User bytes that fit once Fr32-padded."""
        return unpadded_size(self.size)


_SPECS: dict[int, SectorSpec] = {
    s.size: s
    for s in (
        SectorSpec(SECTOR_2KIB, "2KiB", 5, 2, 2, 10),
        SectorSpec(SECTOR_8MIB, "8MiB", 6, 2, 2, 10),
        SectorSpec(SECTOR_512MIB, "512MiB", 7, 2, 2, 10),
        SectorSpec(SECTOR_32GIB, "32GiB", 8, 11, 2349, 176),
        SectorSpec(SECTOR_64GIB, "64GiB", 9, 11, 2300, 176),
    )
}

SEALABLE_SIZES: tuple[int, ...] = (SECTOR_2KIB, SECTOR_8MIB, SECTOR_512MIB)
"""Sizes the devnet seal accepts; 32/64 GiB exist for arithmetic and display only."""

_PROOF_FAMILIES = (0, 5, 10, 15)  # V1, V1_1, V1_1_Feat_SyntheticPoRep, V1_2_Feat_NiPoRep
_ORDER = (SECTOR_2KIB, SECTOR_8MIB, SECTOR_512MIB, SECTOR_32GIB, SECTOR_64GIB)


def spec_for(sector_size: int) -> SectorSpec:
    """The spec of a sector size; raises UnsupportedSectorSize for anything else."""
    try:
        return _SPECS[sector_size]
    except KeyError:
        raise UnsupportedSectorSize(f"unsupported sector size {sector_size} bytes") from None


def sector_size_of_proof(seal_proof: int) -> int:
    """Sector size of any RegisteredSealProof number (V1, V1_1, synthetic, NI families)."""
    if not 0 <= seal_proof < 20:
        raise UnsupportedSectorSize(f"unknown RegisteredSealProof {seal_proof}")
    return _ORDER[seal_proof % 5]


_SIZE_RE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kib": KIB, "mib": MIB, "gib": GIB, "tib": 1024 * GIB}


def parse_sector_size(text: str) -> int:
    """Parse ``"2KiB"``, ``"8MiB"``, ``"512MiB"``, ``"32GiB"`` (or plain bytes) to a known size."""
    m = _SIZE_RE.match(text)
    if not m:
        raise UnsupportedSectorSize(f"cannot parse sector size {text!r}")
    size = int(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    return spec_for(size).size


def format_sector_size(size: int) -> str:
    """``2048 -> "2KiB"``; exact binary units only, else plain bytes."""
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def padded_size(unpadded: int) -> int:
    """Padded = Unpadded + Unpadded/127 (exact for 127 x 2^k sizes)."""
    if unpadded % 127:
        raise InvalidPieceError(f"unpadded size {unpadded} is not a multiple of 127")
    return unpadded + unpadded // 127


def unpadded_size(padded: int) -> int:
    """Unpadded = Padded - Padded/128."""
    if padded % 128:
        raise InvalidPieceError(f"padded size {padded} is not a multiple of 128")
    return padded - padded // 128


def is_padded_piece_size(size: int) -> bool:
    """A padded piece is a power of two of at least 128 bytes."""
    return size >= 128 and size & (size - 1) == 0


def padded_piece_size(payload_len: int) -> int:
    """Padded piece size that a payload of ``payload_len`` bytes commits to.

    The payload is zero-filled to a multiple of 127, Fr32-padded, then the tree is completed
    with zero subtrees to the next power of two.
    """
    if payload_len < MIN_PIECE_PAYLOAD:
        raise InvalidPieceError(
            f"piece payload of {payload_len} bytes is below the minimum {MIN_PIECE_PAYLOAD}"
        )
    fr32_len = -(-payload_len // 127) * 128
    return 1 << (fr32_len - 1).bit_length()
