"""Aging goes by the database's clock: a machine whose own clock runs minutes ahead must not see
a task posted a moment ago as starving and hold its free cores back for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.clock import ManualClock
from engine.harmonytask import add_tasks
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
