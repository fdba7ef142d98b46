"""One process's view of the chain: config, current epoch, beacons, and when to advance.

Everything chain-dependent in a process shares one :class:`ChainService`. It answers "what
epoch is it" from the injected clock (no query), computes beacons locally (hash chain), and
decides when the chain needs advancing: at the next epoch something is due (a message lands, a
deadline with sectors closes), learned from this process's own sends and advances and, across
the cluster, from NOTIFY payloads on the ``chain`` channel; otherwise every ``idle_tick``
seconds. So an idle cluster advances its chain a couple of times a minute, and a busy one at
every epoch that matters.

Without NOTIFY (YugabyteDB by default, where LISTEN is refused) the service reads what a notice
would have said every ``poll_interval`` seconds instead: the chain's head and the earliest
pending message's landing epoch (one statement over two indexes). So a machine learns of a head
another machine advanced (and wants no tick it would only repeat) and of a message another
machine sent (and ticks when it lands) within a poll, not only at its next idle tick. The chain
itself never depends on either: an advance executes every epoch's messages and cron whenever it
runs, however late (:mod:`.advance`); the poll and the notices only bound how late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engine.clock import SystemClock, wait_event
from engine.harmonydb import HarmonyDBError

from .beacon import BeaconCache
from .config import load_chain

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB

    from .advance import AdvanceResult
    from .config import ChainConfig

__all__ = ["ChainService"]

log = logging.getLogger(__name__)

#: What a ``chain`` notice would have said, read where there is no NOTIFY: the head (the primary
#: key's last entry) and the next message due (``chain_messages_pending``'s first entry).
_POLL = """
SELECT (SELECT max(epoch) FROM chain_tipsets) AS head,
       (SELECT min(land_epoch) FROM chain_messages WHERE landed_epoch IS NULL) AS next_message
