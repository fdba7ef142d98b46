"""The Curio read model's storage section on Curio-shaped rows (support.curio_schema): every
``storage_path`` column as Curio's lib/paths writes it, sector file counts from
``sector_location``, Curio's health rule, a failed disk check (capacity 0) shown as an error, and
NULL columns; as the owner and as a role that may only SELECT."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.snapshot.curio.storage import DISK_CHECK_FAILED, read_storage
from engine.snapshot.model import StorageSnap
from engine.storage import SectorFileType
from support.curio_read import owner, read_with, seeded_at, select_only
from support.curio_schema import CurioCluster

TiB, GiB = 1 << 40, 1 << 30
SEAL_URL = "http://10.0.0.11:12300/remote"
STORE_URLS = "http://10.0.0.11:12300/remote,http://10.0.0.12:12300/remote"
U, S, C = SectorFileType.UNSEALED, SectorFileType.SEALED, SectorFileType.CACHE


async def storage_at(cluster: CurioCluster, now: datetime, **kw: object) -> StorageSnap:
    snap, _ = await read_with(cluster, lambda tx: read_storage(tx, now, **kw))  # type: ignore[arg-type]
    return snap


async def test_paths_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    seal_id, store_id = curio_db.seed.storage_ids
    now = await seeded_at(curio_db) + timedelta(seconds=4)
    snap = await storage_at(curio_db, now)

    # largest first, as storage list
    assert [p.storage_id for p in snap.paths] == [store_id, seal_id]
    store, seal = snap.paths

    p = seal.path
    assert (p.urls, p.weight, p.max_storage, p.can_seal, p.can_store) == (
        SEAL_URL,
        10,
        0,
        True,
        False,
    )
    assert (p.capacity, p.available, p.fs_available, p.reserved, p.used) == (
        4 * TiB,
        3 * TiB,
        3 * TiB,
        200 * GiB,
        1 * TiB,
    )
    assert (p.groups, p.allow_to, p.allow_types, p.deny_types) == ("", "", "", "")
    assert (p.allow_miners, p.deny_miners, p.heartbeat_err) == ("", "", None)
    assert seal.use == "Seal"
    assert seal.heartbeat_age is not None and abs(seal.heartbeat_age - 4.0) < 0.01
    assert seal.healthy and seal.health == "OK (4s ago)"
    # sectors 1, 2 and 3 cache here, 3's replica too
    assert seal.counts[C] == 3 and seal.counts[S] == 1 and seal.counts[U] == 0
    # Curio's reservations live in its nodes: the heartbeat's figure is the live one
    assert seal.live_reserved == 200 * GiB
    # Curio keeps local directories in each node's storage.json, not in the database
    assert seal.hosts == [] and seal.local_path is None
    assert seal.moves_in_progress == 0

    q = store.path
    assert q.urls == STORE_URLS and store.use == "Store"
    assert (q.capacity, q.fs_available, q.used, q.reserved) == (100 * TiB, 60 * TiB, 40 * TiB, 0)
    assert store.counts[S] == 3 and store.counts[C] == 3
    assert store.live_reserved == 0 and store.healthy

    assert snap.capacity == 104 * TiB
    assert snap.used == (4 - 3) * TiB + (100 - 60) * TiB
    assert snap.reserved == 200 * GiB


async def test_a_path_past_curios_heartbeat_threshold_is_stale(curio_db: CurioCluster) -> None:
    # SkippedHeartbeatThresh: five missed 10 s beats
    now = await seeded_at(curio_db) + timedelta(seconds=61)
    snap = await storage_at(curio_db, now)
    assert all(not p.healthy for p in snap.paths)
    assert {p.health for p in snap.paths} == {"Stale (61s ago)"}


async def test_a_failed_disk_check_shows_as_a_heartbeat_error(curio_db: CurioCluster) -> None:
    """lib/paths writes an empty FsStat and drops the stat's error: capacity 0, fresh beat."""
    assert curio_db.seed is not None
    seal_id, store_id = curio_db.seed.storage_ids
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE storage_path SET capacity = 0, available = 0, fs_available = 0, reserved = 0, "
            "used = 0 WHERE storage_id = $1",
            store_id,
        )
        await conn.execute(
            "UPDATE storage_path SET heartbeat_err = 'stat /mnt/seal: input/output error' "
            "WHERE storage_id = $1",
            seal_id,
        )
    now = await seeded_at(curio_db) + timedelta(seconds=2)
    paths = {p.storage_id: p for p in (await storage_at(curio_db, now)).paths}
    store, seal = paths[store_id], paths[seal_id]
    assert store.path.heartbeat_err == DISK_CHECK_FAILED
    assert not store.healthy and store.health == f"Error: {DISK_CHECK_FAILED}"
    # an error Curio did write keeps its own words
    assert seal.path.heartbeat_err == "stat /mnt/seal: input/output error"
    assert seal.health == "Error: stat /mnt/seal: input/output error"


async def test_null_columns_read_as_curios_gui_shows_them(curio_db: CurioCluster) -> None:
    """Every storage_path column but the key allows NULL in Curio's DDL."""
    async with owner(curio_db) as conn:
        await conn.execute("INSERT INTO storage_path (storage_id) VALUES ('bare')")
    now = await seeded_at(curio_db)
    bare = next(p for p in (await storage_at(curio_db, now)).paths if p.storage_id == "bare")
    p = bare.path
    assert (p.urls, p.weight, p.capacity, p.can_seal, p.can_store) == ("", 0, 0, False, False)
    # no heartbeat at all: not a failed check, just none yet
    assert p.heartbeat_err is None and bare.heartbeat_age is None
    assert bare.health == "No heartbeat yet" and bare.use == "Read-Only"
    assert sum(bare.counts.values()) == 0


async def test_counts_from_an_earlier_refresh_are_used_as_given(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    seal_id, _ = curio_db.seed.storage_ids
    now = await seeded_at(curio_db)
    given = {seal_id: {SectorFileType.UNSEALED: 7}}
    snap, timing = await read_with(curio_db, lambda tx: read_storage(tx, now, counts=given))
    seal = next(p for p in snap.paths if p.storage_id == seal_id)
    assert seal.counts[U] == 7 and seal.counts[C] == 0
    assert timing.statements == 1
    _, timing = await read_with(curio_db, lambda tx: read_storage(tx, now))
    assert timing.statements == 2


async def test_a_select_only_role_reads_it(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db)
    async with select_only(curio_db) as url:
        snap, _ = await read_with(curio_db, lambda tx: read_storage(tx, now), url=url)
    assert len(snap.paths) == 2
    assert sum(sum(p.counts.values()) for p in snap.paths) == 10
