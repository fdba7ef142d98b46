"""WindowPoSt and WinningPoSt on a devnet: proofs at each deadline, a damaged sector skipped and
faulted, its recovery declared and proven a period later, a late submit refused, blocks won."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest

from engine.chain import new_deadline_info
from engine.clock import ManualClock
from engine.harmonytask import machines
from engine.storage import SectorFileType, attach, declare_sector, this_host
from engine.tasks import SubmitRefused, pledge_sectors
from engine.tasks.storage import LocalFiles
from engine.tasks.window import WdPostRecoverTask, WdPostSubmitTask
from engine.tasks.window.files import PartitionSector, better_host
from engine.tasks.winning import WinPostTask, wins
from engine.tasks.workload import Workload
from support.devnet import prove_deadline, sealed_path, states, until_active


class SleepWatch:
    """The devnet's clock, with an event set when someone starts sleeping on it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeping = asyncio.Event()

    def now(self) -> datetime:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        await self.clock.sleep(seconds)

    async def sleep_until(self, when: datetime) -> None:
        self.sleeping.set()
        await self.clock.sleep_until(when)


async def test_a_damaged_sector_is_skipped_faulted_then_recovered_a_period_later(devnet) -> None:
    db = devnet.db
    profile = devnet.config.profile
    miner = await devnet.miner()
    await devnet.engine()
    await pledge_sectors(db, miner.sp_id, 2)
    await until_active(devnet, 2)
    dl, part = (
        await db.query_row('SELECT min(deadline) AS d, min("partition") AS p FROM chain_sectors')
    ).values()
    assert await devnet.value("SELECT count(DISTINCT deadline) FROM chain_sectors") == 1
    period_start = miner.deadline(devnet.config, devnet.epoch).period_start
    first = new_deadline_info(profile, period_start, dl, devnet.epoch).next_not_elapsed()

    # Period 1: both sectors proven.
    proof = await prove_deadline(devnet, first)
    assert (proof["submit_at_epoch"], proof["submit_by_epoch"]) == (first.open, first.close)
    params = json.loads(bytes(proof["proof_params"]))
    assert params["partitions"][0]["skipped"] == []
    assert await states(devnet) == {0: ("active", False), 1: ("active", False)}
    landed = await db.query_row(
        "SELECT w.executed_tsk_epoch, w.executed_rcpt_exitcode FROM message_waits w "
        "WHERE w.signed_message_cid = $1",
        proof["message_cid"],
    )
    assert landed["executed_rcpt_exitcode"] == 0
    assert first.open <= landed["executed_tsk_epoch"] < first.close

    # Period 2: sector 1's replica is corrupt: skipped, and faulty once the PoSt lands.
    sealed = await sealed_path(devnet, miner.sp_id, 1)
    good = sealed.read_bytes()
    sealed.write_bytes(bytes(len(good)))
    second = new_deadline_info(profile, first.period_start + profile.wpost_proving_period, dl, 0)
    proof = await prove_deadline(devnet, second)
    (skipped,) = json.loads(bytes(proof["proof_params"]))["partitions"]
    assert skipped["skipped"] == [1]
    assert [f["kind"] for f in skipped["faults"]] == ["corrupt"]
    assert await states(devnet) == {0: ("active", False), 1: ("faulty", True)}

    # The file is restored: the recovery is declared before the next FaultCutoff...
    sealed.write_bytes(good)
    third = new_deadline_info(profile, second.period_start + profile.wpost_proving_period, dl, 0)
    devnet.goto(third.open - 2 * profile.wpost_challenge_window)

    async def declared() -> bool:
        return bool(
            await devnet.value(
                "SELECT count(*) FROM chain_messages WHERE method = 'DeclareFaultsRecovered'"
            )
        )

    await devnet.settle(declared)  # the clock stands still: WdPostRecover ran at this Open

    async def recovering() -> bool:
        return (await states(devnet))[1] == ("recovering", True)

    # The clock moves to the message's landing epoch and stands there while the chain ticks to
    # it (stepping epochs instead raced the tick on a loaded machine).
    land = await devnet.value(
        "SELECT land_epoch FROM chain_messages WHERE method = 'DeclareFaultsRecovered'"
    )
    devnet.goto(land)
    await devnet.settle(recovering)
    recovery = await db.query_row(
        "SELECT m.landed_epoch, m.params FROM chain_messages m "
        "WHERE m.method = 'DeclareFaultsRecovered'"
    )
    assert recovery["landed_epoch"] < third.fault_cutoff
    assert json.loads(recovery["params"])["declarations"] == [
        {"deadline": dl, "partition": part, "sectors": [1]}
    ]
    # ...and proven at that deadline: the sector is active again.
    await prove_deadline(devnet, third)
    assert await states(devnet) == {0: ("active", False), 1: ("active", False)}
    proven = await db.select("SELECT proving_period_start FROM chain_post_submissions ORDER BY 1")
    assert [p["proving_period_start"] for p in proven] == [
        first.period_start,
        second.period_start,
        third.period_start,
    ]


