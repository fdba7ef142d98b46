"""The live data behind the console: connect (and retry), poll, coalesce notifications, backfill.

No Textual here: a :class:`Feed` is an asyncio loop driven by a :class:`~engine.clock.Clock`,
so a test moves a :class:`~engine.clock.ManualClock` instead of waiting real seconds. It hands
every new :class:`~engine.snapshot.ClusterSnapshot` and every change of its own state to two
callbacks; the app turns them into reactive attributes.

Rules it keeps, because the console shares the database with the machines it watches:

* Refreshes never overlap: the next one is timed from the end of the last one.
* A notification (LISTEN/NOTIFY) only makes the next refresh come sooner, never closer than
  :data:`NOTICE_GAP` after the previous one ended: a burst of task events costs one refresh.
* An operator's request (:meth:`Feed.refresh_now`) refreshes at once.
* While paused nothing is read.
* The 24 h history is loaded in slices after a refresh, within part of the interval, never
  inside a refresh; the refresh after the last slice comes as soon as a notification's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from engine.clock import Clock, wait_event

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot

__all__ = [
    "MIN_REFRESH",
    "NOTICE_GAP",
    "REFRESH_STEPS",
    "Feed",
    "FeedState",
    "Link",
    "Reader",
    "next_interval",
    "one_line",
]

log = logging.getLogger("harmony.console")

#: the intervals ``+`` and ``-`` step through
REFRESH_STEPS = (1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
#: more often than this the query set would load the database more than it tells the operator
MIN_REFRESH = 1.0
#: a notification never triggers refreshes closer together than this
NOTICE_GAP = 0.5
#: the connect retry waits double from the first to the last
RETRY_FIRST, RETRY_MAX = 1.0, 10.0


def one_line(exc: BaseException) -> str:
    """An exception as the status line and notifications show it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def next_interval(current: float, direction: int) -> float:
    """The interval after ``+`` (direction > 0) or ``-``: the next step, never below a second."""
    if direction > 0:
        bigger = [s for s in REFRESH_STEPS if s > current]
        return bigger[0] if bigger else max(current, REFRESH_STEPS[-1])
    smaller = [s for s in REFRESH_STEPS if s < current]
    return smaller[-1] if smaller else MIN_REFRESH


class Reader(Protocol):
    """What the feed needs of :class:`~engine.snapshot.SnapshotReader`."""

    @property
    def backfill_pending(self) -> bool: ...

    async def backfill_step(self) -> None: ...

    async def snapshot(
        self,
        now: datetime,
        *,
        history_filter: str | None = None,
        lists: Collection[str] | None = None,
    ) -> ClusterSnapshot: ...


class Link(Protocol):
    """An open connection: the reader, whether LISTEN works, and how to close it."""

    @property
    def reader(self) -> Reader: ...

    @property
    def live(self) -> bool: ...

    @property
    def label(self) -> str: ...

    async def close(self) -> None: ...


L = TypeVar("L", bound=Link)


@dataclass(frozen=True)
class FeedState:
    """What the status line says about the data: connected, live, the last error."""

    connected: bool = False
    #: notifications arrive (LISTEN works); otherwise the feed only polls
    live: bool = False
    #: what the database is called on screen, once connected
    label: str | None = None
    #: the last connect or refresh error, None after a success
    error: str | None = None


