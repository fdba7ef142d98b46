"""Cluster-wide figures for the metrics endpoint: one cached read per interval.

Queue depth by type, machines by state, storage paths, miners, the sealing pipeline: figures of
the whole cluster, read from the database with the console's own query set
(:class:`~engine.snapshot.reader.SnapshotReader`, in one repeatable-read transaction) plus the
PoSt events of the last day (:func:`~engine.snapshot.events.read_events`). A scrape never runs
them itself per series: the first scrape after the interval starts one refresh on the event
loop, every scrape meanwhile shares it, and each serves the figures last read with their age
(``harmony_cluster_figures_age_seconds``). A refresh that fails keeps the previous figures and
counts the error; the endpoint still answers.

The open alerts (``harmony_alerts``) are read in the same refresh, by one more statement:
their counts by check, severity and state, and the first-seen time of the most severe and
oldest :data:`ALERT_SERIES_LIMIT` of them (one series each: the cap bounds the label
cardinality whatever a check finds; the counts stay whole).

Times (a deadline's open and close) are kept as instants and turned into "seconds from now" at
scrape time, so a cached figure still counts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError
from engine.snapshot.events import EventKind, read_events
from engine.snapshot.post import current_deadline, deadline_times, next_non_empty
from engine.snapshot.reader import SnapshotReader

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.events import EventsSnap
    from engine.snapshot.model import ClusterSnapshot

log = logging.getLogger(__name__)

__all__ = [
    "AlertCount",
    "AlertFigures",
    "ClusterFigures",
    "ClusterGauges",
    "MinerDeadlines",
    "OpenAlert",
]

#: How often the cluster-wide figures are re-read at most (Prometheus's default scrape
#: interval is 15 s; a faster scrape sees the same figures with a growing age).
DEFAULT_INTERVAL = 15.0

#: How long a scrape waits for a refresh it started or found running before it serves the
#: figures it has (the first scrape waits for the first read).
DEFAULT_WAIT = 5.0

#: The window and the most events the PoSt counts read (submitted proofs and missed
#: partitions of the last day; past this many the counts stop growing).
POST_WINDOW = 24 * 3600.0
POST_EVENT_LIMIT = 10_000

#: The most open alerts served one by one (``harmony_alert_first_seen_timestamp_seconds``):
#: the most severe and oldest first. Each is a series with its own labels; past this many an
#: alert is still counted in ``harmony_alerts``, just not listed.
ALERT_SERIES_LIMIT = 200

#: Open alerts (not cleared) by check, severity and state (``new``: neither acknowledged nor
#: muted; ``acked``; ``muted``: muted now, acknowledged or not — the states ``harmony alerts
#: list`` shows), and the first ``$1`` of them one by one, in one statement.
ALERTS_QUERY = """
WITH open AS (
    SELECT id, check_name, subject, severity, first_seen,
           CASE WHEN muted_until > now() THEN 'muted'
                WHEN acked_at IS NOT NULL THEN 'acked'
                ELSE 'new' END AS state,
           CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END AS rank
      FROM harmony_alerts WHERE cleared_at IS NULL
)
SELECT false AS one, check_name, NULL::text AS subject, severity, state, count(*) AS n,
       NULL::float8 AS first_seen, NULL::int AS rank, NULL::timestamptz AS at, NULL::bigint AS id
  FROM open GROUP BY check_name, severity, state
UNION ALL
(SELECT true, check_name, subject, severity, state, 1, extract(epoch FROM first_seen)::float8,
        rank, first_seen, id
   FROM open ORDER BY rank, first_seen, id LIMIT $1)
"""


@dataclass(frozen=True)
class AlertCount:
    """How many open alerts of one check have this severity and state."""

    check: str
    severity: str
    state: str
    count: int


@dataclass(frozen=True)
class OpenAlert:
    """One open alert, as its series shows it."""

    check: str
    subject: str
    severity: str
    state: str
    #: Unix time
    first_seen: float


@dataclass(frozen=True)
class AlertFigures:
    """The open alerts counted, and the first :data:`ALERT_SERIES_LIMIT` of them listed."""

    counts: list[AlertCount]
    listed: list[OpenAlert]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)


async def read_alerts(tx: Tx, limit: int = ALERT_SERIES_LIMIT) -> AlertFigures:
    """The open alerts, counted and (the first ``limit``) listed, most severe and oldest
    first."""
    rows = await tx.select(ALERTS_QUERY, limit)
    counts = [
        AlertCount(r["check_name"], r["severity"], r["state"], int(r["n"]))
        for r in rows
        if not r["one"]
    ]
    ones = sorted((r for r in rows if r["one"]), key=lambda r: (r["rank"], r["at"], r["id"]))
    listed = [
        OpenAlert(r["check_name"], r["subject"], r["severity"], r["state"], r["first_seen"])
        for r in ones
    ]
    counts.sort(key=lambda c: (c.check, c.severity, c.state))
    return AlertFigures(counts, listed)


@dataclass(frozen=True)
class MinerDeadlines:
    """When one miner's deadlines open and close, as Unix times."""

    #: the deadline open now and when it closes
    current_index: int | None
    current_close: float | None
    #: the next deadline after it holding live sectors, and its open and close
    next_index: int | None
    next_open: float | None
    next_close: float | None


