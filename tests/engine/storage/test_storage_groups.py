"""Storage path groups: a sealed sector is stored only in a group its seal path allows (Lotus
``AllowTo``), and a machine with ``--store-groups`` stores only in one of those groups; both
when reserving for MoveStorage (the engine's storage claim) and when moving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.storage import NoSuitablePath, SectorFileType, best_path, declare_sector, move_sector
from engine.storage.placement import load_path_states, rank
from engine.tasks.storage import PathStatesCache, TaskStorage, configure_store_groups

HOST = "host-a"
FT = SectorFileType
S, C = FT.SEALED, FT.CACHE
SSIZE = 2048
MIB = 1 << 20


async def sealed_sector(db: DB, attach_dir, write_file, **seal_settings) -> Path:
    """Sector t01000-1 sealed on a seal path (its sealed file and cache written, declared)."""
    seal = await attach_dir("seal", can_seal=True, **seal_settings)
    write_file(seal.local_path / "sealed" / "s-t01000-1", SSIZE)
    write_file(seal.local_path / "cache" / "s-t01000-1" / "p_aux", 64)
    for ft in (S, C):
        await declare_sector(db, seal.storage_id, 1000, 1, ft, sector_size=SSIZE)
    return seal.local_path


def move_storage(db: DB, groups: tuple[str, ...] = ()) -> TaskStorage:
    """The storage claim of MoveStorage (engine.tasks.seal.finalize), on a machine of HOST."""
    paths = PathStatesCache(db, HOST)
    paths.store_groups = groups

    async def lookup(task_id: int) -> tuple[int, int, int]:
        return 1000, 1, SSIZE

    return TaskStorage(db, paths, lookup, writes=S | C, seal=False, reads=S | C)


async def test_the_machines_groups_confine_placement_and_the_refusal_says_so(
    db: DB, attach_dir
) -> None:
    a = await attach_dir("a", can_store=True, groups=["rack-a"], max_storage=50 * MIB)
    b = await attach_dir("b", can_store=True, groups=["rack-b", "cold"], max_storage=MIB)
    assert (await best_path(db, S, SSIZE, seal=False, host=HOST)).storage_id == a.storage_id
    chosen = await best_path(db, S, SSIZE, seal=False, host=HOST, groups=["cold"])
    assert chosen.storage_id == b.storage_id
    with pytest.raises(NoSuitablePath) as refused:
        await best_path(db, S, SSIZE, seal=False, host=HOST, groups=["rack-c"])
    assert "2 paths are outside this machine's store groups (rack-c)" in str(refused.value)
    # both rules apply together: allowed by the source, and in the machine's groups
    states = await load_path_states(db, HOST)
    both = rank(states, S, SSIZE, seal=False, host=HOST, allow_to=["rack-a"], groups=["cold"])
    assert both.candidates == []
    assert sum(both.rejections.values()) == 2


async def test_move_storage_reserves_only_where_the_seal_path_allows(
    db: DB, attach_dir, machine, write_file
) -> None:
    """Before, the reservation ignored the seal path's allow-to: it took the roomiest store
    path, and the move then refused it (the task failed until its retries ran out)."""
    await sealed_sector(db, attach_dir, write_file, allow_to=["rack-a"])
    a = await attach_dir("a", can_store=True, groups=["rack-a"], max_storage=MIB)
    await attach_dir("b", can_store=True, groups=["rack-b"], max_storage=50 * MIB)
    task = await machine.new_task("MoveStorage")
    held = await move_storage(db).claim(task, machine.id)
    assert {f.storage_id for f in held.reservation.files.values()} == {a.storage_id}
    await held.release()


async def test_move_storage_on_a_machine_with_store_groups(
    db: DB, attach_dir, machine, write_file, caplog
) -> None:
    await sealed_sector(db, attach_dir, write_file)
    await attach_dir("a", can_store=True, groups=["rack-a"], max_storage=50 * MIB)
    b = await attach_dir("b", can_store=True, groups=["rack-b"], max_storage=MIB)
    storage = move_storage(db, groups=("rack-b",))
    assert await storage.has_capacity()
    task = await machine.new_task("MoveStorage")
    held = await storage.claim(task, machine.id)
    assert {f.storage_id for f in held.reservation.files.values()} == {b.storage_id}
    moved = await move_sector(
        db, 1000, 1, S | C, dest=b.storage_id, sector_size=SSIZE, host=HOST, groups=("rack-b",)
    )
    assert {m.dst_storage_id for m in moved} == {b.storage_id}
    assert (b.local_path / "sealed" / "s-t01000-1").stat().st_size == SSIZE
    await held.release()
    # a machine confined to a group with no path: no room, so it claims no MoveStorage
    # (another machine may), and a claim that raced in is refused, saying why
    nowhere = move_storage(db, groups=("rack-z",))
    with caplog.at_level(logging.WARNING, logger="engine.tasks.storage"):
        assert not await nowhere.has_capacity()
        assert not await nowhere.has_capacity()  # said once, not at every scheduling cycle
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "2 paths are outside this machine's store groups (rack-z)" in said[0]
    with pytest.raises(NoSuitablePath, match="outside this machine's store groups"):
        await nowhere.claim(await machine.new_task("MoveStorage"), machine.id)


async def test_a_move_outside_the_groups_is_refused(db: DB, attach_dir, write_file) -> None:
    await sealed_sector(db, attach_dir, write_file)
    a = await attach_dir("a", can_store=True, groups=["rack-a"])
    with pytest.raises(NoSuitablePath, match="outside this machine's store groups"):
        await move_sector(db, 1000, 1, S, dest=a.storage_id, host=HOST, groups=("rack-b",))
    with pytest.raises(NoSuitablePath, match="outside this machine's store groups"):
        await move_sector(db, 1000, 1, S, host=HOST, groups=("rack-b",))


def test_store_groups_reach_every_store_placement_of_the_workload(db: DB) -> None:
    shared = PathStatesCache(db, HOST)

    class Stage:
        def __init__(self, seal: bool) -> None:
            self.storage = TaskStorage(db, shared, _none, writes=S, seal=seal)

    store, seal = Stage(seal=False), Stage(seal=True)
    configure_store_groups([store, seal, object()], [" rack-b", "rack-b", "cold", ""])
    assert shared.store_groups == ("rack-b", "cold")
    assert store.storage.groups == ("rack-b", "cold")
    assert seal.storage.groups == ()  # sealing scratch space is not long-term storage


async def _none(task_id: int) -> None:
    return None
