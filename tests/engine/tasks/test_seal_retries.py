"""Sealing stages run again (a retry, a machine that lost its task, a resume) converge on one
result: the same ticket, one sealed copy, no task id left pointing at a finished batch."""

from __future__ import annotations

from pathlib import Path

from engine.chain import seal_randomness
from engine.storage import SectorFileType, StorageHeartbeat, attach, find_sector, this_host
from engine.tasks import pledge_sectors, resume_sector
from engine.tasks.seal.pipeline import PRECOMMIT_CHECK, mark_failed


async def test_a_rerun_of_sdr_keeps_the_ticket_fixed_by_the_first_run(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await devnet.engine("w1", ["ChainTick", "SDR"])
    (number,) = await pledge_sectors(db, miner.sp_id, 1)

    async def sdr_done() -> bool:
        return bool(await devnet.value("SELECT after_sdr FROM sectors_sdr_pipeline"))

    await devnet.until(sdr_done)
    first = await db.query_row(
        "SELECT task_id_sdr, ticket_epoch, ticket_value FROM sectors_sdr_pipeline"
    )
    (cache,) = [
        loc.local_path for loc in await find_sector(db, miner.sp_id, number, SectorFileType.CACHE)
    ]
    layer = (cache / "sc-02-data-layer-1.dat").read_bytes()
    # SDR runs again much later (as a retry after its result was lost would): a new task, the
    # chain 50 epochs on. It must seal with the ticket already fixed, not a newer one.
    await db.exec("UPDATE sectors_sdr_pipeline SET after_sdr = FALSE, task_id_sdr = NULL")
    devnet.goto(devnet.epoch + 50)

    async def sdr_again() -> bool:
        row = await db.query_row("SELECT task_id_sdr, after_sdr FROM sectors_sdr_pipeline")
        return row["after_sdr"] and row["task_id_sdr"] != first["task_id_sdr"]

    await devnet.until(sdr_again)
    again = await db.query_row("SELECT ticket_epoch, ticket_value FROM sectors_sdr_pipeline")
    assert (again["ticket_epoch"], again["ticket_value"]) == (
        first["ticket_epoch"],
        first["ticket_value"],
    )
    (cache,) = [
        loc.local_path for loc in await find_sector(db, miner.sp_id, number, SectorFileType.CACHE)
    ]
    assert (cache / "sc-02-data-layer-1.dat").read_bytes() == layer


async def test_sdr_uses_a_ticket_fixed_before_it_ran(devnet) -> None:
    """A ticket already stored (fixed by an attempt that then lost its task) is the one every
    later attempt uses; the new attempt does not overwrite it."""
    db = devnet.db
    miner = await devnet.miner()
    await pledge_sectors(db, miner.sp_id, 1)
    ticket_epoch = devnet.epoch - 10
    ticket = seal_randomness(b"\x07" * 32, ticket_epoch, miner.sp_id)
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET ticket_epoch = $1, ticket_value = $2",
        ticket_epoch,
        ticket,
    )
    await devnet.engine("w1", ["ChainTick", "SDR"])

    async def sdr_done() -> bool:
        return bool(await devnet.value("SELECT after_sdr FROM sectors_sdr_pipeline"))

    await devnet.until(sdr_done)
    row = await db.query_row("SELECT ticket_epoch, ticket_value FROM sectors_sdr_pipeline")
    assert (row["ticket_epoch"], bytes(row["ticket_value"])) == (ticket_epoch, ticket)


