"""CommP and CommD exactly as Filecoin computes them (go-fil-commp-hashhash ``commp.go``).

CommP is the root of a binary SHA-256-trunc254 tree over the Fr32-padded payload, completed
with zero subtrees to a power of two. CommD of a sector aggregates the pieces' CommPs the way
go-commp-utils ``GenerateUnsealedCID`` / rust-fil-proofs ``compute_comm_d`` do.

The payload is processed in units of 1 MiB of padded data: each unit's subtree root is
computed independently and the unit roots are combined at the end, so memory stays bounded
for any piece size and independent units can be spread over a process pool.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future

from engine.proofs import fr32
from engine.proofs.errors import InvalidPieceError
from engine.proofs.files import file_size, open_for_read, read_exact
from engine.proofs.hashing import h, level_root
from engine.proofs.sizes import is_padded_piece_size, padded_piece_size

__all__ = [
    "ZERO_COMMS",
    "commd_from_pieces",
    "commp",
    "commp_file",
    "zero_comm",
]

UNIT = 1 << 20
"""Padded bytes per independently hashed subtree."""


def _zero_comms(levels: int) -> tuple[bytes, ...]:
    out = [bytes(32)]
    for _ in range(levels):
        out.append(h(out[-1], out[-1]))
    return tuple(out)


ZERO_COMMS: tuple[bytes, ...] = _zero_comms(64)
"""``ZERO_COMMS[k]`` = root of an all-zero tree of ``32 << k`` bytes (Z0 = 32 zero bytes)."""


def zero_comm(padded_size: int) -> bytes:
    """Commitment of ``padded_size`` zero bytes (a power of two of at least 32)."""
    if padded_size < 32 or padded_size & (padded_size - 1):
        raise InvalidPieceError(f"zero commitment size {padded_size} is not a power of two")
    return ZERO_COMMS[padded_size.bit_length() - 6]


def _payload_root(chunks: Iterable[bytes | memoryview], padded_len: int) -> bytes:
    """Root over ``chunks`` (payload, each one unit's worth) padded and zero-filled."""
    unit = min(padded_len, UNIT)
    count = padded_len // unit
    roots: list[bytes] = []
    for chunk in chunks:
        padded = fr32.pad(chunk)
        if len(padded) < unit:
            padded += bytes(unit - len(padded))
        if len(padded) != unit or len(roots) >= count:
            raise InvalidPieceError(f"payload does not fit in a {padded_len}-byte piece")
        roots.append(level_root(padded))
    roots.extend([zero_comm(unit)] * (count - len(roots)))
    return level_root(b"".join(roots))


def _unit_payload(padded_len: int) -> int:
    return min(padded_len, UNIT) // 128 * 127


def _bytes_root(data: bytes | memoryview, padded_len: int) -> bytes:
    """Root of the subtree of ``padded_len`` bytes holding pad(data); picklable for pools."""
    view = memoryview(data)
    step = _unit_payload(padded_len)
    return _payload_root((view[i : i + step] for i in range(0, len(view), step)), padded_len)


def commp(data: bytes | bytearray | memoryview, *, pool: Executor | None = None) -> bytes:
    """CommP of a piece payload.

    Args:
        data: the payload (at least 65 bytes); zero-filled to the padded power-of-two size.
        pool: optional process pool; the tree is then split in two halves, one hashed here
            and one in the pool (a 2-core machine gets both cores).

    Returns:
        The 32-byte raw commitment.
    """
    padded_len = padded_piece_size(len(data))
    if pool is None or padded_len < 2 * UNIT:
        return _bytes_root(data, padded_len)
    half = padded_len // 2
    cut = half // 128 * 127
    view = memoryview(data)
    right: Future[bytes] | None = None
    if len(view) > cut:
        right = pool.submit(_bytes_root, bytes(view[cut:]), half)
    left = _bytes_root(view[:cut], half)
    return h(left, right.result() if right else zero_comm(half))


def _file_root(path: str, offset: int, length: int, padded_len: int) -> bytes:
    """Root over ``length`` payload bytes of ``path`` at ``offset``; picklable for pools."""
    step = _unit_payload(padded_len)
    fd = open_for_read(path, "piece file")
    try:
        chunks = (
            read_exact(fd, path, min(step, offset + length - pos), pos, "piece file")
            for pos in range(offset, offset + length, step)
        )
        return _payload_root(chunks, padded_len)
    finally:
        os.close(fd)


def commp_file(path: str, *, pool: Executor | None = None) -> bytes:
    """CommP of the file at ``path``, read in 1 MiB units; the file is never held whole.

    Raises:
        SectorFileMissing: the file does not exist.
        SectorFileUnreadable: it cannot be opened or read.
        SectorFileTruncated: it shrank while being read.
        InvalidPieceError: it is smaller than 65 bytes.
    """
    size = file_size(path, "piece file")
    padded_len = padded_piece_size(size)
    if pool is None or padded_len < 2 * UNIT:
        return _file_root(path, 0, size, padded_len)
    half = padded_len // 2
    cut = min(size, half // 128 * 127)
    right: Future[bytes] | None = None
    if size > cut:
        right = pool.submit(_file_root, path, cut, size - cut, half)
    left = _file_root(path, 0, cut, half)
    return h(left, right.result() if right else zero_comm(half))


def _required_padding(old_len: int, new_piece: int) -> list[int]:
    """Zero pieces (smallest first) that align ``old_len`` to a multiple of ``new_piece``.

    Port of go-commp-utils ``GetRequiredPadding``.
    """
    to_fill = -old_len % new_piece
    out = []
    while to_fill:
        low = to_fill & -to_fill
        out.append(low)
        to_fill ^= low
    return out


def commd_from_pieces(pieces: Sequence[tuple[bytes, int]], sector_size: int) -> bytes:
    """CommD of a sector holding ``pieces`` in order, the rest zero-filled.

    Args:
        pieces: ``(commp, padded_size)`` per piece, in sector order.
        sector_size: padded sector size in bytes.

    An empty list gives the CC-sector CommD, the zero commitment of the sector size.
    """
    if not is_padded_piece_size(sector_size):
        raise InvalidPieceError(f"sector size {sector_size} is not a power of two >= 128")
    stack: list[tuple[bytes, int]] = []
    total = 0

    def push(comm: bytes, size: int) -> None:
        stack.append((comm, size))
        while len(stack) >= 2 and stack[-1][1] == stack[-2][1]:
            (right, size_r), (left, _) = stack.pop(), stack.pop()
            stack.append((h(left, right), 2 * size_r))

    for i, (comm, size) in enumerate(pieces):
        if len(comm) != 32:
            raise InvalidPieceError(f"piece {i}: commitment must be 32 bytes, got {len(comm)}")
        if not is_padded_piece_size(size):
            raise InvalidPieceError(f"piece {i}: size {size} is not a power of two >= 128")
        for pad_size in _required_padding(total, size):
            push(zero_comm(pad_size), pad_size)
            total += pad_size
        push(comm, size)
        total += size
        if total > sector_size:
            raise InvalidPieceError(
                f"pieces need {total} bytes with alignment, more than the {sector_size}-byte sector"
            )
    for pad_size in _required_padding(total, sector_size) if total else [sector_size]:
        push(zero_comm(pad_size), pad_size)
    assert len(stack) == 1 and stack[0][1] == sector_size, stack
    return stack[0][0]
