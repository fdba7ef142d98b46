"""The cluster's events: one stream of what happened, newest first (the Events pane and
``harmony events`` share this definition).

Most events are derived from rows the cluster keeps anyway: failed, retried and lost task
attempts (``harmony_task_history``), failed sectors (``sectors_sdr_pipeline.failed_at``), won
and missed blocks (``mining_tasks``), submitted WindowPoSt proofs and declared recoveries (the
done attempts of ``WdPostSubmit``/``WdPostRecover``), declared faults (the devnet chain's landed
``DeclareFaults`` messages). What no table records (a machine joined, left, was declared dead,
cordoned, uncordoned, drained; a failed task restarted; a sector resumed; a deadline closed
without a proof) the engine appends to ``cluster_events`` in the same statement as the change.

The read is one statement: each source's newest rows in the time window through a range index
(migration 20261203-10), ``LIMIT``ed, merged and limited again, so its cost does not grow
with history. It only SELECTs, with ``now`` from the caller's clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, LiteralString

__all__ = [
    "EVENTS_SQL",
    "FAILURES",
    "KIND_GROUPS",
    "EventKind",
    "EventSnap",
    "EventsSnap",
    "event_from_row",
    "kind_matches",
    "kinds_of",
    "read_events",
    "select_events",
]


class EventKind(enum.StrEnum):
    """What an event says happened (``cluster_events.kind`` holds the engine-written ones)."""

    MACHINE_JOINED = "machine-joined"
    MACHINE_LEFT = "machine-left"
    MACHINE_DEAD = "machine-dead"
    MACHINE_CORDONED = "machine-cordoned"
    MACHINE_UNCORDONED = "machine-uncordoned"
    MACHINE_DRAIN = "machine-drain"
    MACHINE_DRAINED = "machine-drained"
    MACHINE_RESTART = "machine-restart"
    TASK_FAILED = "task-failed"
    TASK_RETRY = "task-retry"
    TASK_LOST = "task-lost"
    TASK_RESTARTED = "task-restarted"
    SECTOR_FAILED = "sector-failed"
    SECTOR_RESUMED = "sector-resumed"
    SECTOR_EXPIRED = "sector-expired"
    POST_SUBMITTED = "post-submitted"
    POST_MISSED = "post-missed"
    POST_FAULTS = "post-faults"
    POST_RECOVERY = "post-recovery"
    BLOCK_WON = "block-won"
    BLOCK_MISSED = "block-missed"


#: kinds shown in red: something went wrong
FAILURES: frozenset[str] = frozenset(
    {
        EventKind.MACHINE_DEAD,
        EventKind.TASK_FAILED,
        EventKind.TASK_RETRY,
        EventKind.TASK_LOST,
        EventKind.SECTOR_FAILED,
        EventKind.POST_MISSED,
        EventKind.POST_FAULTS,
        EventKind.BLOCK_MISSED,
    }
)

#: a filter word -> the kinds it selects (``--kind`` and the pane's kind key take these, or
#: one kind by name)
KIND_GROUPS: Mapping[str, frozenset[str]] = {
    "failures": FAILURES,
    "machines": frozenset(k for k in EventKind if k.startswith("machine-")),
    "tasks": frozenset(k for k in EventKind if k.startswith("task-")),
    "sectors": frozenset(k for k in EventKind if k.startswith("sector-")),
    "post": frozenset(k for k in EventKind if k.startswith("post-")),
    "blocks": frozenset(k for k in EventKind if k.startswith("block-")),
}


def kind_matches(kind: str, selector: str | None) -> bool:
    """Whether an event of ``kind`` is selected by ``selector``: None or ``all`` (every kind),
    a group of :data:`KIND_GROUPS`, or a kind's name."""
    if selector is None or selector == "all":
        return True
    group = KIND_GROUPS.get(selector)
    return kind in group if group is not None else kind == selector


