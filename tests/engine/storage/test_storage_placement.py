"""Placement: Curio's StorageBestAlloc rule, and refusals that say why."""

from __future__ import annotations

import pytest

from engine.harmonydb import DB
from engine.storage import NoSuitablePath, SectorFileType, StorageHeartbeat, best_path

HOST = "host-a"
OTHER_HOST = "host-b"
FT = SectorFileType
KIB = 1024
MIB = 1 << 20


async def test_the_best_path_maximises_available_times_weight(db: DB, attach_dir) -> None:
    small_heavy = await attach_dir("a", can_seal=True, weight=100, max_storage=10 * MIB)
    await attach_dir("b", can_seal=True, weight=10, max_storage=50 * MIB)
    chosen = await best_path(db, FT.SEALED, 2 * KIB, seal=True, host=HOST)
    # 10 MiB x 100 beats 50 MiB x 10
    assert chosen.storage_id == small_heavy.storage_id
    assert chosen.local_path == small_heavy.local_path
    assert chosen.free == 10 * MIB


async def test_seal_and_store_flags_are_honoured(db: DB, attach_dir) -> None:
    seal = await attach_dir("seal", can_seal=True)
    store = await attach_dir("store", can_store=True)
    assert (await best_path(db, FT.SEALED, KIB, seal=True, host=HOST)).storage_id == seal.storage_id
    assert (
        await best_path(db, FT.SEALED, KIB, seal=False, host=HOST)
    ).storage_id == store.storage_id


async def test_no_path_can_take_the_file_is_a_clear_refusal(db: DB, attach_dir) -> None:
    await attach_dir("seal-only", can_seal=True)
    await attach_dir("no-sealed", can_store=True, deny_types=["sealed"])
    with pytest.raises(NoSuitablePath) as refused:
        await best_path(db, FT.SEALED, 2 * KIB, seal=False, host=HOST)
    assert str(refused.value) == (
        "no storage path can take a 2 KiB sealed file: 1 path denies sealed, 1 is seal-only"
    )
    assert refused.value.rejections == {"denies sealed": 1, "is seal-only": 1}


async def test_with_no_paths_at_all_the_refusal_says_so(db: DB) -> None:
    with pytest.raises(NoSuitablePath, match="no storage paths are attached"):
        await best_path(db, FT.SEALED, 2 * KIB, seal=True, host=HOST)


async def test_type_filters_miner_filters_and_weight_zero_exclude_paths(db: DB, attach_dir) -> None:
    await attach_dir("only-cache", can_store=True, allow_types=["cache"])
    await attach_dir("other-miner", can_store=True, allow_miners=["t02000"])
    await attach_dir("denies-us", can_store=True, deny_miners=["f01000"])
    await attach_dir("weightless", can_store=True, weight=0)
    with pytest.raises(NoSuitablePath) as refused:
        await best_path(db, FT.SEALED, KIB, seal=False, miner=1000, host=HOST)
    assert refused.value.rejections == {
        "does not allow sealed": 1,
        "does not take miner t01000": 1,
        "denies miner t01000": 1,
        "has weight 0": 1,
    }
    ok = await best_path(db, FT.SEALED, KIB, seal=False, miner=2000, host=HOST)
    assert ok.local_path is not None and ok.local_path.name in ("other-miner", "denies-us")


async def test_moves_only_go_to_groups_the_source_allows(db: DB, attach_dir) -> None:
    await attach_dir("fast", can_store=True, groups=["fast"])
    archive = await attach_dir("archive", can_store=True, groups=["archive"], weight=1)
    chosen = await best_path(db, FT.SEALED, KIB, seal=False, host=HOST, allow_to=["archive"])
    assert chosen.storage_id == archive.storage_id
    with pytest.raises(NoSuitablePath, match="outside the groups the source allows"):
        await best_path(db, FT.SEALED, KIB, seal=False, host=HOST, allow_to=["tape"])


async def test_stale_broken_unmeasured_and_unreachable_paths_are_skipped(
    db: DB, attach_dir
) -> None:
    stale = await attach_dir("stale", can_store=True)
    await attach_dir("never-beaten", can_store=True, beat=False)
    elsewhere = await attach_dir("elsewhere", host=OTHER_HOST, can_store=True)
    await StorageHeartbeat(db, OTHER_HOST).beat_once()
    # its only host stopped beating a minute ago
    for sql in (
        "UPDATE storage_path_hosts SET last_heartbeat = now() - interval '60 seconds' "
        "WHERE storage_id = $1",
        "UPDATE storage_path SET last_heartbeat = now() - interval '60 seconds' "
        "WHERE storage_id = $1",
    ):
        await db.exec(sql, stale.storage_id)
    with pytest.raises(NoSuitablePath) as refused:
        await best_path(db, FT.SEALED, KIB, seal=False, host=HOST)
    assert refused.value.rejections == {
        "is stale (no heartbeat for 50 s)": 1,
        "has never reported a heartbeat": 1,
        f"is not attached on {HOST}": 1,
    }
    # placement that need not be local may use the other host's path
    remote = await best_path(db, FT.SEALED, KIB, seal=False, host=HOST, need_local=False)
    assert remote.local_path is None and remote.storage_id == elsewhere.storage_id


async def test_a_path_without_room_is_refused_with_the_most_free_space(db: DB, attach_dir) -> None:
    await attach_dir("tiny", can_store=True, max_storage=MIB)
    with pytest.raises(NoSuitablePath) as refused:
        await best_path(db, FT.SEALED, 2 * MIB, seal=False, host=HOST)
    assert str(refused.value) == (
        "no storage path can take a 2 MiB sealed file: 1 path lacks space (most free: 1 MiB)"
    )