"""


class ChainService:
    """Shared by the chain-dependent task types of one process.

    Args:
        clock: the time source for epochs and the idle tick (tests pass a
            :class:`~engine.clock.ManualClock`).
        idle_tick: seconds on ``clock`` between chain advances when nothing is due.
        poll_interval: real seconds between reads of the chain's state where the server has
            no NOTIFY (module docstring); unused where it has.
    """

    def __init__(
        self,
        db: DB,
        clock: Clock | None = None,
        *,
        idle_tick: float = 30.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.idle_tick = idle_tick
        self.poll_interval = poll_interval
        self._poller: asyncio.Task[None] | None = None
        self.beacons = BeaconCache()
        self._config: ChainConfig | None = None
        self._config_checked = 0.0
        self._config_lock = asyncio.Lock()
        #: last materialised head this process knows of, and the next epoch a tick is due
        self.head: int | None = None
        self.due: int | None = None
        #: ``clock.monotonic()`` at the last tick (or refused advance) this process knows of
        self.last_tick: float | None = None
        self._changed = asyncio.Event()
        self._listener: object | None = None
        self._started = False
        self._head_callbacks: list[Callable[[int], None]] = []
        self._message_callbacks: list[Callable[[int], None]] = []
        self._channels: dict[str, list[Callable[[str], None]]] = {}

    # ------------------------------------------------------------------ config and time

    async def config(self) -> ChainConfig | None:
        """The chain (cached for the process's life once it exists; re-checked at most every
        2 seconds while it does not).

        One load at a time: a caller arriving while the first load is in flight waits for it
        instead of reading "no chain yet" and sleeping until the next change (a task's first
        tick stalled 30 s that way).
        """
        if self._config is not None:
            return self._config
        async with self._config_lock:
            # Real seconds, not the injected clock's: this bounds queries, not chain time.
            if self._config is None and time.monotonic() - self._config_checked > 2.0:
                self._config_checked = time.monotonic()
                self._config = await load_chain(self.db)
                if self._config is not None:
                    self._fire()
        return self._config

    async def wait_config(self) -> ChainConfig:
        """Wait until the cluster has a chain (``harmony chain init`` or the demo)."""
        while True:
            try:
                config = await self.config()
            except HarmonyDBError as exc:
                log.warning("reading the chain config failed: %s", exc)
                config = None
            if config is not None:
                return config
            # `chain init` announces itself (NOTIFY "c"); without NOTIFY, look twice a minute.
            await self.wait_changed(30.0)

    def now(self) -> datetime:
        return self.clock.now()

    def epoch(self) -> int:
        """The current epoch by the clock (requires the config to be loaded)."""
        assert self._config is not None, "await config() first"
        return self._config.epoch_at(self.clock.now())

    async def sleep_until_epoch(self, epoch: int, *, wake: asyncio.Event | None = None) -> None:
        """Until ``epoch`` begins, or ``wake`` is set (whichever is first)."""
        assert self._config is not None
        await self.sleep_until(self._config.time_of(epoch), wake=wake)

    async def sleep_until(self, when: datetime, *, wake: asyncio.Event | None = None) -> None:
        """Until the clock reaches ``when``, or ``wake`` is set (whichever is first)."""
        if wake is None:
            await self.clock.sleep_until(when)
        else:
            await wait_event(self.clock, wake, (when - self.clock.now()).total_seconds())

    async def wait_changed(self, seconds: float) -> None:
        """Until the chain state known here changes (a tick, a message, a config), or
        ``seconds`` real seconds.

        Real, not the injected clock's: the bound is a fallback for a notification that never
        comes (a lost NOTIFY, a tick that died), so it must expire even while a test holds the
        clock still.
        """
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def _fire(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    @property
    def changed(self) -> asyncio.Event:
        """An event set at the next change (take it before sleeping)."""
        return self._changed

    async def beacon(self, epoch: int) -> bytes:
        config = await self.wait_config()
        return await self.beacons.get(self.db, config, epoch)

    # ------------------------------------------------------------------ notifications

    async def start(self) -> None:
        """Listen for the cluster's chain notifications (once per process; idempotent)."""
        if self._started:
            return
        self._started = True
        from engine.harmonytask.wakeup import Listener

        handlers: dict[str, Callable[[str], None]] = {"chain": self.on_notice}
        for channel, callbacks in self._channels.items():
            handlers[channel] = _fan_out(callbacks)
        listener = Listener(self.db, handlers, on_reconnect=self._reconnected)
        try:
            if await listener.start():
                self._listener = listener
                self.db.on_close.append(listener.close)
                return
            log.info(
                "the server has no NOTIFY: reading the chain's state every %gs", self.poll_interval
            )
        except (HarmonyDBError, OSError) as exc:
            log.warning("chain notifications unavailable (%s); reading the chain's state", exc)
        self._poller = asyncio.create_task(self._poll_loop(), name="harmony-chain-poll")
        self.db.on_close.append(self._stop_polling)

    async def _poll_loop(self) -> None:
        # Real seconds, not the injected clock's: like wait_changed's bound, this stands in for
        # notices that never come, so it must run while a test holds the clock still.
        while True:
            try:
                await self.poll()
            except HarmonyDBError as exc:
                log.warning("reading the chain's state failed: %s", exc)
            await asyncio.sleep(self.poll_interval)

    async def _stop_polling(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    @property
    def polling(self) -> bool:
        """Whether this service reads the chain's state for want of NOTIFY."""
        return self._poller is not None

    async def refresh(self) -> None:
        """:meth:`poll` now, where the service polls (a no-op where NOTIFY tells it): the tick
        adder reads before it adds, so it does not repeat a tick another machine just ran. A
        failed read is logged; the caller goes on with what it knew."""
        if self._poller is None:
            return
        try:
            await self.poll()
        except HarmonyDBError as exc:
            log.warning("reading the chain's state failed: %s", exc)

    async def poll(self) -> None:
        """Learn what a NOTIFY would have announced: a chain that now exists, a head another
        machine advanced, a message another machine sent (each only if it is news here)."""
        if self._config is None:
            self._config_checked = 0.0  # wait_config re-reads it now
            self._fire()
            return
        row = await self.db.query_row(_POLL)
        if row is None:
            return
        head, message = row["head"], row["next_message"]
        if head is not None and (self.head is None or head > self.head):
            self._learn_head(int(head), None)
        if message is not None and (self.due is None or message < self.due):
            self.note_message(int(message))

    def _reconnected(self) -> None:
        for callbacks in self._channels.values():
            for callback in callbacks:
                callback("")
        self._fire()

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> None:
        """Also listen on ``channel`` (call before :meth:`start`); ``callback(payload)`` runs
        for every notification, and with ``""`` after a reconnect (something may be missed)."""
        if self._started:
            raise RuntimeError("subscribe before the service starts listening")
        self._channels.setdefault(channel, []).append(callback)

    def on_head(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(head)`` whenever the chain advanced (here or, with NOTIFY, anywhere)."""
        self._head_callbacks.append(callback)

    def on_message(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(land_epoch)`` when a message was sent."""
        self._message_callbacks.append(callback)

    def on_notice(self, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        try:
            if kind == "h":
                head_text, _, due_text = rest.partition(":")
                self._learn_head(int(head_text), int(due_text) if due_text else None)
            elif kind == "m":
                self.note_message(int(rest))
            elif kind == "c":
                self._config_checked = 0.0
                self._fire()
        except ValueError:
            log.debug("ignoring chain notice %r", payload)

    def _learn_head(self, head: int, due: int | None) -> None:
        if self.head is not None and head < self.head:
            return
        self.head = head
        self.last_tick = self.clock.monotonic()
        # A message sent meanwhile may land before the reported due epoch.
        if self.due is not None and head < self.due and (due is None or self.due < due):
            due = self.due
        self.due = due
        for callback in self._head_callbacks:
            callback(head)
        self._fire()

    def note_advance(self, result: AdvanceResult) -> None:
        """This process advanced the chain."""
        if result.advanced:
            self._learn_head(result.head, result.next_due)
        else:
            self.last_tick = self.clock.monotonic()
            self._fire()

    def want_tick_at(self, epoch: int) -> None:
        """Something here needs the chain materialised up to ``epoch`` when it comes (e.g. a
        seed epoch the pipeline waits for), so readers of ``chain_tipsets`` see it promptly."""
        if self.due is None or epoch < self.due:
            self.due = epoch
            self._fire()

    def note_message(self, land_epoch: int) -> None:
        """A message will land at ``land_epoch``: the chain must reach it then."""
        if self.due is None or land_epoch < self.due:
            self.due = land_epoch
        for callback in self._message_callbacks:
            callback(land_epoch)
        self._fire()

    # ------------------------------------------------------------------ tick schedule

    def next_tick_at(self) -> datetime | float:
        """When the chain should next advance: an epoch's start (datetime), or a
        ``clock.monotonic()`` time for the idle tick, whichever comes first; ``0.0`` = now."""
        assert self._config is not None
        if self.head is None or self.last_tick is None:
            return 0.0
        idle = self.last_tick + self.idle_tick
        if self.due is not None:
            due_at = self._config.time_of(max(self.due, self.head + 1))
            seconds = (due_at - self.clock.now()).total_seconds()
            if self.clock.monotonic() + seconds < idle:
                return due_at
        return idle

    def tick_due(self) -> bool:
        at = self.next_tick_at()
        if isinstance(at, datetime):
            return self.clock.now() >= at
        return self.clock.monotonic() >= at

    async def sleep_until_tick_due(self) -> None:
        """Until :meth:`tick_due` may have become true (or anything changed)."""
        wake = self._changed
        at = self.next_tick_at()
        if isinstance(at, datetime):
            await self.sleep_until(at, wake=wake)
        else:
            await wait_event(self.clock, wake, at - self.clock.monotonic())


def _fan_out(callbacks: list[Callable[[str], None]]) -> Callable[[str], None]:
    def deliver(payload: str) -> None:
        for callback in callbacks:
            callback(payload)

    return deliver
