"""PoRep vanilla proofs of the devnet seal: prove a replica was sealed from the claimed data.

For each challenged node (derived from the replica id and the interactive seed, see
:func:`challenges.porep_challenges`) the prover opens:

* the data node in TreeD (root CommD),
* the replica node in TreeR (root comm_r_last),
* the node's column — its label in every layer — in TreeC (root comm_c),
* the columns of all its parents in TreeC.

The verifier, holding only public inputs (sector size, prover id, sector number, ticket,
CommD, CommR, seed), recomputes the replica id and the challenges, checks every opening,
recomputes the challenged node's label in every layer from its parents' labels, checks that
the replica node is the data node encoded with the last label, and that
``CommR = H(comm_c || comm_r_last)``. Filecoin wraps the same kind of checks in a Groth16
SNARK over Poseidon trees; this is the vanilla, SHA-256 variant (not consensus-compatible).

Proving needs the cache before :func:`sdr.finalize` (layers, TreeC, TreeD).
"""

from __future__ import annotations

import os
import struct
from contextlib import ExitStack
from dataclasses import dataclass

from engine.proofs import graph
from engine.proofs.cache_files import (
    TREE_C,
    TREE_C_LEAVES,
    TREE_D,
    TREE_R_LAST,
    layer_file,
    read_p_aux,
    read_t_aux,
)
from engine.proofs.challenges import porep_challenges
from engine.proofs.errors import ProofError
from engine.proofs.field import encode_node
from engine.proofs.files import open_for_read, read_exact
from engine.proofs.hashing import NODE, h
from engine.proofs.labels import column_hash, label, porep_seed, replica_id
from engine.proofs.merkle import InclusionProof, TreeReader, verify
from engine.proofs.sizes import spec_for

__all__ = [
    "ColumnOpening",
    "PoRepChallengeProof",
    "PoRepProof",
    "porep_failure",
    "prove_porep",
    "verify_porep",
]


@dataclass(frozen=True)
class ColumnOpening:
    """A node's labels in every layer (layer 1 first) and their TreeC inclusion proof."""

    node: int
    labels: tuple[bytes, ...]
    proof: InclusionProof

    def to_bytes(self) -> bytes:
        """``LE64 node | u8 layers | labels | proof``."""
        head = struct.pack("<QB", self.node, len(self.labels))
        return head + b"".join(self.labels) + self.proof.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> tuple[ColumnOpening, int]:
        """Parse one opening at ``offset``; returns ``(opening, next_offset)``."""
        node, layers = _unpack("<QB", data, offset)
        pos = offset + 9
        labels = tuple(_take(data, pos + NODE * k, NODE) for k in range(layers))
        proof, end = InclusionProof.from_bytes(data, pos + NODE * layers)
        return cls(node, labels, proof), end


@dataclass(frozen=True)
class PoRepChallengeProof:
    """Everything opened for one challenged node.

    ``parents`` holds the base parents' columns then the expander parents' columns, in the
    order :func:`graph.parents` lists them.
    """

    node: int
    data: InclusionProof
    replica: InclusionProof
    column: ColumnOpening
    parents: tuple[ColumnOpening, ...]

    def to_bytes(self) -> bytes:
        """``LE64 node | data | replica | column | u8 count | parents``."""
        return (
            struct.pack("<Q", self.node)
            + self.data.to_bytes()
            + self.replica.to_bytes()
            + self.column.to_bytes()
            + struct.pack("<B", len(self.parents))
            + b"".join(p.to_bytes() for p in self.parents)
        )

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> tuple[PoRepChallengeProof, int]:
        """Parse one challenge proof at ``offset``; returns ``(proof, next_offset)``."""
        (node,) = _unpack("<Q", data, offset)
        d, pos = InclusionProof.from_bytes(data, offset + 8)
        r, pos = InclusionProof.from_bytes(data, pos)
        col, pos = ColumnOpening.from_bytes(data, pos)
        (count,) = _unpack("<B", data, pos)
        pos += 1
        parents = []
        for _ in range(count):
            p, pos = ColumnOpening.from_bytes(data, pos)
            parents.append(p)
        return cls(node, d, r, col, tuple(parents)), pos