@dataclass(frozen=True)
class EventSnap:
    """One thing that happened."""

    #: unique and stable across refreshes (source and row): the pane's row key
    key: str
    at: datetime
    kind: str
    #: the machine's host_and_port ('' when the event has none)
    machine: str
    machine_id: int | None
    task_id: int | None
    task_name: str | None
    sp_id: int | None
    sector_number: int | None
    deadline: int | None
    partition: int | None
    #: what happened, in the source's words (an error may span lines)
    message: str
    #: how the cluster's network writes a miner: ``t0`` (our devnet, test networks) or ``f0``
    #: (a Curio cluster on mainnet): the subject names the miner as every other view does
    address_prefix: str = "t0"

    @property
    def failure(self) -> bool:
        return self.kind in FAILURES

    @property
    def subject(self) -> str:
        """What it happened to, besides the machine: a task, a sector, a deadline."""
        miner = f"{self.address_prefix}{self.sp_id}"
        if self.sector_number is not None and self.sp_id is not None:
            return f"{miner} s{self.sector_number}"
        if self.deadline is not None and self.sp_id is not None:
            part = f" p{self.partition}" if self.partition is not None else ""
            return f"{miner} dl{self.deadline}{part}"
        if self.task_id is not None:
            return f"{self.task_name or 'task'} {self.task_id}"
        if self.sp_id is not None:
            return miner
        return ""

    @property
    def line(self) -> str:
        """The message on one line (the full text is in :attr:`message`)."""
        return " ".join(self.message.split())

    def age(self, now: datetime) -> float:
        return max((now - self.at).total_seconds(), 0.0)

    def matches(self, text: str) -> bool:
        """Contains ``text`` (case-insensitive) in any field an operator sees."""
        needle = text.lower()
        return any(
            needle in field.lower()
            for field in (self.kind, self.machine, self.subject, self.message)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "machine": self.machine or None,
            "machine_id": self.machine_id,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "sp_id": self.sp_id,
            "sector_number": self.sector_number,
            "deadline": self.deadline,
            "partition": self.partition,
            "subject": self.subject or None,
            "message": self.message,
        }


@dataclass(frozen=True, eq=False)
class EventsSnap:
    """The newest events in a window, newest first."""

    events: tuple[EventSnap, ...]
    #: the window's start (None: never read)
    since: datetime | None
    limit: int
    #: kinds this cluster cannot report (Curio keeps no record of them)
    unsupported: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        """The limit was reached: older events in the window are not shown."""
        return len(self.events) >= self.limit

    @classmethod
    def empty(cls) -> EventsSnap:
        return cls((), None, 0)


def select_events(
    events: Iterable[EventSnap], *, kind: str | None = None, text: str | None = None
) -> list[EventSnap]:
    """The events of ``kind`` (see :func:`kind_matches`) containing ``text``, order kept."""
    return [e for e in events if kind_matches(e.kind, kind) and (not text or e.matches(text))]


def kinds_of(selector: str | None) -> list[str] | None:
    """The kinds ``selector`` names, for the read's filter (None: every kind)."""
    if selector is None or selector == "all":
        return None
    return sorted(KIND_GROUPS.get(selector, {selector}))


def event_from_row(r: Mapping[str, Any], address_prefix: str = "t0") -> EventSnap:
    return EventSnap(
        key=r["key"],
        at=r["at"],
        kind=r["kind"],
        machine=r["machine"] or "",
        machine_id=r["machine_id"],
        task_id=r["task_id"],
        task_name=r["task_name"],
        sp_id=r["sp_id"],
        sector_number=r["sector_number"],
        deadline=r["deadline"],
        partition=r["partition"],
        message=r["message"] or "",
        address_prefix=address_prefix,
    )


#: $1 the window's start, $2 the limit, $3 the kinds to read (NULL: all). Every branch reads
#: its newest rows through a range index of migration 20261203-10 and ends its order in a
#: unique key; the merge orders by time then key.
def sectors_and_blocks(kinds: LiteralString) -> LiteralString:
    """The failed-sector and won/missed-block branches of the events read, the same in our
    schema and Curio's (the same tables and columns); ``kinds`` names the query's parameter
    holding the kinds asked for (``$3``), and ``$1``/``$2`` are the window's start and the
    limit in both."""
    return f"""  (SELECT 's' || s.sp_id || ':' || s.sector_number, s.failed_at, 'sector-failed',
          NULL, NULL, NULL, NULL, s.sp_id, s.sector_number, NULL, NULL,
          s.failed_reason || CASE WHEN s.failed_reason_msg <> ''
                                  THEN ': ' || s.failed_reason_msg ELSE '' END
     FROM sectors_sdr_pipeline s
    WHERE s.failed AND s.failed_at >= $1
      AND ({kinds}::text[] IS NULL OR 'sector-failed' = ANY({kinds}::text[]))
    ORDER BY s.failed_at DESC, s.sp_id DESC, s.sector_number DESC LIMIT $2)
  UNION ALL
  (SELECT 'b' || m.task_id, m.base_compute_time,
          CASE WHEN m.included IS FALSE THEN 'block-missed' ELSE 'block-won' END,
          NULL, NULL, m.task_id, 'WinPost', m.sp_id, NULL, NULL, NULL,
          'epoch ' || m.epoch || CASE WHEN m.included IS FALSE
                                      THEN ': won, but the block was not included'
                                      WHEN m.included THEN ': block won and included'
                                      ELSE ': block won' END
     FROM mining_tasks m
    WHERE m.won AND m.base_compute_time >= $1
      AND ({kinds}::text[] IS NULL
           OR CASE WHEN m.included IS FALSE THEN 'block-missed' ELSE 'block-won' END
              = ANY({kinds}::text[]))
    ORDER BY m.base_compute_time DESC, m.task_id DESC LIMIT $2)
"""


