"""Storage and machine totals count each filesystem and each host once (issue 13): two paths on
one disk are one disk's bytes, two machines on one host are one host's cores; harmony's own
sector bytes are told apart from the filesystem's use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.harmonydb import DB
from engine.harmonytask.machine_state import MachineState
from engine.snapshot import MachineSnap, SnapshotReader
from engine.snapshot.hosts import group_hosts
from engine.storage import StorageHeartbeat, attach

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GIB = 1 << 30


async def snapshot(db: DB, now: datetime = NOW, **kwargs: Any) -> Any:
    return await SnapshotReader(db, **kwargs).snapshot(now)


async def add_path(
    db: DB,
    storage_id: str,
    capacity: int,
    free: int,
    hosts: dict[str, str | None],
    *,
    max_storage: int = 0,
    used: int = 0,
) -> None:
    """A measured path, attached on ``hosts`` (hostname -> the fs_id it reported there)."""
    await db.exec(
        "INSERT INTO storage_path (storage_id, capacity, fs_available, available, max_storage, "
        "used, last_heartbeat, can_store) VALUES ($1, $2, $3, $3, $4, $5, $6, TRUE)",
        storage_id,
        capacity,
        free,
        max_storage,
        used,
        NOW - timedelta(seconds=3),
    )
    for host, fs_id in hosts.items():
        await db.exec(
            "INSERT INTO storage_path_hosts (storage_id, hostname, local_path, last_heartbeat, "
            "fs_id) VALUES ($1, $2, $3, $4, $5)",
            storage_id,
            host,
            f"/srv/{storage_id}",
            NOW - timedelta(seconds=3),
            fs_id,
        )


# --------------------------------------------------------------------------- storage


async def test_two_paths_on_one_disk_count_that_disk_once(db: DB) -> None:
    # the case: a seal and a store path on one 252 GiB disk, 174.6 GiB of it used
    await add_path(db, "seal", 252 * GIB, 252 * GIB - 174 * GIB, {"a": "2049"})
    await add_path(db, "store", 252 * GIB, 252 * GIB - 174 * GIB, {"a": "2049"})
    # another disk on the same host, and a path on a disk of the same size on another host
    await add_path(db, "other", 100 * GIB, 40 * GIB, {"a": "2050"})
    await add_path(db, "remote", 252 * GIB, 252 * GIB - 174 * GIB, {"b": "2049"})
    s = (await snapshot(db)).storage
    assert len(s.paths) == 4
    assert sorted(f.storage_ids for f in s.filesystems) == [
        ("other",),
        ("remote",),
        ("seal", "store"),
    ]
    assert s.capacity == (252 + 100 + 252) * GIB
    assert s.used == (174 + 60 + 174) * GIB


async def test_an_nfs_export_seen_from_two_hosts_is_one_filesystem(db: DB) -> None:
    # each host sees the export under its own st_dev; paths sharing it on any host are one
    await add_path(db, "p1", 10 * GIB, 4 * GIB, {"a": "51", "b": "77"})
    await add_path(db, "p2", 10 * GIB, 4 * GIB, {"b": "77"})
    await add_path(db, "p3", 10 * GIB, 4 * GIB, {"a": "51"})
    s = (await snapshot(db)).storage
    assert [f.storage_ids for f in s.filesystems] == [("p1", "p2", "p3")]
    assert (s.capacity, s.used) == (10 * GIB, 6 * GIB)


async def test_a_path_whose_filesystem_is_unknown_is_its_own(db: DB) -> None:
    # no heartbeat since the upgrade recorded fs_id: never merged by guesswork
    await add_path(db, "x", 10 * GIB, 4 * GIB, {"a": None})
    await add_path(db, "y", 10 * GIB, 4 * GIB, {"a": None})
    s = (await snapshot(db)).storage
    assert len(s.filesystems) == 2 and s.capacity == 20 * GIB


async def test_harmony_bytes_are_its_sector_files_beside_the_filesystems_use(db: DB) -> None:
    await add_path(db, "store", 252 * GIB, 100 * GIB, {"a": "1"})
    # a limited path: its heartbeat measured harmony's bytes ("used", as Curio measures it)
    await add_path(db, "limited", 50 * GIB, 10 * GIB, {"a": "2"}, max_storage=40 * GIB, used=GIB)
    await add_path(db, "empty", 10 * GIB, 10 * GIB, {"a": "3"})
    size = 32 * GIB
    # sector 1: sealed + finalized cache (a tenth of a sector) + unsealed; sector 2: sealed
    # declared without a size (adds nothing: the figure is a floor)
    await db.exec(
        "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, "
        "sector_size) VALUES (1000, 1, 2, 'store', $1), (1000, 1, 4, 'store', $1), "
        "(1000, 1, 1, 'store', $1), (1000, 2, 2, 'store', NULL)",
        size,
    )
    s = (await snapshot(db)).storage
    by_id = {p.storage_id: p for p in s.paths}
    assert s.sector_bytes(by_id["store"]) == 2 * size + size // 10
    assert s.sector_bytes(by_id["limited"]) == GIB
    assert s.sector_bytes(by_id["empty"]) == 0  # no files declared: none of harmony's bytes
    assert s.harmony_bytes == 2 * size + size // 10 + GIB
    # the filesystem's own use is unchanged by it
    assert s.used == (152 + 40 + 0) * GIB


async def test_the_heartbeat_records_the_filesystem_of_each_path(db: DB, tmp_path: Path) -> None:
    """Two directories of one disk, attached as two paths: the heartbeat records one fs_id and
    the console's totals count the disk once."""
    (tmp_path / "seal").mkdir()
    (tmp_path / "store").mkdir()
    await attach(db, tmp_path / "seal", host="host-a", can_seal=True)
    await attach(db, tmp_path / "store", host="host-a", can_store=True)
    await StorageHeartbeat(db, "host-a").beat_once()
    rows = await db.select("SELECT fs_id FROM storage_path_hosts ORDER BY storage_id")
    assert len(rows) == 2 and rows[0]["fs_id"] is not None
    assert rows[0]["fs_id"] == rows[1]["fs_id"]
    now = datetime.now(UTC)
    s = (await SnapshotReader(db).snapshot(now)).storage
    assert len(s.paths) == 2 and len(s.filesystems) == 1
    assert s.capacity == s.paths[0].path.capacity


