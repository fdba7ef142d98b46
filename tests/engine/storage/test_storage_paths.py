"""Attach and detach: sectorstore.json, Curio's columns, hosts, and refusals that leave nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.storage import (
    META_FILE,
    CorruptStoreMeta,
    InvalidSetting,
    NotADirectory,
    OverlappingPath,
    SectorFileType,
    StoreConfigConflict,
    UnknownStoragePath,
    attach,
    declare_sector,
    detach,
    get_path,
    local_paths,
    read_meta,
)

HOST = "host-a"
OTHER_HOST = "host-b"


async def count(db: DB, table: str) -> int:
    # table names come from this test file only
    queries = {
        "storage_path": "SELECT count(*) FROM storage_path",
        "storage_path_hosts": "SELECT count(*) FROM storage_path_hosts",
        "sector_location": "SELECT count(*) FROM sector_location",
    }
    return await db.query_value(queries[table])


async def test_attach_initialises_sectorstore_json_and_registers_curios_columns(
    db: DB, tmp_path: Path
) -> None:
    attached = await attach(
        db,
        tmp_path,
        host=HOST,
        can_seal=True,
        weight=7,
        max_storage=1 << 30,
        groups=["fast", "rack1"],
        allow_to=["archive"],
        deny_types=["unsealed"],
        allow_miners=["t01000"],
    )
    assert attached.initialised
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["ID"] == attached.storage_id
    uuid.UUID(meta["ID"])
    assert meta["CanSeal"] is True and meta["CanStore"] is False
    assert meta["Weight"] == 7 and meta["MaxStorage"] == 1 << 30
    assert meta["Groups"] == ["fast", "rack1"] and meta["DenyTypes"] == ["unsealed"]
    for ft in SectorFileType.all().bits():
        assert (tmp_path / ft.dir_name).is_dir()

    row = await get_path(db, attached.storage_id)
    assert (row.can_seal, row.can_store, row.weight, row.max_storage) == (True, False, 7, 1 << 30)
    assert (row.groups, row.allow_to, row.deny_types, row.allow_types) == (
        "fast,rack1",
        "archive",
        "unsealed",
        "",
    )
    assert row.allow_miners == "t01000" and row.deny_miners == ""
    assert row.urls == f"file://{HOST}{tmp_path.resolve()}"
    assert row.last_heartbeat is None  # nobody has measured it yet
    assert [p.local_path for p in await local_paths(db, HOST)] == [tmp_path.resolve()]


async def test_reattaching_keeps_the_id_and_is_idempotent(db: DB, tmp_path: Path) -> None:
    first = await attach(db, tmp_path, host=HOST, can_store=True)
    again = await attach(db, tmp_path, host=HOST)
    assert again.storage_id == first.storage_id and not again.initialised
    assert again.config.can_store
    await detach(db, tmp_path, host=HOST)
    back = await attach(db, tmp_path, host=HOST)
    assert back.storage_id == first.storage_id
    assert await count(db, "storage_path") == 1


async def test_settings_that_contradict_an_existing_sectorstore_json_are_refused(
    db: DB, tmp_path: Path
) -> None:
    await attach(db, tmp_path, host=HOST, can_store=True, weight=10)
    with pytest.raises(StoreConfigConflict, match="can_seal is False, not True"):
        await attach(db, tmp_path, host=HOST, can_seal=True)
    assert read_meta(tmp_path).can_seal is False


async def test_two_hosts_share_one_path_and_the_last_detach_removes_it(
    db: DB, tmp_path: Path
) -> None:
    first = await attach(db, tmp_path, host=HOST, can_store=True)
    second = await attach(db, tmp_path, host=OTHER_HOST)
    assert second.storage_id == first.storage_id and not second.initialised
    row = await get_path(db, first.storage_id)
    assert row.urls.split(",") == [
        f"file://{HOST}{tmp_path.resolve()}",
        f"file://{OTHER_HOST}{tmp_path.resolve()}",
    ]
    await declare_sector(db, first.storage_id, 1000, 1, SectorFileType.SEALED)

    gone = await detach(db, first.storage_id, host=HOST)
    assert not gone.removed
    assert (await get_path(db, first.storage_id)).urls == f"file://{OTHER_HOST}{tmp_path.resolve()}"
    assert await count(db, "sector_location") == 1

    last = await detach(db, tmp_path, host=OTHER_HOST)
    assert last.removed and last.dropped_locations == 1
    assert await count(db, "storage_path") == 0
    assert await count(db, "sector_location") == 0
    assert (tmp_path / META_FILE).exists()  # files are never touched


async def test_attaching_a_missing_path_or_a_file_is_a_clear_error(db: DB, tmp_path: Path) -> None:
    with pytest.raises(NotADirectory, match="does not exist"):
        await attach(db, tmp_path / "nope", host=HOST)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectory, match="is not a directory"):
        await attach(db, tmp_path / "file", host=HOST)
    assert await count(db, "storage_path") == 0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"Weight": 10}', "missing ID"),
        (b'{"ID": "not-a-uuid"}', "is not a UUID"),
        (b'{"ID": "5f0f4a7e-9f7a-4a53-9d0e-3c1d2f6a0b11", "Weight": "ten"}', "Weight must be"),
        (b'{"ID": "5f0f4a7e-9f7a-4a53-9d0e-3c1d2f6a0b11", "CanSeal": 1}', "CanSeal must be"),
        (b'{"ID": "5f0f4a7e-9f7a-4a53-9d0e-3c1d2f6a0b11", "DenyTypes": ["x"]}', "DenyTypes"),
    ],
)
async def test_a_corrupt_sectorstore_json_is_refused_and_left_alone(
    db: DB, tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / META_FILE).write_bytes(content)
    with pytest.raises(CorruptStoreMeta, match=reason):
        await attach(db, tmp_path, host=HOST)
    assert (tmp_path / META_FILE).read_bytes() == content
    assert await count(db, "storage_path") == 0


async def test_nested_or_duplicate_paths_on_one_host_are_refused(db: DB, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    await attach(db, outer, host=HOST)
    with pytest.raises(OverlappingPath, match="is inside storage path"):
        await attach(db, inner, host=HOST)
    assert not (inner / META_FILE).exists()  # a refused attach writes nothing

    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    await attach(db, other / "sub", host=HOST)
    with pytest.raises(OverlappingPath, match="contains storage path"):
        await attach(db, other, host=HOST)

    # a copy of an attached directory carries the same ID
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / META_FILE).write_bytes((outer / META_FILE).read_bytes())
    with pytest.raises(OverlappingPath, match="already attached"):
        await attach(db, copy, host=HOST)
    # ... but another host may attach a directory inside one this host has
    await attach(db, inner, host=OTHER_HOST)
    assert await count(db, "storage_path") == 3


async def test_detaching_an_unknown_path_is_a_clear_error(db: DB, tmp_path: Path) -> None:
    with pytest.raises(UnknownStoragePath, match="no storage path is attached"):
        await detach(db, tmp_path, host=HOST)
    with pytest.raises(UnknownStoragePath):
        await get_path(db, "no-such-id")


async def test_malformed_settings_are_refused_before_anything_is_written(
    db: DB, tmp_path: Path
) -> None:
    with pytest.raises(InvalidSetting, match="allow-types"):
        await attach(db, tmp_path, host=HOST, allow_types=["sealed", "bogus"])
    with pytest.raises(InvalidSetting, match="weight"):
        await attach(db, tmp_path, host=HOST, weight=-1)
    assert not (tmp_path / META_FILE).exists()
