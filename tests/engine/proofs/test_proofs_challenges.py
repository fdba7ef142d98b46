"""Challenge derivation: Filecoin's PoSt formulas, our PoRep formula."""

from __future__ import annotations

import hashlib

import pytest

from engine.proofs.challenges import (
    clear_top_bits,
    porep_challenges,
    post_challenge_leaf,
    post_challenges,
    prover_id,
    winning_sector_index,
    winning_sector_indices,
)

RAND = clear_top_bits(hashlib.sha256(b"beacon").digest())


def test_post_leaf_challenge_matches_a_hand_computation() -> None:
    digest = hashlib.sha256(RAND + (42).to_bytes(8, "little") + (3).to_bytes(8, "little")).digest()
    expected = int.from_bytes(digest[:8], "little") % 64
    assert post_challenge_leaf(RAND, 42, 3, 64) == expected


def test_winning_sector_choice_matches_a_hand_computation() -> None:
    pid = prover_id(1000)
    digest = hashlib.sha256(pid + RAND + (0).to_bytes(8, "little")).digest()
    assert winning_sector_index(pid, RAND, 0, 7) == int.from_bytes(digest[:8], "little") % 7
    assert winning_sector_indices(pid, RAND, 7) == [winning_sector_index(pid, RAND, 0, 7)]


def test_post_challenges_are_deterministic_and_in_range() -> None:
    leaves = 262144
    first = post_challenges(RAND, 9, 66, leaves)
    assert first == post_challenges(RAND, 9, 66, leaves)
    assert all(0 <= c < leaves for c in first)
    assert first != post_challenges(RAND, 10, 66, leaves)
    assert len(set(first)) > 60


def test_prover_id_is_the_varint_actor_id_right_padded() -> None:
    assert prover_id(1000) == bytes([0xE8, 0x07]) + bytes(30)
    assert prover_id(5) == b"\x05" + bytes(31)


def test_clear_top_bits_only_touches_the_last_byte() -> None:
    assert clear_top_bits(b"\xff" * 32) == b"\xff" * 31 + b"\x3f"
    with pytest.raises(ValueError, match="32 bytes"):
        clear_top_bits(b"short")


def test_porep_challenges_never_pick_node_zero_and_stay_in_range() -> None:
    rid = hashlib.sha256(b"replica").digest()
    seed = hashlib.sha256(b"seed").digest()
    picks = porep_challenges(rid, seed, 500, 64)
    assert all(1 <= c < 64 for c in picks)
    assert picks == porep_challenges(rid, seed, 500, 64)
    assert set(picks) == set(range(1, 64))
