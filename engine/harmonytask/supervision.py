"""Background work that never dies silently.

Every loop and fire-and-forget coroutine of the engine runs under :class:`Supervisor`: a
database error that escapes it is logged as a warning (the database being away is an expected
state the loops ride out), anything else is a bug that leaves the engine in an unknown state, so
it is logged with its traceback and reported to ``on_crash``, which ends the process with a
non-zero status. Before this, a heartbeat loop that hit an unexpected error simply stopped, and
peers then declared a live machine dead and ran its tasks a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from engine.harmonydb import HarmonyDBError

log = logging.getLogger(__name__)

__all__ = ["Supervisor"]


class Supervisor:
    """Runs background coroutines, keeping a reference to each until it ends."""

    def __init__(self, on_crash: Callable[[str, BaseException], None]) -> None:
        self._on_crash = on_crash
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(
        self, name: str, coro: Coroutine[Any, Any, Any], *, loop: bool = False
    ) -> asyncio.Task[None]:
        """Run ``coro`` as task ``name``; see the module docstring for what an error does.

        A ``loop`` handles its own database errors, so any exception that escapes it, a
        database error included, is a crash.
        """
        task = asyncio.get_running_loop().create_task(self._guard(name, coro, loop), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Cancelled before its first step, the guard never awaits ``coro``: close it, or
        # Python warns that it was never awaited (a no-op for one that ran).
        task.add_done_callback(lambda _task: coro.close())
        return task

    async def _guard(self, name: str, coro: Coroutine[Any, Any, Any], loop: bool) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except HarmonyDBError as exc:
            if loop:
                log.critical("%s ended on a database error it should have survived", name)
                self._on_crash(name, exc)
            else:
                log.warning("%s failed: %s", name, exc)
        except Exception as exc:
            log.critical("%s crashed; the engine stops", name, exc_info=True)
            self._on_crash(name, exc)

    async def cancel_all(self, wait: float | None = None) -> bool:
        """Cancel what is still running (the engine is leaving) and wait for it to end, at most
        ``wait`` real seconds (a database call stuck on a frozen connection may never end its
        cancellation: it is left behind). True if everything ended."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if not tasks:
            return True
        done, pending = await asyncio.wait(tasks, timeout=wait)
        for task in done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        return not pending
