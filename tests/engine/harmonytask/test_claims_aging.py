"""Aging goes by the database's clock: a machine whose own clock runs minutes ahead must not see
a task posted a moment ago as starving and hold its free cores back for it; and every task's
wait is taken at one instant of that clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from engine.clock import ManualClock
from engine.harmonytask import Limiter, add_tasks
from engine.resources import GiB, Resources
from support.probe import Probe, wait_until


async def test_a_clock_two_minutes_ahead_does_not_make_new_work_starve(probe_db, engines) -> None:
    ahead = ManualClock(datetime.now(UTC) + timedelta(seconds=120))  # starvation_after is 60
    small = Probe(probe_db, "m", "small", cost=Resources(cpu=1), block=True)
    big = Probe(probe_db, "m", "big", cost=Resources(cpu=2))
    engine = await engines([small, big], "m", capacity=Resources(cpu=2, ram=GiB), clock=ahead)
    await add_tasks(probe_db, "small", 2)
    await wait_until(lambda: len(small.started) == 2, 5)
    await add_tasks(probe_db, "big", 1)  # blocked: it needs both cores
    await add_tasks(probe_db, "small", 5)
    assert (await engine.cycle()).held_back_for is None
    small.release(small.started[0])  # a core is free, and nothing has waited long
    await wait_until(lambda: len(small.started) == 3, 5, "a small task to take the free core")
    assert not big.started
    assert (await engine.cycle()).held_back_for is None


class SlowToAccept(Probe):
    """A type whose ``can_accept`` takes a while: its claim comes well after the types before
    it in the same cycle."""

    async def can_accept(self, task_ids, machine):
        await asyncio.sleep(0.3)
        return await super().can_accept(task_ids, machine)


async def test_a_shared_limiter_goes_to_the_older_tasks_though_claimed_first(
    probe_db, engines
) -> None:
    """A cycle claims type by type. The type claimed later has waited longer by the time
    between the statements; aging measured at each claim admitted its newer tasks first, and
    they took the slots the older tasks waited for."""
    shared = Limiter(2)
    older = Probe(probe_db, "m", "older", block=True, max=shared)
    newer = SlowToAccept(probe_db, "m", "newer", block=True, max=shared)
    await add_tasks(probe_db, "older", 2)
    await asyncio.sleep(0.05)
    await add_tasks(probe_db, "newer", 2)
    engine = await engines([older, newer], "m")  # one cycle claims both types
    await wait_until(lambda: len(older.started) + len(newer.started) == 2, 10)
    assert (len(older.started), len(newer.started)) == (2, 0)
    assert (await engine.cycle()).claimed == ()
