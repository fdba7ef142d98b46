"""The ChainTick singleton: one live tick cluster-wide, ticks when something is due, idle
otherwise; and the actor's fault and recovery declaration cutoffs."""

from __future__ import annotations

from collections.abc import Awaitable

from engine.chain import (
    DECLARE_FAULTS,
    DECLARE_FAULTS_RECOVERED,
    DEVNET,
    ChainService,
    ChainTick,
    ExitCode,
    advance_chain,
    create_miner,
    init_chain,
    new_deadline_info,
    send_message,
)
from engine.clock import ManualClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig
from support.probe import wait_until

QUICK = EngineConfig(heartbeat_interval=3600, poll_interval=0.5, housekeeping_interval=3600)
#: seconds on the test's clock between ticks when nothing is due
IDLE = 60.0


async def head(db: DB) -> int | None:
    return await db.query_value("SELECT max(epoch) FROM chain_tipsets")


async def _equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_two_machines_tick_one_chain_only_when_something_is_due(db: DB, engines) -> None:
    config, _ = await init_chain(db, DEVNET)
    clock = ManualClock(config.time_of(50))
    services = [ChainService(db, clock, idle_tick=IDLE) for _ in range(2)]
    for name, service in zip(("m1", "m2"), services, strict=True):
        await engines([ChainTick(service)], name, config=QUICK)
    await wait_until(lambda: head(db), 10, "the first tick")
    assert await head(db) == 50

    async def ticks() -> int:
        return await db.query_value("SELECT count(*) FROM harmony_task_history")

    await wait_until(lambda: _equals(ticks(), 1), 10, "the first tick recorded")
    # Both machines learn of that tick (one ran it, the other hears its NOTIFY); with nothing
    # due, neither wants another however far the clock moves short of the idle tick, and
    # their adders sleep on the clock until then.
    await wait_until(
        lambda: all(s.head == 50 and not s.tick_due() for s in services),
        10,
        "both machines to know the tick and want no other",
    )
    clock.advance(IDLE - 1)
    assert not any(s.tick_due() for s in services)
    assert await ticks() == 1
    # The idle tick: one more tick, to the clock's epoch, once the idle time has passed.
    clock.advance(1)
    idle_epoch = config.epoch_at(clock.now())
    await wait_until(lambda: _equals(head(db), idle_epoch), 10, "the idle tick")
    await wait_until(lambda: _equals(ticks(), 2), 10, "the idle tick recorded")
    await wait_until(
        lambda: all(s.head == idle_epoch and not s.tick_due() for s in services),
        10,
        "both machines to know the idle tick",
    )
    async with db.begin() as tx:
        sent = await send_message(
            tx, config, 1000, DECLARE_FAULTS, {"declarations": []}, epoch=idle_epoch
        )
        await tx.commit()
    clock.set(config.time_of(sent.land_epoch))

    async def landed() -> bool:
        return (
            await db.query_value("SELECT landed_epoch FROM chain_messages WHERE cid = $1", sent.cid)
            == sent.land_epoch
        )

    await wait_until(landed, 10, "the message to land when due")
    assert await head(db) == sent.land_epoch
    # The tick commits the chain's advance before the engine records the task done, so the
    # singleton is released a moment after the message is seen landed.

    async def released() -> bool:
        row = await db.query_row("SELECT task_name, task_id FROM harmony_task_singletons")
        return row == {"task_name": "ChainTick", "task_id": None}

    await wait_until(released, 10, "the tick's singleton to be released")
    hosts = await db.select(
        "SELECT DISTINCT completed_by_host_and_port AS h FROM harmony_task_history"
    )
    assert {h["h"] for h in hosts} <= {"m1", "m2"}


async def test_fault_and_recovery_declarations_must_land_before_the_fault_cutoff(db: DB) -> None:
    config, _ = await init_chain(db, DEVNET)
    miner = await create_miner(db, config, 2048, epoch=0)
    epoch = 100
    info = miner.deadline(config, epoch)
    target = new_deadline_info(config.profile, info.period_start, (info.index + 3) % 48, epoch)
    target = target.next_not_elapsed()
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, activation_epoch, deadline, "partition") '
        "VALUES (1000, 7, 'active', 's', 'u', 1, 2, $1, 0)",
        target.index,
    )
    await advance_chain(db, config, epoch)
    decl = {"declarations": [{"deadline": target.index, "partition": 0, "sectors": [7]}]}

    async def send(method: str, at: int) -> str:
        async with db.begin() as tx:
            sent = await send_message(tx, config, 1000, method, decl, epoch=at)
            await tx.commit()
        return sent.cid

    fault = await send(DECLARE_FAULTS, epoch)
    await advance_chain(db, config, epoch + 5)
    recovery = await send(DECLARE_FAULTS_RECOVERED, target.fault_cutoff - 1)  # lands too late
    await advance_chain(db, config, target.fault_cutoff + 5)
    rows = {
        r["cid"]: r for r in await db.select("SELECT cid, exit_code, receipt FROM chain_messages")
    }
    assert rows[fault]["exit_code"] == ExitCode.OK
    assert rows[recovery]["exit_code"] == ExitCode.FORBIDDEN
    assert f"fault cutoff was epoch {target.fault_cutoff}" in rows[recovery]["receipt"]
    assert await db.query_value("SELECT state FROM chain_sectors") == "faulty"
