"""The sealing pipeline end to end on a devnet: pledge, every stage, the chain waits, failure,
resume. Real proofs over 2 KiB sectors, real storage paths, epochs moved by the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.proofs import unsealed_cid, zero_comm
from engine.storage import SectorFileType, find_sector
from engine.tasks import ResumeRefused, pledge_sectors, resume_sector

STAGES = {
    "SDR",
    "TreeD",
    "TreeRC",
    "PreCommitBatch",
    "PoRep",
    "Finalize",
    "MoveStorage",
    "CommitBatch",
}


async def test_pledged_cc_sectors_seal_through_every_stage_and_go_active(devnet) -> None:
    db = devnet.db
    a = await devnet.miner(sp_id=1000)
    b = await devnet.miner(sp_id=1001)
    await devnet.engine()
    assert await pledge_sectors(db, a.sp_id, 2) == [0, 1]
    assert await pledge_sectors(db, b.sp_id, 1) == [0]

    async def done() -> bool:
        return (
            await devnet.value(
                "SELECT count(*) FROM sectors_sdr_pipeline "
                "WHERE after_commit_msg_success AND after_move_storage"
            )
            == 3
        )

    await devnet.until(done, what="3 sectors sealed and on chain")
    rows = await db.select("SELECT * FROM sectors_sdr_pipeline ORDER BY sp_id, sector_number")
    assert not any(r["failed"] for r in rows)
    for r in rows:
        assert all(r[c] for c in r if c.startswith("after_")), r
        assert r["tree_d_cid"] == unsealed_cid(zero_comm(2048))
        assert r["tree_r_cid"].startswith("bagboea4b5abc")
        assert len(r["ticket_value"]) == 32 and len(r["seed_value"]) == 32
        assert r["precommit_ready_at"] is not None and r["commit_ready_at"] is not None
        assert r["task_id_tree_c"] == r["task_id_tree_r"]
        landed = await db.query_row(
            "SELECT executed_tsk_epoch, executed_rcpt_exitcode FROM message_waits "
            "WHERE signed_message_cid = $1",
            r["precommit_msg_cid"],
        )
        assert landed["executed_rcpt_exitcode"] == 0
        # PoRep waited for the seed: PreCommit landing + the challenge delay.
        delay = devnet.config.profile.precommit_challenge_delay
        assert r["seed_epoch"] == landed["executed_tsk_epoch"] + delay
    # The chain holds the sectors, each miner's in its own deadlines, mirrored in sectors_meta.
    chain = await db.select(
        'SELECT sp_id, sector_number, state, deadline, "partition" FROM chain_sectors '
        "ORDER BY sp_id, sector_number"
    )
    assert [(c["sp_id"], c["sector_number"], c["state"]) for c in chain] == [
        (1000, 0, "active"),
        (1000, 1, "active"),
        (1001, 0, "active"),
    ]
    meta = await db.select(
        'SELECT sp_id, sector_num, deadline, "partition", is_live, is_faulty, msg_cid_commit '
        "FROM sectors_meta ORDER BY sp_id, sector_num"
    )
    assert [(m["sp_id"], m["sector_num"], m["deadline"], m["partition"]) for m in meta] == [
        (c["sp_id"], c["sector_number"], c["deadline"], c["partition"]) for c in chain
    ]
    assert all(m["is_live"] and not m["is_faulty"] and m["msg_cid_commit"] for m in meta)
    # Files: sealed file and finalized cache on the store path only; no unsealed copy kept.
    for c in chain:
        locs = await find_sector(db, c["sp_id"], c["sector_number"])
        assert {(loc.file_type, loc.storage_id) for loc in locs} == {
            (SectorFileType.SEALED, devnet.store.storage_id),
            (SectorFileType.CACHE, devnet.store.storage_id),
        }
        cache = next(loc.local_path for loc in locs if loc.file_type == SectorFileType.CACHE)
        assert sorted(os.listdir(cache)) == ["p_aux", "sc-02-data-tree-r-last.dat", "t_aux"]
    leftovers = [p for p in Path(devnet.seal.local_path).rglob("*") if p.is_file()]
    assert [p.name for p in leftovers] == ["sectorstore.json"]
    # Every stage's attempt is linked to its sector (Curio's per-sector event log).
    for r in rows:
        names = await db.select(
            "SELECT h.name FROM sectors_pipeline_events e, unnest(e.task_history_ids) i "
            "JOIN harmony_task_history h ON h.id = i WHERE e.sp_id = $1 AND e.sector_number = $2",
            r["sp_id"],
            r["sector_number"],
        )
        assert {n["name"] for n in names} == STAGES


async def test_a_failing_stage_fails_the_sector_visibly_and_resume_takes_it_back(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await devnet.engine("w1", ["ChainTick", "SDR"])
    (number,) = await pledge_sectors(db, miner.sp_id, 1)

    async def sdr_done() -> bool:
        return bool(await devnet.value("SELECT after_sdr FROM sectors_sdr_pipeline"))

    await devnet.until(sdr_done)
    (unsealed,) = [
        loc.local_path
        for loc in await find_sector(db, miner.sp_id, number, SectorFileType.UNSEALED)
    ]
    # Damage the data before TreeD sees it: every attempt finds a CommD that is not CC's.
    unsealed.write_bytes(b"\x01" * 2048)
    await devnet.engine(
        "w2",
        ["TreeD", "TreeRC", "PreCommitBatch", "PoRep", "Finalize", "MoveStorage", "CommitBatch"],
    )

    async def failed() -> dict | None:
        return await db.query_row(
            "SELECT failed_reason, failed_reason_msg FROM sectors_sdr_pipeline WHERE failed"
        )

    await devnet.settle(failed, within=30)
    row = await failed()
    assert row["failed_reason"] == "tree-d"
    assert "failed 3 times" in row["failed_reason_msg"]
    assert "differs from the pieces'" in row["failed_reason_msg"]
    # The stage fails the sector on its last attempt; the engine records the task failed just
    # after that attempt returns.

    async def dead_task() -> dict | None:
        return await db.query_row(
            "SELECT t.id FROM harmony_task t JOIN sectors_sdr_pipeline p "
            "ON p.task_id_tree_d = t.id WHERE t.failed_at IS NOT NULL"
        )

    await devnet.settle(dead_task, within=30)
    dead = await dead_task()
    # The operator repairs the file and resumes: the same TreeD task runs again.
    unsealed.write_bytes(bytes(2048))
    resumed = await resume_sector(db, miner.sp_id, number)
    assert resumed.stage == "TreeD" and resumed.restarted_tasks == (dead["id"],)

    async def active() -> bool:
        return await devnet.value("SELECT state FROM chain_sectors") == "active"

    await devnet.until(active)
    assert not await devnet.value("SELECT failed FROM sectors_sdr_pipeline")
    with pytest.raises(ResumeRefused, match="has not failed"):
        await resume_sector(db, miner.sp_id, number)


async def test_resume_is_refused_after_precommit_and_a_stale_ticket_restarts_sdr(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await devnet.engine("w1", ["ChainTick", "SDR", "TreeD", "TreeRC"])
    (number,) = await pledge_sectors(db, miner.sp_id, 1)

    async def trees_done() -> bool:
        return bool(await devnet.value("SELECT after_tree_r FROM sectors_sdr_pipeline"))

    await devnet.until(trees_done)
    first_ticket = await devnet.value("SELECT ticket_epoch FROM sectors_sdr_pipeline")
    # The sector waits too long for its PreCommit: its ticket is too old to be accepted.
    devnet.goto(devnet.epoch + devnet.config.max_ticket_age)
    await devnet.engine("w2", ["PreCommitBatch"])

    async def failed() -> bool:
        return bool(await devnet.value("SELECT failed FROM sectors_sdr_pipeline"))

    await devnet.settle(failed)
    row = await db.query_row("SELECT * FROM sectors_sdr_pipeline")
    assert row["failed_reason"] == "precommit-check"
    assert f"ticket from epoch {first_ticket}" in row["failed_reason_msg"]
    assert await devnet.value("SELECT count(*) FROM chain_messages") == 0  # never sent
    resumed = await resume_sector(db, miner.sp_id, number)
    assert resumed.stage == "SDR" and "new ticket" in resumed.description

    async def sealed_again() -> bool:
        return bool(await devnet.value("SELECT after_tree_r FROM sectors_sdr_pipeline"))

    await devnet.until(sealed_again)
    assert await devnet.value("SELECT ticket_epoch FROM sectors_sdr_pipeline") > first_ticket
    # Once its PreCommit is sent, a failure can no longer be resumed.
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET after_precommit_msg = TRUE, precommit_msg_cid = 'bafy-x', "
        "failed = TRUE, failed_reason = 'porep', failed_reason_msg = 'PoRep task 9 failed'"
    )
    with pytest.raises(ResumeRefused, match="PreCommit message bafy-x was already sent"):
        await resume_sector(db, miner.sp_id, number)
