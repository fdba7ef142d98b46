"""The console's feed without Textual or a database: a fake reader and a manual clock show when
it connects, refreshes, coalesces notifications, pauses and backfills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from console.feed import NOTICE_GAP, Feed, FeedState, next_interval
from engine.clock import ManualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeReader:
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    backfill_steps: int = 0
    #: seconds of the manual clock one backfill step takes
    step_seconds: float = 0.0
    clock: ManualClock | None = None

    @property
    def backfill_pending(self) -> bool:
        return self.backfill_steps > 0

    async def backfill_step(self) -> None:
        self.backfill_steps -= 1
        if self.clock is not None:
            self.clock.advance(self.step_seconds)

    async def snapshot(
        self,
        now: datetime,
        *,
        history_filter: str | None = None,
        lists: Collection[str] | None = None,
    ) -> Any:
        if self.fail:
            raise RuntimeError("connection lost\nsecond line")
        self.calls.append({"now": now, "filter": history_filter, "lists": lists})
        return len(self.calls)


@dataclass
class FakeLink:
    reader: FakeReader
    live: bool = True
    label: str = "fake"
    closed: bool = False

    async def close(self) -> None:
        self.closed = True


@dataclass
class Harness:
    clock: ManualClock
    reader: FakeReader
    feed: Feed[FakeLink]
    snapshots: list[Any]
    states: list[FeedState]
    notice: list[Callable[[], None]]

    @property
    def reads(self) -> int:
        return len(self.reader.calls)


async def settle() -> None:
    """Let the feed's task run until it waits again (it never does I/O here)."""
    for _ in range(50):
        await asyncio.sleep(0)


def make_harness(failures: int = 0, refresh_s: float = 2.0) -> Harness:
    clock = ManualClock(START)
    reader = FakeReader(clock=clock)
    snapshots: list[Any] = []
    states: list[FeedState] = []
    notice: list[Callable[[], None]] = []
    left = [failures]

    async def connect(on_notice: Callable[[], None]) -> FakeLink:
        if left[0]:
            left[0] -= 1
            raise OSError("connection refused")
        notice.append(on_notice)
        return FakeLink(reader)

    feed = Feed(
        clock,
        connect,
        on_snapshot=snapshots.append,
        on_state=states.append,
        refresh_s=refresh_s,
    )
    return Harness(clock, reader, feed, snapshots, states, notice)


@pytest.fixture
async def running() -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []

    async def start(harness: Harness) -> Harness:
        tasks.append(asyncio.create_task(harness.feed.run()))
        await settle()
        return harness

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_connect_retries_with_growing_waits_then_reads_everything(running: Any) -> None:
    h = await running(make_harness(failures=3))
    assert h.states[-1] == FeedState(error="connection refused")
    assert h.reads == 0
    for wait in (1.0, 2.0):
        h.clock.advance(wait)
        await settle()
        assert h.reads == 0
    h.clock.advance(3.9)  # the third wait is 4 s
    await settle()
    assert h.reads == 0
    h.clock.advance(0.1)
    await settle()
    assert h.states[-1] == FeedState(connected=True, live=True, label="fake")
    assert h.reads == 1
    assert h.reader.calls[0] == {"now": h.clock.now(), "filter": None, "lists": None}
    assert h.snapshots == [1]


async def test_refreshes_on_the_interval_and_at_once_when_asked(running: Any) -> None:
    h = await running(make_harness(refresh_s=5))
    assert h.reads == 1
    h.clock.advance(4.9)
    await settle()
    assert h.reads == 1
    h.clock.advance(0.1)
    await settle()
    assert h.reads == 2
    assert h.reader.calls[1]["lists"] == frozenset()  # after the first, only what is shown
    h.feed.refresh_now()
    await settle()
    assert h.reads == 3


async def test_notifications_are_coalesced_and_never_closer_than_the_gap(running: Any) -> None:
    h = await running(make_harness(refresh_s=60))
    (notice,) = h.notice
    for _ in range(5):
        notice()
    await settle()
    assert h.reads == 1  # the first refresh ended just now
    h.clock.advance(NOTICE_GAP / 2)
    await settle()
    assert h.reads == 1
    h.clock.advance(NOTICE_GAP / 2)
    await settle()
    assert h.reads == 2  # five notices, one refresh
    h.clock.advance(10)
    await settle()
    notice()
    await settle()
    assert h.reads == 3  # long after the last refresh: at once


async def test_pause_reads_nothing_and_resuming_refreshes(running: Any) -> None:
    h = await running(make_harness())
    h.feed.paused = True
    h.feed.refresh_now()
    h.clock.advance(10)
    await settle()
    assert h.reads == 1
    h.feed.paused = False
    await settle()
    assert h.reads == 2


async def test_wanted_lists_and_history_filter_refresh_when_they_change(running: Any) -> None:
    h = await running(make_harness(refresh_s=60))
    h.feed.want({"history"}, "  exit status ")
    await settle()
    assert h.reader.calls[-1]["lists"] == frozenset({"history"})
    assert h.reader.calls[-1]["filter"] == "exit status"
    reads = h.reads
    h.feed.want({"history"}, "exit status")  # the same: nothing to read
    await settle()
    assert h.reads == reads


async def test_a_failed_refresh_is_reported_then_cleared(running: Any) -> None:
    h = await running(make_harness())
    h.reader.fail = True
    h.feed.refresh_now()
    await settle()
    assert h.feed.state.error == "connection lost"
    assert h.feed.state.connected
    h.reader.fail = False
    h.feed.refresh_now()
    await settle()
    assert h.feed.state.error is None
    assert h.snapshots == [1, 2]


async def test_backfill_runs_in_slices_then_shows_the_result_soon(running: Any) -> None:
    h = make_harness(refresh_s=60)
    h.reader.backfill_steps = 5
    h.reader.step_seconds = 0.2  # the budget at a 60 s interval is 2 s: all five fit
    await running(h)
    assert h.reader.backfill_steps == 0
    assert h.reads == 1
    h.clock.advance(NOTICE_GAP)
    await settle()
    assert h.reads == 2  # the complete figures, without waiting a minute


async def test_backfill_stops_at_its_budget(running: Any) -> None:
    h = make_harness(refresh_s=1)
    h.reader.backfill_steps = 10
    h.reader.step_seconds = 0.2  # the budget at 1 s is 0.4 s: two steps
    await running(h)
    assert h.reader.backfill_steps == 8


def test_interval_steps() -> None:
    assert next_interval(2.0, 1) == 3.0
    assert next_interval(60.0, 1) == 60.0
    assert next_interval(2.0, -1) == 1.0
    assert next_interval(1.0, -1) == 1.0


async def test_close_closes_the_link(running: Any) -> None:
    h = await running(make_harness())
    link = h.feed.link
    assert link is not None
    await h.feed.close()
    assert link.closed and h.feed.link is None
