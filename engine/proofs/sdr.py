"""A devnet seal: SDR-style labelling, replica encoding, TreeD/TreeC/TreeR, finalize, unseal.

**Not consensus-compatible with Filecoin.** Filecoin's SDR uses Poseidon for TreeC/TreeR
(arity 8), its own DRG and Feistel expander, 11 layers for 32 GiB and a Groth16 SNARK over
the result. This seal keeps the *shape* and the *cost profile*: labels are SHA-256-trunc254
hashes over a seeded parent graph, layer by layer; the replica is the data plus the last
layer's labels in the BLS12-381 scalar field (so it decodes); TreeC commits to the columns of
labels, TreeR to the replica, and ``CommR = H(comm_c || comm_r_last)``. Sealing is real,
verifiable, sequential work over real bytes that grows with the sector size, so the pipeline,
storage and PoSt code above it behave as they would on a real cluster.

Stages match Curio's tasks, each a top-level function with plain arguments (paths as ``str``,
``bytes``) so a ``ProcessPoolExecutor`` can run it:

* :func:`sdr` — labels, one ``sc-02-data-layer-<n>.dat`` per layer, and ``t_aux``;
* :func:`tree_d` — TreeD over the unsealed file (``sc-02-data-tree-d.dat``) -> CommD;
* :func:`tree_rc` — encode the replica into the sealed file, TreeC over the label columns,
  TreeR over the replica, ``p_aux`` -> comm_c, comm_r_last, CommR;
* :func:`finalize` — drop the layers, TreeC and TreeD, keep ``p_aux``, ``t_aux`` and TreeR;
* :func:`unseal` — sealed -> unsealed, regenerating the labels if finalize removed them.

The unsealed file is in Filecoin's on-disk form: ``sector_size`` bytes of Fr32-padded data
(every 32-byte node has its top two bits clear). Files are processed in chunks and the layers
are accessed through ``mmap``, so no stage needs the sector in process memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from engine.proofs import graph
from engine.proofs.errors import SectorFileCorrupt, SectorFileTruncated, UnsupportedSectorSize
from engine.proofs.files import file_size, open_for_read, read_exact
from engine.proofs.hashing import NODE, TRUNC_TABLE, h, hash_level, sha256_trunc254
from engine.proofs.merkle import TreeBuilder, build_tree_file
from engine.proofs.sizes import SEALABLE_SIZES, spec_for

__all__ = [
    "FIELD_MODULUS",
    "P_AUX",
    "TREE_C",
    "TREE_C_LEAVES",
    "TREE_D",
    "TREE_R_LAST",
    "T_AUX",
    "PAux",
    "SdrResult",
    "SealResult",
    "TAux",
    "TreeRCResult",
    "column_hash",
    "decode_node",
    "encode_node",
    "finalize",
    "label",
    "layer_file",
    "porep_seed",
    "read_p_aux",
    "read_t_aux",
    "replica_id",
    "sdr",
    "seal",
    "tree_d",
    "tree_rc",
    "unseal",
    "write_cc_unsealed",
]

FIELD_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""The BLS12-381 scalar field modulus: replica nodes are field elements, little-endian."""

TREE_D = "sc-02-data-tree-d.dat"
TREE_C = "sc-02-data-tree-c.dat"
TREE_C_LEAVES = "sc-02-data-tree-c-leaves.dat"
TREE_R_LAST = "sc-02-data-tree-r-last.dat"
P_AUX = "p_aux"
T_AUX = "t_aux"
_CHUNK_NODES = 1 << 15  # 1 MiB of 32-byte nodes per processing step
_P_BYTES = FIELD_MODULUS.to_bytes(32, "little")


def layer_file(layer: int) -> str:
    """File name of an SDR layer (1-based), e.g. ``sc-02-data-layer-1.dat``."""
    return f"sc-02-data-layer-{layer}.dat"


@dataclass(frozen=True)
class TAux:
    """What PoSt and unseal need to know about a sealed sector after finalize."""

    sector_size: int
    layers: int
    graph_seed: bytes
    replica_id: bytes
    prover_id: bytes
    sector_number: int
    ticket: bytes
    comm_d: bytes

    def to_json(self) -> str:
        """Stable JSON: sizes as integers, byte strings as hex."""
        return json.dumps(
            {
                "version": 1,
                "sector_size": self.sector_size,
                "layers": self.layers,
                "graph_seed": self.graph_seed.hex(),
                "replica_id": self.replica_id.hex(),
                "prover_id": self.prover_id.hex(),
                "sector_number": self.sector_number,
                "ticket": self.ticket.hex(),
                "comm_d": self.comm_d.hex(),
            },
            indent=1,
        )


@dataclass(frozen=True)
class PAux:
    """The two tree roots whose hash is CommR (Lotus's ``p_aux``: comm_c || comm_r_last)."""

    comm_c: bytes
    comm_r_last: bytes


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


# ---------------------------------------------------------------------------- primitives


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


