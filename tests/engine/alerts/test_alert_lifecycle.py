"""The alert lifecycle (raised, acknowledged, muted, cleared) for the checks and conditions that
``test_alert_checks.py`` leaves out or makes by hand: each condition here is made by the
engine's own paths (a real engine failing a task type, a WindowPoSt that skips a corrupt
sector, a deadline closing while the PoSt machine is stopped, a WinningPoSt whose sector file
is gone, a pledge no store path has room for, a chain no ChainTick advances, a check whose
statement fails). What ``test_alert_checks.py`` already tests well (a deleted sealed file, a
stale path heartbeat, a stuck message, no room to seal, won epochs not mined) is not repeated.
Evaluations are driven directly (``evaluate``, the AlertEval task's own code path)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.alerts import CHECKS, AlertSettings, Check, ack, evaluate, list_alerts, mute
from engine.alerts.model import Alert, Severity
from engine.chain import (
    DEVNET,
    advance_chain,
    create_miner,
    init_chain,
    new_deadline_info,
    send_message,
)
from engine.chain.expiration import expiry_close
from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    restart_task,
)
from engine.resources import MiB, Resources
from engine.storage import StorageHeartbeat, attach
from engine.tasks import pledge_sectors
from support.devnet import (
    START_EPOCH,
    Devnet,
    open_devnet,
    pool,  # noqa: F401  (the fixture)
    prove_deadline,
    sealed_path,
    until_active,
)
from support.probe import wait_until

S = AlertSettings()


# ------------------------------------------------------------------------------- helpers


async def alerts_of(db: DB, check: str, *, cleared: bool = False) -> dict[str, Alert]:
    return {
        a.subject: a
        for a in await list_alerts(db, include_cleared=cleared)
        if a.check == check and (cleared or a.open)
    }


async def raised(
    db: DB, check: str, settings: AlertSettings = S, checks: Sequence[Check] = CHECKS
) -> dict[str, Alert]:
    """Evaluate once (every check must run) and return the open alerts of ``check``."""
    result = await evaluate(db, settings, checks=checks)
    assert not result.failed, result.failed
    return await alerts_of(db, check)


async def one(db: DB, alert_id: int) -> Alert:
    (found,) = [a for a in await list_alerts(db, include_cleared=True) if a.id == alert_id]
    return found


async def ack_and_mute(
    db: DB,
    alert: Alert,
    *,
    settings: AlertSettings = S,
    checks: Sequence[Check] = CHECKS,
    by_check: bool = False,
) -> None:
    """As ``test_alert_checks.ack_and_mute``: acknowledged, then muted for 2 h, both kept
    through another evaluation (the condition still holds) on the same occurrence. With
    ``by_check`` both name the check (``harmony alerts ack CHECK``) instead of the id."""
    now = datetime.now(UTC)
    target = alert.check if by_check else str(alert.id)
    assert alert.id in await ack(db, target, "alice@test")
    await evaluate(db, settings, checks=checks)
    again = await one(db, alert.id)
    assert again.state(now) == "acked" and again.acked_by == "alice@test"
    assert again.first_seen == alert.first_seen  # the same occurrence
    assert alert.id in await mute(db, target, 7200, "alice@test")
    await evaluate(db, settings, checks=checks)
    muted = await one(db, alert.id)
    assert muted.state(now) == "muted" and not muted.needs_attention(now)
    assert muted.muted_until is not None and muted.muted_until > now + timedelta(minutes=110)
    assert muted.first_seen == alert.first_seen


async def cleared(db: DB, alert: Alert) -> None:
    """The alert's occurrence is over: cleared, not listed as open."""
    after = await one(db, alert.id)
    assert after.cleared_at is not None and after.state(datetime.now(UTC)) == "cleared"


# ------------------------------------------------------------------------- task failures

#: A real engine that polls often and heartbeats each second (as test_alert_checks' FAST).
FAST = EngineConfig(
    heartbeat_interval=1, machine_timeout=120, poll_interval=0.05, housekeeping_interval=3600
)


class Flaky(TaskType):
    """Fails every attempt (twice per task, then the task is failed for good) until fixed."""

    def __init__(self) -> None:
        self.broken = True

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name="flaky",
            cost=Resources(ram=1 * MiB),
            max_failures=2,
            retry_wait=lambda retries: 0.0,
        )

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        if self.broken:
            raise RuntimeError("disk on fire")
        return True


