"""Singleton tasks: at most one live instance cluster-wide, at most once per interval.

Curio's ``SingletonTaskAdder`` (cluster-wide periodic work such as a chain tick or a clean-up,
which must neither run twice at once nor more often than its interval), as an ``iam_bored``
hook: when a machine has spare capacity it tries to add the singleton; the transaction checks
``harmony_task_singletons`` and only adds when no instance is live and the interval has passed
(or an operator asked to run it now). Concurrent tries collide on the table's primary key, which
the adder treats as "already added".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.clock import Clock, SystemClock
from engine.harmonydb import Tx

from .task import AddTaskFn, TaskID

STATE = """
SELECT s.task_id, s.run_now_request,
       s.last_run_time > now() - make_interval(secs => $2) AS recent,
       EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = s.task_id) AS live
  FROM harmony_task_singletons s WHERE s.task_name = $1
   FOR UPDATE
"""

UPSERT = """
INSERT INTO harmony_task_singletons (task_name, task_id, last_run_time, run_now_request)
VALUES ($1, $2, now(), FALSE)
ON CONFLICT (task_name) DO UPDATE
   SET task_id = EXCLUDED.task_id, last_run_time = now(), run_now_request = FALSE
"""


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
            row = await tx.query_row(STATE, task_name, min_interval)
            if row is not None and (row["live"] or (row["recent"] and not row["run_now_request"])):
                return False
            await tx.exec(UPSERT, task_name, task_id)
            return True

        await add_task(extra)

    return bored