def _encode_chunk(data: bytes, key: bytes) -> bytearray:
    # data and key nodes are < 2^254, so per-node sums stay below 2^255: no carry crosses a
    # node boundary and one big-integer addition adds every node at once.
    total = int.from_bytes(data, "little") + int.from_bytes(key, "little")
    out = bytearray(total.to_bytes(len(data), "little"))
    _reduce(out)
    return out


def _decode_chunk(replica: bytes, key: bytes) -> bytearray:
    # replica + p - key lies in (0, 2p) per node: no borrow or carry crosses node boundaries.
    nodes = len(replica) // NODE
    total = int.from_bytes(replica, "little") + _p_repeated(nodes) - int.from_bytes(key, "little")
    out = bytearray(total.to_bytes(len(replica), "little"))
    _reduce(out)
    return out


# ---------------------------------------------------------------------------- labelling


def _check_size(sector_size: int) -> int:
    if sector_size not in SEALABLE_SIZES:
        raise UnsupportedSectorSize(
            f"the devnet seal supports 2KiB, 8MiB and 512MiB sectors, not {sector_size} bytes"
        )
    return spec_for(sector_size).sdr_layers


def _label_layer(
    layer: int, rid: bytes, seed: bytes, nodes: int, cur: mmap.mmap, prev: mmap.mmap | None
) -> None:
    """Fill ``cur`` with the labels of ``layer``; ``prev`` is the previous layer (or None)."""
    hdr = rid + layer.to_bytes(4, "little")
    sha = hashlib.sha256
    base_words = graph.BASE_DEGREE - 1
    stride = graph.WORDS
    for start in range(0, nodes, _CHUNK_NODES):
        stop = min(nodes, start + _CHUNK_NODES)
        w = graph.parent_words(seed, start, stop)
        exp_blob = b""
        if prev is not None:
            # Expander parents all lie in the finished previous layer: gather them in bulk.
            offs = [
                w[k + j] % nodes * NODE
                for k in range(0, (stop - start) * stride, stride)
                for j in range(base_words, stride)
            ]
            exp_blob = b"".join([prev[o : o + NODE] for o in offs])
        exp_len = NODE * graph.EXPANDER_DEGREE if prev is not None else 0
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
            cur[pos + 31] = d[31] & 0x3F


@contextlib.contextmanager
def _mapped(path: str, size: int, *, write: bool) -> Iterator[mmap.mmap]:
    flags = os.O_RDWR | os.O_CREAT if write else os.O_RDONLY
    fd = os.open(path, flags, 0o644) if write else open_for_read(path, "layer file")
    try:
        if write:
            os.ftruncate(fd, size)
        elif os.fstat(fd).st_size != size:
            raise SectorFileTruncated(path, size, os.fstat(fd).st_size, "layer file")
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_WRITE if write else mmap.ACCESS_READ)
    finally:
        os.close(fd)
    try:
        yield mm
    finally:
        if write:
            mm.flush()
        mm.close()


def _write_layers(directory: str, sector_size: int, layers: int, rid: bytes) -> None:
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


def _atomic_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    _write_layers(cache_dir, sector_size, layers, rid)
    taux = TAux(
        sector_size,
        layers,
        graph.graph_seed(sector_size),
        rid,
        prover_id,
        sector_number,
        ticket,
        comm_d,
    )
    _atomic_write(os.path.join(cache_dir, T_AUX), taux.to_json().encode())
    return SdrResult(rid, layers, sector_size)


