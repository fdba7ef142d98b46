"""SDR labelling of the devnet seal: the replica id, labels, columns and layer files.

``label(layer, i) = trunc254(SHA256(replica_id || LE32(layer) || LE64(i) || parents))`` where
the parents (see :mod:`engine.proofs.graph`) are the base parents' labels in the same layer
and, from layer 2 on, the expander parents' labels in the previous layer. Layers are strictly
sequential, like Filecoin's SDR: label ``i`` needs label ``i - 1``, so the work cannot be
parallelised within a layer, and it grows linearly with the sector size.

Layers are written through ``mmap`` of their files (no sector-sized buffer in process
memory); the expander parents of a chunk of nodes are gathered in one pass because the
previous layer is complete, which halves the per-node Python work of layer 2 onwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from collections.abc import Iterator

from engine.proofs import graph
from engine.proofs.cache_files import layer_file
from engine.proofs.errors import SectorFileTruncated
from engine.proofs.files import open_for_read
from engine.proofs.hashing import NODE, TRUNC_TABLE, hash_level, sha256_trunc254

__all__ = [
    "CHUNK_NODES",
    "column_hash",
    "column_hashes",
    "label",
    "porep_seed",
    "replica_id",
    "write_layers",
]

CHUNK_NODES = 1 << 15
"""Nodes per processing step (1 MiB of labels)."""


def porep_seed(seal_proof: int) -> bytes:
    """32-byte porep id of a RegisteredSealProof: LE64(proof) then zeros, as rust-fil-proofs."""
    return seal_proof.to_bytes(8, "little") + bytes(24)


def replica_id(
    prover_id: bytes, sector_number: int, ticket: bytes, comm_d: bytes, porep_seed: bytes
) -> bytes:
    """``trunc254(SHA256(prover_id || LE64(sector_number) || ticket || comm_d || porep_seed))``."""
    for name, value in (("prover_id", prover_id), ("ticket", ticket), ("comm_d", comm_d)):
        if len(value) != 32:
            raise ValueError(f"{name} must be 32 bytes, got {len(value)}")
    return sha256_trunc254(
        prover_id + sector_number.to_bytes(8, "little") + ticket + comm_d + porep_seed
    )


def label(replica_id: bytes, layer: int, node: int, parent_labels: bytes) -> bytes:
    """``trunc254(SHA256(replica_id || LE32(layer) || LE64(node) || parent labels...))``.

    ``parent_labels``: base parents' labels (this layer), then, from layer 2, the expander
    parents' labels (previous layer), in :func:`graph.parents` order.
    """
    return sha256_trunc254(
        replica_id + layer.to_bytes(4, "little") + node.to_bytes(8, "little") + parent_labels
    )


def column_hash(labels: bytes) -> bytes:
    """TreeC leaf: hash of a node's labels in all layers, layer 1 first."""
    return sha256_trunc254(labels)


def column_hashes(layer_chunks: list[bytes]) -> bytes:
    """Column hashes of a run of nodes, given the same run of labels from every layer."""
    if len(layer_chunks) == 2:
        # A column of two labels is exactly a node pair: interleave the layers with strided
        # copies and reuse the bulk level hasher.
        first, second = layer_chunks
        inter = bytearray(2 * len(first))
        for b in range(NODE):
            inter[b :: 2 * NODE] = first[b::NODE]
            inter[NODE + b :: 2 * NODE] = second[b::NODE]
        return bytes(hash_level(inter))
    nodes = len(layer_chunks[0]) // NODE
    cols = [
        b"".join(chunk[i * NODE : (i + 1) * NODE] for chunk in layer_chunks) for i in range(nodes)
    ]
    out = bytearray(b"".join(hashlib.sha256(c).digest() for c in cols))
    out[31::32] = out[31::32].translate(TRUNC_TABLE)
    return bytes(out)


def _label_layer(
    layer: int, rid: bytes, seed: bytes, nodes: int, cur: mmap.mmap, prev: mmap.mmap | None
) -> None:
    """Fill ``cur`` with the labels of ``layer``; ``prev`` is the previous layer (or None)."""
    hdr = rid + layer.to_bytes(4, "little")
    sha = hashlib.sha256
    base_words = graph.BASE_DEGREE - 1
    stride = graph.WORDS
    exp_len = NODE * graph.EXPANDER_DEGREE if prev is not None else 0
    for start in range(0, nodes, CHUNK_NODES):
        stop = min(nodes, start + CHUNK_NODES)
        w = graph.parent_words(seed, start, stop)
        exp_blob = b""
        if prev is not None:
            offs = [
                w[k + j] % nodes * NODE
                for k in range(0, (stop - start) * stride, stride)
                for j in range(base_words, stride)
            ]
            exp_blob = b"".join([prev[o : o + NODE] for o in offs])
        for i in range(start, stop):
            k = (i - start) * stride
            e = (i - start) * exp_len
            pos = i * NODE
            if i:
                o1 = w[k] % i * NODE
                o2 = w[k + 1] % i * NODE
                o3 = w[k + 2] % i * NODE
                o4 = w[k + 3] % i * NODE
                o5 = w[k + 4] % i * NODE
                msg = b"".join(
                    (
                        hdr,
                        i.to_bytes(8, "little"),
                        cur[pos - NODE : pos],
                        cur[o1 : o1 + NODE],
                        cur[o2 : o2 + NODE],
                        cur[o3 : o3 + NODE],
                        cur[o4 : o4 + NODE],
                        cur[o5 : o5 + NODE],
                        exp_blob[e : e + exp_len],
                    )
                )
            else:
                msg = hdr + bytes(8) + exp_blob[e : e + exp_len]
            d = sha(msg).digest()
            cur[pos : pos + NODE] = d
            cur[pos + 31] = d[31] & 0x3F  # trunc254 in place


@contextlib.contextmanager
def _mapped(path: str, size: int, *, write: bool) -> Iterator[mmap.mmap]:
    fd = (
        os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if write else open_for_read(path, "layer file")
    )
    try:
        if write:
            os.ftruncate(fd, size)
        elif (actual := os.fstat(fd).st_size) != size:
            raise SectorFileTruncated(path, size, actual, "layer file")
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_WRITE if write else mmap.ACCESS_READ)
    finally:
        os.close(fd)
    try:
        yield mm
    finally:
        if write:
            mm.flush()
        mm.close()


def write_layers(directory: str, sector_size: int, layers: int, rid: bytes) -> None:
    """Label every layer into ``directory``; each layer goes to a temp name, then renamed."""
    nodes = sector_size // NODE
    seed = graph.graph_seed(sector_size)
    for layer in range(1, layers + 1):
        final = os.path.join(directory, layer_file(layer))
        tmp = final + ".tmp"
        try:
            with _mapped(tmp, sector_size, write=True) as cur:
                if layer == 1:
                    _label_layer(layer, rid, seed, nodes, cur, None)
                else:
                    prev_path = os.path.join(directory, layer_file(layer - 1))
                    with _mapped(prev_path, sector_size, write=False) as prev:
                        _label_layer(layer, rid, seed, nodes, cur, prev)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
