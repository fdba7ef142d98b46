"""Fr32 padding: the bit layout (four 254-bit little-endian chunks per 127 bytes) and exact
round trips."""

from __future__ import annotations

import io
import random

import pytest

from engine.proofs import fr32


def reference_pad(data: bytes) -> bytes:
    """The definition, one block at a time: a 1016-bit LE integer cut into 254-bit chunks."""
    data += bytes(-len(data) % 127)
    out = bytearray()
    for off in range(0, len(data), 127):
        x = int.from_bytes(data[off : off + 127], "little")
        for k in range(4):
            out += ((x >> (254 * k)) & ((1 << 254) - 1)).to_bytes(32, "little")
    return bytes(out)


def test_all_ones_block_has_top_two_bits_clear_in_every_slot() -> None:
    padded = fr32.pad(b"\xff" * 127)
    assert len(padded) == 128
    for k in range(4):
        slot = padded[32 * k : 32 * k + 32]
        assert slot[:31] == b"\xff" * 31
        assert slot[31] == 0x3F


def test_bit_254_of_the_input_becomes_bit_0_of_the_second_slot() -> None:
    data = bytearray(127)
    data[31] = 0x40  # bit 254 of the 1016-bit block
    padded = fr32.pad(bytes(data))
    assert padded[32] == 0x01
    assert padded[:32] == bytes(32)
    assert padded[33:] == bytes(95)


def test_last_bit_of_a_block_lands_in_bit_253_of_the_fourth_slot() -> None:
    data = bytearray(127)
    data[126] = 0x80  # bit 1015 = 762 + 253
    padded = fr32.pad(bytes(data))
    assert padded[127] == 0x20
    assert padded[:127] == bytes(127)


@pytest.mark.parametrize("length", [0, 1, 64, 126, 127, 128, 254, 1000, 4096, 127 * 4096 + 3])
def test_pad_matches_the_per_block_definition(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert fr32.pad(data) == reference_pad(data)


def test_unpad_of_pad_is_identity_for_random_inputs_of_many_lengths() -> None:
    rng = random.Random(7)
    for length in [*range(300), 127 * 4096 - 1, 127 * 4096, 127 * 4096 + 1, 1 << 20]:
        data = rng.randbytes(length)
        padded = fr32.pad(data)
        assert len(padded) == -(-length // 127) * 128
        assert fr32.unpad(padded)[:length] == data


def test_unpad_rejects_a_length_that_is_not_whole_blocks() -> None:
    with pytest.raises(ValueError, match="multiple of 128"):
        fr32.unpad(bytes(129))


def test_streaming_pad_equals_one_shot_pad_for_odd_chunk_sizes() -> None:
    data = random.Random(3).randbytes(3 * 127 * 4096 + 500)
    chunks = [data[i : i + 1001] for i in range(0, len(data), 1001)]
    assert b"".join(fr32.iter_pad(chunks)) == fr32.pad(data)
    dst = io.BytesIO()
    written = fr32.pad_stream(io.BytesIO(data), dst, chunk_bytes=50_000)
    assert dst.getvalue() == fr32.pad(data) and written == len(dst.getvalue())
    back = io.BytesIO()
    fr32.unpad_stream(io.BytesIO(dst.getvalue()), back, chunk_bytes=77_777)
    assert back.getvalue()[: len(data)] == data
