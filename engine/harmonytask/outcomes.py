"""Recording what an attempt led to: done, retry, failed, preempted, released or lost.

The vocabulary is defined once, here, beside the SQL that writes it: :class:`Outcome` is what
``harmony_task_history.outcome`` holds, :class:`StopReason` why the engine itself ended an
attempt (and which outcome, if any, that leaves behind).

Every write here is fenced on ``owner_id = me AND attempt = k`` and writes its history row in the
**same statement** (a data-modifying CTE), so a late writer whose lease expired changes nothing,
not even history, and a crash can never leave a completed task without its history row or the
reverse. Curio's completion deletes by id only: a zombie node (one peers declared dead that
still finishes its work) can complete a task another node has re-claimed and is running again.

An outcome write can be sent twice. When its reply is lost after the server committed it, the
DB layer cannot vouch for it; sent again as is, it would find the task no longer owned at that
attempt and report the attempt fenced out (a completed task logged as "another machine owns it
now", a retry never woken). So a re-send uses the write's ``_AGAIN`` form, which also reads back
the history row its first send wrote for that attempt (a task's attempt numbers are unique).

Successful completions are batched: while one batch statement is in flight the next ones queue
up, so under load many tasks share one commit (group commit), and an idle machine still records
each completion at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.harmonydb import AmbiguousCommit

from .resend import resend

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from .task import TaskID

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """What an attempt led to, as stored in ``harmony_task_history.outcome``."""

    #: ``do`` returned True; the task is gone from the queue
    DONE = "done"
    #: a failed attempt; the task is claimable again after its retry wait
    RETRY = "retry"
    #: the failed attempt that reached ``max_failures``: the visible failed state
    FAILED = "failed"
    #: stopped to make room for time-sensitive work; back in the queue, not a failure
    PREEMPTED = "preempted"
    #: the machine stopped heartbeating (or restarted); peers returned the task to the queue
    LOST = "lost"
    #: given back unstarted or at shutdown (storage not available, engine leaving)
    RELEASED = "released"

    @property
    def is_failure(self) -> bool:
        """Counts against the task (the others were not the task's fault)."""
        return self in (Outcome.RETRY, Outcome.FAILED)


class StopReason(enum.StrEnum):
    """Why the engine cancels an attempt it is running."""

    #: a time-sensitive task needs the room
    PREEMPTED = "preempted"
    #: the engine is leaving the cluster
    SHUTDOWN = "shutdown"
    #: peers declared this machine dead: another machine owns the task now
    LOST = "lost"

    @property
    def outcome(self) -> Outcome | None:
        """The history row the attempt leaves; None when nothing may be recorded (the fencing
        token would reject the write anyway: the task is someone else's)."""
        return {StopReason.PREEMPTED: Outcome.PREEMPTED, StopReason.SHUTDOWN: Outcome.RELEASED}.get(
            self
        )


DONE_BATCH = f"""
WITH input AS (
    SELECT * FROM unnest($2::bigint[], $3::int[]) AS i(id, attempt)
), done AS (
    DELETE FROM harmony_task t USING input i
     WHERE t.id = i.id AND t.owner_id = $1 AND t.attempt = i.attempt
    RETURNING t.id, t.name, t.posted_time, t.claimed_at, t.attempt
), hist AS (
    INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, err,
                                      completed_by_host_and_port, outcome, machine_id, attempt)
    SELECT id, name, posted_time, coalesce(claimed_at, now()), now(), TRUE, NULL, $4,
           '{Outcome.DONE}', $1, attempt
      FROM done
)
SELECT id FROM done
"""

# The same, also returning the attempts an earlier send of this batch recorded as done.
DONE_AGAIN = (
    DONE_BATCH
    + f"""UNION ALL
SELECT h.task_id FROM harmony_task_history h JOIN input i ON h.task_id = i.id
 WHERE h.attempt = i.attempt AND h.machine_id = $1 AND h.outcome = '{Outcome.DONE}'
"""
)

# retries/failed_at/retry_after are computed from the row's values before the update.
_FAILED = f"""
WITH old AS (
    SELECT id, claimed_at FROM harmony_task WHERE id = $1 AND owner_id = $2 AND attempt = $3
), t AS (
    UPDATE harmony_task t
       SET owner_id = NULL, claimed_at = NULL, update_time = now(),
           retries = t.retries + 1,
           retry_after = now() + make_interval(secs => $5),
           failed_at = CASE WHEN $6::int > 0 AND t.retries + 1 >= $6::int THEN now() END,
           last_error = $4
      FROM old
     WHERE t.id = old.id AND t.owner_id = $2 AND t.attempt = $3
    RETURNING t.id, t.name, t.posted_time, t.attempt, t.failed_at, old.claimed_at
), written AS (
    INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, err,
                                      completed_by_host_and_port, outcome, machine_id, attempt)
    SELECT id, name, posted_time, coalesce(claimed_at, now()), now(), FALSE, $4, $7,
           CASE WHEN failed_at IS NULL THEN '{Outcome.RETRY}' ELSE '{Outcome.FAILED}' END, $2,
           attempt
      FROM t
    RETURNING outcome
)
SELECT outcome FROM written
"""

# The same, also reading back the row an earlier send wrote for this attempt. (The history
# lookup sees the table as it was before this statement, so never this send's own row.)
FAILED_AGAIN = (
    _FAILED
    + f"""UNION ALL
SELECT h.outcome FROM harmony_task_history h
 WHERE h.task_id = $1 AND h.machine_id = $2 AND h.attempt = $3
   AND h.outcome IN ('{Outcome.RETRY}', '{Outcome.FAILED}')
"""
)

# Back to the queue without counting a failure (preemption, shutdown, storage not available).
_RETURNED = """
WITH old AS (
    SELECT id, claimed_at FROM harmony_task WHERE id = $1 AND owner_id = $2 AND attempt = $3
), t AS (
    UPDATE harmony_task t
       SET owner_id = NULL, claimed_at = NULL, update_time = now(),
           retry_after = CASE WHEN $6::float8 > 0 THEN now() + make_interval(secs => $6) END
      FROM old
     WHERE t.id = old.id AND t.owner_id = $2 AND t.attempt = $3
    RETURNING t.id, t.name, t.posted_time, t.attempt, old.claimed_at
), written AS (
    INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, err,
                                      completed_by_host_and_port, outcome, machine_id, attempt)
    SELECT id, name, posted_time, coalesce(claimed_at, now()), now(), FALSE, $4, $7, $5, $2,
           attempt
      FROM t
    RETURNING outcome
)
SELECT outcome FROM written
"""

RETURNED_AGAIN = (
    _RETURNED
    + """UNION ALL
SELECT h.outcome FROM harmony_task_history h
 WHERE h.task_id = $1 AND h.machine_id = $2 AND h.attempt = $3 AND h.outcome = $5
"""
)


async def record_failure(
    db: DB,
    task_id: TaskID,
    machine_id: int,
    attempt: int,
    error: str,
    retry_wait: float,
    max_failures: int,
    host_and_port: str,
) -> Outcome | None:
    """Count a failed attempt: RETRY, FAILED (dead-letter), or None when fenced."""
    args = (
        task_id,
        machine_id,
        attempt,
        error[:4000],
        max(0.0, retry_wait),
        max_failures,
        host_and_port,
    )
    # Always the _AGAIN form: failures are rare, and the caller may be re-sending after an
    # error of its own (the runner retries outcome writes through an outage).
    outcome = await resend(db, lambda: db.query_value(FAILED_AGAIN, *args))
    return None if outcome is None else Outcome(outcome)


async def record_returned(
    db: DB,
    task_id: TaskID,
    machine_id: int,
    attempt: int,
    reason: str,
    outcome: Outcome,
    host_and_port: str,
    back_off: float = 0.0,
) -> bool:
    """Put an attempt's task back in the queue (not a failure) with a history row saying why."""
    args = (task_id, machine_id, attempt, reason[:4000], str(outcome), back_off, host_and_port)
    # the _AGAIN form always, as for failures
    return await resend(db, lambda: db.query_value(RETURNED_AGAIN, *args)) is not None


@dataclass
class _Pending:
    task_id: TaskID
    attempt: int
    future: asyncio.Future[bool] = field(repr=False)


class CompletionBatcher:
    """Records successful completions, many per statement under load, none delayed when idle."""

    def __init__(
        self,
        db: DB,
        machine_id: int,
        host_and_port: str,
        max_batch: int = 500,
        reply_timeout: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._db = db
        #: the wait for one flush's reply (None: the DB's bound). Flushes are sequential, so a
        #: reply lost on a link left silent would hold every completion of the machine for the
        #: DB's whole bound; the engine sizes it from the machine timeout instead, so the batch
        #: is sent again (in the _AGAIN form) on a fresh connection long before peers give up.
        self._reply_timeout = reply_timeout
        self._machine_id = machine_id
        self._host = host_and_port
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: attempts whose done write failed on a lost connection: it may have committed
        self._uncertain: set[tuple[TaskID, int]] = set()

    def start(
        self, spawn: Callable[[str, Coroutine[Any, Any, None]], asyncio.Task[None]] | None = None
    ) -> None:
        """Start recording; ``spawn`` runs the background loop (the engine's supervisor)."""
        if spawn is None:
            self._task = asyncio.create_task(self._run(), name="harmony-completions")
        else:
            self._task = spawn("harmony-completions", self._run())

    async def done(self, task_id: TaskID, attempt: int) -> bool:
        """Record success; True if recorded, False if fenced (this attempt lost the task)."""
        if self._closed:
            raise RuntimeError("completion batcher is closed")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(task_id, attempt, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._flush(batch)
            if self._closed:
                return

    async def _flush(self, batch: list[_Pending]) -> None:
        args = (
            self._machine_id,
            [p.task_id for p in batch],
            [p.attempt for p in batch],
            self._host,
        )
        # A batch holding an attempt whose earlier flush may have committed is sent in the
        # _AGAIN form at once; the others only after a lost reply of their own.
        uncertain = any((p.task_id, p.attempt) in self._uncertain for p in batch)
        bound = self._reply_timeout()
        try:
            rows = await resend(
                self._db,
                lambda: self._db.select(
                    DONE_AGAIN if uncertain else DONE_BATCH, *args, reply_timeout=bound
                ),
                lambda: self._db.select(DONE_AGAIN, *args, reply_timeout=bound),
            )
        except Exception as exc:
            if isinstance(exc, AmbiguousCommit):
                self._uncertain.update((p.task_id, p.attempt) for p in batch)
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        for p in batch:
            self._uncertain.discard((p.task_id, p.attempt))
        recorded = {r["id"] for r in rows}
        for p in batch:
            if not p.future.done():
                p.future.set_result(p.task_id in recorded)


async def cancel_quietly(task: asyncio.Task[object]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
