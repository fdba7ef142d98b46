"""The devnet seal's parent graph: which earlier labels each SDR label depends on.

Like Filecoin's SDR, every node has ``BASE_DEGREE`` base parents in its own layer (the node
just before it plus pseudo-random earlier nodes, a depth-robust-style graph) and, from layer
2 on, ``EXPANDER_DEGREE`` expander parents anywhere in the previous layer. The graph depends
only on a graph seed (derived from the sector size, like Filecoin's porep id), never on the
sector, so a verifier can recompute the parents of any single node on its own from a few
hundred bytes of SHAKE-128 output, while the labeller derives them in bulk.

The distribution is not Filecoin's bucket-sampling DRG nor its Feistel expander; it only
needs to be deterministic, cheap and spread out.
"""

from __future__ import annotations

import array
import hashlib
import sys

__all__ = [
    "BASE_DEGREE",
    "EXPANDER_DEGREE",
    "graph_seed",
    "parent_words",
    "parents",
]

BASE_DEGREE = 6
"""Base parents: node ``i - 1`` and 5 pseudo-random nodes in ``[0, i)``; node 0 has none."""

EXPANDER_DEGREE = 8
"""Expander parents: 8 pseudo-random nodes of the previous layer (layers >= 2)."""

WORDS = BASE_DEGREE - 1 + EXPANDER_DEGREE
"""Pseudo-random 32-bit words per node."""

GROUP = 64
"""Nodes whose words come from one XOF call."""

_NODE_BYTES = 4 * WORDS
_GROUP_BYTES = GROUP * _NODE_BYTES
_GRAPH_DOMAIN = b"harmony-devnet-sdr-graph-v1"


def graph_seed(sector_size: int) -> bytes:
    """The 32-byte seed of the parent graph for one sector size."""
    return hashlib.sha256(_GRAPH_DOMAIN + sector_size.to_bytes(8, "little")).digest()


def _group_words(seed: bytes, group: int) -> bytes:
    return hashlib.shake_128(seed + group.to_bytes(8, "little")).digest(_GROUP_BYTES)


def parent_words(seed: bytes, start: int, stop: int) -> memoryview:
    """The pseudo-random words of nodes ``start..stop-1``: ``WORDS`` unsigned 32-bit each.

    Words come from SHAKE-128 over ``seed || LE64(group)``, one XOF call per group of
    ``GROUP`` consecutive nodes: bulk derivation costs one C call per 64 nodes, and the words
    of a single node still cost only one small XOF call.

    Returns a flat ``memoryview`` of format ``"I"``; word ``w`` of node ``i`` is at
    ``(i - start) * WORDS + w``.
    """
    if stop <= start:
        return memoryview(b"").cast("I")
    first, last = start // GROUP, (stop - 1) // GROUP
    raw = b"".join([_group_words(seed, g) for g in range(first, last + 1)])
    begin = (start - first * GROUP) * _NODE_BYTES
    raw = raw[begin : begin + (stop - start) * _NODE_BYTES]
    if sys.byteorder == "big":  # the words are defined little-endian
        arr = array.array("I", raw)
        arr.byteswap()
        raw = arr.tobytes()
    return memoryview(raw).cast("I")


def parents(seed: bytes, nodes: int, i: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Base and expander parents of node ``i`` in a graph of ``nodes`` nodes.

    Returns:
        ``(base, expander)``; ``base`` is empty for node 0, else ``(i - 1, r0 % i, ..., r4 % i)``;
        ``expander`` is ``(r5 % nodes, ..., r12 % nodes)`` (used from layer 2 on).
    """
    if not 0 <= i < nodes:
        raise IndexError(f"node {i} out of range 0..{nodes - 1}")
    w = parent_words(seed, i, i + 1)
    base = () if i == 0 else (i - 1, *(w[j] % i for j in range(BASE_DEGREE - 1)))
    expander = tuple(w[j] % nodes for j in range(BASE_DEGREE - 1, WORDS))
    return base, expander
