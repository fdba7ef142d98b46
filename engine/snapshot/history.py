"""Per-minute task outcomes over the last 24 hours, kept incrementally.

Counting a day of ``harmony_task_history`` on every refresh would scan up to millions of rows
each time. Instead the reader keeps per-(task type, minute) buckets:

* **New rows**: each refresh reads only rows whose ``work_end`` is at or after the watermark
  minus a short overlap (the ``harmony_task_history_work_end`` index), skipping ids already
  counted. The overlap catches rows whose transaction committed after a later one had been read
  (``work_end`` is the inserting transaction's ``now()``).
* **Backfill**: the part of the window before the first refresh is loaded once. A small history
  (``inline_rows``) is loaded by the first refresh itself; a big one newest first, in slices of
  at most ``slice_rows`` rows (the boundary found by an index probe), each in its own short
  transaction run *between* refreshes (:meth:`HistoryWindow.read_slice`), so no refresh pays for
  the whole day. Until it finishes the console shows how many hours are covered.
* Buckets older than the window are dropped.

The object is only mutated by :meth:`HistoryWindow.apply`, after the transaction that read the
rows succeeded, so a retried transaction never counts anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from .model import ChartSnap

if TYPE_CHECKING:
    from engine.harmonydb import Tx

__all__ = ["Bucket", "HistoryRead", "HistoryWindow"]

#: Outcomes that count as failures (``retry`` and ``failed``); ``preempted``, ``lost`` and
#: ``released`` attempts went back to the queue without being the task's fault.
FAILED_PREDICATE = "NOT result AND (outcome IS NULL OR outcome IN ('retry', 'failed'))"

NEW_ROWS = """
SELECT id, name, work_start, work_end, result,
       (NOT result AND (outcome IS NULL OR outcome IN ('retry', 'failed'))) AS failed
  FROM harmony_task_history
 WHERE work_end >= $1
 ORDER BY work_end, id
 LIMIT $2
"""

SLICE_PROBE = """
SELECT work_end
  FROM harmony_task_history
 WHERE work_end >= $1 AND work_end < $2
 ORDER BY work_end DESC, id DESC
 OFFSET $3 LIMIT 1
"""

SLICE = """
SELECT name, date_trunc('minute', work_end) AS minute,
       count(*) FILTER (WHERE result)::bigint AS done,
       count(*) FILTER (WHERE NOT result AND (outcome IS NULL OR outcome IN ('retry', 'failed')))
           ::bigint AS failed,
       coalesce(sum(extract(epoch FROM work_end - work_start)) FILTER (WHERE result), 0)::float8
           AS done_seconds
  FROM harmony_task_history
 WHERE work_end >= $1 AND work_end < $2
 GROUP BY 1, 2
 ORDER BY 1, 2
