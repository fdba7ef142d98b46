"""Curio's task queues and history: ``harmony_task`` now and ``harmony_task_history``'s last day.

What Curio's rows mean (filecoin-project/curio at e0294b0f, ``harmony/harmonytask``):

* A task waits in ``harmony_task`` with ``owner_id`` NULL and runs once a machine sets
  ``owner_id`` (``task_type_handler.go``, ``considerWork``).
* Every ended attempt writes one history row (``recordCompletion``): ``result`` true when done
  (``err`` '' or 'non-failing error: …'); ``result`` false with ``err`` 'preempted' when it was
  preempted (the task goes back to the queue, ``retries`` unchanged: not the task's fault, and
  not a failure here); otherwise a failure (``err`` 'error: …' or 'unspecified error'): the
  task goes back to the queue with ``retries + 1`` or, once ``retries >= MaxFailures - 1``, is
  DELETED. Curio keeps no failed state: a task it gave up on is only visible in history.
* A requeued failure waits ``RetryWait(retries)`` after ``update_time`` before any machine takes
  it (``harmonytask.go``, ``pollerTryAllWork``: eligible once ``time.Since(update_time) >
  RetryWait(retries)``). RetryWait is Go code per task type, not in the database:
  :data:`RETRY_WAITS` copies the task types that set one.

So, here:

* ``pending`` / ``running``: owner_id NULL / set; ``waiting``: pending and inside its type's
  retry wait; ``oldest_pending``: the earliest ``posted_time`` among the pending.
* ``failed`` (per type and ``failed_total``) and ``failed_tasks``: the tasks Curio **gave up
  on** in the last 24 h: the latest attempt of the task id (by history id) ended in a failure
  within the window, and the id is no longer in ``harmony_task``. (A later success, or the task
  restarted under its own id as Curio's ``RestartTaskByID`` does, takes it off the list; an
  id deleted by something else right after a failure looks the same, there is no telling them
  apart from the database.) ``retries`` of such a task is its number of failed attempts, as
  ours counts them; ``last_error`` the last attempt's ``err``.
* ``done_24h`` / ``failed_24h``: attempts that ended in the window, done or failed (a
  preemption is neither); ``mean_seconds``: mean run time of the done ones. One aggregate over
  ``work_end >= now - 24 h`` per refresh (Curio indexes ``work_end DESC``; a day that is a large
  part of the table is read by a parallel scan): the window is always complete
  (``window_hours`` 24), nothing is loaded in slices. Measured on 600k attempts over 3 days
  (200k in the window) and 20k queued tasks: the task section's 7 statements take 0.3-0.5 s on
  a busy 2-core box, mostly this aggregate and the given-up scan; so both are kept between
  refreshes (:class:`WindowCache`) and re-read every 15 s, the queue, chart and history each
  refresh.
* The chart: done and failed attempts per minute over the last hour, the current minute last,
  exactly as :meth:`engine.snapshot.history.HistoryWindow.chart` builds ours.
* History rows: outcome ``done`` | ``failed`` | ``preempted``, ``host`` the machine that ran it
  (``completed_by_host_and_port``), ``err`` NULL when Curio wrote ''.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..model import ChartSnap, FailedTaskSnap, HistorySnap, QueueSnap, TaskTypeSnap
from ..timing import TimedTx
from .kept import Kept

__all__ = ["RETRY_WAITS", "RetryWait", "WindowCache", "read_queues"]

WINDOW = timedelta(hours=24)
#: minutes in the chart (as HistoryWindow.chart's default)
CHART_MINUTES = 60


@dataclass(frozen=True)
class RetryWait:
    """A task type's ``RetryWait(retries)`` in seconds: ``min(fixed + linear·r +
    scale·factor^r, cap)``. Every RetryWait in Curio has this shape."""

    fixed: float = 0.0
    linear: float = 0.0
    scale: float = 0.0
    factor: float = 0.0
    cap: float | None = None

    def seconds(self, retries: int) -> float:
        wait = self.fixed + self.linear * retries + self.scale * self.factor ** min(retries, 60)
        return wait if self.cap is None else min(wait, self.cap)


_EXP_5S = RetryWait(scale=5, factor=2)  # taskhelp.RetryWaitExp(5*time.Second, 2)
_PARK = RetryWait(scale=5, factor=1.5, cap=60)  # min(5s * 1.5^r, 1 min)

#: The task types whose TaskTypeDetails set a RetryWait (tasks/…; names from
#: tasks/tasknames/names.go); every other type retries at once.
RETRY_WAITS: dict[str, RetryWait] = {
    # tasks/seal/task_porep.go: min(time.Second<<retries, 2*time.Minute)
    "PoRep": RetryWait(scale=1, factor=2, cap=120),
    # tasks/seal/task_movestorage.go, tasks/snap/task_movestorage.go: (2<<retries) seconds
    "MoveStorage": RetryWait(scale=2, factor=2),
    "UpdateStore": RetryWait(scale=2, factor=2),
    # tasks/message/sender.go: min(retries seconds, 10 s)
    "SendMessage": RetryWait(linear=1, cap=10),
    # tasks/piece/task_park_piece.go (ParkPiece and StorePiece), task_fix_park_piece_unique.go
    "ParkPiece": _PARK,
    "StorePiece": _PARK,
    "FixParkPiece": _PARK,
    # tasks/f3/f3_task.go: one minute
    "bg:F3Participate": RetryWait(fixed=60),
    # tasks/proofshare: task_client_poll.go and task_request.go 10 s; task_prove.go and
    # task_submit.go 10 s per retry
    "PSClientPoll": RetryWait(fixed=10),
    "bg:PShareRequest": RetryWait(fixed=10),
    "PSProve": RetryWait(linear=10),
    "PShareSubmit": RetryWait(linear=10),
    # tasks/pdp/notify_task.go, tasks/pdpv0/{notify_task,task_init_pp,task_next_pp}.go
    "PDPNotify": _EXP_5S,
    "PDPv0_Notify": _EXP_5S,
    "PDPv0_InitPP": _EXP_5S,
    "PDPv0_ProvPeriod": _EXP_5S,
    # tasks/pdpv0/task_prove.go: RetryWaitExp(10*time.Second, 2)
    "PDPv0_Prove": RetryWait(scale=10, factor=2),
    # tasks/pdpv0/task_terminate_fwss.go: 2 s per retry
    "PDPv0_TermFWSS": RetryWait(linear=2),
}

#: The per-type queue now. ``waiting`` applies the type's RetryWait (passed as arrays, joined
#: by name) exactly as the poller does: pending with retries > 0 and ``update_time + wait`` not
#: yet passed at ``$1``. The exponent and the wait are bounded so no interval overflows.
TASK_TYPES = """
SELECT t.name,
       count(*) FILTER (WHERE t.owner_id IS NULL) AS pending,
       count(*) FILTER (
           WHERE t.owner_id IS NULL AND t.retries > 0 AND w.name IS NOT NULL
             AND t.update_time + make_interval(secs => least(
                     w.fixed + w.linear * t.retries
                     + w.scale * power(w.factor, least(t.retries, 60)),
                     coalesce(w.cap, 1e9))) >= $1) AS waiting,
       count(*) FILTER (WHERE t.owner_id IS NOT NULL) AS running,
       min(t.posted_time) FILTER (WHERE t.owner_id IS NULL) AS oldest_pending
  FROM harmony_task t
  LEFT JOIN unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                   $7::float8[]) AS w(name, fixed, linear, scale, factor, cap)
         ON w.name = t.name
 GROUP BY t.name
 ORDER BY t.name
 LIMIT 1000