async def test_a_rerun_of_tree_rc_on_another_path_leaves_one_sealed_copy(
    devnet, tmp_path: Path
) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await devnet.engine("w1", ["ChainTick", "SDR", "TreeD", "TreeRC"])
    (number,) = await pledge_sectors(db, miner.sp_id, 1)

    async def trees_done() -> bool:
        return bool(await devnet.value("SELECT after_tree_r FROM sectors_sdr_pipeline"))

    await devnet.until(trees_done)
    (first,) = await find_sector(db, miner.sp_id, number, SectorFileType.SEALED)
    assert first.storage_id == devnet.seal.storage_id and first.local_path.is_file()
    first_task = await devnet.value("SELECT task_id_tree_r FROM sectors_sdr_pipeline")
    # TreeRC runs again (as a retry whose first attempt declared its replica, then failed),
    # and this time its space is reserved on another sealing path.
    (tmp_path / "seal2").mkdir()
    other = await attach(db, tmp_path / "seal2", host=this_host(), can_seal=True, can_store=False)
    await db.exec(
        "UPDATE storage_path SET can_seal = FALSE WHERE storage_id = $1", devnet.seal.storage_id
    )
    await StorageHeartbeat(db).beat_once()
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET after_tree_c = FALSE, after_tree_r = FALSE, "
        "after_synth = FALSE, task_id_tree_c = NULL, task_id_tree_r = NULL"
    )

    async def trees_again() -> bool:
        row = await db.query_row("SELECT task_id_tree_r, after_tree_r FROM sectors_sdr_pipeline")
        return row["after_tree_r"] and row["task_id_tree_r"] != first_task

    await devnet.until(trees_again)
    sealed = await find_sector(db, miner.sp_id, number, SectorFileType.SEALED)
    assert [loc.storage_id for loc in sealed] == [other.storage_id]
    assert sealed[0].local_path.is_file()
    assert not first.local_path.exists()


async def _add_task(db, name: str) -> int:
    """A pending task, as an adder would create it (the test assigns it to sectors itself)."""
    return await db.query_value(
        "INSERT INTO harmony_task (posted_time, added_by, name) VALUES (now(), 0, $1) RETURNING id",
        name,
    )


async def test_commit_batch_detaches_the_sectors_it_skipped(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await devnet.engine(
        "w1",
        ["ChainTick", "SDR", "TreeD", "TreeRC", "PreCommitBatch", "PoRep", "Finalize"],
    )
    assert await pledge_sectors(db, miner.sp_id, 2) == [0, 1]

    async def proven() -> bool:
        return (
            await devnet.value("SELECT count(*) FROM sectors_sdr_pipeline WHERE after_porep") == 2
        )

    await devnet.until(proven)
    # Both sectors join one CommitBatch; sector 1 then fails before the batch runs.
    task_id = await _add_task(db, "CommitBatch")
    await db.exec("UPDATE sectors_sdr_pipeline SET task_id_commit_msg = $1", task_id)
    await mark_failed(db, miner.sp_id, [1], "porep", "the operator gave up on it")
    await devnet.engine("w2", ["CommitBatch"])

    async def batch_done() -> bool:
        return not await devnet.value("SELECT count(*) FROM harmony_task WHERE id = $1", task_id)

    await devnet.settle(batch_done, within=30)
    rows = await db.select(
        "SELECT sector_number, task_id_commit_msg, after_commit_msg FROM sectors_sdr_pipeline "
        "ORDER BY sector_number"
    )
    assert [tuple(r.values()) for r in rows] == [(0, task_id, True), (1, None, False)]


async def test_resuming_a_sector_keeps_the_precommit_batch_it_shared(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    assert await pledge_sectors(db, miner.sp_id, 2) == [0, 1]
    # Both sectors are sealed and in one PreCommitBatch (as the poller leaves them); the
    # batch finds sector 1's ticket too old and fails it, then is retried for sector 0.
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET ticket_epoch = 1, ticket_value = '\\x01', "
        "after_sdr = TRUE, after_tree_d = TRUE, after_tree_c = TRUE, after_tree_r = TRUE, "
        "after_synth = TRUE"
    )
    batch = await _add_task(db, "PreCommitBatch")
    await db.exec("UPDATE sectors_sdr_pipeline SET task_id_precommit_msg = $1", batch)
    await mark_failed(db, miner.sp_id, [1], PRECOMMIT_CHECK, "ticket too old")
    resumed = await resume_sector(db, miner.sp_id, 1)
    assert resumed.stage == "SDR"
    assert await devnet.value("SELECT count(*) FROM harmony_task WHERE id = $1", batch) == 1
    rows = await db.select(
        "SELECT sector_number, task_id_precommit_msg FROM sectors_sdr_pipeline "
        "ORDER BY sector_number"
    )
    assert [tuple(r.values()) for r in rows] == [(0, batch), (1, None)]
    # The last sector of the batch to be resumed takes the task with it.
    await mark_failed(db, miner.sp_id, [0], PRECOMMIT_CHECK, "ticket too old")
    await resume_sector(db, miner.sp_id, 0)
    assert await devnet.value("SELECT count(*) FROM harmony_task WHERE id = $1", batch) == 0
