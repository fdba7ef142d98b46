"""The claim cycle: greedy, resource-aware, priority-ordered, with aging and preemption.

One cycle (:meth:`Scheduler.cycle`):

1. For every task type, how many more could start here now: its limiter's headroom and how many
   of its declared cost fit in the free resources (capped by ``claim_batch``).
2. Claim that many of each type, best first, in **one statement** for the types that accept
   anything; types with their own ``can_accept`` look at candidates first.
3. Admit the claimed tasks locally in order of effective priority (priority, plus one per
   ``starvation_after`` waited, every wait taken at the cycle's last claim); a task that no
   longer fits (several types competed for the same free resources) is released at once,
   fenced, without counting a failure.

Aging: when a pending task that fits this machine's total capacity but not what is free now has
waited longer than ``starvation_after``, the machine stops admitting other work until it fits.
Curio orders by age only and leaves big tasks starving behind a stream of small ones (curio
#1146). Preemption: a time-sensitive task that finds no room may stop ``can_yield`` tasks here,
youngest first; they go back to the queue without counting a failure.

The decisions themselves are pure functions in :mod:`.planning`; this module does the I/O around
them. The scheduler owns its wake-up event: anyone may :meth:`~Scheduler.wake` it, and the
engine's loop alternates :meth:`~Scheduler.cycle` and :meth:`~Scheduler.wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.clock import SystemClock, wait_event
from engine.harmonydb import HarmonyDBError

from . import claims, planning
from .outcomes import StopReason

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB

    from .capacity import LocalCapacity
    from .claims import Claimed
    from .config import EngineConfig
    from .handlers import Handler
    from .runner import AttemptRunner
    from .task import AddTaskFn, MachineView, TaskID

log = logging.getLogger(__name__)

__all__ = ["CycleResult", "Scheduler"]


@dataclass(frozen=True)
class CycleResult:
    """What one claim cycle did."""

    #: every task claimed, in claim order (including one claimed to preempt for)
    claimed: tuple[Claimed, ...] = ()
    #: claimed but did not fit once admitted: given back at once, not a failure
    released: tuple[TaskID, ...] = ()
    #: running attempts stopped to make room for time-sensitive work
    preempted: tuple[TaskID, ...] = ()
    #: the starving type all other work was held back for, if any
    held_back_for: str | None = None
    #: types not claimed because their storage has no room now
    no_storage: tuple[str, ...] = ()
    #: types whose IAmBored hook was called (nothing was claimed)
    bored: tuple[str, ...] = ()
    #: claim statements sent
    statements: int = 0

    @property
    def found(self) -> int:
        return len(self.claimed)


@dataclass(frozen=True)
class SchedulerHooks:
    """What the scheduler needs from the machine it schedules for."""

    db: DB
    config: EngineConfig
    clock: Clock
    #: (machine id, session): the claim statements check the session is still current
    identity: Callable[[], tuple[int, str]]
    #: the engine runs and the operator flags allow claiming
    may_claim: Callable[[], bool]
    #: the machine as ``can_accept`` sees it
    machine_view: Callable[[], MachineView]
    #: ``add_task`` of each type, for IAmBored hooks
    add_task: Mapping[str, AddTaskFn]
    #: run a fire-and-forget coroutine (named, for the log) under supervision
    background: Callable[[str, Coroutine[Any, Any, Any]], None]


class Scheduler:
    def __init__(
        self,
        handlers: Mapping[str, Handler],
        capacity: LocalCapacity,
        runner: AttemptRunner,
        hooks: SchedulerHooks,
    ) -> None:
        self._handlers = handlers
        self._capacity = capacity
        self._runner = runner
        self._hooks = hooks
        self._wake = asyncio.Event()
        self._poll_delay = hooks.config.poll_min
        #: cycles never overlap (a test or diagnostic may run one beside the loop's)
        self._cycling = asyncio.Lock()

    # ------------------------------------------------------------------ waking

    def wake(self) -> None:
        """Run a claim cycle soon."""
        self._wake.set()

    async def wait(self, last: CycleResult, *, notify_mode: bool) -> None:
        """Between cycles: none after a cycle that found work (there may be more); otherwise
        until woken or the poll interval passes (rare with notifications, adaptive without:
        fast after finding work, backing off to ``poll_max``)."""
        config = self._hooks.config
        if last.found:
            self._poll_delay = config.poll_min
            # What this cycle claimed starts before the next claim is planned and sent: its
            # attempts were only scheduled, and the next cycle runs up to its first round trip
            # before they get the loop.
            await asyncio.sleep(0)
            return
        if notify_mode:
            timeout = config.poll_interval
        else:
            timeout = self._poll_delay
            self._poll_delay = min(self._poll_delay * 2, config.poll_max)
        await self._until_woken(timeout)
        self._wake.clear()

    async def _until_woken(self, seconds: float) -> None:
        """Until :meth:`wake` or ``seconds`` on the engine's clock.

        On the system clock a loop timer bounds the wait on the event itself, so a wake-up
        resumes the loop in one step. :func:`~engine.clock.wait_event` runs two tasks and then
        cancels and awaits the sleeper: from NOTIFY to the claim cycle's start it took 0.12 ms
        median and 1.4 ms at p99 under ``harmony bench engine``, this 0.05 and 0.2 ms.
        """
        clock = self._hooks.clock
        if not isinstance(clock, SystemClock):
            await wait_event(clock, self._wake, seconds)
            return
        if self._wake.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    # ------------------------------------------------------------------ one cycle

    async def cycle(self) -> CycleResult:
        """Claim and start what fits now."""
        async with self._cycling:
            if not self._hooks.may_claim():
                return CycleResult()
            return await self._cycle()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """No claim cycle runs meanwhile.

        Between a claim statement and the attempt occupying its slot here, a task is owned by
        this machine in the database and not yet running on it; a cycle closes that window
        before it ends (every claimed task is started or released). Whoever compares "owned
        here" with "running here" (the self-check, a rejoin re-adopting its tasks) does it
        inside this, so it never mistakes a task being admitted for a stray.
        """
        async with self._cycling:
            yield

    async def _cycle(self) -> CycleResult:
        hooks, capacity = self._hooks, self._capacity
        free = capacity.free()
        plan = planning.claim_plan(
            self._handlers.values(),
            free=free,
            total=capacity.total,
            running=len(capacity),
            claim_batch=hooks.config.claim_batch,
            max_running=hooks.config.max_running,
        )
        no_storage = [n for n in plan.limits if not await self._storage_has_room(n)]
        for name in no_storage:  # back-pressure: no path could take this type's files now
            del plan.limits[name]
        starving = None
        if plan.blocked:
            # How long each has waited, by the database's clock (this machine's may be off).
            waited = await claims.oldest_pending(hooks.db, [h.name for h in plan.blocked])
            starving = planning.starving(
                plan.blocked, waited, starvation_after=hooks.config.starvation_after
            )
            if starving is not None:
                log.debug("holding back other work until %s fits", starving.name)
        hold = planning.hold_back(plan, starving, free=free, yieldable=capacity.yieldable())
        claimed, statements = await self._claim(hold.limits)
        urgent: list[Claimed] = []
        preempted: list[TaskID] = []
        if hold.preempt_for is not None:
            machine_id, session = hooks.identity()
            urgent = await claims.claim_by_type(
                hooks.db, machine_id, session, {hold.preempt_for.name: 1}, capacity.running
            )
            statements += 1
            for task in urgent:
                preempted += self._start_preempting(task)
        released = await self._admit(claimed)
        found = len(claimed) + len(urgent)
        bored = [] if found else await self._bored()
        return CycleResult(
            claimed=(*claimed, *urgent),
            released=tuple(released),
            preempted=tuple(preempted),
            held_back_for=hold.held_for.name if hold.held_for is not None else None,
            no_storage=tuple(no_storage),
            bored=tuple(bored),
            statements=statements,
        )

    async def _storage_has_room(self, name: str) -> bool:
        storage = self._handlers[name].details.storage
        if storage is None:
            return True
        try:
            return await storage.has_capacity()
        except HarmonyDBError as exc:
            log.warning("storage check of %s failed: %s", name, exc)
            return False

    async def _claim(self, limits: dict[str, int]) -> tuple[list[Claimed], int]:
        """Claim up to ``limits`` by type; returns the claimed tasks and the statements sent."""
        if not limits:
            return [], 0
        hooks = self._hooks
        machine_id, session = hooks.identity()
        # What still runs here, or is still recording its outcome, is never claimed again here
        # (claims.py says when a held task is claimable). An attempt joins the set only for a
        # task this machine owns in the database, which no claim can pick, so the set taken
        # now is good for the statements in flight.
        held = list(self._capacity.running)
        claimed: list[Claimed] = []
        statements = 0
        simple = {n: k for n, k in limits.items() if self._handlers[n].accepts_all}
        if simple:
            claimed += await claims.claim_by_type(hooks.db, machine_id, session, simple, held)
            statements += 1
        for name, k in limits.items():
            if name in simple:
                continue
            candidates = await claims.peek(hooks.db, name, max(k * 4, 10), held)
            if not candidates:
                continue
            handler = self._handlers[name]
            accepted = await handler.task.can_accept(candidates, hooks.machine_view())
            if accepted:
                claimed += await claims.claim_ids(
                    hooks.db, machine_id, session, list(accepted), k, held
                )
                statements += 1
        return claimed, statements

    async def _admit(self, claimed: list[Claimed]) -> list[TaskID]:
        """Start what still fits, best first; release the rest. Returns the released ids."""
        if not claimed:
            return []
        hooks = self._hooks
        machine_id, _ = hooks.identity()
        order = planning.admission_order(claimed, starvation_after=hooks.config.starvation_after)
        free = self._capacity.free()
        released: list[TaskID] = []
        # The machine may have begun to leave (or lost its session) while the claim was in
        # flight: what it claimed then goes straight back.
        admitting = hooks.may_claim()
        for task in order:
            handler = self._handlers[task.name]
            if admitting and self._capacity.fits(handler, free):
                free = free - handler.details.cost
                self._runner.start(task, handler)
            else:
                await claims.release(hooks.db, task.id, machine_id, task.attempt)
                released.append(task.id)
        return released

    def adopt(self, tasks: list[Claimed]) -> None:
        """Tasks re-owned after a restart: run those that still fit; release the others."""
        hooks = self._hooks
        machine_id, _ = hooks.identity()
        free = self._capacity.free()
        for task in tasks:
            handler = self._handlers.get(task.name)
            if handler is not None and self._capacity.fits(handler, free):
                free = free - handler.details.cost
                log.info("re-adopted task %d (%s) as attempt %d", task.id, task.name, task.attempt)
                self._runner.start(task, handler)
            else:
                hooks.background(
                    f"release of re-adopted task {task.id}",
                    claims.release(hooks.db, task.id, machine_id, task.attempt),
                )

    # ------------------------------------------------------------------ preemption

    def _start_preempting(self, task: Claimed) -> list[TaskID]:
        """Stop just enough ``can_yield`` attempts (youngest first), then start ``task`` once
        they have let go. Returns the stopped attempts' task ids."""
        handler = self._handlers[task.name]
        chosen = planning.victims(handler, self._capacity.free(), self._capacity.yieldable())
        for run in chosen:
            log.info(
                "preempting task %d (%s) for time-sensitive %s %d",
                run.claimed.id,
                run.claimed.name,
                task.name,
                task.id,
            )
            run.stop(StopReason.PREEMPTED)
        self._runner.start(task, handler, waits_for=[r.job for r in chosen if r.job is not None])
        return [r.claimed.id for r in chosen]

    # ------------------------------------------------------------------ IAmBored

    async def _bored(self) -> list[str]:
        """Spare capacity and nothing claimed: let types with an ``iam_bored`` hook create
        speculative work, each at most every ``idle_try_interval``. Returns the types asked."""
        hooks = self._hooks
        asked: list[str] = []
        if not hooks.may_claim():
            return asked
        now = hooks.clock.monotonic()
        free = self._capacity.free()
        for handler in self._handlers.values():
            hook = handler.details.iam_bored
            if hook is None:
                continue
            if (
                handler.last_bored is not None
                and now - handler.last_bored < hooks.config.idle_try_interval
            ):
                continue
            if not self._capacity.fits(handler, free):
                continue
            handler.last_bored = now
            asked.append(handler.name)
            try:
                await hook(hooks.add_task[handler.name])
            except HarmonyDBError as exc:
                log.warning("IAmBored of %s failed: %s", handler.name, exc)
            except Exception:
                # A type's own hook: its failure costs that type its speculative work, not the
                # machine its other work (adders are treated alike).
                log.exception("IAmBored of %s crashed", handler.name)
        return asked