"""

#: Attempts of the window per type: done, failed, mean run time of the done ones.
WINDOW_TOTALS = """
SELECT name,
       count(*) FILTER (WHERE result) AS done,
       count(*) FILTER (WHERE NOT result AND err IS DISTINCT FROM 'preempted') AS failed,
       (avg(greatest(extract(epoch FROM work_end - work_start), 0)) FILTER (WHERE result))
           ::float8 AS mean_seconds
  FROM harmony_task_history
 WHERE work_end >= $1
 GROUP BY name
 ORDER BY name
 LIMIT 1000
"""

#: Done and failed attempts per minute in [$1, $2) (the chart's minutes; sessions run in UTC).
CHART = """
SELECT date_trunc('minute', work_end) AS minute,
       count(*) FILTER (WHERE result) AS done,
       count(*) FILTER (WHERE NOT result AND err IS DISTINCT FROM 'preempted') AS failed
  FROM harmony_task_history
 WHERE work_end >= $1 AND work_end < $2
 GROUP BY 1
 ORDER BY 1
 LIMIT $3
"""

#: Tasks given up on in the window (see the module docstring): the latest failed attempt of each
#: task id since $1, with no later attempt and no harmony_task row left. Each lookup is an index
#: probe (harmony_task's primary key, harmony_task_history_task_id_result_index). One statement
#: gives both the count per type (rows with ``id`` NULL) and the newest $2 such tasks: the CTE,
#: referenced twice, is computed once.
GIVEN_UP = """
WITH last_failed AS (
    SELECT DISTINCT ON (h.task_id) h.id, h.task_id, h.name, h.work_end, h.err
      FROM harmony_task_history h
     WHERE h.work_end >= $1 AND NOT h.result AND h.err IS DISTINCT FROM 'preempted'
     ORDER BY h.task_id, h.id DESC
), given_up AS (
    SELECT f.* FROM last_failed f
     WHERE NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = f.task_id)
       AND NOT EXISTS (SELECT 1 FROM harmony_task_history l
                        WHERE l.task_id = f.task_id AND l.id > f.id)
)
(SELECT name, NULL::int AS id, NULL::timestamptz AS failed_at, NULL::text AS last_error,
        count(*)::int AS n
   FROM given_up
  GROUP BY name
  ORDER BY name
  LIMIT 1000)
