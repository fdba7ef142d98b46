"""The decoder of Curio's ``wdpost_proofs.proof_params``: RLE+ bitfields against vectors built
by hand from the format (go-bitfield rle/: two version bits 00, the first run's value, then
runs ``1`` / ``01``+4 bits / ``00``+varint, bits least significant first) and go-bitfield's
reference vector, against a tiny encoder written here; the CBOR of SubmitWindowedPoStParams
(go-state-types builtin miner, cbor-gen's tuple encoding); and malformed bytes, which raise
:class:`PostParamsError` and nothing else, without reading past what they hold.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterable

import pytest

from engine.curio.post_params import (
    MAX_BITFIELD_BYTES,
    PostedPartition,
    PostParamsError,
    decode_post_params,
    decode_rle,
)

# --------------------------------------------------------------------- a tiny test encoder


def runs_of(numbers: Iterable[int]) -> list[tuple[bool, int]]:
    """The alternating runs of a set of bit positions, from bit 0, without a trailing zero run."""
    runs: list[tuple[bool, int]] = []
    at = 0
    for n in sorted(set(numbers)):
        if runs and runs[-1][0] and n == at:
            runs[-1] = (True, runs[-1][1] + 1)
        else:
            if n > at:
                runs.append((False, n - at))
            runs.append((True, 1))
        at = n + 1
    return runs


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_runs(runs: list[tuple[bool, int]]) -> bytes:
    bits: list[int] = [0, 0]  # version 0

    def put(value: int, count: int) -> None:
        bits.extend(value >> i & 1 for i in range(count))

    if runs:
        put(int(runs[0][0]), 1)
    for _, length in runs:
        if length == 1:
            put(1, 1)
        elif length < 16:
            put(0b10, 2)  # 0 then 1
            put(length, 4)
        else:
            put(0, 2)
            for byte in varint(length):
                put(byte, 8)
    out = bytearray(
        sum(b << i for i, b in enumerate(bits[k : k + 8])) for k in range(0, len(bits), 8)
    )
    while out and out[-1] == 0:  # minimal: go-bitfield strips the zero padding
        out.pop()
    return bytes(out)


def rle(numbers: Iterable[int]) -> bytes:
    return encode_runs(runs_of(numbers))


def head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor_int(n: int) -> bytes:
    return head(0, n) if n >= 0 else head(1, -1 - n)


def cbor_bytes(b: bytes) -> bytes:
    return head(2, len(b)) + b


def post_params(deadline: int, partitions: list[tuple[int, bytes]], epoch: int = 4460) -> bytes:
    """SubmitWindowedPoStParams as cbor-gen writes it: one proof of a 32 GiB sector's
    WindowPoSt type (StackedDrgWindow32GiBV1_1, 13), 192 proof bytes, 32 bytes of randomness."""
    parts = b"".join(head(4, 2) + cbor_int(i) + cbor_bytes(s) for i, s in partitions)
    proofs = head(4, 1) + head(4, 2) + cbor_int(13) + cbor_bytes(bytes(range(192)))
    return (
        head(4, 5)
        + cbor_int(deadline)
        + head(4, len(partitions))
        + parts
        + proofs
        + cbor_int(epoch)
        + cbor_bytes(bytes(32))
    )


# ------------------------------------------------------------------------------- RLE+

#: (set bits, bytes worked out bit by bit from the format)
HAND_VECTORS = [
    # nothing set: 00 0, then zeros; all padding, stripped
    (set(), b""),
    # {0}: 00, first run ones (1), a run of one (1) -> bits 0,0,1,1 -> 0b1100
    ({0}, b"\x0c"),
    # {1,2,3}: 00, first run zeros (0), one zero (1), three ones (0,1 then 3 as 1,1,0,0)
    # -> bits 0,0,0,1,0,1,1,1 | 0,0 -> 0xe8 (the second byte is padding)
    ({1, 2, 3}, b"\xe8"),
    # {0..99}: 00, ones first (1), varint (0,0) then 100 = 0x64 as 0,0,1,0,0,1,1,0
    # -> bits 0,0,1,0,0,0,0,1 | 0,0,1,1,0 -> 0x84 0x0c
    (set(range(100)), b"\x84\x0c"),
    # {16}: 00, zeros first (0), 16 zeros by varint (0,0 then 0x10 as 0,0,0,0,1,0,0,0), one
    # one (1) -> bits 0,0,0,0,0,0,0,0 | 0,1,0,0,0,1 -> 0x00 0x22
    ({16}, b"\x00\x22"),
]

#: go-bitfield's rle/rleplus_test.go TestDecode: the Rust reference implementation's encoding
#: of this set with the version bits added
REFERENCE = (
    {0, 2, 4, 5, 6, *range(11, 28)},
    bytes([124, 71, 34, 2]),
)


@pytest.mark.parametrize(("numbers", "encoded"), [*HAND_VECTORS, REFERENCE])
def test_known_vectors_decode_and_the_test_encoder_agrees(
    numbers: set[int], encoded: bytes
) -> None:
    assert rle(numbers) == encoded
    assert decode_rle(encoded, limit=1000) == (len(numbers), tuple(sorted(numbers)))


def test_runs_needing_the_varint_form_and_a_count_never_expanded() -> None:
    # a zero run of a million (3 varint bytes), 300 ones (2), then a single one further on
    numbers = [*range(1_000_000, 1_000_300), 1_000_301]
    assert decode_rle(rle(numbers), limit=3) == (301, (1_000_000, 1_000_001, 1_000_002))
    # 2^40 sectors skipped: counted from the run's length, listed only up to the limit
    huge = encode_runs([(False, 5), (True, 1 << 40)])
    started = time.monotonic()
    assert decode_rle(huge, limit=2) == (1 << 40, (5, 6))
    assert time.monotonic() - started < 5
    # every short run length and long ones, alternating, round trip
    rng = random.Random(7)
    for _ in range(200):
        numbers, at = [], rng.randrange(0, 40)
        for _ in range(rng.randrange(0, 30)):
            length = rng.choice([1, 2, rng.randrange(3, 16), rng.randrange(16, 5000)])
            numbers += range(at, at + length)
            at += length + rng.choice([1, rng.randrange(2, 16), rng.randrange(16, 300)])
        assert decode_rle(rle(numbers), limit=10**6) == (len(numbers), tuple(numbers))


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        (b"\x01", "not version 0"),
        (b"\x0c\x00", "trailing zero byte"),
        # 00 0, varint 0x80 then 0x00 (read from the padding): a length with an empty group
        # -> bits 0,0,0,0,0, 0,0,0,0,0,0,0,1 -> 0x00 0x10
        (b"\x00\x10", "not minimally encoded"),
        # 00 0, varint of eleven 0xff groups: from bit 5 on, 88 ones
        (b"\xe0" + b"\xff" * 10 + b"\x1f", "longer than 2\\^64-1"),
        (b"\x0c" * (MAX_BITFIELD_BYTES + 1), "more than 32768"),
    ],
)
def test_malformed_bitfields_are_refused(encoded: bytes, why: str) -> None:
    with pytest.raises(PostParamsError, match=why):
        decode_rle(encoded)


def test_runs_adding_up_past_64_bits_are_refused() -> None:
    with pytest.raises(PostParamsError, match="more than 2\\^64-1 bits"):
        decode_rle(encode_runs([(True, (1 << 63)), (False, 1 << 63), (True, 1)]))


# ----------------------------------------------------------- SubmitWindowedPoStParams


def test_params_as_curio_stores_them() -> None:
    data = post_params(7, [(0, rle({3, 7})), (1, b""), (2, rle(range(40)))])
    params = decode_post_params(data, limit=4)
    assert params.deadline == 7 and params.chain_commit_epoch == 4460
    assert params.partitions == (
        PostedPartition(0, 2, (3, 7)),
        PostedPartition(1, 0, ()),
        PostedPartition(2, 40, (0, 1, 2, 3)),
    )
    # the same, its bytes written out: [7, [[0, h'44'] ...
    assert data.startswith(bytes.fromhex("85 07 83 82 00 43") + rle({3, 7}))
    # 00, 0, three zeros (0,1 + 1,1,0,0), a one (1), three zeros, a one
    # -> bits 0,0,0,0,1,1,1,0 | 0,1,0,1,1,1,0,0 | 1
    assert rle({3, 7}) == bytes([0b01110000, 0b00111010, 0b00000001])
    # a negative commit epoch, wide integers, bytes after the value (Go leaves them unread)
    wide = post_params(47, [(1 << 40, b"\x0c")], epoch=-3) + b"\xff\xff"
    assert decode_post_params(wide).partitions == (PostedPartition(1 << 40, 1, (0,)),)
    assert decode_post_params(wide).chain_commit_epoch == -3


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "needs 1 byte"),
        (bytes.fromhex("820080"), "an array of 2 where 5 fields belong"),
        (bytes.fromhex("8200"), "an array of 2 where 5 fields belong"),
        (bytes.fromhex("a0"), "a map where an array belongs"),
        (
            bytes.fromhex("8561 41 00000000"),
            "Deadline: a text string where an unsigned integer belongs",
        ),
        (bytes.fromhex("9f"), "indefinite length"),
        (
            bytes.fromhex("85 07 9b ffffffffffffffff"),
            "Partitions: an array of 18446744073709551615",
        ),
        (bytes.fromhex("85 07 99 2001 00000000"), "more than 8192"),
        (bytes.fromhex("85 07 81 82 00 5b ffffffffffffffff"), "more than 32768"),
        (bytes.fromhex("85 07 81 82 00 59 0100"), "needs 256 byte"),
        (bytes.fromhex("85 07 81 82 00 41 01"), "Partitions\\[0\\].Skipped: RLE\\+: not version 0"),
        (bytes.fromhex("85 07 80 80 1b 8000000000000000"), "overflows an int64"),
        (bytes.fromhex("85 07 80 80 00 5a ffffffff"), "more than 2097152"),
        (bytes.fromhex("85 07 80 80 00 1c"), "reserved CBOR header byte 0x1c"),
    ],
)
def test_malformed_params_are_refused_clearly(data: bytes, why: str) -> None:
    with pytest.raises(PostParamsError, match=why):
        decode_post_params(data)


def test_every_cut_and_many_corruptions_raise_only_post_params_error() -> None:
    good = post_params(3, [(0, rle({1, 2, 900})), (1, rle(range(20, 60)))])
    for n in range(len(good)):
        with pytest.raises(PostParamsError):
            decode_post_params(good[:n])
    rng = random.Random(11)
    started = time.monotonic()
    for _ in range(3000):
        bad = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        with contextlib.suppress(PostParamsError):
            decode_post_params(bytes(bad))
    assert time.monotonic() - started < 60
