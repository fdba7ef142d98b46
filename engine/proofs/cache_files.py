"""The sealing cache directory: Lotus-like file names and the two aux records.

A sector's cache holds, while sealing, one file per SDR layer, TreeD, TreeC (its leaves and
its levels) and TreeR; after Finalize only TreeR and the two aux records remain:

* ``p_aux`` — 64 bytes, ``comm_c || comm_r_last`` (as in Lotus), so PoSt can prove
  ``CommR = H(comm_c || comm_r_last)`` without TreeC;
* ``t_aux`` — JSON: sector size, layer count, graph seed and the replica-id inputs, so unseal
  can regenerate the labels and PoSt knows the tree height.

Both records are written to a temporary name, fsynced and renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from engine.proofs.errors import SectorFileCorrupt, SectorFileTruncated
from engine.proofs.files import open_for_read, read_exact

__all__ = [
    "P_AUX",
    "TREE_C",
    "TREE_C_LEAVES",
    "TREE_D",
    "TREE_R_LAST",
    "T_AUX",
    "PAux",
    "TAux",
    "atomic_write",
    "layer_file",
    "read_p_aux",
    "read_t_aux",
    "write_p_aux",
    "write_t_aux",
]

TREE_D = "sc-02-data-tree-d.dat"
TREE_C = "sc-02-data-tree-c.dat"
TREE_C_LEAVES = "sc-02-data-tree-c-leaves.dat"
TREE_R_LAST = "sc-02-data-tree-r-last.dat"
P_AUX = "p_aux"
T_AUX = "t_aux"


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


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_t_aux(cache_dir: str, taux: TAux) -> None:
    """Store ``t_aux`` in ``cache_dir``."""
    atomic_write(os.path.join(cache_dir, T_AUX), taux.to_json().encode())


def write_p_aux(cache_dir: str, paux: PAux) -> None:
    """Store ``p_aux`` in ``cache_dir``."""
    atomic_write(os.path.join(cache_dir, P_AUX), paux.comm_c + paux.comm_r_last)


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