@dataclass(frozen=True)
class PoRepProof:
    """A sector's PoRep vanilla proof."""

    comm_c: bytes
    comm_r_last: bytes
    challenges: tuple[PoRepChallengeProof, ...]

    def to_bytes(self) -> bytes:
        """Binary form for ``sectors_sdr_pipeline.porep_proof``."""
        return (
            self.comm_c
            + self.comm_r_last
            + struct.pack("<H", len(self.challenges))
            + b"".join(c.to_bytes() for c in self.challenges)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PoRepProof:
        """Inverse of :meth:`to_bytes`; raises ProofError on malformed input."""
        comm_c = _take(data, 0, NODE)
        comm_r_last = _take(data, NODE, NODE)
        (count,) = _unpack("<H", data, 2 * NODE)
        pos = 2 * NODE + 2
        items = []
        for _ in range(count):
            c, pos = PoRepChallengeProof.from_bytes(data, pos)
            items.append(c)
        if pos != len(data):
            raise ProofError(f"PoRep proof has {len(data) - pos} trailing bytes")
        return cls(comm_c, comm_r_last, tuple(items))


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[int, ...]:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise ProofError("PoRep proof is truncated") from None


def _take(data: bytes, offset: int, size: int) -> bytes:
    if len(data) < offset + size:
        raise ProofError("PoRep proof is truncated")
    return bytes(data[offset : offset + size])


# ---------------------------------------------------------------------------- prover


def prove_porep(
    unsealed_path: str,
    sealed_path: str,
    cache_dir: str,
    seed: bytes,
    challenges: int | None = None,
) -> PoRepProof:
    """Generate the PoRep vanilla proof for the interactive ``seed`` (32 bytes).

    Args:
        unsealed_path: the sector's unsealed (Fr32-padded) file.
        sealed_path: the replica.
        cache_dir: the sealing cache, before finalize.
        seed: interactive randomness drawn after PreCommit.
        challenges: number of challenged nodes (default: the size's ``porep_challenges``).

    Raises:
        SectorFileError subclasses when a needed file is missing, short or unreadable.
    """
    taux = read_t_aux(cache_dir)
    paux = read_p_aux(cache_dir)
    spec = spec_for(taux.sector_size)
    nodes = spec.nodes
    count = spec.porep_challenges if challenges is None else challenges
    wanted = porep_challenges(taux.replica_id, seed, count, nodes)
    with ExitStack() as stack:
        tree_d = stack.enter_context(
            TreeReader(unsealed_path, os.path.join(cache_dir, TREE_D), leaf_count=nodes)
        )
        tree_r = stack.enter_context(
            TreeReader(sealed_path, os.path.join(cache_dir, TREE_R_LAST), leaf_count=nodes)
        )
        tree_c = stack.enter_context(
            TreeReader(
                os.path.join(cache_dir, TREE_C_LEAVES),
                os.path.join(cache_dir, TREE_C),
                leaf_count=nodes,
            )
        )
        layer_paths = [os.path.join(cache_dir, layer_file(n)) for n in range(1, taux.layers + 1)]
        layer_fds = []
        for path in layer_paths:
            fd = open_for_read(path, "layer file")
            stack.callback(os.close, fd)
            layer_fds.append(fd)

        def opening(node: int) -> ColumnOpening:
            labels = tuple(
                read_exact(fd, path, NODE, node * NODE, "layer file")
                for fd, path in zip(layer_fds, layer_paths, strict=True)
            )
            return ColumnOpening(node, labels, tree_c.prove(node))

        items = []
        for node in wanted:
            base, expander = graph.parents(taux.graph_seed, nodes, node)
            items.append(
                PoRepChallengeProof(
                    node,
                    tree_d.prove(node),
                    tree_r.prove(node),
                    opening(node),
                    tuple(opening(p) for p in (*base, *expander)),
                )
            )
    return PoRepProof(paux.comm_c, paux.comm_r_last, tuple(items))


# ---------------------------------------------------------------------------- verifier


def porep_failure(
    *,
    sector_size: int,
    prover_id: bytes,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
    comm_r: bytes,
    seed: bytes,
    proof: PoRepProof,
    challenges: int | None = None,
) -> str | None:
    """Why ``proof`` does not verify, or ``None`` if it does (see :func:`verify_porep`)."""
    spec = spec_for(sector_size)
    nodes, height, layers = spec.nodes, spec.tree_height, spec.sdr_layers
    count = spec.porep_challenges if challenges is None else challenges
    gseed = graph.graph_seed(sector_size)
    rid = replica_id(prover_id, sector_number, ticket, comm_d, porep_seed(spec.seal_proof))
    if h(proof.comm_c, proof.comm_r_last) != comm_r:
        return "H(comm_c || comm_r_last) != comm_r"
    wanted = porep_challenges(rid, seed, count, nodes)
    if [c.node for c in proof.challenges] != wanted:
        return "challenged nodes differ from those derived from the replica id and seed"

    def bad_column(col: ColumnOpening, node: int) -> str | None:
        if col.node != node or len(col.labels) != layers:
            return f"column of node {node} is malformed"
        if col.proof.leaf != column_hash(b"".join(col.labels)):
            return f"column of node {node} does not hash to its TreeC leaf"
        if not verify(proof.comm_c, col.proof, height=height, index=node):
            return f"column of node {node} is not in TreeC"
        return None

    for c in proof.challenges:
        node = c.node
        if not verify(comm_d, c.data, height=height, index=node):
            return f"data node {node} is not in TreeD"
        if not verify(proof.comm_r_last, c.replica, height=height, index=node):
            return f"replica node {node} is not in TreeR"
        base, expander = graph.parents(gseed, nodes, node)
        if len(c.parents) != len(base) + len(expander):
            want = len(base) + len(expander)
            return f"node {node}: {len(c.parents)} parent columns, expected {want}"
        for col, want in zip((c.column, *c.parents), (node, *base, *expander), strict=True):
            if reason := bad_column(col, want):
                return reason
        base_cols, exp_cols = c.parents[: len(base)], c.parents[len(base) :]
        for layer in range(1, layers + 1):
            parent_labels = b"".join(col.labels[layer - 1] for col in base_cols)
            if layer > 1:
                parent_labels += b"".join(col.labels[layer - 2] for col in exp_cols)
            if label(rid, layer, node, parent_labels) != c.column.labels[layer - 1]:
                return f"label of node {node} in layer {layer} is not derived from its parents"
        if encode_node(c.data.leaf, c.column.labels[-1]) != c.replica.leaf:
            return f"replica node {node} is not its data encoded with the last label"
    return None


def verify_porep(
    *,
    sector_size: int,
    prover_id: bytes,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
    comm_r: bytes,
    seed: bytes,
    proof: PoRepProof,
    challenges: int | None = None,
) -> bool:
    """Verify a PoRep vanilla proof from public inputs only; ``True`` if every check holds."""
    return (
        porep_failure(
            sector_size=sector_size,
            prover_id=prover_id,
            sector_number=sector_number,
            ticket=ticket,
            comm_d=comm_d,
            comm_r=comm_r,
            seed=seed,
            proof=proof,
            challenges=challenges,
        )
        is None
    )
