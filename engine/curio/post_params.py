"""Curio's recorded WindowPoSt, read back: ``wdpost_proofs.proof_params`` is the CBOR of the
``SubmitWindowedPoStParams`` its WdPost task computed (tasks/window/compute_task.go marshals it
and inserts it with the deadline's Open and Close as ``submit_at_epoch``/``submit_by_epoch``).
Each posted partition carries a ``Skipped`` bitfield: the sectors the proof left out because
they could not be read. Curio's alertmanager counts them (alertmanager/alerts.go,
``wdPostCheck``); this module reads them without Go.

The layout (go-state-types builtin/v18/miner ``SubmitWindowedPoStParams``, its cbor-gen
tuple encoding)::

    [ Deadline uint64,
      Partitions [ [Index uint64, Skipped bytes (RLE+)] ... ]   (at most 8192),
      Proofs [ [PoStProof int64, ProofBytes bytes] ... ]        (at most 8192),
      ChainCommitEpoch int64,
      ChainCommitRand bytes ]

RLE+ (go-bitfield rle/, the Filecoin spec's bitfield): bits are read least significant first
within each byte; two version bits ``00``; one bit, the value of the first run; then runs of
alternating value, each ``1`` (a run of one), ``01`` + 4 bits (a run of 2..15; the prefix
read bit by bit, 0 then 1) or ``00`` + an unsigned LEB128 varint in whole 8-bit groups (any
length). The runs end at a run of length 0, which is what the zero padding past the last byte
reads as; a trailing zero byte is not minimal and refused, as go-bitfield does. A set bit's
position is a sector number.

Only what a bounded reader needs is decoded: unsigned and negative integers, byte strings and
arrays, definite lengths only (cbor-gen writes nothing else and refuses indefinite ones). Every
declared length is checked against the bytes left before anything is taken, and a bitfield's
runs are counted, never expanded, so malformed input raises :class:`PostParamsError` at once
rather than allocating or looping on what it claims.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PostParamsError",
    "PostedPartition",
    "WindowPostParams",
    "decode_post_params",
    "decode_rle",
]

#: cbor-gen's bounds for SubmitWindowedPoStParams (arrays) and go-bitfield's MaxEncodedSize
MAX_ARRAY = 8192
MAX_BITFIELD_BYTES = 32 << 10
MAX_RANDOMNESS_BYTES = 2 << 20
#: sector numbers listed per partition by default (the count is always exact)
LIST_LIMIT = 100

_UINT, _NEGINT, _BYTES, _ARRAY = 0, 1, 2, 4
_MAJOR_NAMES = {
    0: "an unsigned integer",
    1: "a negative integer",
    2: "a byte string",
    3: "a text string",
    4: "an array",
    5: "a map",
    6: "a tag",
    7: "a simple value or float",
}
_U64 = (1 << 64) - 1


class PostParamsError(ValueError):
    """The bytes are not a SubmitWindowedPoStParams (or its bitfield not RLE+): why, and where."""


@dataclass(frozen=True)
class PostedPartition:
    """One partition of a posted proof: its index in the deadline and the sectors it skipped."""

    index: int
    #: how many sectors the proof skipped (exact, however many)
    skipped: int
    #: the first of them by number, at most the decoder's ``limit``
    skipped_sectors: tuple[int, ...]


@dataclass(frozen=True)
class WindowPostParams:
    deadline: int
    partitions: tuple[PostedPartition, ...]
    chain_commit_epoch: int


# ------------------------------------------------------------------------------------- RLE+


class _Bits:
    """Bits of ``buf`` least significant first; zeros past its end (as go-bitfield reads)."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos, self.end = buf, 0, len(buf) * 8

    def read(self, n: int) -> int:
        value = 0
        for i in range(n):
            p = self.pos + i
            if p < self.end and self.buf[p >> 3] >> (p & 7) & 1:
                value |= 1 << i
        self.pos += n
        return value

    def varint(self) -> int:
        """go-bitfield's decodeBFVarint: LEB128 of at most 10 groups, fitting 64 bits, minimal."""
        value = shift = 0
        for i in range(10):
            group = self.read(8)
            if group < 0x80:
                if i == 9 and group > 1:
                    raise PostParamsError("RLE+: a run longer than 2^64-1")
                if group == 0 and shift > 0:
                    raise PostParamsError("RLE+: a run length not minimally encoded")
                return value | group << shift
            value |= (group & 0x7F) << shift
            shift += 7
        raise PostParamsError("RLE+: a run longer than 2^64-1")


