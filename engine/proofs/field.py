"""Replica encoding in the BLS12-381 scalar field: replica = data + key (mod p).

Every 32-byte node is a little-endian field element. Encoding with field addition (as
Filecoin's SDR does) keeps sealing decodable: unseal subtracts the same key.

Why big integers: a whole chunk of nodes is added as one Python integer. Data nodes (Fr32)
and keys (truncated labels) are below 2^254, so each node's sum stays below 2^255 and no
carry crosses a node boundary; only the few nodes that reach p need a per-node fix-up.
"""

from __future__ import annotations

from functools import lru_cache

from engine.proofs.hashing import NODE

__all__ = [
    "FIELD_MODULUS",
    "decode_chunk",
    "decode_node",
    "encode_chunk",
    "encode_node",
]

FIELD_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""The BLS12-381 scalar field modulus p."""

_P_BYTES = FIELD_MODULUS.to_bytes(32, "little")


def encode_node(data: bytes, key: bytes) -> bytes:
    """Replica node = (data + key) mod p, 32-byte little-endian."""
    value = (int.from_bytes(data, "little") + int.from_bytes(key, "little")) % FIELD_MODULUS
    return value.to_bytes(32, "little")


def decode_node(replica: bytes, key: bytes) -> bytes:
    """Data node = (replica - key) mod p."""
    value = (int.from_bytes(replica, "little") - int.from_bytes(key, "little")) % FIELD_MODULUS
    return value.to_bytes(32, "little")


_GE_73 = bytes(1 if b >= 0x73 else 0 for b in range(256))


@lru_cache(maxsize=4)
def _p_repeated(nodes: int) -> int:
    return int.from_bytes(_P_BYTES * nodes, "little")


def _reduce(buf: bytearray) -> None:
    """Subtract p from every node of ``buf`` holding a value in [p, 2p).

    Only nodes whose top byte is >= 0x73 (p's top byte) can be >= p: they are found in bulk
    and checked one by one (about 2 % of random nodes).
    """
    flags = buf[31::32].translate(_GE_73)
    j = flags.find(1)
    while j >= 0:
        off = j * NODE
        value = int.from_bytes(buf[off : off + NODE], "little")
        if value >= FIELD_MODULUS:
            buf[off : off + NODE] = (value - FIELD_MODULUS).to_bytes(NODE, "little")
        j = flags.find(1, j + 1)


def encode_chunk(data: bytes, key: bytes) -> bytearray:
    """Encode a chunk of nodes; both inputs must hold values below 2^254 per node."""
    total = int.from_bytes(data, "little") + int.from_bytes(key, "little")
    out = bytearray(total.to_bytes(len(data), "little"))
    _reduce(out)
    return out


def decode_chunk(replica: bytes, key: bytes) -> bytearray:
    """Decode a chunk of nodes (replica nodes < p, keys < 2^254).

    ``replica + p - key`` lies in (0, 2p) per node, so no borrow or carry crosses a node.
    """
    nodes = len(replica) // NODE
    total = int.from_bytes(replica, "little") + _p_repeated(nodes) - int.from_bytes(key, "little")
    out = bytearray(total.to_bytes(len(replica), "little"))
    _reduce(out)
    return out
