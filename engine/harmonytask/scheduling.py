"""The claim cycle: greedy, resource-aware, priority-ordered, with aging and preemption.

One cycle:

1. For every task type, how many more could start here now: its limiter's headroom and how many
   of its declared cost fit in the free resources (capped by ``claim_batch``).
2. Claim that many of each type, best first, in **one statement** for the types that accept
   anything; types with their own ``can_accept`` look at candidates first.
3. Admit the claimed tasks locally in order of effective priority (priority, plus one per
   ``starvation_after`` waited); a task that no longer fits (several types competed for the same
   free resources) is released at once, fenced, without counting a failure.

Aging: when a pending task that fits this machine's total capacity but not what is free now has
waited longer than ``starvation_after``, the machine stops admitting other work until it fits.
Curio orders by age only and leaves big tasks starving behind a stream of small ones (curio
#1146). Preemption: a time-sensitive task that finds no room may stop ``can_yield`` tasks here,
youngest first; they go back to the queue without counting a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError
from engine.resources import Resources

from . import claims
from .claims import Claimed
from .runner import run_task

if TYPE_CHECKING:
    from .engine import Handler, Running, TaskEngine

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine
        self._stopped = False
        self._loop_task: asyncio.Task[None] | None = None
        self._poll_delay = engine.config.poll_min

    # ------------------------------------------------------------------ loop

    async def loop(self) -> None:
        self._loop_task = asyncio.current_task()
        engine = self.engine
        while not self._stopped:
            found = 0
            try:
                found = await self.cycle()
            except HarmonyDBError as exc:
                log.warning("claim cycle failed: %s", exc)
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("claim cycle crashed; retrying")
                await asyncio.sleep(1.0)
            if found:
                self._poll_delay = engine.config.poll_min
                continue  # there may be more: claim again before sleeping
            if engine.notify_mode:
                timeout = engine.config.poll_interval
            else:
                timeout = self._poll_delay
                self._poll_delay = min(self._poll_delay * 2, engine.config.poll_max)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(engine._wake.wait(), timeout)
            engine._wake.clear()

    async def stop(self) -> None:
        self._stopped = True
        self.engine.wake()
        task = self._loop_task
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 5)

    # ------------------------------------------------------------------ one cycle

    async def cycle(self) -> int:
        """Claim and start what fits; return how many tasks were claimed."""
        engine = self.engine
        if not engine.schedulable:
            return 0
        free = engine.resources_available()
        limits: dict[str, int] = {}
        blocked: list[Handler] = []
        room = engine.config.max_running - len(engine.running)
        for handler in engine.handlers.values():
            headroom = min(handler.limiter.headroom(), engine.config.claim_batch, room)
            if headroom <= 0:
                continue
            n = handler.details.cost.how_many_fit(free, headroom)
            if n > 0 and not await self._storage_has_room(handler):
                continue  # back-pressure: no path could take this type's files now
            if n > 0:
                limits[handler.name] = n
            elif handler.details.cost.fits_in(engine.capacity):
                blocked.append(handler)
        preempt_for: Handler | None = None
        if blocked:
            starving = await self._starving(blocked)
            if starving is not None:
                if starving.details.time_sensitive and self._can_preempt_for(starving, free):
                    preempt_for = starving
                log.debug("holding back other work until %s fits", starving.name)
                limits = {}
            else:
                for handler in blocked:
                    if handler.details.time_sensitive and self._can_preempt_for(handler, free):
                        preempt_for = handler
                        break
        claimed = await self._claim(limits)
        if preempt_for is not None:
            urgent = await claims.claim_by_type(
                engine.db, engine.machine_id, engine.session, {preempt_for.name: 1}
            )
            for task in urgent:
                self._start_preempting(task)
            claimed_count = len(claimed) + len(urgent)
        else:
            claimed_count = len(claimed)
        await self._admit(claimed)
        if not claimed_count:
            await self._bored()
        return claimed_count

    async def _storage_has_room(self, handler: Handler) -> bool:
        storage = handler.details.storage
        if storage is None:
            return True
        try:
            return await storage.has_capacity()
        except HarmonyDBError as exc:
            log.warning("storage check of %s failed: %s", handler.name, exc)
            return False

    async def _claim(self, limits: dict[str, int]) -> list[Claimed]:
        engine = self.engine
        if not limits:
            return []
        claimed: list[Claimed] = []
        simple = {n: k for n, k in limits.items() if engine.handlers[n].accepts_all}
        if simple:
            claimed += await claims.claim_by_type(
                engine.db, engine.machine_id, engine.session, simple
            )
            engine.stats["claims"] += 1
        for name, k in limits.items():
            if name in simple:
                continue
            handler = engine.handlers[name]
            candidates = await claims.peek(engine.db, name, max(k * 4, 10))
            if not candidates:
                continue
            accepted = await handler.task.can_accept(candidates, engine)
            if accepted:
                claimed += await claims.claim_ids(
                    engine.db, engine.machine_id, engine.session, list(accepted), k
                )
                engine.stats["claims"] += 1
        engine.stats["claimed"] += len(claimed)
        return claimed

    async def _admit(self, claimed: list[Claimed]) -> None:
        engine = self.engine
        if not claimed:
            return
        now = engine.clock()
        step = max(engine.config.starvation_after, 1.0)

        def effective(c: Claimed) -> tuple[float, datetime, int]:
            waited = (now - c.posted_time).total_seconds()
            return (-(c.priority + waited / step), c.posted_time, c.id)

        free = engine.resources_available()
        for task in sorted(claimed, key=effective):
            handler = engine.handlers[task.name]
            cost = handler.details.cost
            if handler.limiter.headroom() > 0 and cost.fits_in(free):
                free = free - cost
                self.start(task)
            else:
                await claims.release(engine.db, task.id, engine.machine_id, task.attempt)

    def adopt(self, tasks: list[Claimed]) -> None:
        """Tasks re-owned after a restart: run those that still fit; release the others."""
        engine = self.engine
        free = engine.resources_available()
        for task in tasks:
            handler = engine.handlers.get(task.name)
            if (
                handler is not None
                and handler.limiter.headroom() > 0
                and handler.details.cost.fits_in(free)
            ):
                free = free - handler.details.cost
                log.info("re-adopted task %d (%s) as attempt %d", task.id, task.name, task.attempt)
                self.start(task)
            else:
                engine.background(
                    claims.release(engine.db, task.id, engine.machine_id, task.attempt)
                )

    def start(self, task: Claimed, waits_for: list[asyncio.Task[None]] | None = None) -> Running:
        from .engine import Running

        engine = self.engine
        handler = engine.handlers[task.name]
        run = Running(task, handler, time.monotonic(), waits_for=waits_for or [])
        engine.running[task.id] = run
        handler.limiter.active += 1
        run.job = asyncio.create_task(run_task(engine, run), name=f"task-{task.name}-{task.id}")
        return run

    # ------------------------------------------------------------------ aging

    async def _starving(self, blocked: list[Handler]) -> Handler | None:
        """The blocked type whose oldest claimable task has waited past the threshold."""
        engine = self.engine
        oldest = await claims.oldest_pending(engine.db, [h.name for h in blocked])
        if not oldest:
            return None
        now = engine.clock()
        threshold = engine.config.starvation_after
        waiting = [
            (posted, h)
            for h in blocked
            if (posted := oldest.get(h.name)) is not None
            and (now - posted).total_seconds() > threshold
        ]
        if not waiting:
            return None
        # Time-sensitive work first, then the longest wait.
        waiting.sort(key=lambda pair: (not pair[1].details.time_sensitive, pair[0]))
        return waiting[0][1]

    # ------------------------------------------------------------------ preemption

    def _yieldable(self) -> list[Running]:
        return [
            r
            for r in self.engine.running.values()
            if r.handler.details.can_yield
            and not r.handler.details.time_sensitive
            and r.stop_reason is None
        ]

    def _can_preempt_for(self, handler: Handler, free: Resources) -> bool:
        reclaimable = free
        for run in self._yieldable():
            reclaimable = reclaimable + run.cost
        return handler.details.cost.fits_in(reclaimable)

    def _start_preempting(self, task: Claimed) -> None:
        """Stop just enough ``can_yield`` tasks (youngest first), then start ``task`` once
        they have let go."""
        engine = self.engine
        handler = engine.handlers[task.name]
        free = engine.resources_available()
        victims: list[Running] = []
        for run in sorted(self._yieldable(), key=lambda r: -r.started):
            if handler.details.cost.fits_in(free):
                break
            victims.append(run)
            free = free + run.cost
        for run in victims:
            log.info(
                "preempting task %d (%s) for time-sensitive %s %d",
                run.claimed.id,
                run.claimed.name,
                task.name,
                task.id,
            )
            run.stop_reason = "preempted"
            if run.job is not None:
                run.job.cancel()
        self.start(task, waits_for=[r.job for r in victims if r.job is not None])

    # ------------------------------------------------------------------ IAmBored

    async def _bored(self) -> None:
        engine = self.engine
        if not engine.schedulable:
            return
        now = time.monotonic()
        free = engine.resources_available()
        for handler in engine.handlers.values():
            hook = handler.details.iam_bored
            if hook is None or now - handler.last_bored < engine.config.idle_try_interval:
                continue
            if handler.limiter.headroom() <= 0 or not handler.details.cost.fits_in(free):
                continue
            handler.last_bored = now

            async def add(
                extra: object = None, *, priority: int | None = None, name: str = handler.name
            ) -> int | None:
                return await engine.add_task(name, extra, priority=priority)  # type: ignore[arg-type]

            try:
                await hook(add)
            except HarmonyDBError as exc:
                log.warning("IAmBored of %s failed: %s", handler.name, exc)
            except Exception:
                log.exception("IAmBored of %s crashed", handler.name)
