"""Challenge derivation: which leaves and sectors a proof must open.

PoSt formulas are Filecoin's (rust-fil-proofs ``storage-proofs-post/src/fallback``), with
``ApiVersion >= 1.2`` challenge indexing (``challenge_index = n``). The PoRep formula is our
devnet seal's own: Filecoin derives interactive PoRep challenges differently, and our seal is
not consensus-compatible anyway.

Every function is deterministic in its inputs so the prover and the verifier derive the same
challenges independently: the verifier never trusts a challenge list it is handed.
"""

from __future__ import annotations

import hashlib

from engine.proofs.cid import encode_varint

__all__ = [
    "clear_top_bits",
    "porep_challenge",
    "porep_challenges",
    "post_challenge_leaf",
    "post_challenges",
    "prover_id",
    "winning_sector_index",
    "winning_sector_indices",
]


def _le64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _check32(name: str, value: bytes) -> None:
    if len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {len(value)}")


def clear_top_bits(randomness: bytes) -> bytes:
    """Clear the top two bits of byte 31, as Lotus does before handing randomness to proofs."""
    _check32("randomness", randomness)
    return randomness[:31] + bytes((randomness[31] & 0x3F,))


def prover_id(miner_actor_id: int) -> bytes:
    """32-byte prover id: the unsigned-varint actor id, right-padded with zeros.

    This is the payload of an ID address (``f01234``) as filecoin-ffi ``toProverID`` builds it.
    """
    raw = encode_varint(miner_actor_id)
    return raw + bytes(32 - len(raw))


def post_challenge_leaf(randomness: bytes, sector_id: int, n: int, leaves: int) -> int:
    """Leaf challenged by the ``n``-th PoSt challenge of a sector.

    ``LE64(SHA256(randomness || LE64(sector_id) || LE64(n))[0:8]) mod leaves``.
    """
    _check32("randomness", randomness)
    digest = hashlib.sha256(randomness + _le64(sector_id) + _le64(n)).digest()
    return int.from_bytes(digest[:8], "little") % leaves


def post_challenges(randomness: bytes, sector_id: int, count: int, leaves: int) -> list[int]:
    """The ``count`` leaf challenges of one sector (WindowPoSt: 10, WinningPoSt: 66)."""
    return [post_challenge_leaf(randomness, sector_id, n, leaves) for n in range(count)]


def winning_sector_index(prover_id: bytes, randomness: bytes, n: int, eligible: int) -> int:
    """Index (into the eligible sector list) of the ``n``-th WinningPoSt sector.

    ``LE64(SHA256(prover_id || randomness || LE64(n))[0:8]) mod eligible``.
    """
    _check32("prover_id", prover_id)
    _check32("randomness", randomness)
    if eligible <= 0:
        raise ValueError("no eligible sectors to challenge")
    digest = hashlib.sha256(prover_id + randomness + _le64(n)).digest()
    return int.from_bytes(digest[:8], "little") % eligible


def winning_sector_indices(
    prover_id: bytes, randomness: bytes, eligible: int, count: int = 1
) -> list[int]:
    """The WinningPoSt sector choices (mainnet: one sector)."""
    return [winning_sector_index(prover_id, randomness, n, eligible) for n in range(count)]


def porep_challenge(replica_id: bytes, seed: bytes, j: int, nodes: int) -> int:
    """Node opened by the ``j``-th PoRep challenge of our devnet seal.

    ``LE64(SHA256(replica_id || seed || LE64(j))[0:8]) mod (nodes - 1) + 1``: node 0 is never
    challenged because it has no base parents, so opening it would check almost nothing.
    """
    _check32("replica_id", replica_id)
    _check32("seed", seed)
    digest = hashlib.sha256(replica_id + seed + _le64(j)).digest()
    return int.from_bytes(digest[:8], "little") % (nodes - 1) + 1


def porep_challenges(replica_id: bytes, seed: bytes, count: int, nodes: int) -> list[int]:
    """All PoRep challenges of a sector for the interactive ``seed``."""
    return [porep_challenge(replica_id, seed, j, nodes) for j in range(count)]