UNION ALL
(SELECT g.name, g.task_id, g.work_end, nullif(g.err, ''),
        (SELECT count(*) FROM harmony_task_history c
          WHERE c.task_id = g.task_id AND NOT c.result
            AND c.err IS DISTINCT FROM 'preempted')::int
   FROM given_up g
  ORDER BY g.work_end DESC, g.task_id DESC
  LIMIT $2)
"""

_HISTORY_COLUMNS = """
    SELECT id, task_id, name, work_start, work_end, result,
           CASE WHEN result THEN 'done' WHEN err = 'preempted' THEN 'preempted'
                ELSE 'failed' END AS outcome,
           nullif(err, '') AS err, completed_by_host_and_port AS host
      FROM harmony_task_history
"""

HISTORY = (
    _HISTORY_COLUMNS
    + """
 ORDER BY work_end DESC, id DESC
 LIMIT $1
"""
)

#: As our HISTORY_FILTERED: a filter looks at the newest $3 attempts only, so a rare match never
#: scans the whole table; it matches name, err, host or outcome (ILIKE), or the exact task id.
HISTORY_FILTERED = (
    "SELECT * FROM ("
    + _HISTORY_COLUMNS
    + """
     ORDER BY work_end DESC, id DESC
     LIMIT $3
) h
 WHERE h.name ILIKE $2 OR h.err ILIKE $2 OR h.host ILIKE $2 OR h.outcome ILIKE $2
    OR h.task_id::text = $4
 ORDER BY work_end DESC, id DESC
 LIMIT $1
"""
)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _age(now: datetime, ts: datetime | None) -> float | None:
    return None if ts is None else max(0.0, (now - ts).total_seconds())


def _retry_wait_args() -> tuple[list[str], list[float], list[float], list[float], list[float],
                                list[float | None]]:  # fmt: skip
    names = sorted(RETRY_WAITS)
    waits = [RETRY_WAITS[n] for n in names]
    return (
        names,
        [w.fixed for w in waits],
        [w.linear for w in waits],
        [w.scale for w in waits],
        [w.factor for w in waits],
        [w.cap for w in waits],
    )


def chart_minutes(now: datetime, minutes: int = CHART_MINUTES) -> tuple[datetime, ...]:
    """The chart's minutes, oldest first, the current minute (UTC) last."""
    last = now.astimezone(UTC).replace(second=0, microsecond=0)
    return tuple(last - timedelta(minutes=minutes - 1 - i) for i in range(minutes))


