"""One source of time for the engine and the console: ``now``, ``monotonic``, ``sleep``.

Everything that depends on time (heartbeats, leases, retry waits, aging, epochs, countdowns)
takes a :class:`Clock` instead of calling :func:`time.monotonic` or :func:`datetime.now`, so a
test can hold time still and move it by hand instead of sleeping real seconds (Trio's
``MockClock`` idea).

* :class:`SystemClock` is the real thing: wall-clock UTC for what is compared with the
  database, ``time.monotonic`` for durations and deadlines inside one process.
* :class:`ManualClock` moves only when a test calls :meth:`ManualClock.advance` (or
  :meth:`ManualClock.set`); every sleeper whose time has come wakes at once. Both readings move
  together, so a duration measured on one matches the other.

:func:`wait_event` is the one bounded wait on an :class:`asyncio.Event` that loops need ("wake
me when told, or after ``seconds`` at the latest"); with a manual clock that bound is manual
too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "wait_event"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` have passed on this clock (at once when <= 0)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once :meth:`now` has reached ``when`` (at once if it already has)."""
        ...


class SystemClock:
    """This host's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that moves only when told to; sleepers wake as soon as their time is reached.

    ``monotonic()`` starts at 0 and advances with ``now()``. It may be created outside an event
    loop (fixtures do); sleeping needs one.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._start = start
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._start).total_seconds()

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("a ManualClock never goes back")
        self._now = when
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def advance(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=seconds))

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        while self._now < when:
            await self._moved.wait()


async def wait_event(clock: Clock, event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass on ``clock``; True if it was set.

    The event is not cleared: the caller decides when a wake-up has been consumed.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (waiter, sleeper):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
    return event.is_set()
