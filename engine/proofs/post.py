"""WindowPoSt and WinningPoSt vanilla proofs over sealed sectors.

A sector's vanilla proof is ``comm_c``, ``comm_r_last`` and one TreeR inclusion proof per
challenged leaf (10 for WindowPoSt, 66 for WinningPoSt). The verifier checks, as
rust-fil-proofs ``verify_all_partitions`` does: (1) ``H(comm_c || comm_r_last) == comm_r``;
(2) every inclusion proof reaches ``comm_r_last``; (3) every path has the tree's height;
(4) every proof is for the leaf the verifier derives itself from the randomness.
Filecoin then SNARKs this over Poseidon trees; we stop at the vanilla, SHA-256 form.

Generation checks each challenged leaf against TreeR before handing the proof out (like
Lotus's ``CheckProvable``), so a damaged replica is reported as a fault instead of producing
a proof that the chain would reject. In a WindowPoSt partition a faulty sector is reported
with its kind (missing / corrupt / unreadable) and skipped; the others are still proven.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.proofs.cache_files import P_AUX, TREE_R_LAST, read_p_aux, read_t_aux
from engine.proofs.challenges import clear_top_bits, post_challenges, winning_sector_index
from engine.proofs.errors import (
    ProofError,
    SectorFileCorrupt,
    SectorFileMissing,
    SectorFileUnreadable,
)
from engine.proofs.hashing import NODE, h
from engine.proofs.merkle import InclusionProof, TreeReader, verify
from engine.proofs.sizes import WINDOW_POST_CHALLENGES, WINNING_POST_CHALLENGES, spec_for

__all__ = [
    "FaultKind",
    "PostSector",
    "SectorFault",
    "SectorPostProof",
    "WindowPostResult",
    "WinningPostProof",
    "check_sector",
    "generate_window_post",
    "generate_winning_post",
    "partition_sectors",
    "prove_sector",
    "sector_proof_failure",
    "verify_sector_proof",
    "verify_window_post",
    "verify_winning_post",
]

FaultKind = Literal["missing", "corrupt", "unreadable"]


@dataclass(frozen=True)
class PostSector:
    """A sector to prove: its on-chain identity and where its files are on this machine."""

    sector_id: int
    comm_r: bytes
    sealed_path: str
    cache_dir: str


@dataclass(frozen=True)
class SectorPostProof:
    """One sector's vanilla PoSt proof."""

    sector_id: int
    comm_c: bytes
    comm_r_last: bytes
    proofs: tuple[InclusionProof, ...]

    def to_bytes(self) -> bytes:
        """``LE64 sector_id | comm_c | comm_r_last | u16 count | proofs``."""
        return (
            struct.pack("<Q", self.sector_id)
            + self.comm_c
            + self.comm_r_last
            + struct.pack("<H", len(self.proofs))
            + b"".join(p.to_bytes() for p in self.proofs)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SectorPostProof:
        """Inverse of :meth:`to_bytes`; raises ProofError on malformed input."""
        if len(data) < 8 + 2 * NODE + 2:
            raise ProofError("PoSt proof is truncated")
        (sector_id,) = struct.unpack_from("<Q", data, 0)
        comm_c, comm_r_last = data[8:40], data[40:72]
        (count,) = struct.unpack_from("<H", data, 72)
        pos = 74
        proofs = []
        for _ in range(count):
            p, pos = InclusionProof.from_bytes(data, pos)
            proofs.append(p)
        if pos != len(data):
            raise ProofError(f"PoSt proof has {len(data) - pos} trailing bytes")
        return cls(sector_id, bytes(comm_c), bytes(comm_r_last), tuple(proofs))


@dataclass(frozen=True)
class SectorFault:
    """A sector that could not be proven, and why.

    Attributes:
        kind: ``missing`` (a file is gone), ``corrupt`` (wrong size or content) or
            ``unreadable`` (the OS refused the read).
        detail: the error message, naming the file.
    """

    sector_id: int
    kind: FaultKind
    detail: str


@dataclass(frozen=True)
class WindowPostResult:
    """Proofs of the provable sectors of a partition and faults of the others."""

    proofs: tuple[SectorPostProof, ...]
    faults: tuple[SectorFault, ...]


@dataclass(frozen=True)
class WinningPostProof:
    """WinningPoSt: the chosen sector (index into the eligible list) and its proof."""

    sector_index: int
    proof: SectorPostProof


def _fault_kind(error: BaseException) -> FaultKind:
    """Missing and unreadable files are their own kinds; anything else wrong is corruption."""
    if isinstance(error, SectorFileMissing):
        return "missing"
    if isinstance(error, (SectorFileUnreadable, OSError)):
        return "unreadable"
    return "corrupt"


def prove_sector(
    sector: PostSector, randomness: bytes, challenges: int, *, check: bool = True
) -> SectorPostProof:
    """Vanilla proof of one sector for ``randomness`` (top bits cleared here).

    Args:
        sector: the sector and its files.
        randomness: 32 bytes of chain randomness.
        challenges: leaves to open (10 WindowPoSt, 66 WinningPoSt).
        check: verify each opened leaf against TreeR and the cache against ``comm_r``
            (CheckProvable). Only tests turn it off, to see a verifier reject bad bytes.

    Raises:
        SectorFileMissing, SectorFileTruncated, SectorFileUnreadable, SectorFileCorrupt.
    """
    rand = clear_top_bits(randomness)
    taux = read_t_aux(sector.cache_dir)
    paux = read_p_aux(sector.cache_dir)
    spec = spec_for(taux.sector_size)
    p_aux_path = os.path.join(sector.cache_dir, P_AUX)
    if check and h(paux.comm_c, paux.comm_r_last) != sector.comm_r:
        raise SectorFileCorrupt(p_aux_path, "p_aux does not hash to the sector's comm_r")
    tree_path = os.path.join(sector.cache_dir, TREE_R_LAST)
    with TreeReader(sector.sealed_path, tree_path, leaf_count=spec.nodes) as tree:
        if check and tree.root != paux.comm_r_last:
            raise SectorFileCorrupt(tree_path, "TreeR root differs from comm_r_last in p_aux")
        leaves = post_challenges(rand, sector.sector_id, challenges, spec.nodes)
        proofs = []
        for leaf in leaves:
            proof = tree.prove(leaf)
            if check and not verify(paux.comm_r_last, proof, height=spec.tree_height):
                raise SectorFileCorrupt(
                    sector.sealed_path, f"challenged leaf {leaf} does not match TreeR"
                )
            proofs.append(proof)
    return SectorPostProof(sector.sector_id, paux.comm_c, paux.comm_r_last, tuple(proofs))


def check_sector(sector: PostSector, randomness: bytes | None = None) -> SectorFault | None:
    """A "vanilla test": can this sector be proven right now? ``None`` if yes."""
    try:
        prove_sector(sector, randomness or bytes(32), WINDOW_POST_CHALLENGES)
    except (ProofError, OSError) as e:
        return SectorFault(sector.sector_id, _fault_kind(e), str(e))
    return None


def partition_sectors(sectors: Sequence[PostSector], sector_size: int) -> list[list[PostSector]]:
    """Split a deadline's sectors into WindowPoSt partitions (2 sectors for small sizes)."""
    per = spec_for(sector_size).window_post_partition_sectors
    return [list(sectors[i : i + per]) for i in range(0, len(sectors), per)]


def generate_window_post(
    sectors: Sequence[PostSector], randomness: bytes, *, check: bool = True
) -> WindowPostResult:
    """WindowPoSt vanilla proofs for a partition; faulty sectors are reported, not raised."""
    proofs: list[SectorPostProof] = []
    faults: list[SectorFault] = []
    for sector in sectors:
        try:
            proofs.append(prove_sector(sector, randomness, WINDOW_POST_CHALLENGES, check=check))
        except (ProofError, OSError) as e:  # e.g. a t_aux naming an unknown sector size
            faults.append(SectorFault(sector.sector_id, _fault_kind(e), str(e)))
    return WindowPostResult(tuple(proofs), tuple(faults))


def sector_proof_failure(
    sector_id: int,
    comm_r: bytes,
    randomness: bytes,
    proof: SectorPostProof,
    sector_size: int,
    challenges: int,
) -> str | None:
    """Why a sector's vanilla proof fails the four checks, or ``None`` if it passes."""
    spec = spec_for(sector_size)
    if proof.sector_id != sector_id:
        return f"proof is for sector {proof.sector_id}, expected {sector_id}"
    if h(proof.comm_c, proof.comm_r_last) != comm_r:
        return "H(comm_c || comm_r_last) != comm_r"
    leaves = post_challenges(clear_top_bits(randomness), sector_id, challenges, spec.nodes)
    if len(proof.proofs) != len(leaves):
        return f"{len(proof.proofs)} inclusion proofs, expected {len(leaves)}"
    for n, (leaf, p) in enumerate(zip(leaves, proof.proofs, strict=True)):
        if len(p.siblings) != spec.tree_height:
            return f"challenge {n}: path length {len(p.siblings)} != height {spec.tree_height}"
        if p.index != leaf:
            return f"challenge {n}: proof opens leaf {p.index}, challenge is leaf {leaf}"
        if not verify(proof.comm_r_last, p, height=spec.tree_height, index=leaf):
            return f"challenge {n}: leaf {leaf} does not lead to comm_r_last"
    return None


def verify_sector_proof(
    sector_id: int,
    comm_r: bytes,
    randomness: bytes,
    proof: SectorPostProof,
    sector_size: int,
    challenges: int = WINDOW_POST_CHALLENGES,
) -> bool:
    """``True`` if one sector's vanilla proof passes the four checks."""
    return (
        sector_proof_failure(sector_id, comm_r, randomness, proof, sector_size, challenges) is None
    )


def verify_window_post(
    sectors: Sequence[tuple[int, bytes]],
    randomness: bytes,
    proofs: Sequence[SectorPostProof],
    sector_size: int,
) -> bool:
    """Verify a partition: one proof per ``(sector_id, comm_r)``, in the same order.

    The caller lists the sectors it expects to be proven (declared faults excluded).
    """
    if len(sectors) != len(proofs):
        return False
    return all(
        verify_sector_proof(sid, comm_r, randomness, p, sector_size, WINDOW_POST_CHALLENGES)
        for (sid, comm_r), p in zip(sectors, proofs, strict=True)
    )


def generate_winning_post(
    prover_id: bytes, randomness: bytes, eligible: Sequence[PostSector]
) -> WinningPostProof:
    """WinningPoSt: pick one eligible sector from the randomness and prove 66 leaves of it.

    Raises the sector's SectorFileError if the chosen sector cannot be proven: a block
    cannot skip its challenged sector.
    """
    rand = clear_top_bits(randomness)
    index = winning_sector_index(prover_id, rand, 0, len(eligible))
    proof = prove_sector(eligible[index], rand, WINNING_POST_CHALLENGES)
    return WinningPostProof(index, proof)


def verify_winning_post(
    prover_id: bytes,
    randomness: bytes,
    eligible: Sequence[tuple[int, bytes]],
    proof: WinningPostProof,
    sector_size: int,
) -> bool:
    """Verify a WinningPoSt against the eligible ``(sector_id, comm_r)`` list."""
    rand = clear_top_bits(randomness)
    if not eligible or proof.sector_index != winning_sector_index(
        prover_id, rand, 0, len(eligible)
    ):
        return False
    sector_id, comm_r = eligible[proof.sector_index]
    return verify_sector_proof(
        sector_id, comm_r, rand, proof.proof, sector_size, WINNING_POST_CHALLENGES
    )
