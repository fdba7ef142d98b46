"""File types, overheads, sizes and names: pure functions, no database."""

from __future__ import annotations

import pytest

import engine.storage as storage
from engine.storage import (
    FS_OVERHEAD_SEAL,
    SectorFileType,
    format_types,
    parse_sector_name,
    parse_size,
    parse_types,
    sector_name,
    size_str,
)

FT = SectorFileType
KIB = 1024


def test_file_type_bits_are_curios() -> None:
    assert [int(ft) for ft in FT.all().bits()] == [1, 2, 4, 8, 16, 32, 64]
    assert [ft.dir_name for ft in FT.all().bits()] == [
        "unsealed",
        "sealed",
        "cache",
        "update",
        "update-cache",
        "piece",
        "key",
    ]


def test_file_types_parse_and_format_as_comma_lists() -> None:
    assert parse_types("sealed, cache") == FT.SEALED | FT.CACHE
    assert parse_types(["update_cache"]) == FT.UPDATE_CACHE
    assert format_types(FT.CACHE | FT.UNSEALED) == "unsealed,cache"
    assert str(FT.SEALED) == "sealed"
    with pytest.raises(ValueError, match="unknown sector file type 'bogus'"):
        parse_types("sealed,bogus")


def test_reservation_sizes_follow_curios_overhead_table() -> None:
    ssize = 32 << 30
    # a cache while sealing holds 14.1 sector sizes; once finalized 0.1
    assert FT.CACHE.overhead(ssize, sealing=True) == 141 * ssize // 10
    assert FT.CACHE.overhead(ssize, sealing=False) == ssize // 10
    assert FT.SEALED.overhead(ssize, sealing=True) == ssize
    assert FT.UPDATE_CACHE.overhead(ssize, sealing=True) == 21 * ssize // 10
    sealing_total = sum(FT(ft).overhead(ssize, sealing=True) for ft in (1, 2, 4))
    assert sealing_total == pytest.approx(16.1 * ssize)
    assert FS_OVERHEAD_SEAL[FT.KEY] == 111


def test_only_whole_sector_types_have_an_exact_size() -> None:
    assert FT.SEALED.expected_size(2048) == 2048
    assert FT.UNSEALED.expected_size(2048) == 2048
    assert FT.UPDATE.expected_size(2048) == 2048
    assert FT.CACHE.expected_size(2048) is None
    assert FT.CACHE.is_directory and FT.UPDATE_CACHE.is_directory
    assert not FT.SEALED.is_directory


def test_single_type_properties_refuse_combinations() -> None:
    with pytest.raises(ValueError, match="single file type"):
        _ = (FT.SEALED | FT.CACHE).dir_name


def test_sector_names_are_lotus_names() -> None:
    assert sector_name(1000, 7) == "s-t01000-7"
    assert parse_sector_name("s-t01000-7") == (1000, 7)
    assert parse_sector_name(".tmp-s-t01000-7.abc") is None
    assert parse_sector_name("s-t01000-7.bak") is None


def test_sizes_print_like_lotus_and_parse_binary_units() -> None:
    assert size_str(2048) == "2 KiB"
    assert size_str(1672612037509) == "1.521 TiB"
    assert size_str(0) == "0 B"
    assert parse_size("2KiB") == 2 * KIB
    assert parse_size("1G") == 1 << 30
    assert parse_size("1.5 MiB") == 3 << 19
    assert parse_size("4096") == 4096
    for bad in ("", "12XB", "iB", "-1G"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_public_api_is_what_all_lists() -> None:
    for name in storage.__all__:
        assert hasattr(storage, name), name
    assert {"SectorStorageClaim", "StorageHeartbeat", "move_sector", "best_path"} <= set(
        storage.__all__
    )
