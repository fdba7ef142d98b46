"""Sector sizes, proof numbers and piece arithmetic, against go-state-types ``abi`` and
rust-fil-proofs' partition sizes."""

from __future__ import annotations

import pytest

from engine.proofs.errors import InvalidPieceError, UnsupportedSectorSize
from engine.proofs.sizes import (
    GIB,
    KIB,
    MIB,
    format_sector_size,
    padded_piece_size,
    padded_size,
    parse_sector_size,
    sector_size_of_proof,
    spec_for,
    unpadded_size,
)


@pytest.mark.parametrize(
    ("text", "size", "unpadded", "height", "proof", "layers", "partition"),
    [
        ("2KiB", 2 * KIB, 2032, 6, 5, 2, 2),
        ("8MiB", 8 * MIB, 8323072, 18, 6, 2, 2),
        ("512MiB", 512 * MIB, 532676608, 24, 7, 2, 2),
        ("32GiB", 32 * GIB, 34091302912, 30, 8, 11, 2349),
        ("64GiB", 64 * GIB, 68182605824, 31, 9, 11, 2300),
    ],
)
def test_sector_table_matches_filecoins(
    text: str, size: int, unpadded: int, height: int, proof: int, layers: int, partition: int
) -> None:
    spec = spec_for(parse_sector_size(text))
    assert spec.size == size and spec.name == text == format_sector_size(size)
    assert spec.unpadded == unpadded == unpadded_size(size)
    assert padded_size(unpadded) == size
    assert spec.tree_height == height
    assert spec.seal_proof == proof
    assert spec.sdr_layers == layers
    assert spec.window_post_partition_sectors == partition


def test_every_proof_family_maps_to_its_sector_size() -> None:
    assert [sector_size_of_proof(p) for p in (0, 5, 10, 15)] == [2 * KIB] * 4
    assert sector_size_of_proof(13) == 32 * GIB
    assert sector_size_of_proof(19) == 64 * GIB
    with pytest.raises(UnsupportedSectorSize):
        sector_size_of_proof(20)


def test_unknown_sizes_are_refused() -> None:
    for text in ("3KiB", "1GiB", "banana", ""):
        with pytest.raises(UnsupportedSectorSize):
            parse_sector_size(text)
    assert parse_sector_size("2048") == 2048
    assert parse_sector_size("8mib") == 8 * MIB


def test_padded_piece_size_rounds_up_to_a_power_of_two() -> None:
    assert padded_piece_size(65) == 128
    assert padded_piece_size(127) == 128
    assert padded_piece_size(128) == 256
    assert padded_piece_size(1024) == 2048
    with pytest.raises(InvalidPieceError):
        padded_piece_size(64)
    with pytest.raises(InvalidPieceError):
        padded_size(100)