def read_t_aux(cache_dir: str) -> TAux:
    """Load ``t_aux`` from a cache directory (typed errors if missing or malformed)."""
    path = os.path.join(cache_dir, T_AUX)
    fd = open_for_read(path, "t_aux")
    try:
        raw = read_exact(fd, path, os.fstat(fd).st_size, 0, "t_aux")
    finally:
        os.close(fd)
    try:
        d = json.loads(raw)
        return TAux(
            int(d["sector_size"]),
            int(d["layers"]),
            bytes.fromhex(d["graph_seed"]),
            bytes.fromhex(d["replica_id"]),
            bytes.fromhex(d["prover_id"]),
            int(d["sector_number"]),
            bytes.fromhex(d["ticket"]),
            bytes.fromhex(d["comm_d"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise SectorFileCorrupt(path, f"t_aux is not valid: {e}") from None


def read_p_aux(cache_dir: str) -> PAux:
    """Load ``p_aux`` (64 bytes: comm_c || comm_r_last)."""
    path = os.path.join(cache_dir, P_AUX)
    fd = open_for_read(path, "p_aux")
    try:
        size = os.fstat(fd).st_size
        if size != 64:
            raise SectorFileTruncated(path, 64, size, "p_aux")
        raw = read_exact(fd, path, 64, 0, "p_aux")
    finally:
        os.close(fd)
    return PAux(raw[:32], raw[32:])


# ---------------------------------------------------------------------------- trees


def write_cc_unsealed(path: str, sector_size: int) -> None:
    """Write the unsealed file of a CC (committed-capacity, empty) sector: all zeros."""
    with open(path, "wb") as f:
        f.truncate(sector_size)


def _check_unsealed(path: str, sector_size: int) -> None:
    size = file_size(path, "unsealed file")
    if size != sector_size:
        raise SectorFileTruncated(path, sector_size, size, "unsealed file")


def tree_d(unsealed_path: str, cache_dir: str, sector_size: int) -> bytes:
    """TreeD stage: tree over the unsealed (Fr32-padded) file; returns CommD."""
    _check_size(sector_size)
    _check_unsealed(unsealed_path, sector_size)
    os.makedirs(cache_dir, exist_ok=True)
    return build_tree_file(
        unsealed_path, os.path.join(cache_dir, TREE_D), leaf_count=sector_size // NODE
    )


def _chunks(path: str, size: int, what: str) -> Iterator[bytes]:
    fd = open_for_read(path, what)
    try:
        actual = os.fstat(fd).st_size
        if actual != size:
            raise SectorFileTruncated(path, size, actual, what)
        step = _CHUNK_NODES * NODE
        for off in range(0, size, step):
            yield read_exact(fd, path, min(step, size - off), off, what)
    finally:
        os.close(fd)


def _column_hashes(layer_chunks: list[bytes]) -> bytes:
    count = len(layer_chunks)
    if count == 2:  # the common case: a column of two labels is exactly a node pair
        inter = bytearray(2 * len(layer_chunks[0]))
        for b in range(NODE):
            inter[b :: 2 * NODE] = layer_chunks[0][b::NODE]
            inter[NODE + b :: 2 * NODE] = layer_chunks[1][b::NODE]
        return bytes(hash_level(inter))
    nodes = len(layer_chunks[0]) // NODE
    cols = [
        b"".join(chunk[i * NODE : (i + 1) * NODE] for chunk in layer_chunks) for i in range(nodes)
    ]
    out = bytearray(b"".join(hashlib.sha256(c).digest() for c in cols))
    out[31::32] = out[31::32].translate(TRUNC_TABLE)
    return bytes(out)


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
    sealed_dir = os.path.dirname(os.path.abspath(sealed_path))
    fd, sealed_tmp = tempfile.mkstemp(dir=sealed_dir, prefix=".sealed.", suffix=".tmp")
    try:
        with (
            TreeBuilder(os.path.join(cache_dir, TREE_R_LAST), nodes) as tree_r,
            TreeBuilder(os.path.join(cache_dir, TREE_C), nodes) as tree_c,
            open(os.path.join(cache_dir, TREE_C_LEAVES), "wb") as c_leaves,
        ):
            layer_iters = [_chunks(p, size, "layer file") for p in layer_paths]
            offset = 0
            for data in _chunks(unsealed_path, size, "unsealed file"):
                if max(data[31::32]) >= 0x40:
                    bad = offset // NODE + next(j for j, b in enumerate(data[31::32]) if b >= 0x40)
                    raise SectorFileCorrupt(
                        unsealed_path, f"node {bad} is not an Fr32 field element (unpadded data?)"
                    )
                layer_chunks = [next(it) for it in layer_iters]
                replica = _encode_chunk(data, layer_chunks[-1])
                os.pwrite(fd, replica, offset)
                tree_r.add(replica)
                columns = _column_hashes(layer_chunks)
                c_leaves.write(columns)
                tree_c.add(columns)
                offset += len(data)
            c_leaves.flush()
            os.fsync(c_leaves.fileno())
            comm_r_last = tree_r.finish()
            comm_c = tree_c.finish()
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(sealed_tmp, sealed_path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sealed_tmp)
        raise
    _atomic_write(os.path.join(cache_dir, P_AUX), comm_c + comm_r_last)
    return TreeRCResult(comm_c, comm_r_last, h(comm_c, comm_r_last))


# ---------------------------------------------------------------------------- after sealing


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
    the CommD recorded at sealing; a mismatch means the replica is corrupt.
    """
    taux = read_t_aux(cache_dir)
    size = taux.sector_size
    last = os.path.join(cache_dir, layer_file(taux.layers))
    scratch: str | None = None
    try:
        if not os.path.exists(last):
            scratch = tempfile.mkdtemp(dir=cache_dir, prefix="unseal.")
            _write_layers(scratch, size, taux.layers, taux.replica_id)
            last = os.path.join(scratch, layer_file(taux.layers))
        out_dir = os.path.dirname(os.path.abspath(unsealed_path))
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".unsealed.", suffix=".tmp")
        try:
            with TreeBuilder(None, size // NODE) as tree:
                offset = 0
                keys = _chunks(last, size, "layer file")
                for replica in _chunks(sealed_path, size, "sealed file"):
                    data = _decode_chunk(replica, next(keys))
                    os.pwrite(fd, data, offset)
                    tree.add(data)
                    offset += len(data)
                comm_d = tree.finish()
            if comm_d != taux.comm_d:
                raise SectorFileCorrupt(
                    sealed_path, "unsealed data does not match the sector's CommD (corrupt replica)"
                )
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, unsealed_path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
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