@dataclass(frozen=True)
class ClusterFigures:
    """One refresh: the snapshot, the deadlines placed, the PoSt counts of the last day."""

    snapshot: ClusterSnapshot
    #: by miner id
    deadlines: dict[int, MinerDeadlines]
    #: by miner id: submitted WindowPoSt proofs and partitions that missed their deadline
    post_submitted: dict[int, int]
    post_missed: dict[int, int]
    #: the open alerts
    alerts: AlertFigures
    #: this process's monotonic clock when it was read, and how long the read took
    read_at: float
    read_seconds: float


@dataclass
class ClusterGauges:
    """The cached figures and their refresh (runs on the event loop that serves scrapes)."""

    db: DB
    interval: float = DEFAULT_INTERVAL
    wait: float = DEFAULT_WAIT
    monotonic: Callable[[], float] = time.monotonic
    figures: ClusterFigures | None = None
    #: refreshes that failed (the previous figures stay served)
    errors: int = 0
    _reader: SnapshotReader | None = field(default=None, repr=False)
    _refreshing: asyncio.Task[None] | None = field(default=None, repr=False)
    _failing: bool = field(default=False, repr=False)

    def age(self) -> float | None:
        """Seconds since the figures served were read (None: none read yet)."""
        return None if self.figures is None else self.monotonic() - self.figures.read_at

    def due(self) -> bool:
        age = self.age()
        return age is None or age >= self.interval

    async def fresh(self) -> None:
        """Before a scrape: start a refresh if the figures are due (one at a time) and wait
        for it at most ``wait`` seconds; it goes on in the background past that."""
        task = self._refreshing
        if (task is None or task.done()) and self.due():
            task = self._refreshing = asyncio.get_running_loop().create_task(
                self._refresh(), name="metrics-cluster-refresh"
            )
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=self.wait)

    async def close(self) -> None:
        task = self._refreshing
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _refresh(self) -> None:
        started = self.monotonic()
        try:
            figures = await self.read(started)
        except (HarmonyDBError, OSError) as exc:
            self._failed(exc, traceback=False)
            return
        except Exception as exc:
            # Figures for monitoring must not take the machine down; say what broke.
            self._failed(exc, traceback=True)
            return
        if self._failing:
            log.warning("metrics: the cluster's figures are read again")
            self._failing = False
        self.figures = figures

    def _failed(self, exc: BaseException, *, traceback: bool) -> None:
        """Count it; log the first of a run of failures (a warning each scrape interval
        while the database is down would bury the engine's own lines), the rest at debug."""
        self.errors += 1
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(
            level,
            "metrics: reading the cluster's figures failed (the last figures read stay "
            "served, with their age): %s",
            exc,
            exc_info=traceback,
        )

    async def read(self, started: float) -> ClusterFigures:
        """Read the figures now (what a due refresh runs)."""
        if self._reader is None:
            self._reader = SnapshotReader(self.db)
        now = datetime.now(UTC)
        # "tasks" and "pipeline" as if on screen: their counts are read every time, not
        # every ``hidden_every`` seconds (this read is already once per interval).
        snap = await self._reader.snapshot(now, lists=("tasks", "pipeline", "miners"))

        async def post_events(tx: Tx) -> EventsSnap:
            return await read_events(
                tx, now, window=POST_WINDOW, limit=POST_EVENT_LIMIT, kind="post"
            )

        events = await self.db.transaction(post_events)
        alerts = await self.db.transaction(read_alerts)
        submitted: dict[int, int] = {}
        missed: dict[int, int] = {}
        for event in events.events:
            if event.sp_id is None:
                continue
            if event.kind == EventKind.POST_SUBMITTED:
                submitted[event.sp_id] = submitted.get(event.sp_id, 0) + 1
            elif event.kind == EventKind.POST_MISSED:
                missed[event.sp_id] = missed.get(event.sp_id, 0) + 1
        return ClusterFigures(
            snapshot=snap,
            deadlines=_deadlines(snap, now),
            post_submitted=submitted,
            post_missed=missed,
            alerts=alerts,
            read_at=self.monotonic(),
            read_seconds=self.monotonic() - started,
        )


def _deadlines(snap: ClusterSnapshot, now: datetime) -> dict[int, MinerDeadlines]:
    post = snap.post
    out: dict[int, MinerDeadlines] = {}
    for miner in post.miners:
        current = current_deadline(post, miner, now)
        following = next_non_empty(post, miner, now)
        current_close = (
            deadline_times(post, current).close.timestamp() if current is not None else None
        )
        if following is not None:
            info, _ = following
            times = deadline_times(post, info)
            nxt = (info.index, times.open.timestamp(), times.close.timestamp())
        else:
            nxt = (None, None, None)
        out[miner.sp_id] = MinerDeadlines(
            current.index if current is not None else None, current_close, *nxt
        )
    return out
