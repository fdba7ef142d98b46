"""One attempt of one task: storage, ``do()``, and recording the outcome, fenced.

Outcomes:

* ``do`` returns True → done (batched with other completions);
* ``do`` returns False or raises, or times out → a failed attempt: retried after
  ``retry_wait``, or the visible failed state after ``max_failures``;
* the engine stops it (preemption, shutdown) → back to the queue, not a failure;
* the machine lost its session → nothing is recorded: another machine owns the task now and
  the fencing token would reject any write anyway.

If recording fails because the database is unreachable, it is retried for as long as this
machine could still own the task (twice the machine timeout); after that, peers have taken the
task back and will run it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from engine.harmonydb import HarmonyDBError

from . import outcomes
from .outcomes import record_failure, record_returned

if TYPE_CHECKING:
    from .engine import Running, TaskEngine

log = logging.getLogger(__name__)

OWNED = "SELECT 1 FROM harmony_task WHERE id = $1 AND owner_id = $2 AND attempt = $3"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_task(engine: TaskEngine, run: Running) -> None:
    task, handler = run.claimed, run.handler
    details = handler.details
    try:
        if run.waits_for:  # preemption victims must let go first
            await asyncio.wait(run.waits_for)
        if details.storage is not None:
            try:
                run.reservation = await details.storage.claim(task.id, engine.machine_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"storage not available: {_describe(exc)}"
                log.warning("task %d (%s): %s", task.id, task.name, reason)
                await _give_back(engine, run, reason, "released", engine.config.storage_back_off)
                return
        outcome = await _attempt(engine, run)
        await _finish(engine, run, outcome)
    except asyncio.CancelledError:
        if run.stop_reason in ("preempted", "shutdown"):
            outcome = "preempted" if run.stop_reason == "preempted" else "released"
            await _give_back(engine, run, run.stop_reason or "", outcome)
        # "lost": another machine owns it now; nothing to record.
    finally:
        if run.reservation is not None:
            try:
                await run.reservation.release()
            except Exception as exc:  # the storage layer also cleans up after dead owners
                log.warning("releasing storage of task %d failed: %s", task.id, exc)
        engine.running.pop(task.id, None)
        handler.limiter.active -= 1
        engine.wake()  # freed resources may admit more work
        if not engine.running:
            engine.background(_idle(engine))


async def _give_back(
    engine: TaskEngine, run: Running, reason: str, outcome: str, back_off: float = 0.0
) -> None:
    """Return the task to the queue, not counted as a failure, with a history row saying why."""
    task = run.claimed
    await _record(
        engine,
        run,
        lambda: record_returned(
            engine.db,
            task.id,
            engine.machine_id,
            task.attempt,
            reason,
            outcome,
            engine.host_and_port,
            back_off,
        ),
    )


async def _attempt(engine: TaskEngine, run: Running) -> tuple[bool, str]:
    """Run ``do``; (True, "") when done, (False, why) when this attempt failed."""
    task, details = run.claimed, run.handler.details

    async def still_owned() -> bool:
        if run.stop_reason is not None or engine.session_lost:
            return False
        if details.can_yield and engine.flags.unschedulable:
            return False
        try:
            return (
                await engine.db.query_value(OWNED, task.id, engine.machine_id, task.attempt)
                is not None
            )
        except HarmonyDBError:
            return False

    try:
        async with asyncio.timeout(details.timeout):
            done = await run.handler.task.do(task.id, still_owned)
    except TimeoutError:
        if run.stop_reason is not None:
            raise asyncio.CancelledError from None
        return False, f"timed out after {details.timeout:g}s"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning(
            "task %d (%s) attempt %d failed: %s", task.id, task.name, task.attempt, _describe(exc)
        )
        return False, _describe(exc)
    if done:
        return True, ""
    return False, "do() reported the task as not done"


async def _finish(engine: TaskEngine, run: Running, outcome: tuple[bool, str]) -> None:
    task, details = run.claimed, run.handler.details
    ok, error = outcome
    if ok:
        assert engine.completions is not None
        recorded = await _record(
            engine,
            run,
            lambda: engine.completions.done(  # type: ignore[union-attr]
                task.id, task.attempt
            ),
        )
        if recorded:
            engine.stats["done"] += 1
        return
    wait = details.retry_wait(task.retries + 1)
    result = await _record(
        engine,
        run,
        lambda: record_failure(
            engine.db,
            task.id,
            engine.machine_id,
            task.attempt,
            error,
            wait,
            details.max_failures,
            engine.host_and_port,
        ),
    )
    engine.stats["failed"] += 1
    if result == "failed":
        log.error(
            "task %d (%s) failed %d times and is now in the failed state: %s",
            task.id,
            task.name,
            task.retries + 1,
            error,
        )
    elif result == "retry":
        asyncio.get_running_loop().call_later(wait, engine.wake)


async def _record(engine: TaskEngine, run: Running, write: Any) -> Any:
    """Run a fenced write, retrying through database outages while the task could still be
    ours. Returns the write's result; a falsy result means the attempt was fenced out."""
    deadline = time.monotonic() + 2 * engine.config.machine_timeout
    delay = 0.2
    while True:
        try:
            result = await write()
        except HarmonyDBError as exc:
            if time.monotonic() > deadline:
                log.error(
                    "could not record the outcome of task %d (%s): %s; peers will take "
                    "it back and run it again",
                    run.claimed.id,
                    run.claimed.name,
                    exc,
                )
                return None
            log.warning("recording task %d outcome failed (%s); retrying", run.claimed.id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if not result:
            engine.stats["fenced"] += 1
            log.warning(
                "task %d (%s) attempt %d: result discarded, another machine owns the task now",
                run.claimed.id,
                run.claimed.name,
                run.claimed.attempt,
            )
        return result


async def _idle(engine: TaskEngine) -> None:
    """Nothing runs any more: drained / restart flags may now take effect."""
    try:
        await engine._act_on_flags()
    except HarmonyDBError as exc:
        log.warning("acting on machine flags failed: %s", exc)


__all__ = ["outcomes", "run_task"]
