"""Reservations and the engine's storage claim: shared, sized per type, released by death too."""

from __future__ import annotations

import asyncio

import pytest

from engine.harmonydb import DB
from engine.storage import (
    NoSuitablePath,
    SectorFileSizeError,
    SectorFileType,
    SectorNotFound,
    SectorStorageClaim,
    StorageError,
    StorageHeartbeat,
    find_sector,
    get_path,
    list_paths,
)

HOST = "host-a"
FT = SectorFileType
SSIZE = 2048
MIB = 1 << 20


async def live_reserved(db: DB) -> int:
    [info] = await list_paths(db, HOST)
    return info.live_reserved


def sealing_claim(db: DB, sector: int = 1, types: FT = FT.SEALED | FT.CACHE) -> SectorStorageClaim:
    return SectorStorageClaim(db, 1000, sector, SSIZE, types, seal=True, host=HOST)


async def test_a_claim_reserves_curios_overheads_in_the_database(
    db: DB, attach_dir, machine
) -> None:
    path = await attach_dir("seal", can_seal=True)
    task = await machine.new_task()
    reservation = await sealing_claim(db).claim(task, machine.id)
    assert {ft: f.bytes for ft, f in reservation.files.items()} == {
        FT.SEALED: SSIZE,
        FT.CACHE: 141 * SSIZE // 10,
    }
    assert reservation.path_for(FT.SEALED) == path.local_path / "sealed" / "s-t01000-1"
    assert await live_reserved(db) == SSIZE + 141 * SSIZE // 10
    # the next heartbeat subtracts it from available, for every machine to see
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert health.reserved == SSIZE + 141 * SSIZE // 10
    row = await get_path(db, path.storage_id)
    assert row.available == row.fs_available - row.reserved
    await reservation.release()
    assert await live_reserved(db) == 0


async def test_bytes_already_written_are_credited_back_at_the_heartbeat(
    db: DB, attach_dir, machine, write_file
) -> None:
    await attach_dir("seal", can_seal=True)
    reservation = await sealing_claim(db, types=FT.SEALED).claim(
        await machine.new_task(), machine.id
    )
    write_file(reservation.path_for(FT.SEALED), 1000)
    [health] = await StorageHeartbeat(db, HOST).beat_once()
    assert health.reserved == SSIZE - 1000


async def test_finished_files_are_declared_and_the_space_released_together(
    db: DB, attach_dir, machine, write_file
) -> None:
    path = await attach_dir("seal", can_seal=True)
    async with await sealing_claim(db).claim(await machine.new_task(), machine.id) as res:
        write_file(res.path_for(FT.SEALED), SSIZE)
        write_file(res.path_for(FT.CACHE) / "p_aux", 64)
        await res.declare_and_release()
    found = await find_sector(db, 1000, 1, host=HOST)
    assert [(loc.file_type, loc.storage_id, loc.sector_size) for loc in found] == [
        (FT.SEALED, path.storage_id, SSIZE),
        (FT.CACHE, path.storage_id, SSIZE),
    ]
    assert await live_reserved(db) == 0


async def test_a_truncated_output_is_never_declared(
    db: DB, attach_dir, machine, write_file
) -> None:
    await attach_dir("seal", can_seal=True)
    res = await sealing_claim(db).claim(await machine.new_task(), machine.id)
    write_file(res.path_for(FT.SEALED), SSIZE - 1)
    write_file(res.path_for(FT.CACHE) / "p_aux", 64)
    with pytest.raises(SectorFileSizeError, match="has 2047 bytes, expected 2048"):
        await res.declare_and_release()
    assert await find_sector(db, 1000, 1, host=HOST) == []  # not even the good cache
    assert await live_reserved(db) > 0  # still held: the caller decides (retry or release)
    res.path_for(FT.SEALED).unlink()
    with pytest.raises(SectorNotFound, match="was not written"):
        await res.declare_and_release()


