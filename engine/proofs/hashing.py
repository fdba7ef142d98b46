"""SHA-256-trunc254: the node hash of Filecoin's CommP/CommD trees, and bulk level hashing.

``h(l, r) = SHA256(l || r)`` with the top two bits of the last byte cleared, so every node is
a valid BLS12-381 scalar in little-endian form (go-fil-commp-hashhash's node hash).

Why the bulk functions look the way they do: in CPython the cost of a tree is the per-node
overhead of the hashlib call (construct + digest, ~0.5 µs), not SHA-256 itself. So a level is
split into 64-byte messages by one precompiled ``struct`` unpack (C speed), hashed by
``map`` (no bytecode per node) and truncated in bulk with one strided ``translate`` over every
32nd byte instead of touching each digest in Python.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable
from functools import lru_cache

__all__ = [
    "NODE",
    "TRUNC_TABLE",
    "h",
    "hash_level",
    "level_root",
    "sha256_trunc254",
    "trunc254",
    "truncate_nodes",
]

NODE = 32
"""Bytes per node."""

TRUNC_TABLE = bytes(b & 0x3F for b in range(256))
"""``bytes.translate`` table clearing the top two bits of a byte."""

_sha256 = hashlib.sha256
_digest: Callable[[object], bytes] = operator.methodcaller("digest")
_MAX_PAIRS = 16384  # 1 MiB of input per struct call: bounded format size, full C speed


def trunc254(digest: bytes) -> bytes:
    """Clear the two most significant bits of a little-endian 32-byte value."""
    return digest[:31] + bytes((digest[31] & 0x3F,))


def sha256_trunc254(data: bytes | bytearray | memoryview) -> bytes:
    """SHA-256 of ``data``, truncated to 254 bits."""
    d = _sha256(data).digest()
    return d[:31] + bytes((d[31] & 0x3F,))


def h(left: bytes, right: bytes) -> bytes:
    """Node hash of two 32-byte children."""
    d = _sha256(left + right).digest()
    return d[:31] + bytes((d[31] & 0x3F,))


def truncate_nodes(buf: bytearray) -> None:
    """Truncate every 32-byte node of ``buf`` to 254 bits, in place, in one C-level pass."""
    buf[31::32] = buf[31::32].translate(TRUNC_TABLE)


@lru_cache(maxsize=32)
def _splitter(pairs: int) -> struct.Struct:
    return struct.Struct("64s" * pairs)


def hash_level(level: bytes | bytearray | memoryview) -> bytearray:
    """Hash a level of ``2k`` nodes into the ``k`` parent nodes above it.

    Args:
        level: concatenated 32-byte nodes; the count must be even.

    Returns:
        The parent level (``len(level) // 2`` bytes), already truncated.
    """
    n = len(level)
    if n % 64:
        raise ValueError(f"a level must hold an even number of 32-byte nodes, got {n} bytes")
    out = bytearray()
    step = 64 * _MAX_PAIRS
    for off in range(0, n, step):
        pairs = min(step, n - off) // 64
        chunks = _splitter(pairs).unpack_from(level, off)
        out += b"".join(map(_digest, map(_sha256, chunks)))
    out[31::32] = out[31::32].translate(TRUNC_TABLE)
    return out


def level_root(level: bytes | bytearray | memoryview) -> bytes:
    """Root of the binary tree whose leaves are ``level`` (a power-of-two count of nodes)."""
    n = len(level)
    if n < NODE or n % NODE or (n // NODE) & (n // NODE - 1):
        raise ValueError(f"leaf count must be a power of two, got {n} bytes")
    cur: bytes | bytearray | memoryview = level
    while len(cur) > NODE:
        cur = hash_level(cur)
    return bytes(cur)