async def test_a_task_type_failing_on_a_real_engine(probe_db: DB, engines: Any) -> None:
    """Three tasks of a type that raises, run by a real engine: it records six failed
    attempts (two per task, more than five: the type and the machine pass the rate threshold)
    and three tasks failed for good. Both alerts are acknowledged and muted; fixed and
    restarted (``harmony task restart``), the tasks run, and the failed-task alert clears;
    the rate alerts clear once the window has moved past the failures."""
    db = probe_db
    flaky = Flaky()
    engine = await engines([flaky], "m1", config=FAST)
    ids = [await engine.add_task("flaky") for _ in range(3)]
    assert None not in ids

    async def all_failed() -> bool:
        n = "SELECT count(*) FROM harmony_task WHERE name = 'flaky' AND failed_at IS NOT NULL"
        return await db.query_value(n) == 3

    await wait_until(all_failed, 60, "three flaky tasks failed for good")
    failed = (await raised(db, "task-failed"))["flaky"]
    assert failed.severity is Severity.WARNING  # not a sealing or PoSt type
    shown = ", ".join(str(i) for i in sorted((i for i in ids if i), reverse=True))
    assert failed.message.startswith(f"3 flaky task(s) failed for good (ids {shown})")
    assert "RuntimeError: disk on fire" in failed.message
    rates = await alerts_of(db, "task-failure-rate")
    machine = f"machine {engine.host_and_port}"
    assert sorted(rates) == [machine, "type flaky"]
    assert "6 failed flaky attempts in the last 30m" in rates["type flaky"].message
    assert f"6 failed task attempts on {engine.host_and_port}" in rates[machine].message
    await ack_and_mute(db, failed)
    await ack_and_mute(db, rates["type flaky"])

    flaky.broken = False
    for task_id in ids:
        await restart_task(db, task_id)  # type: ignore[arg-type]
    engine.wake()

    async def all_done() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(all_done, 60, "the restarted tasks ran")
    assert await raised(db, "task-failed") == {}
    await cleared(db, failed)
    assert sorted(await alerts_of(db, "task-failure-rate")) == [machine, "type flaky"]
    assert await raised(db, "task-failure-rate", AlertSettings(failure_window=0.001)) == {}
    await cleared(db, rates["type flaky"])


# ------------------------------------------------------------------------------- storage


async def test_a_pledge_no_store_path_has_room_for(db: DB, tmp_path: Path) -> None:
    """Two 2 KiB sectors pledged (``pledge_sectors``, what ``harmony sectors pledge`` runs)
    with one store path of 300 MiB: one fits (2 x 2 KiB + 200 MiB each, Curio's rule), the
    other does not. Attaching a second store path fixes it."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    miner = await create_miner(db, config, 2048, epoch=config.epoch_at(now))
    (tmp_path / "small").mkdir()
    await attach(db, tmp_path / "small", can_store=True, max_storage=300 * MiB)
    await StorageHeartbeat(db).beat_once()
    assert await raised(db, "storage-space") == {}
    assert await pledge_sectors(db, miner.sp_id, 2) == [0, 1]
    alert = (await raised(db, "storage-space"))["store paths"]
    assert alert.severity is Severity.WARNING
    assert "1 of 2 will not fit on any store path (200.0 MiB more needed" in alert.message
    await ack_and_mute(db, alert)
    (tmp_path / "more").mkdir()
    await attach(db, tmp_path / "more", can_store=True)
    await StorageHeartbeat(db).beat_once()
    assert await raised(db, "storage-space") == {}
    await cleared(db, alert)


# ------------------------------------------------------------------------ a failing check


async def test_a_check_that_fails_raises_alert_check_and_keeps_its_alerts(db: DB) -> None:
    """The message-stuck check's table is gone (renamed away, as an unmigrated or damaged
    schema would leave it): the check itself fails. Its failure is an ``alert-check`` warning
    naming it, the message-stuck alert it raised before is kept as it was (not cleared), and
    the other checks still run. The table back, the alert-check alert clears; the message
    landing then clears the stuck alert."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    epoch = config.epoch_at(now) - 10  # the head ten epochs back: the message lands by now
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    await advance_chain(db, config, epoch)
    async with db.begin() as tx:
        sent = await send_message(
            tx, config, miner.sp_id, "DeclareFaults", {"declarations": []}, epoch=epoch
        )
        await tx.commit()
    quick = AlertSettings(message_stuck=0.001)  # in the pool for more than a millisecond
    stuck = (await raised(db, "message-stuck", quick))[f"t0{miner.sp_id}"]

    await db.exec("ALTER TABLE chain_messages RENAME TO chain_messages_away")
    result = await evaluate(db, quick)
    assert list(result.failed) == ["message-stuck"]
    assert "chain_messages" in result.failed["message-stuck"]
    broken = (await alerts_of(db, "alert-check"))["message-stuck"]
    assert broken.severity is Severity.WARNING
    assert broken.message.startswith("the alert check message-stuck failed (")
    assert broken.links == {"check": "message-stuck"}
    kept = await one(db, stuck.id)
    assert kept.open and kept.first_seen == stuck.first_seen
    assert await alerts_of(db, "chain-stalled") == {}  # the others ran (and found nothing)
    now = datetime.now(UTC)
    assert await ack(db, str(broken.id), "alice@test") == [broken.id]
    await mute(db, "alert-check", 7200, "alice@test")  # by the check's name
    await evaluate(db, quick)
    muted = await one(db, broken.id)
    assert muted.open and muted.state(now) == "muted" and muted.acked_by == "alice@test"
    assert muted.first_seen == broken.first_seen

    await db.exec("ALTER TABLE chain_messages_away RENAME TO chain_messages")
    assert sorted(await raised(db, "alert-check", quick)) == []
    await cleared(db, broken)
    assert (await alerts_of(db, "message-stuck"))[stuck.subject].id == stuck.id  # still stuck
    await advance_chain(db, config, config.epoch_at(datetime.now(UTC)))
    assert await db.query_value(
        "SELECT landed_epoch IS NOT NULL FROM chain_messages WHERE cid = $1", sent.cid
    )
    assert await raised(db, "message-stuck", quick) == {}
    await cleared(db, stuck)


