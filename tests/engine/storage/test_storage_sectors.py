"""Declaring sector files and finding them; redeclare from what is really on disk."""

from __future__ import annotations

import os

import pytest

from engine.harmonydb import DB, QueryError
from engine.storage import (
    SectorFileType,
    UnknownStoragePath,
    declare_sector,
    find_sector,
    redeclare,
    sector_file_path,
    undeclare_sector,
)

HOST = "host-a"
OTHER_HOST = "host-b"
FT = SectorFileType
SSIZE = 2048


async def test_declared_copies_are_found_with_their_local_file(db: DB, attach_dir) -> None:
    here = await attach_dir("here", can_store=True)
    there = await attach_dir("there", host=OTHER_HOST, can_store=True)
    await declare_sector(db, here.storage_id, 1000, 5, FT.SEALED, sector_size=SSIZE)
    await declare_sector(db, there.storage_id, 1000, 5, FT.SEALED, primary=False)
    await declare_sector(db, there.storage_id, 1000, 5, FT.CACHE)
    sealed = await find_sector(db, 1000, 5, FT.SEALED, host=HOST)
    assert [(s.storage_id, s.is_primary, s.local_path) for s in sealed] == [
        (here.storage_id, True, here.local_path / "sealed" / "s-t01000-5"),
        (there.storage_id, False, None),
    ]
    assert sealed[1].urls == [f"file://{OTHER_HOST}{there.local_path}"]
    everything = await find_sector(db, 1000, 5, host=OTHER_HOST)
    assert [s.file_type for s in everything] == [FT.SEALED, FT.SEALED, FT.CACHE]
    assert await find_sector(db, 1000, 6) == []


async def test_is_primary_only_goes_from_false_to_true(db: DB, attach_dir) -> None:
    path = await attach_dir("p", can_store=True)
    await declare_sector(db, path.storage_id, 1, 1, FT.SEALED, primary=False)
    await declare_sector(db, path.storage_id, 1, 1, FT.SEALED, primary=True)
    await declare_sector(db, path.storage_id, 1, 1, FT.SEALED, primary=False)
    [loc] = await find_sector(db, 1, 1, FT.SEALED, host=HOST)
    assert loc.is_primary
    assert await undeclare_sector(db, path.storage_id, 1, 1, FT.SEALED)
    assert not await undeclare_sector(db, path.storage_id, 1, 1, FT.SEALED)


async def test_declaring_on_an_unknown_path_or_several_types_at_once_is_refused(
    db: DB, attach_dir
) -> None:
    with pytest.raises(UnknownStoragePath, match="no storage path with ID nope"):
        await declare_sector(db, "nope", 1, 1, FT.SEALED)
    path = await attach_dir("p")
    with pytest.raises(ValueError, match="one file type at a time"):
        await declare_sector(db, path.storage_id, 1, 1, FT.SEALED | FT.CACHE)
    # the table itself refuses a multi-bit file type
    with pytest.raises(QueryError):
        await db.exec(
            "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id) "
            "VALUES (1, 1, 6, $1)",
            path.storage_id,
        )


async def test_redeclare_declares_whole_files_and_reports_truncated_ones(
    db: DB, attach_dir, write_file
) -> None:
    path = await attach_dir("p", can_store=True)
    root = path.local_path
    write_file(sector_file_path(root, FT.SEALED, 1000, 1), SSIZE)
    write_file(sector_file_path(root, FT.CACHE, 1000, 1) / "p_aux", 64)
    write_file(sector_file_path(root, FT.UNSEALED, 1000, 1), SSIZE - 100)  # truncated
    write_file(sector_file_path(root, FT.SEALED, 1000, 2), 1234)  # no known sector size
    write_file(root / "sealed" / ".tmp-s-t01000-3.abc", 10)  # a dead mover's temp
    write_file(root / "sealed" / "README", 10)  # not a sector file: ignored
    write_file(sector_file_path(root, FT.CACHE, 1000, 4), 10)  # a cache must be a directory

    [report] = await redeclare(db, host=HOST)
    assert report.declared == 2
    problems = "\n".join(report.problems)
    assert "unsealed/s-t01000-1: 1948 bytes, expected 2048 (2 KiB sector): truncated" in problems
    assert "sealed/s-t01000-2: 1234 bytes is not a whole sector of any known size" in problems
    assert "cache/s-t01000-4: should be a directory" in problems
    assert len(report.problems) == 3
    found = await find_sector(db, 1000, 1, host=HOST)
    assert {(loc.file_type, loc.sector_size, loc.is_primary) for loc in found} == {
        (FT.SEALED, SSIZE, True),
        (FT.CACHE, SSIZE, True),
    }
    assert not (root / "sealed" / ".tmp-s-t01000-3.abc").exists()


async def test_redeclare_checks_sizes_against_what_the_cluster_declared(
    db: DB, attach_dir, write_file
) -> None:
    path = await attach_dir("p", can_store=True)
    # the cluster knows sector 7 is an 8 MiB sector; a 2 KiB file cannot be it
    await declare_sector(db, path.storage_id, 1000, 7, FT.UNSEALED, sector_size=8 << 20)
    write_file(sector_file_path(path.local_path, FT.SEALED, 1000, 7), SSIZE)
    [report] = await redeclare(db, host=HOST)
    assert report.declared == 0
    assert "expected 8388608 (8 MiB sector)" in report.problems[0]


async def test_redeclare_drop_missing_forgets_gone_and_bad_files(
    db: DB, attach_dir, write_file
) -> None:
    path = await attach_dir("p", can_store=True)
    root = path.local_path
    write_file(sector_file_path(root, FT.SEALED, 1000, 1), SSIZE)
    write_file(sector_file_path(root, FT.SEALED, 1000, 2), SSIZE)
    await redeclare(db, host=HOST)
    assert len(await find_sector(db, 1000, 1)) == 1
    sector_file_path(root, FT.SEALED, 1000, 1).unlink()
    os.truncate(sector_file_path(root, FT.SEALED, 1000, 2), 100)
    [report] = await redeclare(db, host=HOST)
    assert report.dropped == 0 and len(report.problems) == 1
    assert len(await find_sector(db, 1000, 1)) == 1  # without --drop-missing: kept
    [report] = await redeclare(db, host=HOST, drop_missing=True)
    assert report.dropped == 2
    assert await find_sector(db, 1000, 1) == [] and await find_sector(db, 1000, 2) == []


async def test_redeclare_of_one_path_leaves_the_others_alone(
    db: DB, attach_dir, write_file
) -> None:
    a = await attach_dir("a", can_store=True)
    b = await attach_dir("b", can_store=True)
    write_file(sector_file_path(a.local_path, FT.SEALED, 1, 1), SSIZE)
    write_file(sector_file_path(b.local_path, FT.SEALED, 1, 2), SSIZE)
    reports = await redeclare(db, host=HOST, storage_id=b.storage_id)
    assert [r.storage_id for r in reports] == [b.storage_id]
    assert await find_sector(db, 1, 1) == []
    assert len(await find_sector(db, 1, 2)) == 1
