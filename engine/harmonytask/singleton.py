"""Singleton tasks: at most one live instance cluster-wide, at most once per interval.

Curio's ``SingletonTaskAdder`` (cluster-wide periodic work such as a chain tick or a clean-up,
which must neither run twice at once nor more often than its interval), as an ``iam_bored``
hook: when a machine has spare capacity it tries to add the singleton; the transaction checks
``harmony_task_singletons`` and only adds when no instance is live and the interval has passed
(or an operator asked to run it now).

Concurrent tries must decide one after the other, even on the very first run, when there is no
row yet to lock: each first inserts the singleton's row if it is missing (``ON CONFLICT DO
NOTHING`` waits for a concurrent insert of the same row to commit or roll back), then locks it,
and only then reads the state, in a statement of its own, so that under READ COMMITTED it sees
what the try that held the lock before it committed. An unconditional upsert let two machines
that fired together each add an instance (38 of 40 trials).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from engine.clock import Clock, SystemClock

if TYPE_CHECKING:
    from engine.harmonydb import Tx

    from .task import AddTaskFn, TaskID

ENSURE_ROW = """
INSERT INTO harmony_task_singletons (task_name) VALUES ($1)
ON CONFLICT (task_name) DO NOTHING
"""

LOCK = "SELECT 1 FROM harmony_task_singletons WHERE task_name = $1 FOR UPDATE"

STATE = """
SELECT s.run_now_request,
       coalesce(s.last_run_time > now() - make_interval(secs => $2), FALSE) AS recent,
       EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = s.task_id) AS live
  FROM harmony_task_singletons s WHERE s.task_name = $1
"""

CLAIM_SLOT = """
UPDATE harmony_task_singletons
   SET task_id = $2, last_run_time = now(), run_now_request = FALSE
 WHERE task_name = $1
"""


async def add_if_due(tx: Tx, task_name: str, task_id: TaskID, min_interval: float) -> bool:
    """In the transaction adding ``task_id``: make it the singleton's live instance if none is
    live and the interval has passed (or a run was requested). False: drop the task."""
    await tx.exec(ENSURE_ROW, task_name)
    await tx.exec(LOCK, task_name)
    row = await tx.query_row(STATE, task_name, min_interval)
    if row is None or row["live"] or (row["recent"] and not row["run_now_request"]):
        return False
    await tx.exec(CLAIM_SLOT, task_name, task_id)
    return True


def singleton_adder(
    task_name: str, min_interval: float, *, clock: Clock | None = None
) -> Callable[[AddTaskFn], Awaitable[None]]:
    """An ``iam_bored`` hook that keeps one ``task_name`` task running every ``min_interval``
    seconds somewhere in the cluster."""
    clock = clock or SystemClock()
    last_try: float | None = None

    async def bored(add_task: AddTaskFn) -> None:
        nonlocal last_try
        now = clock.monotonic()
        if last_try is not None and now - last_try < min(min_interval, 5.0):
            return  # this process asked recently; the database knows the cluster-wide answer
        last_try = now

        async def extra(task_id: TaskID, tx: Tx) -> bool:
            return await add_if_due(tx, task_name, task_id, min_interval)

        await add_task(extra)

    return bored
