"""The provability check over real 2 KiB sectors: all good; then a replica with flipped bytes,
a missing replica and a CommR that does not match the cache, each bad with its reason, and the
database exactly as it was; a sector on another host proven there, as WdPost would."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.storage import SectorFileType, attach, declare_sector, sector_file_path
from engine.storage.remote import StorageServer
from engine.tasks.window.check import NoSuchPartition, SectorCheck, check_provable
from support.curio_changes import schema_dumper
from support.proving_check import DEADLINE, MINER, check_cluster, flip_bytes
from support.sealed import seal_into


async def test_all_good_then_partition_and_faulty_filters(db: DB, tmp_path: Path) -> None:
    cluster = await check_cluster(db, tmp_path)
    checks = await check_provable(db, MINER, DEADLINE)
    assert checks == [
        SectorCheck(DEADLINE, 0, 0, True),
        SectorCheck(DEADLINE, 0, 1, True),
        SectorCheck(DEADLINE, 1, 2, True),
    ]
    assert await check_provable(db, MINER, DEADLINE, only_bad=True) == []
    assert [c.sector for c in await check_provable(db, MINER, DEADLINE, partition=1)] == [2]
    with pytest.raises(NoSuchPartition, match=r"no partition 5 .*partitions: 0, 1"):
        await check_provable(db, MINER, DEADLINE, partition=5)
    assert await check_provable(db, MINER, DEADLINE + 1) == []  # an empty deadline
    # --faulty: only the sectors the chain has as faulty (here: one that would recover).
    await db.exec("UPDATE chain_sectors SET state = 'faulty' WHERE sector_number = 1")
    assert await check_provable(db, MINER, DEADLINE, faulty=True) == [
        SectorCheck(DEADLINE, 0, 1, True, state="faulty")
    ]
    # --storage-id: only sectors with a file there.
    assert len(await check_provable(db, MINER, DEADLINE, storage_id=cluster.storage_id)) == 3
    assert await check_provable(db, MINER, DEADLINE, storage_id="elsewhere") == []


async def test_corrupt_missing_and_wrong_commr_are_bad_with_their_reason_and_nothing_written(
    db: DB, pg_url: str, tmp_path: Path
) -> None:
    cluster = await check_cluster(db, tmp_path)
    flip_bytes(cluster.sealed(1))
    missing = cluster.sealed(2)
    missing.unlink()
    # Sector 0's cache is fine but the chain's CommR is another sector's.
    other = await db.query_value("SELECT sealed_cid FROM chain_sectors WHERE sector_number = 2")
    await db.exec("UPDATE chain_sectors SET sealed_cid = $1 WHERE sector_number = 0", other)
    dump = await schema_dumper(pg_url)
    before = await dump(db.schema)

    checks = await check_provable(db, MINER, DEADLINE)
    assert [(c.partition, c.sector, c.ok, c.kind) for c in checks] == [
        (0, 0, False, "wrong-commr"),
        (0, 1, False, "corrupt"),
        (1, 2, False, "missing"),
    ]
    wrong, corrupt, gone = checks
    assert wrong.reason.startswith("wrong CommR: ") and "p_aux" in wrong.reason
    assert corrupt.reason.startswith("corrupt: ") and str(cluster.sealed(1)) in corrupt.reason
    assert "does not match TreeR" in corrupt.reason
    assert gone.reason == f"missing file: {missing}: leaf file is missing"
    again = await check_provable(db, MINER, DEADLINE, only_bad=True)
    assert [(c.sector, c.kind) for c in again] == [
        (0, "wrong-commr"),
        (1, "corrupt"),
        (2, "missing"),
    ]

    # The fast check opens no leaf: it misses the flipped bytes, not the rest.
    fast = await check_provable(db, MINER, DEADLINE, slow=False)
    assert [(c.sector, c.ok, c.kind) for c in fast] == [
        (0, False, "wrong-commr"),
        (1, True, None),
        (2, False, "missing"),
    ]
    assert await dump(db.schema) == before  # the check wrote nothing


async def test_a_sector_declared_nowhere_on_this_host_is_missing(db: DB, tmp_path: Path) -> None:
    """No file declared here and no host serving it: bad, saying so (WdPost would skip it)."""
    await check_cluster(db, tmp_path)
    await db.exec("DELETE FROM sector_location WHERE sector_num = 2")
    cache = sector_file_path(tmp_path / "store", SectorFileType.CACHE, MINER, 2)
    assert cache.exists()
    [bad] = await check_provable(db, MINER, DEADLINE, partition=1)
    assert (bad.ok, bad.kind) == (False, "missing")
    assert bad.reason.startswith("missing file: no sealed file and cache of sector 2 declared")


async def test_a_sector_on_another_host_is_proven_there_as_wdpost_would(
    db: DB, tmp_path: Path
) -> None:
    """Sector 2's files are on host-a only: its server proves it (``/remote/vanilla/single``)
    and the proof is verified here; a damaged replica there is bad, naming the URL asked."""
    await check_cluster(db, tmp_path)
    await db.exec("DELETE FROM sector_location WHERE sector_num = 2")
    (tmp_path / "far").mkdir()
    far = await attach(db, tmp_path / "far", host="host-a", can_store=True)
    seal_into(tmp_path / "far", 2, MINER)
    for ft in (SectorFileType.SEALED, SectorFileType.CACHE):
        await declare_sector(db, far.storage_id, MINER, 2, ft, sector_size=2048)
    server = StorageServer(db, host="host-a")
    await server.start()
    try:
        [good] = await check_provable(db, MINER, DEADLINE, partition=1)
        assert (good.sector, good.ok) == (2, True)
        flip_bytes(sector_file_path(tmp_path / "far", SectorFileType.SEALED, MINER, 2))
        [bad] = await check_provable(db, MINER, DEADLINE, partition=1)
        assert (bad.ok, bad.kind) == (False, "corrupt") and server.url in bad.reason
    finally:
        await server.stop(unregister=False)