EVENTS_SQL = f"""
SELECT * FROM (
  (SELECT 'e' || e.id AS key, e.at, e.kind, e.machine_id, e.machine, e.task_id, e.task_name,
          e.sp_id, e.sector_number, e.deadline, e."partition", e.message
     FROM cluster_events e
    WHERE e.at >= $1 AND ($3::text[] IS NULL OR e.kind = ANY($3::text[]))
    ORDER BY e.at DESC, e.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'h' || h.id, h.work_end,
          CASE h.outcome WHEN 'failed' THEN 'task-failed' WHEN 'retry' THEN 'task-retry'
                         ELSE 'task-lost' END,
          h.machine_id, h.completed_by_host_and_port, h.task_id, h.name,
          NULL, NULL, NULL, NULL, coalesce(h.err, '')
     FROM harmony_task_history h
    WHERE h.outcome IN ('retry', 'failed', 'lost') AND h.work_end >= $1
      AND ($3::text[] IS NULL
           OR CASE h.outcome WHEN 'failed' THEN 'task-failed' WHEN 'retry' THEN 'task-retry'
                             ELSE 'task-lost' END = ANY($3::text[]))
    ORDER BY h.work_end DESC, h.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'h' || h.id, h.work_end,
          CASE h.name WHEN 'WdPostSubmit' THEN 'post-submitted' ELSE 'post-recovery' END,
          h.machine_id, h.completed_by_host_and_port, h.task_id, h.name,
          coalesce(p.sp_id, r.sp_id), NULL, coalesce(p.deadline, r.deadline_index),
          coalesce(p."partition", r.partition_index),
          CASE h.name WHEN 'WdPostSubmit'
               THEN 'WindowPoSt submitted' || coalesce(' (message ' || p.message_cid || ')', '')
               ELSE 'faults declared recovered'
                    || coalesce(' (message ' || r.message_cid || ')', '') END
     FROM harmony_task_history h
     LEFT JOIN LATERAL (SELECT sp_id, deadline, "partition", message_cid FROM wdpost_proofs
                         WHERE submit_task_id = h.task_id
                         ORDER BY proving_period_start DESC, deadline, "partition"
                         LIMIT 1) p ON h.name = 'WdPostSubmit'
     LEFT JOIN wdpost_recovery_tasks r ON h.name = 'WdPostRecover' AND r.task_id = h.task_id
    WHERE h.outcome = 'done' AND h.name IN ('WdPostSubmit', 'WdPostRecover')
      AND h.work_end >= $1
      AND ($3::text[] IS NULL
           OR CASE h.name WHEN 'WdPostSubmit' THEN 'post-submitted' ELSE 'post-recovery' END
              = ANY($3::text[]))
    ORDER BY h.work_end DESC, h.id DESC LIMIT $2)
  UNION ALL
  (SELECT 'c' || c.cid, c.submitted_at, 'post-faults', NULL, NULL, NULL, NULL, c.sp_id, NULL,
          NULL, NULL, coalesce(c.receipt, 'faults declared') || ' (message ' || c.cid || ')'
     FROM chain_messages c
    WHERE c.method = 'DeclareFaults' AND c.submitted_at >= $1 AND c.exit_code = 0
      AND ($3::text[] IS NULL OR 'post-faults' = ANY($3::text[]))
    ORDER BY c.submitted_at DESC, c.cid DESC LIMIT $2)
  UNION ALL
{sectors_and_blocks("$3")}) ev
ORDER BY at DESC, key DESC
LIMIT $2
"""


async def read_events(
    tx: Any, now: datetime, *, window: float, limit: int, kind: str | None = None
) -> EventsSnap:
    """The newest ``limit`` events of the last ``window`` seconds (harmony's schema); of those
    ``kind`` selects (see :func:`kind_matches`) when it is given."""
    since = now - timedelta(seconds=window)
    rows = await tx.select(EVENTS_SQL, since, limit, kinds_of(kind))
    return EventsSnap(tuple(event_from_row(r) for r in rows), since, limit)