async def test_reservations_fill_a_path_and_then_claims_are_refused_without_waiting(
    db: DB, attach_dir, machine
) -> None:
    # room for one sealing set (sealed + cache = 15.1 sector sizes), not two
    await attach_dir("seal", can_seal=True, max_storage=20 * SSIZE)
    first = sealing_claim(db, 1)
    assert await first.has_capacity()
    await first.claim(await machine.new_task(), machine.id)
    second = sealing_claim(db, 2)
    assert not await second.has_capacity()
    assert second.last_refusal is not None
    assert "no storage path can take a 28.2 KiB cache file: 1 path lacks space" in str(
        second.last_refusal
    )
    with pytest.raises(NoSuitablePath):
        await asyncio.wait_for(second.claim(await machine.new_task(), machine.id), 5)


async def test_concurrent_claims_never_overbook_a_path(db: DB, attach_dir, machine_factory) -> None:
    await attach_dir("seal", can_seal=True, max_storage=20 * SSIZE)
    machines = [await machine_factory(f"m{i}") for i in range(4)]
    tasks = [await m.new_task() for m in machines]

    async def try_claim(i: int) -> bool:
        try:
            await sealing_claim(db, i).claim(tasks[i], machines[i].id)
        except NoSuitablePath:
            return False
        return True

    results = await asyncio.gather(*(try_claim(i) for i in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_a_dead_owners_reservations_stop_counting_and_are_cleaned_up(
    db: DB, attach_dir, machine_factory
) -> None:
    await attach_dir("seal", can_seal=True, max_storage=20 * SSIZE)
    doomed = await machine_factory("doomed")
    await sealing_claim(db, 1).claim(await doomed.new_task(), doomed.id)
    survivor = await machine_factory("survivor")
    assert not await sealing_claim(db, 2).has_capacity()
    await doomed.die()
    assert await live_reserved(db) == 0
    assert await sealing_claim(db, 2).has_capacity()
    await StorageHeartbeat(db, HOST).beat_once()
    assert await db.query_value("SELECT count(*) FROM storage_reservations") == 0
    await sealing_claim(db, 2).claim(await survivor.new_task(), survivor.id)


async def test_a_finished_or_reassigned_task_releases_its_reservation(
    db: DB, attach_dir, machine_factory
) -> None:
    await attach_dir("seal", can_seal=True)
    a = await machine_factory("a")
    b = await machine_factory("b")
    done = await a.new_task()
    moved = await a.new_task()
    await sealing_claim(db, 1).claim(done, a.id)
    await sealing_claim(db, 2).claim(moved, a.id)
    await db.exec("DELETE FROM harmony_task WHERE id = $1", done)  # completed
    await db.exec("UPDATE harmony_task SET owner_id = $2 WHERE id = $1", moved, b.id)  # re-claimed
    assert await live_reserved(db) == 0


async def test_a_claim_for_a_task_the_machine_does_not_own_is_refused(
    db: DB, attach_dir, machine_factory
) -> None:
    await attach_dir("seal", can_seal=True)
    a = await machine_factory("a")
    b = await machine_factory("b")
    task = await a.new_task()
    with pytest.raises(StorageError, match="not owned by live machine"):
        await sealing_claim(db).claim(task, b.id)


async def test_a_claim_for_a_task_type_looks_the_sector_up_per_task(
    db: DB, attach_dir, machine
) -> None:
    await attach_dir("seal", can_seal=True)

    async def sector_of(task_id: int) -> tuple[int, int]:
        return 1000, task_id * 10

    claim = SectorStorageClaim(
        db, None, None, SSIZE, FT.SEALED, seal=True, host=HOST, sector_of=sector_of
    )
    assert await claim.has_capacity()
    task = await machine.new_task()
    reservation = await claim.claim(task, machine.id)
    assert reservation.sector == task * 10
    assert reservation.path_for(FT.SEALED).name == f"s-t01000-{task * 10}"
