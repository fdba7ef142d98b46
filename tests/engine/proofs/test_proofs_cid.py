"""Commitment CIDs: encoding, round trips and strict rejection of anything else."""

from __future__ import annotations

import os

import pytest

from engine.proofs.cid import (
    FIL_COMMITMENT_UNSEALED,
    decode_varint,
    encode_varint,
    sealed_cid,
    sealed_cid_to_commitment,
    unsealed_cid,
    unsealed_cid_to_commitment,
)
from engine.proofs.errors import InvalidCID

CC_2K = "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"


def test_varints_encode_like_multiformats() -> None:
    assert encode_varint(1) == b"\x01"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(128) == b"\x80\x01"
    assert encode_varint(FIL_COMMITMENT_UNSEALED) == bytes.fromhex("81e203")
    assert encode_varint(0x1012) == bytes.fromhex("9220")
    for value in (0, 1, 300, 2**32, 2**63 - 1):
        assert decode_varint(encode_varint(value)) == (value, len(encode_varint(value)))


def test_non_minimal_and_truncated_varints_are_rejected() -> None:
    with pytest.raises(InvalidCID, match="non-minimal"):
        decode_varint(b"\x81\x00")
    with pytest.raises(InvalidCID, match="truncated"):
        decode_varint(b"\x81")


def test_unsealed_cid_has_the_documented_byte_layout() -> None:
    comm = bytes(range(32))
    cid = unsealed_cid(comm)
    assert cid.startswith("baga6ea4seaq")
    assert unsealed_cid_to_commitment(cid) == comm


def test_sealed_cid_starts_with_bagboea4b5abc_and_round_trips() -> None:
    for _ in range(20):
        comm = os.urandom(32)
        cid = sealed_cid(comm)
        assert cid.startswith("bagboea4b5abc")
        assert sealed_cid_to_commitment(cid) == comm


def test_a_published_cid_decodes_to_its_raw_commitment() -> None:
    assert (
        unsealed_cid_to_commitment(CC_2K).hex()
        == "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833"
    )


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "prefix"),
        ("zaga6ea4seaq", "prefix"),
        (CC_2K.upper(), "prefix"),
        ("b" + CC_2K[1:].upper(), "lower-case"),
        (CC_2K[:-1], "base32|digest length|canonical"),
        (CC_2K + "aa", "base32|digest length|canonical"),
        ("b!!!!", "base32"),
        (sealed_cid(bytes(32)), "codec"),
        ("bafkqaaa", "codec"),
    ],
)
def test_malformed_or_wrong_kind_cids_raise_invalid_cid(bad: str, why: str) -> None:
    with pytest.raises(InvalidCID, match=why):
        unsealed_cid_to_commitment(bad)


def test_an_unsealed_cid_is_not_accepted_as_a_sealed_one() -> None:
    with pytest.raises(InvalidCID, match="codec 0xf101, expected 0xf102"):
        sealed_cid_to_commitment(CC_2K)
