"""Bitfields as Lotus's JSON writes them: run lengths starting with an unset run (go-bitfield
``rle/rleplus.go`` ``MarshalJSON``/``UnmarshalJSON``)."""

from __future__ import annotations

import random

import pytest

from engine.lotus import BitField, LotusDecodeError


@pytest.mark.parametrize(
    ("runs", "members"),
    [
        # go-bitfield rleplus.go: "The set {0, 1, 2, 8, 9} ... would be marshalled as [0, 3, 5, 2]"
        ([0, 3, 5, 2], [0, 1, 2, 8, 9]),
        # go-bitfield bitfield_test.go TestBitfieldJson: {1, 5, 6, 7, 10, 11, 12, 15}
        ([1, 1, 3, 3, 2, 3, 2, 1], [1, 5, 6, 7, 10, 11, 12, 15]),
        # api-methods-v1-stable.md, StateMinerFaults response: [5, 1] is sector 5
        ([5, 1], [5]),
        # the empty set: Go writes [0]
        ([0], []),
    ],
)
def test_documented_encodings_decode_and_encode_back(runs: list[int], members: list[int]) -> None:
    field = BitField.from_json(runs)
    assert list(field) == members
    assert field.count() == len(members)
    assert field.to_json() == runs
    assert BitField.of(members) == field


def test_null_and_an_empty_list_are_the_empty_set() -> None:
    assert BitField.from_json(None) == BitField() == BitField.from_json([])
    assert BitField().to_json() == [0]
    assert not BitField()


def test_a_trailing_unset_run_is_accepted_and_dropped() -> None:
    field = BitField.from_json([2, 3, 4])
    assert list(field) == [2, 3, 4]
    assert field.to_json() == [2, 3]


def test_random_sets_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(200):
        members = sorted(rng.sample(range(5000), rng.randrange(0, 300)))
        field = BitField.of(members)
        again = BitField.from_json(field.to_json())
        assert again == field
        assert list(again) == members
        runs = field.to_json()
        assert all(r > 0 for r in runs[1:])  # only the first run may be empty
        assert sum(runs) == (members[-1] + 1 if members else 0)


def test_membership_and_union_work_on_runs() -> None:
    huge = BitField.from_json([10, 3_000_000, 5, 1])  # 3 million sectors in two runs
    assert huge.count() == 3_000_001
    assert 10 in huge and 3_000_009 in huge and 3_000_015 in huge
    assert 9 not in huge and 3_000_010 not in huge and 3_000_016 not in huge
    assert len(huge.ranges) == 2
    union = BitField.of([1, 2]) | BitField.of([3, 7]) | BitField.of([2, 8])
    assert union.ranges == ((1, 4), (7, 9))
    assert union.to_json() == [1, 3, 3, 2]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([3, 0, 2], "zero-length run"),  # Go: "Cannot have a zero-length run except at start"
        ([1, -2], "non-negative"),
        ([1, 2.5], "non-negative integer"),
        ([1, True], "non-negative integer"),
        ("[5, 1]", "run-length list"),
        ({"runs": [1]}, "run-length list"),
        ([1 << 63, 1 << 63, 1], r"past bit 2\^64"),
    ],
)
def test_malformed_bitfields_name_the_problem(value: object, says: str) -> None:
    with pytest.raises(LotusDecodeError, match=says):
        BitField.from_json(value, "Partition.AllSectors")


def test_members_must_be_uint64() -> None:
    with pytest.raises(ValueError, match="uint64"):
        BitField.of([-1])
