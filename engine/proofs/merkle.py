"""Binary SHA-256-trunc254 Merkle trees, in memory or on disk, and inclusion proofs.

On-disk layout (one file per tree, no header): every level *above* the leaves, lowest first,
each level contiguous, the root as the last 32 bytes. The leaves live in their own file
(the unsealed data for TreeD, the sealed replica for TreeR), so a tree never duplicates a
sector. With ``n`` leaves the tree file holds ``n - 1`` nodes and level ``k`` (1 = parents of
the leaves) starts at node ``n - n / 2^(k-1)``.

Trees are built from leaf chunks (1 MiB by default): each chunk's sub-levels are hashed in
memory and written at their known offsets, only the chunk roots are kept, and the top levels
are finished at the end. The tree is written to a temporary file, fsynced and renamed, so a
crash or a short read never leaves a partial tree under its final name.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from engine.proofs.errors import (
    ProofError,
    SectorFileCorrupt,
    SectorFileMissing,
    SectorFileTruncated,
)
from engine.proofs.files import open_for_read, read_exact
from engine.proofs.hashing import NODE, h, hash_level

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "InclusionProof",
    "TreeBuilder",
    "TreeReader",
    "build_tree_file",
    "level_offsets",
    "prove",
    "prove_in_memory",
    "tree_file_size",
    "tree_levels",
    "tree_root",
    "verify",
]

DEFAULT_CHUNK_BYTES = 1 << 20


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@dataclass(frozen=True)
class InclusionProof:
    """A leaf and the siblings on its path to the root, lowest first.

    Attributes:
        index: leaf position; bit ``k`` tells whether the path node at level ``k`` is a right
            child.
        leaf: the 32-byte leaf.
        siblings: one 32-byte sibling per level; ``len(siblings)`` is the tree height.
    """

    index: int
    leaf: bytes
    siblings: tuple[bytes, ...]

    def computed_root(self) -> bytes:
        """The root this path leads to (whether or not it is the right one)."""
        node = self.leaf
        i = self.index
        for sib in self.siblings:
            node = h(sib, node) if i & 1 else h(node, sib)
            i >>= 1
        return node

    def to_bytes(self) -> bytes:
        """``LE64 index | u8 height | leaf | siblings``: compact, self-delimiting."""
        return (
            struct.pack("<QB", self.index, len(self.siblings)) + self.leaf + b"".join(self.siblings)
        )

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> tuple[InclusionProof, int]:
        """Parse one proof at ``offset``; returns ``(proof, next_offset)``."""
        if len(data) < offset + 9:
            raise ProofError("inclusion proof is truncated")
        index, height = struct.unpack_from("<QB", data, offset)
        start = offset + 9
        end = start + NODE * (height + 1)
        if len(data) < end:
            raise ProofError("inclusion proof is truncated")
        leaf = bytes(data[start : start + NODE])
        sibs = tuple(bytes(data[p : p + NODE]) for p in range(start + NODE, end, NODE))
        return cls(index, leaf, sibs), end


def verify(
    root: bytes, proof: InclusionProof, *, height: int | None = None, index: int | None = None
) -> bool:
    """Check that ``proof`` opens ``root``.

    Args:
        root: the commitment the proof must reach.
        proof: the inclusion proof.
        height: if given, the tree height the verifier expects (path length must match, so a
            proof against a smaller subtree cannot pass).
        index: if given, the leaf the verifier challenged (the proof must be for that leaf).
    """
    if len(proof.leaf) != NODE or any(len(s) != NODE for s in proof.siblings):
        return False
    if height is not None and len(proof.siblings) != height:
        return False
    if not 0 <= proof.index < (1 << len(proof.siblings)):
        return False
    if index is not None and proof.index != index:
        return False
    return proof.computed_root() == root


# ---------------------------------------------------------------------------- in memory


def tree_levels(leaves: bytes | bytearray | memoryview) -> list[bytes]:
    """All levels of the tree over ``leaves`` (power-of-two count), leaves first, root last."""
    n = len(leaves) // NODE
    if len(leaves) % NODE or not _is_pow2(n):
        raise ValueError(f"leaf count must be a power of two, got {len(leaves)} bytes")
    levels = [bytes(leaves)]
    while len(levels[-1]) > NODE:
        levels.append(bytes(hash_level(levels[-1])))
    return levels


def prove_in_memory(levels: list[bytes], index: int) -> InclusionProof:
    """Inclusion proof of leaf ``index`` from :func:`tree_levels` output."""
    n = len(levels[0]) // NODE
    if not 0 <= index < n:
        raise IndexError(f"leaf {index} out of range 0..{n - 1}")
    sibs = []
    i = index
    for level in levels[:-1]:
        j = i ^ 1
        sibs.append(level[j * NODE : (j + 1) * NODE])
        i >>= 1
    return InclusionProof(index, levels[0][index * NODE : (index + 1) * NODE], tuple(sibs))


# ---------------------------------------------------------------------------- on disk


def tree_file_size(leaf_count: int) -> int:
    """Bytes of the tree file over ``leaf_count`` leaves."""
    return NODE * (leaf_count - 1)


def level_offsets(leaf_count: int) -> list[int]:
    """Byte offset of each level in the tree file; index 0 (the leaves) is not stored: -1."""
    height = leaf_count.bit_length() - 1
    return [-1] + [NODE * (leaf_count - (leaf_count >> (k - 1))) for k in range(1, height + 1)]


class TreeBuilder:
    """Build a tree file from leaves fed in order, in bounded memory.

    Use as a context manager, feed leaves with :meth:`add` (any multiple of 32 bytes), then
    :meth:`finish` to get the root and publish the file. Leaving the block without finishing
    (an exception) deletes the temporary file and leaves ``tree_path`` untouched. With
    ``tree_path=None`` only the root is computed and nothing is written.
    """

    def __init__(
        self, tree_path: str | None, leaf_count: int, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> None:
        if leaf_count < 2 or not _is_pow2(leaf_count):
            raise ValueError(f"leaf count must be a power of two >= 2, got {leaf_count}")
        if chunk_bytes < 2 * NODE or not _is_pow2(chunk_bytes):
            raise ValueError(f"chunk_bytes must be a power of two >= 64, got {chunk_bytes}")
        self.tree_path = tree_path
        self.leaf_count = leaf_count
        self._chunk_nodes = min(leaf_count, chunk_bytes // NODE)
        self._offsets = level_offsets(leaf_count)
        self._pending = bytearray()
        self._roots: list[bytes] = []
        self._fed = 0
        self._fd: int | None = None
        self._tmp = ""
        self._open = True
        if tree_path is not None:
            directory = os.path.dirname(os.path.abspath(tree_path))
            self._fd, self._tmp = tempfile.mkstemp(
                dir=directory, prefix=os.path.basename(tree_path) + ".", suffix=".tmp"
            )
            os.fchmod(self._fd, 0o644)

    def __enter__(self) -> TreeBuilder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()

    def abort(self) -> None:
        """Drop the temporary file (no-op after :meth:`finish`)."""
        self._open = False
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)

    def add(self, leaves: bytes | bytearray | memoryview) -> None:
        """Append leaves (a multiple of 32 bytes)."""
        if len(leaves) % NODE:
            raise ValueError("leaves must be a multiple of 32 bytes")
        self._fed += len(leaves) // NODE
        if self._fed > self.leaf_count:
            raise ValueError(f"more than {self.leaf_count} leaves fed")
        step = self._chunk_nodes * NODE
        view = memoryview(leaves)
        pos = 0
        if self._pending:
            take = min(step - len(self._pending), len(view))
            self._pending += view[:take]
            pos = take
            if len(self._pending) == step:
                self._chunk(self._pending)
                self._pending = bytearray()
        while len(view) - pos >= step:
            self._chunk(view[pos : pos + step])
            pos += step
        if pos < len(view):
            self._pending += view[pos:]

    def _chunk(self, leaves: bytes | bytearray | memoryview) -> None:
        assert self._open, "builder already finished"
        index = len(self._roots)
        level: bytes | bytearray | memoryview = leaves
        k = 0
        while len(level) > NODE:
            level = hash_level(level)
            k += 1
            if self._fd is not None:
                os.pwrite(self._fd, level, self._offsets[k] + index * len(level))
        self._roots.append(bytes(level))

    def finish(self) -> bytes:
        """Complete the top levels, fsync, rename into place; returns the root."""
        if self._fed != self.leaf_count:
            raise ValueError(f"{self._fed} leaves fed, {self.leaf_count} expected")
        assert self._open, "builder already finished"
        level: bytes | bytearray = b"".join(self._roots)
        k = self._chunk_nodes.bit_length() - 1
        while len(level) > NODE:
            level = hash_level(level)
            k += 1
            if self._fd is not None:
                os.pwrite(self._fd, level, self._offsets[k])
        self._open = False
        if self._fd is not None and self.tree_path is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            os.replace(self._tmp, self.tree_path)
            _fsync_dir(os.path.dirname(os.path.abspath(self.tree_path)))
        return bytes(level)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _iter_file(path: str, count: int, chunk_bytes: int, what: str) -> Iterable[bytes]:
    fd = open_for_read(path, what)
    try:
        for off in range(0, count, chunk_bytes):
            yield read_exact(fd, path, min(chunk_bytes, count - off), off, what)
    finally:
        os.close(fd)


def build_tree_file(
    leaves_path: str,
    tree_path: str,
    *,
    leaf_count: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> bytes:
    """Build the tree over the leaves in ``leaves_path`` into ``tree_path``; returns the root.

    Args:
        leaves_path: file of 32-byte leaves.
        tree_path: where the tree goes (replaced atomically).
        leaf_count: leaves expected; defaults to the file size / 32. A file that turns out
            shorter raises :class:`SectorFileTruncated` and publishes nothing.
        chunk_bytes: leaf bytes read and hashed at a time.
    """
    if leaf_count is None:
        try:
            size = os.stat(leaves_path).st_size
        except FileNotFoundError:
            raise SectorFileMissing(leaves_path, "leaf file") from None
        if size % NODE or not _is_pow2(size // NODE):
            raise SectorFileCorrupt(
                leaves_path, f"{size} bytes is not a power-of-two number of 32-byte leaves"
            )
        leaf_count = size // NODE
    with TreeBuilder(tree_path, leaf_count, chunk_bytes=chunk_bytes) as builder:
        for chunk in _iter_file(leaves_path, leaf_count * NODE, chunk_bytes, "leaf file"):
            builder.add(chunk)
        return builder.finish()


class TreeReader:
    """Open a leaf file and its tree file once and serve many inclusion proofs.

    Raises on open: SectorFileMissing / SectorFileUnreadable, and SectorFileTruncated or
    SectorFileCorrupt when the two files' sizes do not describe one tree.
    """

    def __init__(self, leaves_path: str, tree_path: str, *, leaf_count: int | None = None):
        self.leaves_path = leaves_path
        self.tree_path = tree_path
        self._tree_fd = open_for_read(tree_path, "tree file")
        try:
            self._leaf_fd = open_for_read(leaves_path, "leaf file")
        except BaseException:
            os.close(self._tree_fd)
            raise
        try:
            tree_size = os.fstat(self._tree_fd).st_size
            n = tree_size // NODE + 1
            if leaf_count is not None and tree_size != tree_file_size(leaf_count):
                raise SectorFileTruncated(
                    tree_path, tree_file_size(leaf_count), tree_size, "tree file"
                )
            if tree_size % NODE or not _is_pow2(n) or n < 2:
                raise SectorFileCorrupt(tree_path, f"{tree_size} bytes is not a tree file size")
            leaf_size = os.fstat(self._leaf_fd).st_size
            if leaf_size != n * NODE:
                raise SectorFileTruncated(leaves_path, n * NODE, leaf_size, "leaf file")
        except BaseException:
            self.close()
            raise
        self.leaf_count = n
        self.height = n.bit_length() - 1
        self._offsets = level_offsets(n)

    def __enter__(self) -> TreeReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close both files."""
        for fd in (self._tree_fd, self._leaf_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def root(self) -> bytes:
        """The root stored in the tree file."""
        return self.node(self.height, 0)

    def leaf(self, index: int) -> bytes:
        """Leaf ``index`` from the leaf file."""
        return read_exact(self._leaf_fd, self.leaves_path, NODE, index * NODE, "leaf file")

    def node(self, level: int, index: int) -> bytes:
        """Node ``index`` of ``level`` (0 = leaves)."""
        if level == 0:
            return self.leaf(index)
        off = self._offsets[level] + index * NODE
        return read_exact(self._tree_fd, self.tree_path, NODE, off, "tree file")

    def prove(self, index: int) -> InclusionProof:
        """Inclusion proof of leaf ``index`` (leaf and siblings as stored on disk)."""
        if not 0 <= index < self.leaf_count:
            raise IndexError(f"leaf {index} out of range 0..{self.leaf_count - 1}")
        sibs = tuple(self.node(k, (index >> k) ^ 1) for k in range(self.height))
        return InclusionProof(index, self.leaf(index), sibs)


def prove(leaves_path: str, tree_path: str, index: int) -> InclusionProof:
    """Inclusion proof of leaf ``index`` of the tree stored in ``leaves_path``/``tree_path``."""
    with TreeReader(leaves_path, tree_path) as reader:
        return reader.prove(index)


def tree_root(tree_path: str) -> bytes:
    """The root of a tree file (its last 32 bytes)."""
    fd = open_for_read(tree_path, "tree file")
    try:
        size = os.fstat(fd).st_size
        if size < NODE or size % NODE:
            raise SectorFileCorrupt(tree_path, f"{size} bytes is not a tree file size")
        return read_exact(fd, tree_path, NODE, size - NODE, "tree file")
    finally:
        os.close(fd)
