"""`harmony chain|sectors|proving …` as an operator runs them, against a real database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from console.commands.proving_format import durafmt, epoch_time
from engine.chain import (
    MAINNET,
    create_miner,
    current_proving_period_start,
    init_chain,
)
from engine.harmonydb import DB
from support.cli import harmony


def test_durations_and_epochs_read_like_lotus() -> None:
    assert durafmt(2 * 3600 + 59 * 60 + 30) == "2 hours 59 minutes"
    assert durafmt(29 * 60 + 30) == "29 minutes 30 seconds"
    assert durafmt(1) == "1 second" and durafmt(0) == "0 seconds"
    assert durafmt(8 * 86400 + 3600) == "1 week 1 day"
    assert epoch_time(100, 90, 30) == "90 (5 minutes ago)"
    assert epoch_time(100, 100, 30) == "100 (now)"
    assert epoch_time(100, 102, 2) == "102 (in 4 seconds)"


async def test_chain_init_is_once_per_cluster_and_miners_are_created(db: DB) -> None:
    made = await harmony(db, "chain", "init", "--genesis", "2026-01-01T00:00:00Z")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("chain created devnet, genesis 2026-01-01T00:00:00+00:00, 2 s")
    again = await harmony(db, "chain", "init")
    assert again.stdout.startswith("chain already exists: devnet")
    clash = await harmony(db, "chain", "init", "--profile", "mainnet")
    assert clash.returncode == 1
    assert "already has a chain" in clash.stderr and "not 'mainnet'" in clash.stderr
    miner = await harmony(db, "chain", "create-miner", "--size", "8MiB")
    assert miner.stdout.startswith("created miner t01000 (8MiB sectors, proving period offset ")
    bad = await harmony(db, "chain", "create-miner", "--size", "32GiB")
    assert bad.returncode == 1 and "not 32GiB" in bad.stderr
    status = json.loads((await harmony(db, "chain", "status", "--json")).stdout)
    assert status["profile"] == "devnet" and status["head"] is None
    assert [(m["miner"], m["sector_size"]) for m in status["miners"]] == [("t01000", "8MiB")]


async def test_pledge_list_status_and_resume(db: DB) -> None:
    await harmony(db, "chain", "init")
    pledged = await harmony(db, "sectors", "pledge", "--count", "2", "--size", "2KiB")
    assert pledged.returncode == 0, pledged.stderr
    assert pledged.stdout.splitlines() == [
        "created miner t01000 (2KiB sectors)",
        "t01000: pledged 2 CC sector(s): 0, 1",
    ]
    more = await harmony(db, "sectors", "pledge")
    assert more.stdout.strip() == "t01000: pledged 1 CC sector(s): 2"
    table = (await harmony(db, "sectors", "list")).stdout.splitlines()
    assert table[0].split() == [
        "ID", "State", "OnChain", "Active", "Expiration", "Deadline", "Deals",
    ]  # fmt: skip
    assert [line.split() for line in table[1:]] == [
        [str(n), "SDR", "NO", "NO", "n/a", "CC"] for n in (0, 1, 2)
    ]
    # Sector 1 failed at TreeD; sector 2 failed after its PreCommit was sent.
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET after_sdr = TRUE, task_id_tree_d = 424242, "
        "failed = TRUE, failed_at = now(), failed_reason = 'tree-d', "
        "failed_reason_msg = 'TreeD task 424242 failed 3 times: boom' WHERE sector_number = 1"
    )
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET after_sdr = TRUE, after_tree_d = TRUE, "
        "after_tree_r = TRUE, after_precommit_msg = TRUE, precommit_msg_cid = 'bafy2bzacex', "
        "failed = TRUE, failed_reason = 'porep', failed_reason_msg = 'PoRep: bad' "
        "WHERE sector_number = 2"
    )
    listed = json.loads((await harmony(db, "sectors", "list", "--json")).stdout)
    assert [(s["sector"], s["state"], s["failed_reason"]) for s in listed] == [
        (0, "SDR", ""),
        (1, "Failed", "tree-d"),
        (2, "Failed", "porep"),
    ]
    status = (await harmony(db, "sectors", "status", "1")).stdout.splitlines()
    assert status[:3] == ["SectorID:\t1", "Miner:\t\tt01000", "Status:\t\tFailed"]
    assert "Failed:\t\ttree-d: TreeD task 424242 failed 3 times: boom" in status
    resumed = await harmony(db, "sectors", "resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == (
        "sector 1 of t01000 resumes at TreeD (a new task will be created)"
    )
    row = await db.query_row(
        "SELECT failed, task_id_tree_d FROM sectors_sdr_pipeline WHERE sector_number = 1"
    )
    assert row == {"failed": False, "task_id_tree_d": None}  # the dangling task id is dropped
    refused = await harmony(db, "sectors", "resume", "2")
    assert refused.returncode == 1
    assert "its PreCommit message bafy2bzacex was already sent" in refused.stderr
    missing = await harmony(db, "sectors", "resume", "9")
    assert missing.returncode == 1 and "no sector 9 of t01000" in missing.stderr


async def test_proving_info_and_deadlines_in_lotus_layout(db: DB) -> None:
    # Mainnet-like 30 s epochs, genesis a day ago: the epoch does not move during the test.
    genesis = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    config, _ = await init_chain(db, MAINNET, genesis=genesis)
    epoch = config.epoch_at(datetime.now(UTC))
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    info = miner.deadline(config, epoch)
    dl = info.index
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") VALUES '
        "(1000, 0, 'active', 's', 'u', 1, $1, 0), (1000, 1, 'faulty', 's', 'u', 1, $1, 0), "
        "(1000, 2, 'active', 's', 'u', 1, $1, 1), (1000, 3, 'recovering', 's', 'u', 1, $2, 0), "
        "(1000, 4, 'terminated', 's', 'u', 1, $2, 0)",
        dl,
        (dl + 1) % 48,
    )
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        '"partition", landed_epoch, message_cid) VALUES (1000, $1, $2, 0, $3, $4)',
        info.period_start,
        dl,
        info.open,
        "bafy2bzacem",
    )
    out = (await harmony(db, "proving", "info")).stdout.splitlines()
    start = current_proving_period_start(MAINNET, epoch, miner.proving_period_offset)
    assert out[0] == "Miner: t01000"
    assert out[1] == f"Current Epoch:           {epoch}"
    assert out[2] == f"Proving Period Boundary: {start % 2880}"
    assert re.fullmatch(
        rf"Proving Period Start:    {start} \(\d\d \w\w\w \d\d \d\d:\d\d \S+, .+ ago\)", out[3]
    ), out[3]
    assert re.fullmatch(rf"Next Period Start:       {start + 2880} \(.+, in .+\)", out[4])
    assert out[5:9] == [
        "",
        "Faults:      2 (50.00%)",  # faulty + recovering, of 4 live sectors
        "Recovering:  1",
        f"Deadline Index:       {dl}",
    ]
    assert out[9] == "Deadline Sectors:     3"
    assert re.fullmatch(rf"Deadline Open:        {info.open} \((now|.+ ago)\)", out[10])
    assert re.fullmatch(rf"Deadline Close:       {info.close} \(in .+\)", out[11])
    assert re.fullmatch(rf"Deadline Challenge:   {info.challenge} \(.+ ago\)", out[12])
    assert re.fullmatch(rf"Deadline FaultCutoff: {info.fault_cutoff} \(.+ ago\)", out[13])
    as_json = json.loads((await harmony(db, "proving", "info", "--json")).stdout)
    assert (as_json["faults"], as_json["recovering"], as_json["live_sectors"]) == (2, 1, 4)

    lines = (await harmony(db, "proving", "deadlines")).stdout.splitlines()
    assert lines[0] == "Miner: t01000"
    assert lines[1] == "deadline  open      partitions  sectors (faults)  proven partitions"
    assert len(lines) == 2 + 48
    cur = lines[2 + dl]
    assert re.fullmatch(
        rf"{dl:<10}\d\d:\d\d:\d\d  2           3 \(1\)             1  \(current\)", cur
    ), cur
    nxt = lines[2 + (dl + 1) % 48].split()
    assert nxt[2:] == ["1", "1", "(1)", "0"]  # the terminated sector keeps its partition
    every = json.loads((await harmony(db, "proving", "deadlines", "--all", "--json")).stdout)
    assert every[(dl + 1) % 48]["sectors"] == 2 and every[dl]["proven_partitions"] == 1
    assert sum(d["current"] for d in every) == 1
    opens = [d["open_epoch"] for d in every]
    assert opens == [info.open + (i - dl) * 60 for i in range(48)]


async def test_proving_deadlines_counts_only_partitions_with_live_sectors(db: DB) -> None:
    genesis = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    config, _ = await init_chain(db, MAINNET, genesis=genesis)
    epoch = config.epoch_at(datetime.now(UTC))
    await create_miner(db, config, 2048, epoch=epoch - 100)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") VALUES '
        "(1000, 0, 'active', 's', 'u', 1, 7, 0), (1000, 1, 'terminated', 's', 'u', 1, 7, 1)"
    )
    live = json.loads((await harmony(db, "proving", "deadlines", "--json")).stdout)
    assert (live[7]["partitions"], live[7]["sectors"]) == (1, 1)  # partition 1: all terminated
    every = json.loads((await harmony(db, "proving", "deadlines", "--all", "--json")).stdout)
    assert (every[7]["partitions"], every[7]["sectors"]) == (2, 2)
