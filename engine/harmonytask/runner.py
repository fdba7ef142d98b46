"""One attempt of one task: storage, ``do()``, and recording the outcome, fenced.

Outcomes:

* ``do`` returns True → done (batched with other completions);
* ``do`` returns False or raises, or times out → a failed attempt: retried after
  ``retry_wait``, or the visible failed state after ``max_failures``;
* the engine stops it (preemption, shutdown) → back to the queue, not a failure;
* the machine lost its session → nothing is recorded: another machine owns the task now and
  the fencing token would reject any write anyway.

If recording fails because the database is unreachable, it is retried for as long as this
machine could still own the task (twice the cluster's machine timeout); after that, peers have
taken the task back and will run it again. Each write is bounded too (one machine timeout): a
database whose traffic froze answers nothing, not even an error.

The runner knows nothing of the engine: it is handed :class:`AttemptHooks` (values and
callbacks) and the machine's :class:`~.capacity.LocalCapacity`, which it occupies when an
attempt starts and vacates when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from engine.clock import SystemClock
from engine.harmonydb import HarmonyDBError
from engine.metrics.tasks import TaskMetrics

from .bounded import Unfinished, bounded
from .capacity import Running
from .log_context import enter_task
from .outcomes import Outcome, record_failure, record_returned
from .stats import Tally

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB

    from .capacity import LocalCapacity
    from .claims import Claimed
    from .config import EngineConfig
    from .handlers import Handler
    from .outcomes import CompletionBatcher, StopReason

log = logging.getLogger(__name__)

__all__ = ["AttemptHooks", "AttemptRunner"]

OWNED = "SELECT 1 FROM harmony_task WHERE id = $1 AND owner_id = $2 AND attempt = $3"

T = TypeVar("T")


@dataclass(frozen=True)
class AttemptHooks:
    """What an attempt needs from the machine running it."""

    db: DB
    host_and_port: str
    config: EngineConfig
    clock: Clock
    completions: CompletionBatcher
    #: this machine's id (the fencing writes name it)
    machine_id: Callable[[], int]
    #: the cluster's machine timeout (seconds of silence before peers take a task back)
    machine_timeout: Callable[[], float]
    #: False once peers declared this machine dead, or may have (its heartbeat lease ran
    #: out): no attempt it runs is provably its own
    member: Callable[[], bool]
    #: the machine is cordoned: ``can_yield`` attempts should let go
    cordoned: Callable[[], bool]
    #: count what an attempt led to
    count: Callable[[Tally], None]
    #: an attempt ended and freed its resources (more work may fit; the machine may be idle)
    vacated: Callable[[], None]
    #: ask for a claim cycle soon
    wake: Callable[[], None]
    #: run a fire-and-forget coroutine (named, for the log) under supervision
    background: Callable[[str, Coroutine[Any, Any, Any]], None]
    #: the per-type counters the metrics endpoint serves
    metrics: TaskMetrics = field(default_factory=TaskMetrics)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def within(clock: Clock, seconds: float | None, work: Awaitable[T]) -> T:
    """``await work``, raising TimeoutError once ``seconds`` pass on ``clock`` (and cancelling
    it). Like :func:`asyncio.timeout`, but on the engine's clock, so a manual clock governs
    attempt timeouts too."""
    if seconds is None:
        return await work
    job = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((job, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not job.done():
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
    if job.cancelled():
        raise TimeoutError
    return job.result()


async def bounded_queued(clock: Clock, seconds: float, work: Awaitable[T]) -> T:
    """:func:`~.bounded.bounded` for work that only waits its turn (a completion waiting for
    the batcher's flush), which a cancel ends at once.

    On the system clock a loop timer bounds it (:func:`asyncio.timeout`), not the two extra
    tasks and the ``asyncio.wait`` of ``bounded``: every completed task comes through here, and
    those cost ~0.1 ms of CPU per task, a quarter of an engine's work on no-op tasks (harmony
    bench engine's throughput fell by a third). A work that talks to the database itself needs
    ``bounded``: a driver stuck cancelling on a frozen server would hold the timer's cancel up.
    """
    if not isinstance(clock, SystemClock):
        return await bounded(clock, seconds, work)
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            return await work
    except TimeoutError:
        if timer.expired():
            raise Unfinished(f"no answer within {seconds:.3g}s") from None
        raise


class AttemptRunner:
    """Starts attempts as jobs and sees each through to a recorded outcome."""

    def __init__(self, capacity: LocalCapacity, hooks: AttemptHooks) -> None:
        self._capacity = capacity
        self._hooks = hooks

    def start(
        self, task: Claimed, handler: Handler, waits_for: Iterable[asyncio.Task[None]] = ()
    ) -> Running:
        """Occupy the task's resources here and run it; ``waits_for``: jobs of preempted
        attempts that must end first."""
        run = Running(task, handler, self._hooks.clock.monotonic(), waits_for=list(waits_for))
        self._capacity.occupy(run)
        run.job = asyncio.create_task(self._run(run), name=f"task-{task.name}-{task.id}")
        return run

    async def stop(self, which: Callable[[Running], bool], reason: StopReason) -> None:
        """Stop the running attempts ``which`` selects, and wait until they have ended."""
        chosen = [r for r in self._capacity.running.values() if which(r)]
        for run in chosen:
            run.stop(reason)
        jobs = [r.job for r in chosen if r.job is not None]
        if jobs:
            await asyncio.wait(jobs)

    # ------------------------------------------------------------------ one attempt

    async def _run(self, run: Running) -> None:
        hooks = self._hooks
        task, details = run.claimed, run.handler.details
        enter_task(task.id, task.name)  # this attempt's log records name it (its own context)
        try:
            if run.waits_for:  # preemption victims must let go first
                await asyncio.wait(run.waits_for)
            if details.storage is not None:
                try:
                    run.reservation = await details.storage.claim(task.id, hooks.machine_id())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    reason = f"storage not available: {_describe(exc)}"
                    log.warning("task %d (%s): %s", task.id, task.name, reason)
                    await self._give_back(
                        run, reason, Outcome.RELEASED, hooks.config.storage_back_off
                    )
                    return
            await self._finish(run, await self._attempt(run))
        except asyncio.CancelledError:
            outcome = run.stop_reason.outcome if run.stop_reason is not None else None
            if outcome is not None:
                await self._give_back(run, str(run.stop_reason), outcome)
            # LOST: another machine owns it now; nothing to record.
        finally:
            if run.reservation is not None:
                try:
                    await run.reservation.release()
                except Exception as exc:  # the storage layer also cleans up after dead owners
                    log.warning("releasing storage of task %d failed: %s", task.id, exc)
            self._capacity.vacate(run)
            hooks.vacated()

    async def _give_back(
        self, run: Running, reason: str, outcome: Outcome, back_off: float = 0.0
    ) -> None:
        """Return the task to the queue, not counted as a failure, with a history row saying
        why."""
        hooks, task = self._hooks, run.claimed
        hooks.metrics.returned(task.name, outcome)
        await self._record(
            run,
            lambda: record_returned(
                hooks.db,
                task.id,
                hooks.machine_id(),
                task.attempt,
                reason,
                outcome,
                hooks.host_and_port,
                back_off,
            ),
        )

    async def _attempt(self, run: Running) -> tuple[bool, str]:
        """Run ``do``; (True, "") when done, (False, why) when this attempt failed."""
        hooks = self._hooks
        task, details = run.claimed, run.handler.details

        async def still_owned() -> bool:
            if run.stop_reason is not None or not hooks.member():
                return False
            if details.can_yield and hooks.cordoned():
                return False
            try:
                owner = await hooks.db.query_value(OWNED, task.id, hooks.machine_id(), task.attempt)
            except HarmonyDBError:
                return False
            # Asked again after the answer: it may have been held up on a frozen link while
            # peers declared this machine dead. It proves ownership only within the lease.
            return owner is not None and hooks.member()

        try:
            done = await within(
                hooks.clock, details.timeout, run.handler.task.do(task.id, still_owned)
            )
        except TimeoutError as exc:
            if run.stop_reason is not None:
                raise asyncio.CancelledError from None
            if details.timeout is None:  # raised by do() itself
                return False, _describe(exc)
            return False, f"timed out after {details.timeout:g}s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "task %d (%s) attempt %d failed: %s",
                task.id,
                task.name,
                task.attempt,
                _describe(exc),
            )
            return False, _describe(exc)
        if done:
            return True, ""
        return False, "do() reported the task as not done"

    async def _finish(self, run: Running, outcome: tuple[bool, str]) -> None:
        hooks = self._hooks
        task, details = run.claimed, run.handler.details
        ok, error = outcome
        if ok:
            done = await self._record(
                run, lambda: hooks.completions.done(task.id, task.attempt), queued=True
            )
            if done:
                hooks.count(Tally.DONE)
                hooks.metrics.completed(task.name, hooks.clock.monotonic() - run.started)
            return
        wait = details.retry_wait(task.retries + 1)
        result = await self._record(
            run,
            lambda: record_failure(
                hooks.db,
                task.id,
                hooks.machine_id(),
                task.attempt,
                error,
                wait,
                details.max_failures,
                hooks.host_and_port,
            ),
        )
        hooks.count(Tally.FAILED)
        hooks.metrics.failed(task.name, result, hooks.clock.monotonic() - run.started)
        if result is Outcome.FAILED:
            log.error(
                "task %d (%s) failed %d times and is now in the failed state: %s",
                task.id,
                task.name,
                task.retries + 1,
                error,
            )
        elif result is Outcome.RETRY:
            hooks.background(f"retry wake-up of task {task.id}", self._wake_after(wait))

    async def _wake_after(self, seconds: float) -> None:
        """The retried task becomes claimable after its wait: look for it then."""
        await self._hooks.clock.sleep(seconds)
        self._hooks.wake()

    async def _record(
        self, run: Running, write: Callable[[], Awaitable[Any]], *, queued: bool = False
    ) -> Any:
        """Run a fenced write, retrying through database outages while the task could still be
        ours. Returns the write's result; a falsy result means the attempt was fenced out."""
        hooks = self._hooks
        timeout = hooks.machine_timeout()
        deadline = hooks.clock.monotonic() + 2 * timeout
        delay = 0.2
        while True:
            try:
                bound = bounded_queued if queued else bounded
                result = await bound(hooks.clock, timeout, write())
            except (HarmonyDBError, Unfinished) as exc:
                hooks.metrics.db_error("record")
                if hooks.clock.monotonic() > deadline:
                    log.error(
                        "could not record the outcome of task %d (%s): %s; peers will take "
                        "it back and run it again",
                        run.claimed.id,
                        run.claimed.name,
                        exc,
                    )
                    return None
                log.warning("recording task %d outcome failed (%s); retrying", run.claimed.id, exc)
                await hooks.clock.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not result:
                hooks.count(Tally.FENCED)
                hooks.metrics.fenced(run.claimed.name)
                log.warning(
                    "task %d (%s) attempt %d: result discarded, another machine owns the task now",
                    run.claimed.id,
                    run.claimed.name,
                    run.claimed.attempt,
                )
            return result
