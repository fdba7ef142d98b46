"""The loop that a workload's task types share to create their tasks (seal, PoSt, lottery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError
from engine.harmonytask import AddTaskFn

if TYPE_CHECKING:
    from .workload import Workload

__all__ = ["Poller"]

log = logging.getLogger(__name__)


class Poller:
    """A loop shared by several task types of one process: each type's ``adder`` registers
    its ``add_task`` and the loop runs while at least one is registered.

    Subclasses implement :meth:`run_once`, returning when it wants to run again: after some
    real seconds at the latest, or earlier once the chain clock reaches a time; it also runs
    when :meth:`poke` is called.
    """

    #: least time between two runs, however often it is poked
    min_gap = 0.2

    def __init__(self, workload: Workload, name: str) -> None:
        self.workload = workload
        self.name = name
        self.adders: dict[str, AddTaskFn] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def poke(self, *_: object) -> None:
        self._wake.set()

    async def serve(self, task_name: str, add_task: AddTaskFn) -> None:
        """An adder's body: register, keep the loop running, unregister when cancelled."""
        self.adders[task_name] = add_task
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name=f"poller-{self.name}")
        self.poke()
        try:
            await asyncio.Event().wait()
        finally:
            self.adders.pop(task_name, None)
            if not self.adders and self._loop is not None:
                loop, self._loop = self._loop, None
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await loop

    async def start(self) -> None:
        """Once, before the first run (e.g. wait for the chain config)."""

    async def run_once(self) -> tuple[float, datetime | None]:
        raise NotImplementedError

    async def _run(self) -> None:
        await self.workload.chain.start()
        await self.start()
        while True:
            self._wake.clear()
            started = asyncio.get_running_loop().time()
            at: datetime | None = None
            try:
                delay, at = await self.run_once()
            except HarmonyDBError as exc:
                log.warning("%s poller: %s", self.name, exc)
                delay = 5.0
            except Exception:
                log.exception("%s poller crashed; retrying", self.name)
                delay = 5.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(delay, 0.0)):
                    if at is None:
                        await self._wake.wait()
                    else:
                        await self.workload.chain.sleep_until(at, wake=self._wake)
            spent = asyncio.get_running_loop().time() - started
            if spent < self.min_gap:
                await asyncio.sleep(self.min_gap - spent)

    async def add(
        self, task_name: str, extra: Callable[[int, object], Awaitable[bool]]
    ) -> int | None:
        """Add a task of ``task_name`` if this process runs that type (else None)."""
        add_task = self.adders.get(task_name)
        if add_task is None:
            return None
        return await add_task(extra)  # type: ignore[arg-type]