async def test_two_miners_keep_their_own_sectors_deadlines_and_proofs(devnet) -> None:
    db = devnet.db
    miners = [await devnet.miner(sp_id=1000), await devnet.miner(sp_id=1001)]
    assert miners[0].proving_period_offset != miners[1].proving_period_offset
    await devnet.engine()
    for m in miners:
        assert await pledge_sectors(db, m.sp_id, 2) == [0, 1]
    await until_active(devnet, 4)
    infos = []
    for m in miners:
        dl = await devnet.value("SELECT min(deadline) FROM chain_sectors WHERE sp_id = $1", m.sp_id)
        start = m.deadline(devnet.config, devnet.epoch).period_start
        infos.append((new_deadline_info(devnet.config.profile, start, dl, devnet.epoch), m))
    infos = [(i.next_not_elapsed(), m) for i, m in infos]
    for info, m in sorted(infos, key=lambda pair: pair[0].challenge):
        proof = await prove_deadline(devnet, info, m.sp_id)
        (part,) = json.loads(bytes(proof["proof_params"]))["partitions"]
        assert (len(part["proofs"]), part["skipped"]) == (2, [])
    rows = await db.select(
        'SELECT sp_id, proving_period_start, deadline, "partition" FROM chain_post_submissions '
        "ORDER BY sp_id"
    )
    assert [(r["sp_id"], r["proving_period_start"], r["deadline"]) for r in rows] == [
        (m.sp_id, info.period_start, info.index)
        for info, m in sorted(infos, key=lambda pair: pair[1].sp_id)
    ]
    tasks = await db.select(
        "SELECT sp_id, proving_period_start, deadline_index FROM wdpost_partition_tasks "
        "ORDER BY sp_id"
    )
    assert [(t["sp_id"], t["proving_period_start"]) for t in tasks] == [
        (r["sp_id"], r["proving_period_start"]) for r in rows
    ]
    assert await devnet.value("SELECT count(*) FROM chain_sectors WHERE state <> 'active'") == 0
    for m in miners:
        for n in (0, 1):
            path = await sealed_path(devnet, m.sp_id, n)
            assert path.name == f"s-t0{m.sp_id}-{n}"


