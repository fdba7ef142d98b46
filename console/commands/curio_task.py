"""``harmony task list|history`` on a Curio cluster: read-only, with Curio's semantics.

The figures are the Curio read model's (:mod:`engine.snapshot.curio.tasks`): a task is
``running`` once a machine set ``owner_id``, ``pending`` otherwise, and ``waiting`` while a
requeued failure sits out its type's ``RetryWait`` (:data:`~engine.snapshot.curio.tasks.
RETRY_WAITS`, the same rule the read model's per-type counts apply); ``failed`` are the tasks
Curio gave up on in the last 24 h (it deletes a task at its failure limit, so they exist only in
history: :func:`~engine.snapshot.curio.tasks.read_queues`' ``failed_tasks``). A preemption is
not a failure. The per-task queue listing is the one statement here the read model has no
list for (it counts the queue per type): it applies the same predicates per row.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import humanize

from engine.snapshot.curio.tasks import RETRY_WAITS, read_queues
from engine.snapshot.timing import Timing

from .common import CLOCK, print_json, print_table

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import FailedTaskSnap, HistorySnap, QueueSnap

__all__ = ["HISTORY_SCAN", "curio_task_history", "curio_task_list"]

#: A filtered ``task history`` looks at Curio's newest this many attempts (the read model's
#: bounded filter: a rare match never scans the whole table)
HISTORY_SCAN = 10_000

# The queue, one row per task: state as the read model's TASK_TYPES counts it (running: owner
# set; waiting: pending, retried, and its type's RetryWait after update_time not yet passed at
# $1; else pending). The retry waits come as arrays joined by name. A retried task's last error
# is its newest failed attempt (one probe on harmony_task_history's task_id index per row).
QUEUE = """
SELECT * FROM (
    SELECT t.id, t.name, m.host_and_port AS owner, t.posted_time, t.update_time, t.retries,
           CASE WHEN t.owner_id IS NOT NULL THEN 'running'
                WHEN t.retries > 0 AND w.name IS NOT NULL
                     AND t.update_time + make_interval(secs => least(
                             w.fixed + w.linear * t.retries
                             + w.scale * power(w.factor, least(t.retries, 60)),
                             coalesce(w.cap, 1e9))) >= $1 THEN 'waiting'
                ELSE 'pending' END AS state,
           CASE WHEN t.retries > 0 THEN
                (SELECT nullif(h.err, '') FROM harmony_task_history h
                  WHERE h.task_id = t.id AND NOT h.result
                    AND h.err IS DISTINCT FROM 'preempted'
                  ORDER BY h.id DESC LIMIT 1) END AS last_error
      FROM harmony_task t
      LEFT JOIN harmony_machines m ON m.id = t.owner_id
      LEFT JOIN unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                       $7::float8[]) AS w(name, fixed, linear, scale, factor, cap)
             ON w.name = t.name
     WHERE ($8::text IS NULL OR t.name = $8)
) q
 WHERE ($9::text IS NULL OR q.state = $9)
 ORDER BY q.state <> 'running', q.posted_time, q.id
 LIMIT $10
