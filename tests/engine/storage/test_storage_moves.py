"""Moves: one good declared copy at every instant, even when the mover is SIGKILLed mid-way."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.storage import (
    AttachedPath,
    NoSuitablePath,
    SectorFileSizeError,
    SectorFileType,
    SectorNotFound,
    StorageError,
    UnknownStoragePath,
    declare_sector,
    find_sector,
    move_sector,
    recover_moves,
    sector_file_path,
)

HOST = "host-a"
FT = SectorFileType
MIB = 1 << 20
SSIZE = 8 * MIB  # a real (devnet) sector size: multi-MB files, so a kill lands mid-copy
MINER, SECTOR = 1000, 42


def digest(path: Path) -> dict[str, str]:
    """Content of a file, or of every file under a directory, by relative path."""
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def temps(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.glob("*/.tmp-*"))


async def make_sector(
    db: DB, src: AttachedPath, write_file, *, cache_files: int = 3
) -> dict[SectorFileType, dict[str, str]]:
    """A declared sealed file (8 MiB) and cache directory (with a sub-directory) on ``src``."""
    sealed = sector_file_path(src.local_path, FT.SEALED, MINER, SECTOR)
    cache = sector_file_path(src.local_path, FT.CACHE, MINER, SECTOR)
    write_file(sealed, SSIZE)
    for i in range(cache_files):
        write_file(cache / f"sc-02-data-layer-{i}.dat", 2 * MIB)
    write_file(cache / "sub" / "p_aux", 64)
    for ft in (FT.SEALED, FT.CACHE):
        await declare_sector(db, src.storage_id, MINER, SECTOR, ft, sector_size=SSIZE)
    return {FT.SEALED: digest(sealed), FT.CACHE: digest(cache)}


async def assert_one_good_declared_copy(
    db: DB, ft: SectorFileType, expected: dict[str, str]
) -> Path:
    """Exactly one declaration, whose file is whole and not a temp."""
    locations = await find_sector(db, MINER, SECTOR, ft, host=HOST)
    assert len(locations) == 1, locations
    path = locations[0].local_path
    assert path is not None and not path.name.startswith(".tmp-")
    assert digest(path) == expected
    return path


async def test_a_move_copies_declares_then_drops_the_source(db: DB, attach_dir, write_file) -> None:
    src = await attach_dir("seal", can_seal=True)
    dst = await attach_dir("store", can_store=True)
    before = await make_sector(db, src, write_file)
    results = await move_sector(db, MINER, SECTOR, FT.SEALED | FT.CACHE, host=HOST)
    assert [(r.file_type, r.dst_storage_id) for r in results] == [
        (FT.SEALED, dst.storage_id),
        (FT.CACHE, dst.storage_id),
    ]
    for ft in (FT.SEALED, FT.CACHE):
        path = await assert_one_good_declared_copy(db, ft, before[ft])
        assert path == sector_file_path(dst.local_path, ft, MINER, SECTOR)
        assert not sector_file_path(src.local_path, ft, MINER, SECTOR).exists()
    assert temps(src.local_path, dst.local_path) == []
    assert await db.query_value("SELECT count(*) FROM storage_moves") == 0


async def test_a_truncated_source_is_never_moved(db: DB, attach_dir, write_file) -> None:
    src = await attach_dir("seal", can_seal=True)
    await attach_dir("store", can_store=True)
    await make_sector(db, src, write_file)
    os.truncate(sector_file_path(src.local_path, FT.SEALED, MINER, SECTOR), SSIZE - 1)
    with pytest.raises(SectorFileSizeError, match="expected 8388608"):
        await move_sector(db, MINER, SECTOR, FT.SEALED, host=HOST)
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host=HOST)
    assert loc.storage_id == src.storage_id


async def test_bad_destinations_are_refused_before_copying(db: DB, attach_dir, write_file) -> None:
    src = await attach_dir("seal", can_seal=True, allow_to=["archive"])
    small = await attach_dir("small", can_store=True, groups=["archive"], max_storage=MIB)
    await attach_dir("wrong-group", can_store=True, groups=["fast"])
    await make_sector(db, src, write_file)
    with pytest.raises(UnknownStoragePath):
        await move_sector(db, MINER, SECTOR, FT.SEALED, dest="no-such-path", host=HOST)
    with pytest.raises(NoSuitablePath, match=f"storage path {small.storage_id} can take"):
        await move_sector(db, MINER, SECTOR, FT.SEALED, dest=small.storage_id, host=HOST)
    with pytest.raises(NoSuitablePath) as refused:
        await move_sector(db, MINER, SECTOR, FT.SEALED, host=HOST)
    assert refused.value.rejections == {
        "lacks space": 1,
        "is outside the groups the source allows (archive)": 1,
    }
    with pytest.raises(SectorNotFound, match="no sealed file of sector t01000-7"):
        await move_sector(db, MINER, 7, FT.SEALED, host=HOST)
    assert temps(src.local_path, small.local_path) == []


async def test_a_second_mover_of_the_same_file_is_turned_away(
    db: DB, attach_dir, write_file
) -> None:
    src = await attach_dir("seal", can_seal=True)
    dst = await attach_dir("store", can_store=True)
    remote = await attach_dir("remote", host="host-b", can_store=True)
    await make_sector(db, src, write_file)
    # host-b is copying the sealed file to a path only it reaches
    await db.exec(
        "INSERT INTO storage_moves (miner_id, sector_num, sector_filetype, src_storage_id, "
        "dst_storage_id, hostname, temp_name, state) "
        "VALUES ($1, $2, 2, $3, $4, 'host-b', '.tmp-x', 'copying')",
        MINER,
        SECTOR,
        src.storage_id,
        remote.storage_id,
    )
    with pytest.raises(StorageError, match="already in progress on host-b"):
        await move_sector(db, MINER, SECTOR, FT.SEALED, dest=dst.storage_id, host=HOST)
    assert temps(src.local_path, dst.local_path) == []


async def test_a_copy_already_declared_at_the_destination_is_trusted_only_if_whole(
    db: DB, attach_dir, write_file
) -> None:
    src = await attach_dir("seal", can_seal=True)
    dst = await attach_dir("store", can_store=True)
    before = await make_sector(db, src, write_file)
    dst_file = sector_file_path(dst.local_path, FT.SEALED, MINER, SECTOR)
    dst_file.parent.mkdir(exist_ok=True)
    dst_file.write_bytes(sector_file_path(src.local_path, FT.SEALED, MINER, SECTOR).read_bytes())
    os.truncate(dst_file, MIB)
    await declare_sector(db, dst.storage_id, MINER, SECTOR, FT.SEALED, primary=False)
    with pytest.raises(StorageError, match="is 1048576 bytes, not 8388608"):
        await move_sector(db, MINER, SECTOR, FT.SEALED, dest=dst.storage_id, host=HOST)
    assert len(await find_sector(db, MINER, SECTOR, FT.SEALED)) == 2  # nothing dropped

    dst_file.write_bytes(sector_file_path(src.local_path, FT.SEALED, MINER, SECTOR).read_bytes())
    await move_sector(db, MINER, SECTOR, FT.SEALED, dest=dst.storage_id, host=HOST)
    assert await assert_one_good_declared_copy(db, FT.SEALED, before[FT.SEALED]) == dst_file
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED)
    assert loc.is_primary  # the primary flag moved with the file


MOVER = textwrap.dedent(
    """
    import asyncio, sys, time
    from engine.harmonydb import DB
    from engine.storage import SectorFileType, move_sector

    async def main():
        url, schema, host, miner, sector, types, stop_step, stop_after = sys.argv[1:]
        db = await DB.open(url, schema=schema, migrate=False, max_size=2)

        def hook(step, copied):
            if step == stop_step and copied >= int(stop_after):
                print(f"PAUSED {step} {copied}", flush=True)
                time.sleep(600)  # until SIGKILLed

        await move_sector(db, int(miner), int(sector), SectorFileType(int(types)),
                          host=host, on_step=hook)
        print("DONE", flush=True)

    asyncio.run(main())
    """
)


async def kill_mover_at(db: DB, tmp_path: Path, ft: SectorFileType, step: str, after: int) -> None:
    """Run a real mover process, SIGKILL it when it reaches ``step`` (``after`` bytes in)."""
    script = tmp_path / "mover.py"
    script.write_text(MOVER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        db.url.dsn,
        db.schema,
        HOST,
        str(MINER),
        str(SECTOR),
        str(int(ft)),
        step,
        str(after),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line.startswith(b"PAUSED"):
            _, err = await proc.communicate()
            pytest.fail(f"mover did not pause: {line!r} {err.decode()[-2000:]}")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("ft", "step", "after"),
    [
        (FT.SEALED, "copying", 3 * MIB),  # mid-copy: a partial temp on the destination
        (FT.SEALED, "copied", 0),  # whole temp, fsynced, not yet renamed
        (FT.SEALED, "renamed", 0),  # whole file under its final name, not yet declared
        (FT.SEALED, "declared", 0),  # destination declared, old source still on disk
        (FT.CACHE, "copying", 3 * MIB),  # a cache directory half copied
        (FT.CACHE, "declared", 0),
    ],
)
async def test_a_mover_killed_at_any_step_leaves_one_good_declared_copy(
    db: DB, attach_dir, write_file, tmp_path: Path, ft: SectorFileType, step: str, after: int
) -> None:
    src = await attach_dir("seal", can_seal=True)
    dst = await attach_dir("store", can_store=True)
    before = await make_sector(db, src, write_file)
    src_file = sector_file_path(src.local_path, ft, MINER, SECTOR)
    dst_file = sector_file_path(dst.local_path, ft, MINER, SECTOR)

    await kill_mover_at(db, tmp_path, ft, step, after)

    declared = await assert_one_good_declared_copy(db, ft, before[ft])
    assert declared == (dst_file if step == "declared" else src_file)
    if step in ("copying", "copied"):
        [temp] = temps(dst.local_path)
        assert temp.name.startswith(f".tmp-{dst_file.name}.")
    if step == "copying":
        partial = (
            temp.stat().st_size
            if ft == FT.SEALED
            else sum(p.stat().st_size for p in temp.rglob("*") if p.is_file())
        )
        assert 3 * MIB <= partial < (SSIZE if ft == FT.SEALED else 6 * MIB + 64)

    report = await recover_moves(db, host=HOST)

    assert temps(src.local_path, dst.local_path) == []
    assert await db.query_value("SELECT count(*) FROM storage_moves") == 0
    declared = await assert_one_good_declared_copy(db, ft, before[ft])
    if step == "declared":
        assert report.removed_sources == [src_file] and not src_file.exists()
    else:
        assert declared == src_file and not dst_file.exists()
        if step == "renamed":
            assert report.removed_unfinished == [dst_file]
        # and the move can simply be run again
        [result] = await move_sector(db, MINER, SECTOR, ft, host=HOST)
        assert result.path == dst_file
        assert await assert_one_good_declared_copy(db, ft, before[ft]) == dst_file
        assert not src_file.exists()


async def test_recovery_leaves_a_live_movers_temp_alone(db: DB, attach_dir, write_file) -> None:
    src = await attach_dir("seal", can_seal=True)
    dst = await attach_dir("store", can_store=True)
    before = await make_sector(db, src, write_file)
    paused = asyncio.Event()
    proceed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hook(step: str, copied: int) -> None:
        if step == "copying" and copied == MIB:  # called from the copying thread
            loop.call_soon_threadsafe(paused.set)
            asyncio.run_coroutine_threadsafe(proceed.wait(), loop).result(30)

    mover = asyncio.create_task(move_sector(db, MINER, SECTOR, FT.SEALED, host=HOST, on_step=hook))
    await asyncio.wait_for(paused.wait(), 30)
    report = await recover_moves(db, host=HOST)
    assert report.removed_temps == [] and report.journal_rows == 0
    assert len(temps(dst.local_path)) == 1
    proceed.set()
    await asyncio.wait_for(mover, 30)
    await assert_one_good_declared_copy(db, FT.SEALED, before[FT.SEALED])