# ---------------------------------------------------------------------------- the chain


async def test_a_chain_nobody_advances_stalls_and_resumes(db: DB) -> None:
    """The chain advanced to now (``advance_chain``, what ChainTick runs), then no ChainTick:
    after three block times (6 s on the devnet, the floor under the 5-minute setting) the
    chain-stalled alert is raised; acknowledged and muted; advancing the chain clears it."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(minutes=10))
    await advance_chain(db, config, config.epoch_at(now))
    soon = AlertSettings(head_stale=0.0)
    assert await raised(db, "chain-stalled", soon) == {}  # the head is fresh

    async def stalled() -> bool:
        return bool(await raised(db, "chain-stalled", soon))

    await wait_until(stalled, 60, "the chain-stalled alert")
    alert = (await alerts_of(db, "chain-stalled"))["devnet chain"]
    assert alert.severity is Severity.CRITICAL and "ChainTick" in alert.message
    await ack_and_mute(db, alert, settings=soon)
    await advance_chain(db, config, config.epoch_at(datetime.now(UTC)) + 1)
    assert await raised(db, "chain-stalled", soon) == {}
    await cleared(db, alert)


async def test_sectors_expiring_are_muted_by_check_name(db: DB) -> None:
    """A live sector expiring within the week (the row as ProveCommit leaves it: a sealed
    sector's own expiration is at least the 180-day minimum away, so it is written here as in
    ``test_sectors_expiring.py``): acknowledged and muted by the check's name; the chain's
    cron expiring it clears the alert."""
    head = 100
    genesis = datetime.now(UTC) - timedelta(seconds=head * DEVNET.block_time)
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(32))
    miner = await create_miner(db, config, 2048, epoch=0)
    await advance_chain(db, config, head)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, activation_epoch, expiration_epoch, deadline, "partition") '
        "VALUES ($1, 1, 'active', 'c', 'u', 1, 2, $2, 7, 0)",
        miner.sp_id,
        head + 20,
    )
    alert = (await raised(db, "sectors-expiring"))[f"t0{miner.sp_id}"]
    assert f"1 live sector(s) expire within 7 days, the soonest at epoch {head + 20}" in (
        alert.message
    )
    await ack_and_mute(db, alert, by_check=True)
    seven = new_deadline_info(config.profile, miner.deadline(config, head).period_start, 7, head)
    await advance_chain(db, config, expiry_close(config.profile, head + 20, seven.close))
    assert await raised(db, "sectors-expiring") == {}
    await cleared(db, alert)


# ------------------------------------------------------------------------------ the devnet

#: The machines' PoSt task types: a "PoSt machine" below runs these and nothing else.
POST = ("WdPost", "WdPostSubmit", "WdPostRecover")


@pytest.fixture
async def devnet(db: DB, engines: Any, pool: Any, tmp_path: Path) -> Devnet:  # noqa: F811
    """The tasks suite's devnet (:mod:`support.devnet`), its genesis put so that the chain's
    epochs are about now: the deadline cron dates its ``post-missed`` events at the chain's
    time, and the wdpost-missed check reads those of the last day."""
    genesis = datetime.now(UTC) - timedelta(seconds=START_EPOCH * DEVNET.block_time)
    return await open_devnet(db, engines, pool, tmp_path, genesis=genesis)


async def first_deadline(devnet: Any, sp_id: int) -> Any:
    """The miner's (single) deadline holding its sectors, at its next Challenge still to
    come: nothing of it has been proven yet."""
    profile = devnet.config.profile
    assert await devnet.value("SELECT count(DISTINCT deadline) FROM chain_sectors") == 1
    dl = await devnet.value("SELECT min(deadline) FROM chain_sectors")
    start = devnet.miners[sp_id].deadline(devnet.config, devnet.epoch).period_start
    info = new_deadline_info(profile, start, dl, devnet.epoch).next_not_elapsed()
    if devnet.epoch >= info.challenge:
        info = new_deadline_info(profile, info.period_start + profile.wpost_proving_period, dl, 0)
    return info


async def recover_and_prove(devnet: Any, info: Any, sp_id: int) -> None:
    """The faulty sectors' files are readable again: WdPostRecover declares them before the
    FaultCutoff of ``info`` (a deadline a period on), and they are proven there (the steps of
    test_post's damaged-sector test)."""
    profile = devnet.config.profile
    devnet.goto(info.open - 2 * profile.wpost_challenge_window)
    recovered = "SELECT land_epoch FROM chain_messages WHERE method = 'DeclareFaultsRecovered'"

    async def declared() -> bool:
        return bool(await devnet.value(recovered))

    await devnet.settle(declared)
    devnet.goto(await devnet.value(recovered))

    async def recovering() -> bool:
        return bool(
            await devnet.value("SELECT count(*) FROM chain_sectors WHERE state = 'recovering'")
        )

    await devnet.settle(recovering)
    await prove_deadline(devnet, info, sp_id)


async def test_a_sector_a_windowpost_could_not_read(devnet: Any) -> None:
    """Sector 1's sealed file is corrupt at its deadline: the WdPost machine proves the
    partition skipping it, the chain faults it. partition-unreadable names the partition and
    the sector, sectors-faulty the miner; both are acknowledged and muted. The file restored,
    the sector is declared recovered (still an acknowledged sectors-faulty alert, now saying
    recovering) and proven a period later: both clear."""
    db = devnet.db
    miner = await devnet.miner()
    m = f"t0{miner.sp_id}"
    await devnet.engine()
    await pledge_sectors(db, miner.sp_id, 2)
    await until_active(devnet, 2)
    info = await first_deadline(devnet, miner.sp_id)
    part = await devnet.value('SELECT "partition" FROM chain_sectors WHERE sector_number = 1')
    assert await raised(db, "partition-unreadable") == {}
    sealed = await sealed_path(devnet, miner.sp_id, 1)
    good = sealed.read_bytes()
    sealed.write_bytes(bytes(len(good)))

    proof = await prove_deadline(devnet, info, miner.sp_id)
    (proven,) = json.loads(bytes(proof["proof_params"]))["partitions"]
    assert proven["skipped"] == [1]
    subject = f"{m} dl{info.index} p{part}"
    unreadable = (await raised(db, "partition-unreadable"))[subject]
    assert unreadable.severity is Severity.WARNING
    assert "skipped 1 sector(s) it could not read (1); they are faulty" in unreadable.message
    assert unreadable.links == {
        "miner": miner.sp_id,
        "deadline": info.index,
        "partition": part,
        "sectors": [1],
    }
    faulty = (await alerts_of(db, "sectors-faulty"))[m]
    assert faulty.severity is Severity.WARNING
    assert f"{m} has 1 faulty sector(s) (1)" in faulty.message
    await ack_and_mute(db, unreadable)
    await ack_and_mute(db, faulty)

    sealed.write_bytes(good)
    period = devnet.config.profile.wpost_proving_period
    later = new_deadline_info(devnet.config.profile, info.period_start + period, info.index, 0)
    await recover_and_prove(devnet, later, miner.sp_id)
    assert await raised(db, "partition-unreadable") == {}
    assert await alerts_of(db, "sectors-faulty") == {}
    await cleared(db, unreadable)
    await cleared(db, faulty)


async def test_a_deadline_closes_while_the_post_machine_is_stopped(devnet: Any) -> None:
    """A sealing machine and a PoSt machine (WdPost, WdPostSubmit, WdPostRecover); the PoSt
    machine is stopped before the sector's deadline: the chain's cron closes it unproven. The
    wdpost-missed alert (critical) names the partition; it and the sector's fault are
    acknowledged and muted. A PoSt machine started again declares the recovery and proves the
    deadline a period later: both clear."""
    db = devnet.db
    miner = await devnet.miner()
    m = f"t0{miner.sp_id}"
    sealing = [t.type_details().name for t in devnet.tasks() if t.type_details().name not in POST]
    await devnet.engine("sealer", names=sealing)
    post = await devnet.engine("post1", names=POST)
    await pledge_sectors(db, miner.sp_id, 1)
    await until_active(devnet, 1)
    info = await first_deadline(devnet, miner.sp_id)
    await post.stop_now()

    missed_events = "SELECT count(*) FROM cluster_events WHERE kind = 'post-missed'"

    async def closed_unproven() -> bool:
        return bool(await devnet.value(missed_events))

    devnet.goto(info.close)
    await devnet.settle(closed_unproven)
    assert await devnet.value("SELECT count(*) FROM chain_post_submissions") == 0
    missed = (await raised(db, "wdpost-missed"))[f"{m} dl{info.index} p0"]
    assert missed.severity is Severity.CRITICAL
    assert "without a landed WindowPoSt (deadline closed without a WindowPoSt: 1 sector(s)" in (
        missed.message
    )
    assert missed.links == {"miner": miner.sp_id, "deadline": info.index, "partition": 0}
    faulty = (await alerts_of(db, "sectors-faulty"))[m]
    assert f"{m} has 1 faulty sector(s) (0)" in faulty.message
    await ack_and_mute(db, missed)

    await devnet.engine("post2", names=POST)
    period = devnet.config.profile.wpost_proving_period
    later = new_deadline_info(devnet.config.profile, info.period_start + period, info.index, 0)
    await recover_and_prove(devnet, later, miner.sp_id)
    assert await raised(db, "wdpost-missed") == {}
    assert await alerts_of(db, "sectors-faulty") == {}
    await cleared(db, missed)
    await cleared(db, faulty)


async def test_a_won_block_lost_for_a_missing_sector_file(devnet: Any) -> None:
    """Every epoch is won (expected winners 1000); the sector's sealed file is moved away, so
    the WinPost machine cannot prove the drawn sector and the won block is not included
    (test_post's lost-sector case): block-not-included, critical, per won epoch; acknowledged
    and muted. The file back, blocks are included again and raise nothing; a lost block stays
    lost, so its alert clears when it leaves the check's window."""
    db = devnet.db
    await db.exec("UPDATE chain_config SET expected_winners = 1000")
    miner = await devnet.miner()
    await devnet.engine()
    await pledge_sectors(db, miner.sp_id, 1)

    async def included_after(epoch: int) -> bool:
        q = "SELECT count(*) FROM mining_tasks WHERE included AND epoch > $1"
        return bool(await devnet.value(q, epoch))

    # (a block may be lost here already: a WinPost finishing after its epoch on a loaded box)
    await devnet.until(lambda: included_after(-1), max_epochs=400, what="a block mined")
    sealed = await sealed_path(devnet, miner.sp_id, 0)
    good = sealed.read_bytes()
    sealed.unlink()
    latest = await devnet.value("SELECT max(epoch) FROM mining_tasks")

    async def lost() -> bool:
        q = "SELECT count(*) FROM mining_tasks WHERE epoch > $1 AND included IS FALSE"
        return bool(await devnet.value(q, latest))

    await devnet.until(lost, max_epochs=40, what="a won block lost")
    first = await devnet.value(
        "SELECT min(epoch) FROM mining_tasks WHERE epoch > $1 AND included IS FALSE", latest
    )
    alert = (await raised(db, "block-not-included"))[f"t0{miner.sp_id} epoch {first}"]
    assert alert.severity is Severity.CRITICAL
    assert f"won epoch {first} but its block (none) is not in the chain" in alert.message
    await ack_and_mute(db, alert)

    sealed.write_bytes(good)
    back = await devnet.value("SELECT max(epoch) FROM mining_tasks")
    await devnet.until(lambda: included_after(back), max_epochs=100, what="a block mined again")
    lost_epochs = {
        r["epoch"]
        for r in await db.select("SELECT epoch FROM mining_tasks WHERE included IS FALSE")
    }
    assert {a.links["epoch"] for a in (await raised(db, "block-not-included")).values()} == (
        lost_epochs
    )
    # the window ends after the newest lost block: it and every older one are out of it
    age = await devnet.value(
        "SELECT EXTRACT(EPOCH FROM now() - max(base_compute_time))::float8 FROM mining_tasks "
        "WHERE included IS FALSE"
    )
    assert await raised(db, "block-not-included", AlertSettings(recent=age / 2)) == {}
    await cleared(db, alert)