@dataclass
class WindowCache(Kept[tuple[list[Any], list[Any]]]):
    """The day's per-type totals and the given-up tasks, kept between refreshes: the two
    costliest statements of the section (a scan of the day's history), whose figures move by
    a handful of attempts a second. Re-read when ``max_age`` seconds passed on the caller's
    clock, or when the list's limit (the key) changed."""

    max_age: float = 15.0


async def read_queues(
    tx: TimedTx,
    now: datetime,
    *,
    history_filter: str | None,
    history_limit: int,
    history_scan: int,
    failed_limit: int,
    cache: WindowCache | None = None,
) -> QueueSnap:
    """The task pane's figures at ``now`` (aware; never the server's clock): see the module
    docstring for what each means on a Curio cluster. With ``cache``, the day's totals and the
    given-up tasks come from it while fresh."""
    since = now - WINDOW
    queue = await tx.select(TASK_TYPES, now, *_retry_wait_args())
    if cache is not None and cache.fresh(failed_limit, now) and cache.value is not None:
        totals, given_up = cache.value
    else:
        totals = await tx.select(WINDOW_TOTALS, since)
        given_up = await tx.select(GIVEN_UP, since, failed_limit)
        if cache is not None:
            cache.keep(failed_limit, now, (totals, given_up))
    stamps = chart_minutes(now)
    per_minute = await tx.select(CHART, stamps[0], stamps[-1] + timedelta(minutes=1), len(stamps))
    if history_filter is None:
        history = await tx.select(HISTORY, history_limit)
    else:
        history = await tx.select(
            HISTORY_FILTERED, history_limit, _like(history_filter), history_scan, history_filter
        )
    return _build(now, history_filter, queue, totals, stamps, per_minute, given_up, history)


def _build(
    now: datetime,
    history_filter: str | None,
    queue: list[Any],
    totals: list[Any],
    stamps: tuple[datetime, ...],
    per_minute: list[Any],
    given_up: list[Any],
    history: list[Any],
) -> QueueSnap:
    by_queue = {r["name"]: r for r in queue}
    by_total = {r["name"]: r for r in totals}
    by_given_up = {r["name"]: int(r["n"]) for r in given_up if r["id"] is None}
    failed = [r for r in given_up if r["id"] is not None]
    types = []
    for name in sorted(set(by_queue) | set(by_total) | set(by_given_up)):
        q, h = by_queue.get(name), by_total.get(name)
        oldest = q["oldest_pending"] if q else None
        types.append(
            TaskTypeSnap(
                name=name,
                pending=int(q["pending"]) if q else 0,
                waiting=int(q["waiting"]) if q else 0,
                running=int(q["running"]) if q else 0,
                failed=by_given_up.get(name, 0),
                oldest_pending=oldest,
                oldest_age=_age(now, oldest),
                done_24h=int(h["done"]) if h else 0,
                failed_24h=int(h["failed"]) if h else 0,
                mean_seconds=h["mean_seconds"] if h else None,
            )
        )
    index = {m: i for i, m in enumerate(stamps)}
    done, fails = [0] * len(stamps), [0] * len(stamps)
    for r in per_minute:
        i = index.get(r["minute"])
        if i is not None:
            done[i], fails[i] = int(r["done"]), int(r["failed"])
    return QueueSnap(
        types=tuple(types),
        failed_tasks=tuple(
            FailedTaskSnap(
                id=r["id"],
                name=r["name"],
                failed_at=r["failed_at"],
                age=_age(now, r["failed_at"]) or 0.0,
                retries=r["n"],  # its failed attempts
                last_error=r["last_error"],
            )
            for r in failed
        ),
        failed_total=sum(t.failed for t in types),
        history=tuple(HistorySnap(**dict(r)) for r in history),
        history_filter=history_filter,
        chart=ChartSnap(stamps, tuple(done), tuple(fails)),
        window_hours=WINDOW.total_seconds() / 3600,
        done_24h=sum(t.done_24h for t in types),
        failed_24h=sum(t.failed_24h for t in types),
    )