async def test_a_submit_that_would_land_after_close_is_refused_not_sent(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    close = devnet.epoch + 5
    await db.exec(
        'INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, "partition", '
        "submit_at_epoch, submit_by_epoch, proof_params, submit_task_id) "
        "VALUES ($1, 0, 3, 0, $2, $3, $4, 77)",
        miner.sp_id,
        close - 10,
        close,
        json.dumps({"deadline": 3, "partitions": [{"index": 0, "proofs": []}]}).encode(),
    )
    task = WdPostSubmitTask(Workload(db, devnet.pool, clock=devnet.clock))

    async def owned() -> bool:
        return True

    devnet.goto(close - devnet.config.profile.message_delay_epochs)
    with pytest.raises(
        SubmitRefused, match=f"at or after the deadline's Close \\(epoch {close}\\)"
    ):
        await task.do(77, owned)
    row = await db.query_row("SELECT message_cid, submit_error FROM wdpost_proofs")
    assert row["message_cid"] is None
    assert row["submit_error"].startswith(f"not sent: it would land at epoch {close}")
    assert await devnet.value("SELECT count(*) FROM chain_messages") == 0


def test_the_lottery_is_deterministic_and_weighted_by_power() -> None:
    beacon = bytes(32)
    draws = [wins(beacon, e, 1000, 1, 1, 0.1) for e in range(2000)]
    assert draws == [wins(beacon, e, 1000, 1, 1, 0.1) for e in range(2000)]
    assert 150 < sum(draws) < 250  # about 10% of epochs
    assert sum(wins(beacon, e, 1000, 1, 4, 0.1) for e in range(2000)) < sum(draws)
    assert not any(wins(beacon, e, 1000, 0, 1, 5.0) for e in range(100))  # no power, no win


async def test_won_epochs_are_mined_and_a_lost_sector_costs_the_block(devnet) -> None:
    db = devnet.db
    await db.exec("UPDATE chain_config SET expected_winners = 1000")  # win every epoch
    miner = await devnet.miner()
    await devnet.engine()
    await pledge_sectors(db, miner.sp_id, 1)

    async def mined() -> bool:
        return bool(await devnet.value("SELECT count(*) FROM mining_tasks WHERE included"))

    # Epochs pass whether or not the sector's sealing keeps up: on a loaded machine it takes
    # more of them (the wall-clock bound is until()'s).
    await devnet.until(mined, max_epochs=400)
    block = await db.query_row("SELECT * FROM mining_tasks WHERE included ORDER BY epoch LIMIT 1")
    assert block["won"] and block["mined_cid"].startswith("bafy2bzace")
    header = json.loads(block["mined_header"])
    assert header["winning_sector"] == 0 and header["miner"] == "t01000"
    # Eligible only after the WinningPoSt lookback.
    activated = await devnet.value("SELECT activation_epoch FROM chain_sectors")
    assert block["epoch"] >= activated + devnet.config.winning_post_lookback
    (await sealed_path(devnet, miner.sp_id, 0)).unlink()
    latest = await devnet.value("SELECT max(epoch) FROM mining_tasks")

    async def missed() -> bool:
        return bool(
            await devnet.value(
                "SELECT count(*) FROM mining_tasks WHERE epoch > $1 AND NOT included", latest
            )
        )

    await devnet.until(missed, max_epochs=40)
    lost = await db.query_row(
        "SELECT mined_cid, mined_header FROM mining_tasks WHERE epoch > $1 AND NOT included",
        latest,
    )
    assert lost["mined_cid"] is None
    assert "missing" in json.loads(lost["mined_header"])["error"]


async def test_a_submit_whose_proof_was_sent_meanwhile_rolls_its_message_back(devnet) -> None:
    """Two attempts read the row unsent; the one that writes second must not send again."""
    db = devnet.db
    miner = await devnet.miner()
    open_, close = devnet.epoch + 3, devnet.epoch + 40
    await db.exec(
        'INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, "partition", '
        "submit_at_epoch, submit_by_epoch, proof_params, submit_task_id) "
        "VALUES ($1, 0, 3, 0, $2, $3, $4, 77)",
        miner.sp_id,
        open_,
        close,
        json.dumps({"deadline": 3, "partitions": [{"index": 0, "proofs": []}]}).encode(),
    )
    clock = SleepWatch(devnet.clock)
    task = WdPostSubmitTask(Workload(db, devnet.pool, clock=clock))

    async def owned() -> bool:
        return True

    running = asyncio.ensure_future(task.do(77, owned))  # reads the row, waits for Open
    await asyncio.wait_for(clock.sleeping.wait(), 10)
    assert not running.done()
    # Meanwhile another attempt sent it (its message is on the chain, its cid recorded).
    await db.exec("UPDATE wdpost_proofs SET message_cid = 'bafy-other'")
    devnet.goto(open_)
    assert await asyncio.wait_for(running, 10) is True
    assert await devnet.value("SELECT message_cid FROM wdpost_proofs") == "bafy-other"
    assert await devnet.value("SELECT count(*) FROM chain_messages") == 0


async def test_a_partition_split_across_hosts_is_proven_where_most_of_it_is(
    devnet, tmp_path: Path
) -> None:
    """Sector 1's files move to a path attached only on another host: this host still proves
    the partition, proving sector 0 and skipping sector 1 (faulty), instead of every host
    refusing the partition because part of it is elsewhere."""
    db = devnet.db
    profile = devnet.config.profile
    miner = await devnet.miner()
    await devnet.engine()
    await pledge_sectors(db, miner.sp_id, 2)
    await until_active(devnet, 2)
    assert await devnet.value("SELECT count(DISTINCT deadline) FROM chain_sectors") == 1
    (tmp_path / "far").mkdir()
    far = await attach(db, tmp_path / "far", host="far-host", can_store=True)
    moved = await db.exec(
        "UPDATE sector_location SET storage_id = $2 WHERE miner_id = $1 AND sector_num = 1",
        miner.sp_id,
        far.storage_id,
    )
    assert moved >= 2  # sealed and cache
    dl = await devnet.value("SELECT min(deadline) FROM chain_sectors")
    period_start = miner.deadline(devnet.config, devnet.epoch).period_start
    info = new_deadline_info(profile, period_start, dl, devnet.epoch).next_not_elapsed()
    proof = await prove_deadline(devnet, info)
    (part,) = json.loads(bytes(proof["proof_params"]))["partitions"]
    assert (len(part["proofs"]), part["skipped"]) == (1, [1])
    assert [f["kind"] for f in part["faults"]] == ["missing"]
    assert await states(devnet) == {0: ("active", False), 1: ("faulty", True)}


async def test_the_host_reaching_most_of_a_partition_proves_it_if_it_runs_wdpost(
    devnet, tmp_path: Path
) -> None:
    db = devnet.db
    (tmp_path / "far").mkdir()
    far = await attach(db, tmp_path / "far", host="far-host", can_store=True)
    here = devnet.store.storage_id
    for number, where in ((0, here), (1, far.storage_id), (2, far.storage_id)):
        for ft in (SectorFileType.SEALED, SectorFileType.CACHE):
            await declare_sector(db, where, 1000, number, ft)
    sectors = [PartitionSector(n, "", "active") for n in (0, 1, 2)]
    # Nobody proves on far-host: this host proves what it reaches.
    await better_host(db, this_host(), 1000, sectors, "WdPost")
    # A live WdPost machine on far-host reaches two sectors to our one: it proves them.
    far_machine = await machines.register(
        db,
        "far-host:worker",
        session="s1",
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=60,
        tasks=["WdPost", "WdPostSubmit"],
        machine_name="far",
        version="test",
        hostname="far-host",
    )
    with pytest.raises(LocalFiles, match="far-host proves it"):
        await better_host(db, this_host(), 1000, sectors, "WdPost")
    await better_host(db, "far-host", 1000, sectors, "WdPost")
    # A tie is proven by whichever host claims first.
    await better_host(db, this_host(), 1000, sectors[:2], "WdPost")
    # A far-host machine that left (session cleared) no longer counts.
    await db.exec("UPDATE harmony_machines SET session = NULL WHERE id = $1", far_machine)
    await better_host(db, this_host(), 1000, sectors, "WdPost")


async def test_a_retried_recovery_does_not_declare_the_same_recoveries_twice(devnet) -> None:
    """WdPostRecover sent its declaration, then crashed before the task was marked done: the
    retry (same task) finds the message cid it recorded and sends nothing."""
    db = devnet.db
    profile = devnet.config.profile
    miner = await devnet.miner()
    sealing = [t.type_details().name for t in devnet.tasks()]
    await devnet.engine(names=[n for n in sealing if not n.startswith("WdPost")])
    await pledge_sectors(db, miner.sp_id, 1)
    await until_active(devnet, 1)
    await db.exec("UPDATE chain_sectors SET state = 'faulty', faulty_since = $1", devnet.epoch)
    dl = await devnet.value("SELECT deadline FROM chain_sectors")
    period_start = miner.deadline(devnet.config, devnet.epoch).period_start
    info = new_deadline_info(profile, period_start, dl, devnet.epoch).next_not_elapsed()
    if devnet.epoch + profile.message_delay_epochs >= info.fault_cutoff:
        info = new_deadline_info(profile, info.period_start + profile.wpost_proving_period, dl, 0)
    await db.exec(
        "INSERT INTO wdpost_recovery_tasks (task_id, sp_id, proving_period_start, "
        "deadline_index, partition_index) VALUES (88, $1, $2, $3, 0)",
        miner.sp_id,
        info.period_start,
        dl,
    )
    task = WdPostRecoverTask(Workload(db, devnet.pool, clock=devnet.clock))

    async def owned() -> bool:
        return True

    assert await task.do(88, owned) is True
    (sent,) = await db.select(
        "SELECT cid FROM chain_messages WHERE method = 'DeclareFaultsRecovered'"
    )
    assert await devnet.value("SELECT message_cid FROM wdpost_recovery_tasks") == sent["cid"]
    # The clock stands still: the declaration has not landed, the sector is still faulty.
    assert await devnet.value("SELECT state FROM chain_sectors") == "faulty"
    assert await task.do(88, owned) is True  # the retry
    declared = "SELECT count(*) FROM chain_messages WHERE method = 'DeclareFaultsRecovered'"
    assert await devnet.value(declared) == 1


async def test_a_retried_winpost_never_overwrites_an_included_block(devnet) -> None:
    db = devnet.db
    miner = await devnet.miner()
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, mined_cid, "
        "included) VALUES (99, $1, $2, now(), TRUE, 'bafy-mined', TRUE)",
        miner.sp_id,
        devnet.epoch,
    )
    task = WinPostTask(Workload(db, devnet.pool, clock=devnet.clock))

    async def owned() -> bool:
        return True

    assert await task.do(99, owned) is True  # this retry mines nothing: no eligible sector
    row = await db.query_row("SELECT mined_cid, included FROM mining_tasks")
    assert (row["mined_cid"], row["included"]) == ("bafy-mined", True)