"""


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


class Bucket(NamedTuple):
    """Counts for one task type over the window (what :meth:`HistoryWindow.per_type` gives)."""

    done: int = 0
    failed: int = 0
    done_seconds: float = 0.0


#: one minute's counts of one task type: done, failed, seconds of the done attempts. A plain
#: tuple of numbers, replaced on every change: the garbage collector stops tracking exact
#: tuples of numbers (not a NamedTuple's), so the window's ~10,000 of them (24 h of minutes,
#: per type) are not walked by every full collection in the console's process, as mutable
#: records were
Counts = tuple[int, int, float]
NONE: Counts = (0, 0, 0.0)


@dataclass
class HistoryRead:
    """What one refresh read; applied to the window once the transaction succeeded."""

    now: datetime
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    slice_rows: list[dict[str, Any]] = field(default_factory=list)
    slice_lo: datetime | None = None


class HistoryWindow:
    """Per-minute done/failed counts and successful run time, per task type."""

    def __init__(
        self,
        window: timedelta = timedelta(hours=24),
        *,
        overlap: timedelta = timedelta(seconds=3),
        slice_rows: int = 20_000,
        inline_rows: int = 5_000,
        max_new_rows: int = 50_000,
    ) -> None:
        self.window = window
        self.overlap = overlap
        self.slice_rows = slice_rows
        self.inline_rows = inline_rows
        self.max_new_rows = max_new_rows
        self.buckets: dict[tuple[str, datetime], Counts] = {}
        #: start of the live part: rows with work_end >= t0 - overlap are read incrementally
        self.t0: datetime | None = None
        self.watermark: datetime | None = None
        #: ids counted from the overlap region, with their work_end (pruned as it moves)
        self.recent: dict[int, datetime] = {}
        #: the backfill has loaded [backfill_lo, t0 - overlap); None before the first refresh
        self.backfill_lo: datetime | None = None
        self.backfill_done = False

    # ---------------------------------------------------------------- reading (no mutation)

    async def read(self, tx: Tx, now: datetime) -> HistoryRead:
        """New rows since the watermark (every refresh). On the first refresh, a history small
        enough (at most ``inline_rows`` rows in the window) is loaded at once; a bigger one is
        left to :meth:`read_slice`, called between refreshes."""
        result = HistoryRead(now)
        t0 = self.t0 or now
        since = (self.watermark or t0) - self.overlap
        rows = await tx.select(NEW_ROWS, since, self.max_new_rows)
        result.new_rows = rows
        result.truncated = len(rows) >= self.max_new_rows
        if self.t0 is None and self.inline_rows > 0:
            floor, hi = t0 - self.window, t0 - self.overlap
            if await tx.query_value(SLICE_PROBE, floor, hi, self.inline_rows) is None:
                result.slice_rows = await tx.select(SLICE, floor, hi)
                result.slice_lo = floor
        return result

    async def read_slice(self, tx: Tx) -> HistoryRead:
        """The next backfill slice: at most ``slice_rows`` rows, newest first."""
        assert self.t0 is not None, "read() runs first"
        result = HistoryRead(self.t0)
        hi = self.backfill_lo or (self.t0 - self.overlap)
        floor = self.t0 - self.window
        if hi > floor:
            boundary = await tx.query_value(SLICE_PROBE, floor, hi, self.slice_rows)
            lo = floor if boundary is None else boundary
            result.slice_rows = await tx.select(SLICE, lo, hi)
            result.slice_lo = lo
        else:
            result.slice_lo = floor
        return result

    @property
    def backfill_pending(self) -> bool:
        return self.t0 is not None and not self.backfill_done

    # ---------------------------------------------------------------- applying

    def apply(self, read: HistoryRead) -> None:
        now = read.now
        if self.t0 is None:
            self.t0 = now
            self.watermark = now
        for row in read.new_rows:
            if row["id"] in self.recent:
                continue
            end: datetime = row["work_end"]
            self.recent[row["id"]] = end
            key = (row["name"], _minute(end))
            if row["result"]:
                seconds = max(0.0, (end - row["work_start"]).total_seconds())
                self._add(key, 1, 0, seconds)
            elif row["failed"]:
                self._add(key, 0, 1, 0.0)
            if self.watermark is None or end > self.watermark:
                self.watermark = end
        if self.watermark is not None:
            # The next read starts at watermark - overlap: remember exactly the ids it re-reads.
            cutoff = self.watermark - self.overlap
            self.recent = {i: t for i, t in self.recent.items() if t >= cutoff}
        for row in read.slice_rows:
            self._add((row["name"], row["minute"]), row["done"], row["failed"], row["done_seconds"])
        if read.slice_lo is not None:
            self.backfill_lo = read.slice_lo
            if self.t0 is not None and read.slice_lo <= self.t0 - self.window:
                self.backfill_done = True
        self._prune(now)

    def _add(self, key: tuple[str, datetime], done: int, failed: int, seconds: float) -> None:
        was_done, was_failed, was_seconds = self.buckets.get(key, NONE)
        self.buckets[key] = (was_done + done, was_failed + failed, was_seconds + seconds)

    def _prune(self, now: datetime) -> None:
        oldest = _minute(now - self.window)
        for key in [k for k in self.buckets if k[1] < oldest]:
            del self.buckets[key]

    # ---------------------------------------------------------------- results

    @property
    def hours_loaded(self) -> float:
        """How much of the window the counts cover."""
        if self.backfill_done:
            return self.window.total_seconds() / 3600
        if self.t0 is None or self.backfill_lo is None:
            return 0.0
        return max(0.0, (self.t0 - self.backfill_lo).total_seconds() / 3600)

    def per_type(self, now: datetime) -> dict[str, Bucket]:
        """Totals per task type over the window ending at ``now``."""
        oldest = _minute(now - self.window)
        totals: dict[str, Counts] = {}
        for (name, minute), (done, failed, seconds) in self.buckets.items():
            if minute >= oldest:
                was_done, was_failed, was_seconds = totals.get(name, NONE)
                totals[name] = (was_done + done, was_failed + failed, was_seconds + seconds)
        return {name: Bucket(*counts) for name, counts in totals.items()}

    def chart(self, now: datetime, minutes: int = 60, name: str | None = None) -> ChartSnap:
        """Done and failed per minute for the last ``minutes`` minutes (the current one last)."""
        last = _minute(now)
        stamps = tuple(last - timedelta(minutes=minutes - 1 - i) for i in range(minutes))
        done = [0] * minutes
        failed = [0] * minutes
        index = {m: i for i, m in enumerate(stamps)}
        for (task, minute), (done_n, failed_n, _) in self.buckets.items():
            i = index.get(minute)
            if i is None or (name is not None and task != name):
                continue
            done[i] += done_n
            failed[i] += failed_n
        return ChartSnap(stamps, tuple(done), tuple(failed))
