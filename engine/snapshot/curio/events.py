"""The cluster's events on a Curio cluster, derived from Curio's own tables (nothing is written).

Curio keeps no event log, so only what its rows record can be shown (columns as in Curio's
migrations, harmony/harmonydb/sql/, mirrored by tests/support/curio_schema.py):

* a machine joined: ``harmony_machine_details.startup_time``;
* a machine went silent: ``harmony_machines.last_contact`` older than the dead threshold
  (Curio's own; it declares nobody dead, so this is "last heard from");
* a restart requested (which cordons): ``harmony_machines.restart_request``;
* a task attempt failed, with its error: ``harmony_task_history`` rows with ``result = false``
  but for a preemption (``err`` 'preempted', not a failure); Curio records no outcome: a retry
  and a final failure look the same, so both are ``task-failed``;
* a WindowPoSt submitted, a recovery declared: the successful ``WdPostSubmit`` and
  ``WdPostRecover`` attempts;
* a sector failed: ``sectors_sdr_pipeline.failed_at``;
* a block won, or won and not included: ``mining_tasks``.

:data:`CURIO_UNSUPPORTED` lists what it cannot say: a cordon without a restart request, an
uncordon, a drain, a clean leave, a lost attempt, a task restarted or a sector resumed by hand
leave no timestamp in Curio's schema, and faults (declared or from a missed deadline) are the
chain's, known to Lotus, not to Curio's tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..events import EventKind, EventsSnap, event_from_row, kinds_of, sectors_and_blocks
from .post import NODE_MINERS, _node_miners

__all__ = ["CURIO_EVENTS_SQL", "CURIO_UNSUPPORTED", "read_curio_events"]

#: the kinds a Curio cluster cannot report (see the module docstring)
CURIO_UNSUPPORTED: tuple[str, ...] = (
    EventKind.MACHINE_LEFT,
    EventKind.MACHINE_CORDONED,
    EventKind.MACHINE_UNCORDONED,
    EventKind.MACHINE_DRAIN,
    EventKind.MACHINE_DRAINED,
    EventKind.TASK_RETRY,
    EventKind.TASK_LOST,
    EventKind.TASK_RESTARTED,
    EventKind.SECTOR_RESUMED,
    EventKind.POST_MISSED,
    EventKind.POST_FAULTS,
)

#: $1 the window's start, $2 the limit, $3 the clock's now, $4 the dead threshold (seconds),
#: $5 the kinds to read (NULL: all).
#: History is read through Curio's harmony_task_history_work_index (work_end DESC, ...), won
#: blocks through mining_tasks_won_sp_id_base_compute_time_index; machines are few.
CURIO_EVENTS_SQL = f"""
SELECT * FROM (
  (SELECT 'j' || m.id AS key, d.startup_time AS at, 'machine-joined' AS kind,
          m.id AS machine_id, m.host_and_port::text AS machine, NULL::bigint AS task_id,
          NULL::text AS task_name, NULL::bigint AS sp_id, NULL::bigint AS sector_number,
          NULL::bigint AS deadline, NULL::bigint AS "partition",
          coalesce(d.machine_name, m.host_and_port) || ' started'
          || coalesce(' (version ' || d.version || ')', '') AS message
     FROM harmony_machines m JOIN harmony_machine_details d ON d.machine_id = m.id
    WHERE d.startup_time >= $1 AND ($5::text[] IS NULL OR 'machine-joined' = ANY($5::text[]))
    ORDER BY d.startup_time DESC, m.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'd' || m.id, m.last_contact, 'machine-dead', m.id, m.host_and_port, NULL, NULL,
          NULL, NULL, NULL, NULL,
          'no heartbeat since ' || to_char(m.last_contact AT TIME ZONE 'UTC', 'HH24:MI:SS')
          || ' UTC (silent for over ' || round($4::float8)::bigint || ' s)'
     FROM harmony_machines m
    WHERE m.last_contact >= $1 AND ($5::text[] IS NULL OR 'machine-dead' = ANY($5::text[]))
      AND m.last_contact < $3::timestamptz - make_interval(secs => $4::float8)
    ORDER BY m.last_contact DESC, m.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'r' || m.id, m.restart_request, 'machine-restart', m.id, m.host_and_port, NULL,
          NULL, NULL, NULL, NULL, NULL, 'restart requested: cordoned, restarts once idle'
     FROM harmony_machines m
    WHERE m.restart_request >= $1
      AND ($5::text[] IS NULL OR 'machine-restart' = ANY($5::text[]))
    ORDER BY m.restart_request DESC, m.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'h' || h.id, h.work_end, 'task-failed', NULL, h.completed_by_host_and_port,
          h.task_id, h.name, NULL, NULL, NULL, NULL, coalesce(h.err, '')
     FROM harmony_task_history h
    WHERE h.work_end >= $1 AND NOT h.result AND h.err IS DISTINCT FROM 'preempted'
      AND ($5::text[] IS NULL OR 'task-failed' = ANY($5::text[]))
    ORDER BY h.work_end DESC, h.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'h' || h.id, h.work_end,
          CASE h.name WHEN 'WdPostSubmit' THEN 'post-submitted' ELSE 'post-recovery' END,
          NULL, h.completed_by_host_and_port, h.task_id, h.name, NULL, NULL, NULL, NULL,
          CASE h.name WHEN 'WdPostSubmit' THEN 'WindowPoSt submitted'
               ELSE 'faults declared recovered' END
     FROM harmony_task_history h
    WHERE h.work_end >= $1 AND h.result AND h.name IN ('WdPostSubmit', 'WdPostRecover')
      AND ($5::text[] IS NULL
           OR CASE h.name WHEN 'WdPostSubmit' THEN 'post-submitted' ELSE 'post-recovery' END
              = ANY($5::text[]))
    ORDER BY h.work_end DESC, h.id DESC LIMIT $2)
  UNION ALL
{sectors_and_blocks("$5")}) ev
ORDER BY at DESC, key DESC
LIMIT $2
"""


async def read_curio_events(
    tx: Any,
    now: datetime,
    *,
    window: float,
    limit: int,
    dead_after: float,
    kind: str | None = None,
) -> EventsSnap:
    """The newest ``limit`` events of the last ``window`` seconds (Curio's schema); of those
    ``kind`` selects when it is given."""
    since = now - timedelta(seconds=window)
    rows = await tx.select(CURIO_EVENTS_SQL, since, limit, now, dead_after, kinds_of(kind))
    prefix = "t0"
    if any(r["sp_id"] is not None for r in rows):
        # a miner as the other views write it (f01000 on a mainnet build): the nodes' list
        _, written = _node_miners(r["miners"] for r in await tx.select(NODE_MINERS))
        prefix = written or prefix
    return EventsSnap(
        tuple(event_from_row(r, prefix) for r in rows),
        since,
        limit,
        unsupported=CURIO_UNSUPPORTED,
    )