@dataclass
class _Wake:
    """Why the loop was woken: an operator's request beats a notification."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    urgent: bool = False
    noticed: bool = False


class Feed(Generic[L]):
    """Owns the connection and the refresh loop; :meth:`run` until the app closes it.

    ``connect`` opens the link (a :class:`~console.connection.DatabaseLink` in the app, a fake
    in tests); it gets the callback to call on every notification.

    Attributes the app sets (``paused``, ``refresh_s``, ``lists``, ``history_filter``) take
    effect on the next refresh; those that change what is read refresh at once.
    """

    def __init__(
        self,
        clock: Clock,
        connect: Callable[[Callable[[], None]], Awaitable[L]],
        *,
        on_snapshot: Callable[[ClusterSnapshot], None],
        on_state: Callable[[FeedState], None],
        refresh_s: float = 2.0,
    ) -> None:
        self.clock = clock
        self._connect = connect
        self._on_snapshot = on_snapshot
        self._on_state = on_state
        self._refresh_s = max(refresh_s, MIN_REFRESH)
        self._paused = False
        self._lists: frozenset[str] = frozenset()
        self._history_filter: str | None = None
        self._wake = _Wake()
        self._last_end = clock.monotonic()
        self._has_snapshot = False
        #: the open connection, once :meth:`run` has connected
        self.link: L | None = None
        self.state = FeedState()
        #: when the next try comes after the last error (the clock's time), None after a
        #: success: a pane with nothing to show yet says it (the same error retried is the
        #: same state, so it is read here, not from a change of ``state``)
        self.retry_at: datetime | None = None
        #: refreshes run so far (tests and the benchmark count them)
        self.refreshes = 0

    # ------------------------------------------------------------------ settings

    @property
    def refresh_s(self) -> float:
        return self._refresh_s

    @refresh_s.setter
    def refresh_s(self, seconds: float) -> None:
        self._refresh_s = max(seconds, MIN_REFRESH)
        self._wake.event.set()  # re-time the wait that is under way

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, paused: bool) -> None:
        was, self._paused = self._paused, paused
        if was and not paused:
            self.refresh_now()

    def want(self, lists: Collection[str], history_filter: str | None) -> None:
        """The detail lists the visible view shows (the others are not re-read) and the history
        filter (searched in SQL); a change refreshes at once."""
        lists = frozenset(lists)
        history_filter = (history_filter or "").strip() or None
        if lists != self._lists or history_filter != self._history_filter:
            self._lists, self._history_filter = lists, history_filter
            if lists or history_filter:
                self.refresh_now()

    def refresh_now(self) -> None:
        """Refresh as soon as the one under way (if any) has ended."""
        self._wake.urgent = True
        self._wake.event.set()

    def notice(self) -> None:
        """Something changed in the cluster: refresh soon, but not closer than NOTICE_GAP."""
        self._wake.noticed = True
        self._wake.event.set()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Connect (retrying), then refresh until cancelled."""
        await self._open()
        while True:
            await self.refresh()
            await self._next_turn()

    async def close(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()

    async def _open(self) -> None:
        delay = RETRY_FIRST
        while self.link is None:
            try:
                self.link = await self._connect(self.notice)
            except Exception as exc:
                self.retry_at = self.clock.now() + timedelta(seconds=delay)
                self._set_state(replace(self.state, error=one_line(exc)))
                log.info("console cannot connect: %s", self.state.error)
                await self.clock.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        self.retry_at = None
        self._set_state(FeedState(connected=True, live=self.link.live, label=self.link.label))

    async def refresh(self) -> None:
        """One refresh (unless paused), then a slice of the history backfill."""
        self._wake.urgent = self._wake.noticed = False
        self._wake.event.clear()
        try:
            if not self._paused and self.link is not None:
                await self._read(self.link.reader)
                await self._backfill(self.link.reader)
        finally:
            self._last_end = self.clock.monotonic()

    async def _read(self, reader: Reader) -> None:
        try:
            snap = await reader.snapshot(
                self.clock.now(),
                history_filter=self._history_filter,
                lists=self._lists if self._has_snapshot else None,
            )
        except Exception as exc:
            log.warning("refresh failed: %s", one_line(exc))
            self.retry_at = self.clock.now() + timedelta(seconds=self._refresh_s)
            self._set_state(replace(self.state, error=one_line(exc)))
            return
        self.refreshes += 1
        self._has_snapshot = True
        if self.state.error is not None:
            self.retry_at = None
            self._set_state(replace(self.state, error=None))
        self._on_snapshot(snap)

    async def _backfill(self, reader: Reader) -> None:
        if not reader.backfill_pending:
            return
        budget = max(0.3, 0.4 * min(self._refresh_s, 5.0))
        started = self.clock.monotonic()
        while reader.backfill_pending and self.clock.monotonic() - started < budget:
            try:
                await reader.backfill_step()
            except Exception as exc:
                log.warning("history backfill failed: %s", one_line(exc))
                return
        if not reader.backfill_pending:
            self._wake.noticed = True  # show the complete 24 h figures soon

    async def _next_turn(self) -> None:
        """Wait for the interval, an operator's request, or a notification after the gap."""
        wake = self._wake
        while not wake.urgent:
            gap = NOTICE_GAP if wake.noticed else self._refresh_s
            left = self._last_end + gap - self.clock.monotonic()
            if left <= 0:
                return
            wake.event.clear()
            await wait_event(self.clock, wake.event, left)

    def _set_state(self, state: FeedState) -> None:
        if state != self.state:
            self.state = state
            self._on_state(state)