# --------------------------------------------------------------------------- machines


async def add_machine(
    db: DB,
    machine_id: int,
    host_and_port: str,
    *,
    cpu: int = 2,
    load: float | None = 0.5,
    hostname: str | None = None,
    boot_id: str | None = None,
    session: str | None = "s",
    lost: bool = False,
    age: float = 1.0,
) -> None:
    await db.exec(
        "INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, session, hostname, "
        "boot_id, last_contact, cpu_load, ram_used, lost_at) "
        "VALUES ($1, $2, $3, 4294967296, 0, $4, $5, $6, $7, $8, 1073741824, $9)",
        machine_id,
        host_and_port,
        cpu,
        session,
        hostname,
        boot_id,
        NOW - timedelta(seconds=age),
        load,
        NOW if lost else None,
    )


async def test_two_machines_on_one_host_count_its_cores_once(db: DB) -> None:
    # the case: two machines on one 2-core host, the host half busy
    await add_machine(db, 1, "vm:console", hostname="vm", boot_id="b1", age=2)
    await add_machine(db, 2, "vm:worker-2", hostname="vm", boot_id="b1", load=0.5)
    # a container on another host (its own kernel), and one without a boot id (older version)
    await add_machine(db, 3, "box:w", cpu=8, hostname="box", boot_id="b2", load=0.25)
    await add_machine(db, 4, "old:w", cpu=4, hostname="old", load=None)
    # gone machines on the first host: not counted
    await add_machine(db, 5, "vm:left", hostname="vm", boot_id="b1", session=None)
    await add_machine(db, 6, "gone:w", cpu=64, hostname="gone", session=None, lost=True)
    snap = await snapshot(db)
    hosts = {h.key: h for h in group_hosts(snap.machines)}
    assert sorted(hosts) == ["boot:b1", "boot:b2", "host:old"]
    assert hosts["boot:b1"].machine_ids == (1, 2)
    assert sum(h.cpu for h in hosts.values()) == 2 + 8 + 4
    assert sum(h.busy_cores for h in hosts.values()) == 2 * 0.5 + 8 * 0.25
    # figures from the freshest heartbeat of the host
    assert hosts["boot:b1"].cpu_load == 0.5


async def test_curio_machines_share_a_host_by_address(db: DB) -> None:
    """Curio's rows record no boot id or hostname: the host part of host_and_port tells."""

    def curio(machine_id: int, address: str) -> MachineSnap:
        return MachineSnap(
            id=machine_id,
            host_and_port=address,
            name=address,
            state=MachineState.ACTIVE,
            cpu=16,
            ram=1 << 34,
            gpu=0,
            cpu_load=None,
            ram_used=None,
            gpu_used=None,
            last_contact=NOW,
            contact_age=0.0,
            stale=False,
            startup_time=None,
            version=None,
            tasks=(),
            running=0,
            reports_load=False,
        )

    hosts = group_hosts([curio(1, "10.0.0.5:12300"), curio(2, "10.0.0.5:12301"), curio(3, "x")])
    assert [(h.key, h.machine_ids, h.cpu) for h in hosts] == [
        ("10.0.0.5", (1, 2), 16),
        ("x", (3,), 16),
    ]