def decode_rle(buf: bytes, *, limit: int = LIST_LIMIT) -> tuple[int, tuple[int, ...]]:
    """An RLE+ bitfield's count of set bits and its first ``limit`` set bits (sector numbers).

    The work is bounded by the input: each run but the last takes at least one bit, and reading
    past the end gives zeros, which end the runs."""
    if len(buf) > MAX_BITFIELD_BYTES:
        raise PostParamsError(f"RLE+: {len(buf)} bytes, more than {MAX_BITFIELD_BYTES}")
    if buf and buf[-1] == 0:
        raise PostParamsError("RLE+: a trailing zero byte (not minimally encoded)")
    bits = _Bits(buf)
    if bits.read(2) != 0:
        raise PostParamsError("RLE+: not version 0")
    value = bool(bits.read(1))
    count = position = 0
    listed: list[int] = []
    while True:
        if bits.read(1):
            length = 1
        elif bits.read(1):
            length = bits.read(4)
        else:
            length = bits.varint()
        if length == 0:
            break
        if position + length > _U64:  # go-bitfield's ValidateRLE: the total fits a uint64
            raise PostParamsError("RLE+: the runs add up to more than 2^64-1 bits")
        if value:
            count += length
            take = min(length, limit - len(listed))
            listed.extend(range(position, position + max(take, 0)))
        position += length
        value = not value
    return count, tuple(listed)


# ------------------------------------------------------------------------------------- CBOR


class _Cbor:
    """A definite-length CBOR reader over ``data``, checking each length before using it."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise PostParamsError(
                f"{what}: needs {n} byte(s) at offset {self.pos}, {len(self.data) - self.pos} left"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def header(self, what: str) -> tuple[int, int]:
        (first,) = self._take(1, what)
        major, info = first >> 5, first & 0x1F
        if info < 24:
            return major, info
        if info <= 27:
            return major, int.from_bytes(self._take(1 << (info - 24), what), "big")
        if info == 31:
            raise PostParamsError(f"{what}: an indefinite length (CBOR byte {first:#04x})")
        raise PostParamsError(f"{what}: a reserved CBOR header byte {first:#04x}")

    def expect(self, major: int, what: str) -> int:
        got, value = self.header(what)
        if got != major:
            raise PostParamsError(
                f"{what}: {_MAJOR_NAMES[got]} where {_MAJOR_NAMES[major]} belongs "
                f"(offset {self.pos})"
            )
        return value

    def uint(self, what: str) -> int:
        return self.expect(_UINT, what)

    def int64(self, what: str) -> int:
        major, value = self.header(what)
        if major == _UINT:
            if value >= 1 << 63:
                raise PostParamsError(f"{what}: {value} overflows an int64")
            return value
        if major == _NEGINT:
            if value >= 1 << 63:
                raise PostParamsError(f"{what}: -1-{value} overflows an int64")
            return -1 - value
        raise PostParamsError(f"{what}: {_MAJOR_NAMES[major]} where an integer belongs")

    def bytes(self, what: str, most: int) -> bytes:
        n = self.expect(_BYTES, what)
        if n > most:
            raise PostParamsError(f"{what}: {n} bytes, more than {most}")
        return self._take(n, what)

    def array(self, what: str, *, exactly: int | None = None, most: int = MAX_ARRAY) -> int:
        n = self.expect(_ARRAY, what)
        if exactly is not None and n != exactly:
            raise PostParamsError(f"{what}: an array of {n} where {exactly} fields belong")
        if n > most:
            raise PostParamsError(f"{what}: an array of {n}, more than {most}")
        if n > len(self.data) - self.pos:  # each element takes a byte at least
            raise PostParamsError(f"{what}: an array of {n} in {len(self.data) - self.pos} bytes")
        return n


def decode_post_params(data: bytes, *, limit: int = LIST_LIMIT) -> WindowPostParams:
    """``proof_params`` as Curio stores them, to the deadline and each partition's skipped
    sectors (``limit`` listed per partition). Bytes after the value are ignored, as Go's
    UnmarshalCBOR leaves them unread; anything else malformed raises :class:`PostParamsError`."""
    r = _Cbor(bytes(data))
    r.array("SubmitWindowedPoStParams", exactly=5)
    deadline = r.uint("Deadline")
    partitions = []
    for i in range(r.array("Partitions")):
        r.array(f"Partitions[{i}]", exactly=2)
        index = r.uint(f"Partitions[{i}].Index")
        skipped = r.bytes(f"Partitions[{i}].Skipped", MAX_BITFIELD_BYTES)
        try:
            count, numbers = decode_rle(skipped, limit=limit)
        except PostParamsError as e:
            raise PostParamsError(f"Partitions[{i}].Skipped: {e}") from None
        partitions.append(PostedPartition(index, count, numbers))
    for i in range(r.array("Proofs")):
        r.array(f"Proofs[{i}]", exactly=2)
        r.int64(f"Proofs[{i}].PoStProof")
        r.bytes(f"Proofs[{i}].ProofBytes", MAX_RANDOMNESS_BYTES)
    epoch = r.int64("ChainCommitEpoch")
    r.bytes("ChainCommitRand", MAX_RANDOMNESS_BYTES)
    return WindowPostParams(deadline, tuple(partitions), epoch)
