"""Heartbeat: real disk usage, own accounting, errors for vanished or unwritable paths, stale."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.harmonydb import DB
from engine.storage import (
    META_FILE,
    SectorFileType,
    StorageHeartbeat,
    attach,
    get_path,
    list_paths,
    sector_file_path,
)

HOST = "host-a"
OTHER_HOST = "host-b"
MIB = 1 << 20


async def test_a_heartbeat_records_real_filesystem_usage(db: DB, tmp_path: Path) -> None:
    attached = await attach(db, tmp_path, host=HOST, can_store=True)
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert health.ok
    row = await get_path(db, attached.storage_id)
    usage = psutil.disk_usage(str(tmp_path))
    assert row.capacity == usage.total
    assert abs(row.fs_available - usage.free) < 64 * MIB  # other tests write meanwhile
    assert row.reserved == 0 and row.used == 0
    assert row.available == row.fs_available
    assert row.last_heartbeat is not None and row.heartbeat_err is None


async def test_used_counts_sector_files_and_max_storage_caps_available(
    db: DB, tmp_path: Path, write_file
) -> None:
    attached = await attach(db, tmp_path, host=HOST, can_store=True, max_storage=3 * MIB)
    write_file(sector_file_path(tmp_path, SectorFileType.SEALED, 1000, 1), MIB)
    write_file(sector_file_path(tmp_path, SectorFileType.CACHE, 1000, 1) / "p_aux", 1000)
    write_file(tmp_path / "not-a-sector-dir" / "big", 2 * MIB)  # not ours: not counted
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert health.used == MIB + 1000
    row = await get_path(db, attached.storage_id)
    assert row.used == MIB + 1000
    assert row.available == 3 * MIB - (MIB + 1000)


async def test_a_vanished_path_records_heartbeat_err(db: DB, tmp_path: Path) -> None:
    directory = tmp_path / "disk"
    directory.mkdir()
    attached = await attach(db, directory, host=HOST, can_store=True)
    await StorageHeartbeat(db, HOST).beat_once()
    shutil.rmtree(directory)
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert not health.ok and "does not exist" in (health.error or "")
    row = await get_path(db, attached.storage_id)
    assert row.heartbeat_err == f"{HOST}: {directory} does not exist (unmounted or removed?)"
    [info] = await list_paths(db, HOST)
    assert info.health.startswith("Error: ") and not info.healthy


async def test_another_disk_mounted_at_the_path_is_an_error_not_a_target(
    db: DB, tmp_path: Path
) -> None:
    attached = await attach(db, tmp_path, host=HOST, can_store=True)
    (tmp_path / META_FILE).unlink()
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert "sectorstore.json is missing" in (health.error or "")
    (tmp_path / META_FILE).write_text('{"ID": "5f0f4a7e-9f7a-4a53-9d0e-3c1d2f6a0b11"}')
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert f"expected {attached.storage_id}" in (health.error or "")
    (tmp_path / META_FILE).write_text("{broken")
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert "corrupt" in (health.error or "")


@contextlib.contextmanager
def read_only_directory(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable for real, even for root: the immutable attribute, else mode bits."""
    immutable = (
        shutil.which("chattr") is not None
        and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    )
    if not immutable:
        if os.geteuid() == 0:
            pytest.skip("running as root without chattr +i: cannot make a directory unwritable")
        path.chmod(0o555)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)


async def test_an_unwritable_path_records_heartbeat_err(db: DB, tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    attached = await attach(db, directory, host=HOST, can_store=True)
    with read_only_directory(directory):
        [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert not health.ok and "is not writable" in (health.error or "")
    assert "is not writable" in ((await get_path(db, attached.storage_id)).heartbeat_err or "")
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert health.ok
    assert (await get_path(db, attached.storage_id)).heartbeat_err is None
    assert not any(p.name.startswith(".harmony-probe") for p in directory.iterdir())


async def test_a_path_unseen_for_50_seconds_is_stale(db: DB, tmp_path: Path) -> None:
    attached = await attach(db, tmp_path, host=HOST, can_store=True)
    await StorageHeartbeat(db, HOST).beat_once()
    [info] = await list_paths(db, HOST)
    assert info.healthy and info.health.startswith("OK (")
    # the host stops beating: age its rows as 51 s of silence would
    await db.exec(
        "UPDATE storage_path SET last_heartbeat = now() - interval '51 seconds' "
        "WHERE storage_id = $1",
        attached.storage_id,
    )
    [info] = await list_paths(db, HOST)
    assert not info.healthy and info.health == "Stale (51s ago)"


async def test_one_host_losing_a_shared_path_does_not_mark_it_failed_for_all(
    db: DB, tmp_path: Path
) -> None:
    shared = tmp_path / "nfs"
    shared.mkdir()
    attached = await attach(db, shared, host=HOST, can_store=True)
    # host-b mounts the same export elsewhere (played by a directory with the same
    # sectorstore.json); then its mount disappears
    mount_b = tmp_path / "mnt-b"
    mount_b.mkdir()
    shutil.copy(shared / META_FILE, mount_b / META_FILE)
    await attach(db, mount_b, host=OTHER_HOST)
    await StorageHeartbeat(db, HOST).beat_once()
    shutil.rmtree(mount_b)
    [health_b] = await StorageHeartbeat(db, OTHER_HOST).beat_once()
    assert not health_b.ok
    row = await get_path(db, attached.storage_id)
    assert row.heartbeat_err is None  # host-a saw it healthy just now
    [info] = await list_paths(db, OTHER_HOST)
    assert [h.health.split(" ")[0] for h in info.hosts] == ["OK", "Error:"]


async def test_run_beats_until_stopped(db: DB, tmp_path: Path) -> None:
    attached = await attach(db, tmp_path, host=HOST, can_store=True)
    heartbeat = StorageHeartbeat(db, HOST, interval=0.05, recover_on_start=True)
    task = asyncio.create_task(heartbeat.run())
    for _ in range(200):
        if (await get_path(db, attached.storage_id)).last_heartbeat is not None:
            break
        await asyncio.sleep(0.02)
    heartbeat.stop()
    await asyncio.wait_for(task, 5)
    assert (await get_path(db, attached.storage_id)).capacity > 0
