"""A devnet seal: the sealing stages over an unsealed file, a sealed file and a cache dir.

**Not consensus-compatible with Filecoin.** Filecoin's SDR uses Poseidon for TreeC/TreeR
(arity 8), its own DRG and Feistel expander, 11 layers for 32 GiB and a Groth16 SNARK over
the result. This seal keeps the *shape* and the *cost profile*: labels are SHA-256-trunc254
hashes over a seeded parent graph, layer by layer (:mod:`engine.proofs.labels`); the replica
is the data plus the last layer's labels in the BLS12-381 scalar field, so it decodes
(:mod:`engine.proofs.field`); TreeC commits to the columns of labels, TreeR to the replica,
and ``CommR = H(comm_c || comm_r_last)``. Sealing is real, verifiable, sequential work over
real bytes that grows with the sector size, so the pipeline, storage and PoSt code above it
behave as they would on a real cluster.

Stages match Curio's tasks, each a top-level function with plain arguments (paths as ``str``,
``bytes``) so a ``ProcessPoolExecutor`` can run it:

* :func:`sdr` — labels, one ``sc-02-data-layer-<n>.dat`` per layer, and ``t_aux``;
* :func:`tree_d` — TreeD over the unsealed file (``sc-02-data-tree-d.dat``) -> CommD;
* :func:`tree_rc` — encode the replica into the sealed file, TreeC over the label columns,
  TreeR over the replica, ``p_aux`` -> comm_c, comm_r_last, CommR;
* :func:`finalize` — drop the layers, TreeC and TreeD, keep ``p_aux``, ``t_aux`` and TreeR;
* :func:`unseal` — sealed -> unsealed, regenerating the labels if finalize removed them.

The unsealed file is in Filecoin's on-disk form: ``sector_size`` bytes of Fr32-padded data
(every 32-byte node has its top two bits clear). Files are processed in 1 MiB chunks and
the layers are accessed through ``mmap``, so no stage holds a sector in process memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from engine.proofs import graph
from engine.proofs.cache_files import (
    TREE_C,
    TREE_C_LEAVES,
    TREE_D,
    TREE_R_LAST,
    PAux,
    TAux,
    layer_file,
    read_t_aux,
    write_p_aux,
    write_t_aux,
)
from engine.proofs.errors import SectorFileCorrupt, SectorFileTruncated, UnsupportedSectorSize
from engine.proofs.field import decode_chunk, encode_chunk
from engine.proofs.files import atomic_output, file_size, open_for_read, read_exact
from engine.proofs.hashing import NODE, h
from engine.proofs.labels import CHUNK_NODES, column_hashes, porep_seed, replica_id, write_layers
from engine.proofs.merkle import TreeBuilder, build_tree_file
from engine.proofs.sizes import SEALABLE_SIZES, spec_for

__all__ = [
    "SdrResult",
    "SealResult",
    "TreeRCResult",
    "finalize",
    "sdr",
    "seal",
    "tree_d",
    "tree_rc",
    "unseal",
    "write_cc_unsealed",
]


@dataclass(frozen=True)
class SdrResult:
    """Outcome of :func:`sdr`."""

    replica_id: bytes
    layers: int
    sector_size: int


@dataclass(frozen=True)
class TreeRCResult:
    """Outcome of :func:`tree_rc`; ``comm_r = H(comm_c || comm_r_last)``."""

    comm_c: bytes
    comm_r_last: bytes
    comm_r: bytes


@dataclass(frozen=True)
class SealResult:
    """Outcome of :func:`seal` (all stages)."""

    comm_d: bytes
    comm_r: bytes
    comm_c: bytes
    comm_r_last: bytes
    replica_id: bytes


def _check_size(sector_size: int) -> int:
    if sector_size not in SEALABLE_SIZES:
        raise UnsupportedSectorSize(
            f"the devnet seal supports 2KiB, 8MiB and 512MiB sectors, not {sector_size} bytes"
        )
    return spec_for(sector_size).sdr_layers


def _check_unsealed(path: str, sector_size: int) -> None:
    size = file_size(path, "unsealed file")
    if size != sector_size:
        raise SectorFileTruncated(path, sector_size, size, "unsealed file")


def _chunks(path: str, size: int, what: str) -> Iterator[bytes]:
    """Read a sector-sized file in 1 MiB chunks, checking its size first."""
    fd = open_for_read(path, what)
    try:
        actual = os.fstat(fd).st_size
        if actual != size:
            raise SectorFileTruncated(path, size, actual, what)
        step = CHUNK_NODES * NODE
        for off in range(0, size, step):
            yield read_exact(fd, path, min(step, size - off), off, what)
    finally:
        os.close(fd)


def write_cc_unsealed(path: str, sector_size: int) -> None:
    """Write the unsealed file of a CC (committed-capacity, empty) sector: all zeros."""
    with open(path, "wb") as f:
        f.truncate(sector_size)


def sdr(
    cache_dir: str,
    sector_size: int,
    prover_id: bytes,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
) -> SdrResult:
    """SDR stage: compute every label layer into ``cache_dir`` and write ``t_aux``.

    ``comm_d`` comes from the deal pieces (:func:`commd_from_pieces`), as in Curio; TreeD later
    confirms it from the data. The labels do not depend on the data, only on the replica id.
    """
    layers = _check_size(sector_size)
    rid = replica_id(
        prover_id, sector_number, ticket, comm_d, porep_seed(spec_for(sector_size).seal_proof)
    )
    os.makedirs(cache_dir, exist_ok=True)
    write_layers(cache_dir, sector_size, layers, rid)
    seed = graph.graph_seed(sector_size)
    taux = TAux(sector_size, layers, seed, rid, prover_id, sector_number, ticket, comm_d)
    write_t_aux(cache_dir, taux)
    return SdrResult(rid, layers, sector_size)


def tree_d(unsealed_path: str, cache_dir: str, sector_size: int) -> bytes:
    """TreeD stage: tree over the unsealed (Fr32-padded) file; returns CommD."""
    _check_size(sector_size)
    _check_unsealed(unsealed_path, sector_size)
    os.makedirs(cache_dir, exist_ok=True)
    return build_tree_file(
        unsealed_path, os.path.join(cache_dir, TREE_D), leaf_count=sector_size // NODE
    )


def _check_fr32(path: str, data: bytes, offset: int) -> None:
    tops = data[31::32]
    if max(tops) >= 0x40:
        bad = offset // NODE + next(j for j, b in enumerate(tops) if b >= 0x40)
        raise SectorFileCorrupt(path, f"node {bad} is not an Fr32 field element (unpadded data?)")


def tree_rc(unsealed_path: str, sealed_path: str, cache_dir: str) -> TreeRCResult:
    """TreeRC stage: encode the replica, build TreeC and TreeR, write ``p_aux``.

    Reads the layers written by :func:`sdr` and the unsealed file; writes ``sealed_path``
    atomically. Raises SectorFileCorrupt if the unsealed data is not Fr32-padded.
    """
    taux = read_t_aux(cache_dir)
    size = taux.sector_size
    nodes = size // NODE
    _check_unsealed(unsealed_path, size)
    layer_paths = [os.path.join(cache_dir, layer_file(n)) for n in range(1, taux.layers + 1)]
    with (
        atomic_output(sealed_path) as sealed_fd,
        TreeBuilder(os.path.join(cache_dir, TREE_R_LAST), nodes) as tree_r,
        TreeBuilder(os.path.join(cache_dir, TREE_C), nodes) as tree_c,
        atomic_output(os.path.join(cache_dir, TREE_C_LEAVES)) as c_leaves_fd,
    ):
        layer_iters = [_chunks(p, size, "layer file") for p in layer_paths]
        offset = 0
        for data in _chunks(unsealed_path, size, "unsealed file"):
            _check_fr32(unsealed_path, data, offset)
            layer_chunks = [next(it) for it in layer_iters]
            replica = encode_chunk(data, layer_chunks[-1])
            os.pwrite(sealed_fd, replica, offset)
            tree_r.add(replica)
            columns = column_hashes(layer_chunks)
            os.pwrite(c_leaves_fd, columns, offset)
            tree_c.add(columns)
            offset += len(data)
        comm_r_last = tree_r.finish()
        comm_c = tree_c.finish()
    write_p_aux(cache_dir, PAux(comm_c, comm_r_last))
    return TreeRCResult(comm_c, comm_r_last, h(comm_c, comm_r_last))


def finalize(cache_dir: str) -> tuple[str, ...]:
    """Finalize ("Clear Cache"): remove layers, TreeC and TreeD; returns the names removed.

    Keeps ``p_aux``, ``t_aux`` and TreeR (``sc-02-data-tree-r-last.dat``): all WindowPoSt and
    WinningPoSt need besides the sealed file.
    """
    taux = read_t_aux(cache_dir)
    names = [layer_file(n) for n in range(1, taux.layers + 1)]
    names += [TREE_C, TREE_C_LEAVES, TREE_D]
    removed = []
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(cache_dir, name))
            removed.append(name)
    return tuple(removed)


def unseal(sealed_path: str, cache_dir: str, unsealed_path: str) -> bytes:
    """Recover the unsealed (Fr32-padded) sector from the replica; returns its CommD.

    Uses the last label layer if it is still in the cache, else regenerates the labels in a
    temporary directory (the expensive path, as in Filecoin). The result is checked against
    the CommD recorded at sealing: a mismatch (a corrupt replica) raises SectorFileCorrupt
    and ``unsealed_path`` is left untouched.
    """
    taux = read_t_aux(cache_dir)
    size = taux.sector_size
    last = os.path.join(cache_dir, layer_file(taux.layers))
    scratch: str | None = None
    try:
        if not os.path.exists(last):
            scratch = tempfile.mkdtemp(dir=cache_dir, prefix="unseal.")
            write_layers(scratch, size, taux.layers, taux.replica_id)
            last = os.path.join(scratch, layer_file(taux.layers))
        with atomic_output(unsealed_path) as out_fd, TreeBuilder(None, size // NODE) as tree:
            keys = _chunks(last, size, "layer file")
            offset = 0
            for replica in _chunks(sealed_path, size, "sealed file"):
                data = decode_chunk(replica, next(keys))
                os.pwrite(out_fd, data, offset)
                tree.add(data)
                offset += len(data)
            comm_d = tree.finish()
            if comm_d != taux.comm_d:
                raise SectorFileCorrupt(
                    sealed_path, "unsealed data does not match the sector's CommD (corrupt replica)"
                )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return comm_d


def seal(
    unsealed_path: str,
    sealed_path: str,
    cache_dir: str,
    sector_size: int,
    prover_id: bytes,
    sector_number: int,
    ticket: bytes,
) -> SealResult:
    """All sealing stages in one call (TreeD first to learn CommD), for tests and tools."""
    comm_d = tree_d(unsealed_path, cache_dir, sector_size)
    result = sdr(cache_dir, sector_size, prover_id, sector_number, ticket, comm_d)
    rc = tree_rc(unsealed_path, sealed_path, cache_dir)
    return SealResult(comm_d, rc.comm_r, rc.comm_c, rc.comm_r_last, result.replica_id)