async def test_a_won_block_is_mined_on_the_host_holding_the_drawn_sector(
    devnet, tmp_path: Path
) -> None:
    """The chain's randomness fixes the sector to prove: a WinPost machine on the host holding
    its files mines the block; elsewhere the claim is refused while one runs there."""
    db = devnet.db
    miner = await devnet.miner()
    for number in (0, 1, 2):
        await db.exec(
            "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
            'precommit_epoch, activation_epoch, deadline, "partition") '
            "VALUES ($1, $2, 'active', 's', 'u', 0, 0, 0, 0)",
            miner.sp_id,
            number,
        )
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won) "
        "VALUES (77, $1, $2, now(), TRUE)",
        miner.sp_id,
        devnet.epoch + devnet.config.winning_post_lookback,
    )
    task = WinPostTask(Workload(db, devnet.pool, clock=devnet.clock))
    draw = await task.draw(77)
    assert draw is not None and draw.chosen is not None
    (tmp_path / "far").mkdir()
    far = await attach(db, tmp_path / "far", host="far-host", can_store=True)
    for ft in (SectorFileType.SEALED, SectorFileType.CACHE):
        await declare_sector(db, far.storage_id, miner.sp_id, draw.chosen.sector_number, ft)
    locality = task.type_details().storage
    assert locality is not None
    await locality.claim(77, 1)  # nobody mines on far-host: this host tries (and records why)
    await machines.register(
        db,
        "far-host:worker",
        session="s1",
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=60,
        tasks=["WinPost"],
        machine_name="far",
        version="test",
        hostname="far-host",
    )
    with pytest.raises(LocalFiles, match="far-host proves it"):
        await locality.claim(77, 1)
    far_task = WinPostTask(Workload(db, devnet.pool, clock=devnet.clock, host="far-host"))
    await far_task.type_details().storage.claim(77, 2)