"""


def _retry_waits() -> list[list[Any]]:
    names = sorted(RETRY_WAITS)
    waits = [RETRY_WAITS[n] for n in names]
    return [
        names,
        [w.fixed for w in waits],
        [w.linear for w in waits],
        [w.scale for w in waits],
        [w.factor for w in waits],
        [w.cap for w in waits],
    ]


def _queue_json(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "name": r["name"],
        "state": r["state"],
        "owner": r["owner"],
        "posted_time": r["posted_time"],
        "update_time": r["update_time"],
        "retries": r["retries"],
        "last_error": r["last_error"],
        "failed_at": None,
    }


def _failed_json(f: FailedTaskSnap) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "state": "failed",
        "owner": None,
        "posted_time": None,
        "update_time": None,
        "retries": f.retries,
        "last_error": f.last_error,
        "failed_at": f.failed_at,
    }


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts is not None else ""


async def curio_task_list(db: DB, args: argparse.Namespace) -> int:
    """Curio's queue, running first (as ours), then the tasks it gave up on, newest first."""
    now = CLOCK.now()
    timing = Timing()
    want_queue = args.state != "failed"
    want_failed = args.state in (None, "failed")

    async def read(tx: Tx) -> tuple[list[Any], QueueSnap]:
        rows: list[Any] = []
        if want_queue:
            rows = await tx.select(QUEUE, now, *_retry_waits(), args.type, args.state, args.limit)
        snap = await read_queues(
            timing.wrap(tx),
            now,
            history_filter=None,
            history_limit=0,
            history_scan=0,
            failed_limit=args.limit if want_failed else 0,
        )
        return rows, snap

    queue, snap = await db.transaction(read, isolation="repeatable_read")
    failed = [f for f in snap.failed_tasks if args.type in (None, f.name)] if want_failed else []
    items = [*(_queue_json(r) for r in queue), *(_failed_json(f) for f in failed)][: args.limit]
    if args.json:
        print_json(items)
        return 0
    if items:
        print_table(
            ["ID", "TYPE", "STATE", "MACHINE", "POSTED", "RETRIES", "ERROR"],
            [
                (
                    t["id"],
                    t["name"],
                    t["state"] if t["failed_at"] is None else f"failed {_when(t['failed_at'])}",
                    t["owner"] or "",
                    _when(t["posted_time"]),
                    t["retries"],
                    (t["last_error"] or "")[:60],
                )
                for t in items
            ],
        )
    else:
        print("no tasks in the queue and none given up on in the last 24 h")
    types = [t for t in snap.types if args.type in (None, t.name)]
    pending = sum(t.pending for t in types)
    print(
        f"Curio queue: {sum(t.running for t in types)} running, {pending} pending "
        f"({sum(t.waiting for t in types)} waiting out a retry), "
        f"{sum(t.failed for t in types)} given up in the last 24 h "
        "(Curio deletes a task at its failure limit: failed = from history)"
    )
    return 0


def _history_json(h: HistorySnap) -> dict[str, Any]:
    return {
        "id": h.id,
        "task_id": h.task_id,
        "name": h.name,
        "work_start": h.work_start,
        "work_end": h.work_end,
        "result": h.result,
        "outcome": h.outcome,
        "err": h.err,
        "completed_by_host_and_port": h.host,
    }


def _matches(args: argparse.Namespace, h: HistorySnap) -> bool:
    return (
        args.type in (None, h.name)
        and args.task in (None, h.task_id)
        and (not args.failed or h.outcome == "failed")
    )


async def curio_task_history(db: DB, args: argparse.Namespace) -> int:
    """Curio's finished attempts, newest first: the read model's history (outcome done, failed
    or preempted). ``--type``/``--task``/``--failed`` look at the newest :data:`HISTORY_SCAN`
    attempts through the read model's filter and keep the exact matches."""
    now = CLOCK.now()
    timing = Timing()
    filtered = args.type is not None or args.task is not None or args.failed
    if args.task is not None:
        needle = str(args.task)
    elif args.type is not None:
        needle = args.type
    else:
        needle = "failed" if args.failed else None

    async def read(tx: Tx) -> QueueSnap:
        return await read_queues(
            timing.wrap(tx),
            now,
            history_filter=needle,
            history_limit=HISTORY_SCAN if filtered else args.limit,
            history_scan=HISTORY_SCAN,
            failed_limit=0,
        )

    snap = await db.transaction(read, isolation="repeatable_read")
    rows: Sequence[HistorySnap] = [h for h in snap.history if _matches(args, h)][: args.limit]
    if args.json:
        print_json([_history_json(h) for h in rows])
        return 0
    if not rows:
        print(
            "no task history"
            + (f" among Curio's newest {HISTORY_SCAN:,} attempts" if filtered else "")
        )
        return 0
    print_table(
        ["TASK", "TYPE", "OUTCOME", "MACHINE", "ENDED", "TOOK", "ERROR"],
        [
            (
                h.task_id,
                h.name,
                h.outcome,
                h.host,
                _when(h.work_end),
                humanize.precisedelta(
                    h.work_end - h.work_start, minimum_unit="milliseconds", format="%0.0f"
                ),
                (h.err or "")[:60],
            )
            for h in rows
        ],
    )
    if filtered and len(rows) < args.limit:
        print(f"(searched Curio's newest {HISTORY_SCAN:,} attempts)")
    return 0
