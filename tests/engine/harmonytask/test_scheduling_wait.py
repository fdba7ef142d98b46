"""The scheduler's wait between claim cycles, without a database: a wake-up ends it at once, the
poll interval bounds it on the engine's clock (system or manual), and on the system clock it
runs no task of its own (the NOTIFY-to-claim path goes through it for every task)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from engine.clock import Clock, ManualClock, SystemClock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig
from engine.harmonytask.capacity import LocalCapacity
from engine.harmonytask.claims import Claimed
from engine.harmonytask.runner import AttemptRunner
from engine.harmonytask.scheduling import CycleResult, Scheduler, SchedulerHooks
from engine.harmonytask.task import MachineView
from engine.resources import GiB, Resources

NOTHING = CycleResult()

#: the wait only reads the config and the clock; a cycle would need the rest
UNUSED: Any = None


def scheduler(clock: Clock, **config: Any) -> Scheduler:
    hooks = SchedulerHooks(
        db=cast(DB, UNUSED),
        config=EngineConfig(**config),
        clock=clock,
        identity=lambda: (1, "session"),
        may_claim=lambda: True,
        machine_view=lambda: cast(MachineView, UNUSED),
        add_task={},
        background=lambda name, coro: coro.close(),
    )
    capacity = LocalCapacity(Resources(cpu=4, ram=8 * GiB))
    return Scheduler({}, capacity, cast(AttemptRunner, UNUSED), hooks)


async def test_a_wake_up_ends_the_wait_at_once_and_is_consumed() -> None:
    s = scheduler(SystemClock(), poll_interval=30.0)
    waiting = asyncio.ensure_future(s.wait(NOTHING, notify_mode=True))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    s.wake()
    await asyncio.wait_for(waiting, 2)
    # consumed: the next wait sleeps until the next wake-up
    again = asyncio.ensure_future(s.wait(NOTHING, notify_mode=True))
    await asyncio.sleep(0.05)
    assert not again.done()
    again.cancel()


async def test_a_wake_up_during_the_cycle_is_not_lost() -> None:
    s = scheduler(SystemClock(), poll_interval=30.0)
    s.wake()  # came while the cycle ran
    await asyncio.wait_for(s.wait(NOTHING, notify_mode=True), 2)


async def test_after_a_cycle_that_found_work_there_is_no_wait_and_the_wake_up_stays() -> None:
    s = scheduler(SystemClock(), poll_interval=30.0)
    s.wake()
    found = CycleResult(claimed=(cast(Claimed, UNUSED),))
    await asyncio.wait_for(s.wait(found, notify_mode=True), 2)
    await asyncio.wait_for(s.wait(NOTHING, notify_mode=True), 2)


async def test_without_a_wake_up_the_poll_interval_ends_the_wait() -> None:
    s = scheduler(SystemClock(), poll_interval=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(s.wait(NOTHING, notify_mode=True), 5)
    assert loop.time() - started >= 0.04


async def test_on_a_manual_clock_the_poll_interval_is_manual_time() -> None:
    clock = ManualClock()
    s = scheduler(clock, poll_interval=10.0)
    waiting = asyncio.ensure_future(s.wait(NOTHING, notify_mode=True))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    clock.advance(10.0)
    await asyncio.wait_for(waiting, 2)


async def test_on_the_system_clock_the_wait_runs_no_task_of_its_own() -> None:
    s = scheduler(SystemClock(), poll_interval=30.0)
    await asyncio.sleep(0.01)
    before = len(asyncio.all_tasks())
    waiting = asyncio.ensure_future(s.wait(NOTHING, notify_mode=True))
    await asyncio.sleep(0.01)
    assert len(asyncio.all_tasks()) == before + 1  # the waiting one itself
    s.wake()
    await asyncio.wait_for(waiting, 2)
