"""Wake-ups over LISTEN/NOTIFY, and the polling that replaces them where they do not exist.

NOTIFY is a hint, never a dependency: a notification sent while the listening connection is
down is lost for good, and some servers never deliver any. So the scheduler always polls too,
rarely when notifications work and adaptively when they do not (YugabyteDB without
``yb_enable_listen_notify``, or a dropped listener connection being re-established).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import asyncpg

from engine.clock import SystemClock
from engine.harmonydb import HarmonyDBError

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB

log = logging.getLogger(__name__)

#: Starts a background coroutine by name (the engine's supervisor, so it cannot die silently).
Spawn = Callable[[str, Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def _create_task(name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro, name=name)


class Listener:
    """A dedicated connection LISTENing on some channels, re-established when it drops."""

    def __init__(
        self,
        db: DB,
        handlers: dict[str, Callable[[str], None]],
        on_reconnect: Callable[[], None],
        clock: Clock | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._spawn = spawn or _create_task
        self._handlers = handlers
        #: in its log lines: a process may hold several (the engine's, the chain's), and two
        #: identical "listener down" lines a second read as one logged twice
        self.what = f"notification listener ({', '.join(handlers)})"
        self._on_reconnect = on_reconnect
        self._conn: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        self.connected = False

    @property
    def server_pid(self) -> int | None:
        """The server process of the listening connection (None while down)."""
        conn = self._conn
        if conn is None or conn.is_closed():
            return None
        return conn.get_server_pid()

    async def start(self) -> bool:
        """Listen; False when the server does not deliver notifications (poll instead)."""
        if not await self._db.notify_supported():
            return False
        await self._connect()
        return True

    async def _connect(self) -> None:
        conn = await self._db.listen_connection()
        for name, handler in self._handlers.items():
            await conn.add_listener(
                self._db.channel(name), lambda _c, _pid, _ch, payload, h=handler: h(payload)
            )
        conn.add_termination_listener(self._lost)
        self._conn = conn
        self.connected = True

    def _lost(self, _conn: object) -> None:
        self.connected = False
        if not self._closed and self._reconnecting is None:
            self._reconnecting = self._spawn("harmony-listener-reconnect", self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        try:
            while not self._closed:
                try:
                    await self._connect()
                    log.info("%s reconnected", self.what)
                    self._on_reconnect()  # whatever was announced meanwhile is unheard: poll
                    return
                except (HarmonyDBError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("%s down (%s); retrying in %.1fs", self.what, exc, delay)
                    await self._clock.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self._reconnecting = None

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
        self.connected = False
