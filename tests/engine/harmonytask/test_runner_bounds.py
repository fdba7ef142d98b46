"""The bound on a completion's wait for the batcher (``runner.bounded_queued``), without a
database: it holds on the system clock and on a manual one, and on the system clock it costs no
task of its own (every completed task waits through it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from engine.clock import Clock, ManualClock, SystemClock
from engine.harmonytask.bounded import Unfinished, bounded
from engine.harmonytask.runner import bounded_queued


async def test_a_wait_that_ends_in_time_returns_its_value() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert await bounded_queued(SystemClock(), 5.0, answer()) == 42


async def test_on_the_system_clock_an_endless_wait_is_cut_at_the_bound_and_cancelled() -> None:
    never: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unfinished):
        await bounded_queued(SystemClock(), 0.05, never)
    assert asyncio.get_running_loop().time() - started < 2.0
    assert never.cancelled()


async def test_the_works_own_timeout_error_is_not_mistaken_for_the_bound() -> None:
    async def times_out() -> None:
        raise TimeoutError("the work's own")

    with pytest.raises(TimeoutError, match="the work's own") as raised:
        await bounded_queued(SystemClock(), 5.0, times_out())
    assert not isinstance(raised.value, Unfinished)


async def test_an_outside_cancel_is_a_cancel_not_an_unfinished_write() -> None:
    never: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(bounded_queued(SystemClock(), 5.0, never))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_on_a_manual_clock_the_bound_is_manual_time() -> None:
    clock = ManualClock()
    never: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(bounded_queued(clock, 10.0, never))
    await asyncio.sleep(0.1)  # real time passes; the manual bound does not
    assert not waiting.done()
    clock.advance(10.0)
    with pytest.raises(Unfinished):
        await asyncio.wait_for(waiting, 5)


async def tasks_while_waiting(
    bound: Callable[[Clock, float, Awaitable[int]], Awaitable[int]], clock: Clock
) -> int:
    """How many more asyncio tasks exist while a wait runs under ``bound`` than before it."""
    await asyncio.sleep(0.01)  # tasks an earlier bound cancelled have ended
    before = len(asyncio.all_tasks())

    async def count() -> int:
        await asyncio.sleep(0)
        return len(asyncio.all_tasks())

    return await bound(clock, 5.0, count()) - before


async def test_on_the_system_clock_the_bound_adds_no_task() -> None:
    """``bounded`` runs the work and its timer as two tasks of their own; on the system clock
    a completion's wait needs neither (a loop timer bounds it)."""
    assert await tasks_while_waiting(bounded, SystemClock()) == 2
    assert await tasks_while_waiting(bounded_queued, SystemClock()) == 0
