"""``SnapshotReader``: one refresh of the console as a small, fixed set of bounded queries.

Every refresh runs the same statements (about twenty: aggregates, primary-key lookups and
``LIMIT``ed lists) in one repeatable-read transaction, so every pane shows the same instant.
Rules, so that a fixed clock and fixed rows give the same screen every time (the console's
snapshot tests depend on it) and a refresh costs the same on a large cluster as on a small one:

* ``now`` comes from the caller's clock and is passed as a parameter; no statement reads the
  server's clock, which a test cannot freeze;
* every ``ORDER BY`` ends in a unique key (ties would otherwise come back in any order) and
  every list has a ``LIMIT``;
* the 24 h task counts come from :class:`~engine.snapshot.history.HistoryWindow`, which reads
  only new history rows after the first refresh.

The reader only SELECTs: it works under a role that may do nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.chain import EpochClock
from engine.harmonytask.machine_state import MACHINE_STATE_SQL, MachineState

from .alerts import AlertsCache, AlertsSnap, read_alerts
from .events import EventsSnap, read_events
from .expirations import ExpirationsCache, read_expirations
from .history import HistoryRead, HistoryWindow
from .jobs import JobTarget, JobTargets
from .miners import OwnMinerFigures
from .model import (
    ClusterSnapshot,
    FailedTaskSnap,
    HistorySnap,
    MachineSnap,
    PipelineSnap,
    PostSnap,
    QueueSnap,
    RunningTaskSnap,
    SectorProblem,
    SectorStrip,
    StorageSnap,
    TaskTypeSnap,
)
from .pipeline import (
    PipelineRead,
    build_loads,
    build_problem,
    build_strip,
    build_summaries,
    read_pipeline,
)
from .post import PostCache, read_post
from .storage import Counts, SectorBytes, read_sector_files, read_storage
from .timing import Timing

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = ["LISTS", "SnapshotReader"]

#: Sections whose statements scan a table that grows with the cluster (the task queue's counts
#: per type, the sealing pipeline's summary): read at every refresh while a view on screen shows
#: them (their name in ``lists``), else every ``hidden_every`` seconds, so the default pane's
#: refresh reads neither at every refresh.
ON_SCREEN = ("tasks", "pipeline")

#: Detail lists a refresh may skip (carried over from the previous one) when nobody shows them.
LISTS = ("sectors", "history", "jobs", "sealing_history", "events", "miners", "alerts")

MACHINES = (
    """
SELECT m.id, m.host_and_port, coalesce(d.machine_name, m.host_and_port) AS name, """
    + MACHINE_STATE_SQL
    + """ AS state,
       m.cpu, m.ram, m.gpu, m.cpu_load, m.ram_used, m.gpu_used, m.last_contact,
       d.startup_time, d.version, d.tasks, coalesce(r.n, 0)::int AS running,
       coalesce('boot:' || m.boot_id, 'host:' || m.hostname, '') AS host
  FROM harmony_machines m
  LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
  LEFT JOIN (SELECT owner_id, count(*) AS n FROM harmony_task
              WHERE owner_id IS NOT NULL GROUP BY owner_id) r ON r.owner_id = m.id
 ORDER BY coalesce(d.machine_name, m.host_and_port), m.id
 LIMIT 1000
"""
)

RUNNING = """
SELECT id, name, owner_id, claimed_at, posted_time, attempt, retries
  FROM harmony_task
 WHERE owner_id IS NOT NULL
 ORDER BY claimed_at, id
 LIMIT $1
"""

TASK_TYPES = """
SELECT name,
       count(*) FILTER (WHERE owner_id IS NULL AND failed_at IS NULL) AS pending,
       count(*) FILTER (WHERE owner_id IS NULL AND failed_at IS NULL AND retry_after > $1)
           AS waiting,
       count(*) FILTER (WHERE owner_id IS NOT NULL) AS running,
       count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed,
       min(posted_time) FILTER (WHERE owner_id IS NULL AND failed_at IS NULL) AS oldest_pending
  FROM harmony_task
 GROUP BY name
 ORDER BY name
 LIMIT 1000
"""

FAILED_TASKS = """
SELECT id, name, failed_at, retries, last_error
  FROM harmony_task
 WHERE failed_at IS NOT NULL
 ORDER BY failed_at DESC, id DESC
 LIMIT $1
"""

HISTORY = """
SELECT id, task_id, name, work_start, work_end, result, outcome, err,
       completed_by_host_and_port AS host
  FROM harmony_task_history
 ORDER BY work_end DESC, id DESC
 LIMIT $1
"""

# A filter looks at the newest $3 attempts only, so a rare match never scans the whole table.
HISTORY_FILTERED = """
SELECT * FROM (
    SELECT id, task_id, name, work_start, work_end, result, outcome, err,
           completed_by_host_and_port AS host
      FROM harmony_task_history
     ORDER BY work_end DESC, id DESC
     LIMIT $3
) h
 WHERE h.name ILIKE $2 OR h.err ILIKE $2 OR h.host ILIKE $2 OR h.outcome ILIKE $2
    OR h.task_id::text = $4
 ORDER BY work_end DESC, id DESC
 LIMIT $1
"""


@dataclass
class _Read:
    machines: list[dict[str, Any]]
    running: list[dict[str, Any]]
    types: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    history: list[dict[str, Any]]
    window: HistoryRead
    pipeline: PipelineRead
    storage: StorageSnap
    post: PostSnap
    #: the declared sector files per path: counts per type, and their bytes
    counts: tuple[Counts, SectorBytes]
    #: what each running task works on (read while jobs are shown, else as known)
    targets: dict[int, JobTarget]
    #: the badge's count, and the open alerts while they are shown
    alerts: AlertsSnap


def _age(now: datetime, ts: datetime | None) -> float | None:
    return None if ts is None else max(0.0, (now - ts).total_seconds())


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


#: the longest building a snapshot holds the event loop before it lets the loop run again
BUILD_SLICE_S = 0.003
#: records built between two looks at the clock while building
BUILD_CHECK_EVERY = 32

T = TypeVar("T")
R = TypeVar("R")


async def build_in_slices(steps: Generator[None, None, T]) -> T:
    """Run ``steps`` (a generator that yields between parts of its work) to its value, letting
    the event loop run every :data:`BUILD_SLICE_S` of it.

    Turning the rows read into a snapshot (the pipeline's strips, the 24 h counts and chart) is
    10-30 ms of Python a refresh at the benchmark's size. In one step it held the console's
    loop; on a thread of its own it held the interpreter's lock against the loop, so a paint
    that ran meanwhile took the two together (each thread takes the lock back every switch
    interval). In slices a key or a paint waits for one slice at most, and nothing shares
    the lock.
    """
    deadline = time.perf_counter() + BUILD_SLICE_S
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + BUILD_SLICE_S


def _each(items: Iterable[R], make: Callable[[R], T], into: list[T]) -> Generator[None, None, None]:
    """``make`` each item into ``into``, yielding every :data:`BUILD_CHECK_EVERY` items."""
    for i, item in enumerate(items, start=1):
        into.append(make(item))
        if i % BUILD_CHECK_EVERY == 0:
            yield


class SnapshotReader:
    """Reads :class:`ClusterSnapshot`\\ s; keeps the incremental 24 h history between them.

    Args:
        db: a pool on the cluster's schema (read-only is enough).
        stale_after: seconds without a heartbeat after which a live machine is marked stale.
        stuck_after: seconds in one pipeline stage after which a sector is listed as stuck
            (Curio's GUI turns dates older than 12 h red).
        counts_every: seconds between re-reads of the per-path sector file counts (a scan of
            ``sector_location``; files come and go at sealing pace).
        problems_every: seconds between re-reads of the failed/stuck sector list (stuck is
            measured in hours; a failure shows within this many seconds).
        hidden_every: seconds between re-reads of a section in :data:`ON_SCREEN` while no
            view on screen shows it (its name not in ``lists``); shown, it is read every time.
    """

    def __init__(
        self,
        db: DB,
        *,
        stale_after: float = 10.0,
        stuck_after: float = 12 * 3600.0,
        window: HistoryWindow | None = None,
        running_limit: int = 2000,
        failed_limit: int = 200,
        history_limit: int = 200,
        history_scan: int = 50_000,
        sector_limit: int = 200,
        problem_limit: int = 100,
        counts_every: float = 30.0,
        problems_every: float = 10.0,
        hidden_every: float = 10.0,
        sealing_history_limit: int = 100,
        events_window: float = 24 * 3600.0,
        events_limit: int = 500,
    ) -> None:
        self.db = db
        self.sealing_history_limit = sealing_history_limit
        self.counts_every = counts_every
        self.problems_every = problems_every
        self.hidden_every = hidden_every
        #: when each section of ON_SCREEN was last read
        self._section_at: dict[str, datetime] = {}
        self._problems_at: datetime | None = None
        self._counts: tuple[Counts, SectorBytes] = ({}, {})
        self._counts_at: datetime | None = None
        self._post_cache = PostCache()
        self._targets = JobTargets()
        #: power and WinningPoSt of each miner (WinningPoSt read while miners are shown)
        self._miner_figures = OwnMinerFigures()
        #: sector expirations per miner (read while miners are shown)
        self._expirations = ExpirationsCache()
        #: the events as last read (read only while the Events pane shows them)
        self._events = EventsSnap.empty()
        #: the open alerts as last listed (listed only while the Alerts pane shows them)
        self._alerts = AlertsCache()
        self.events_window = events_window
        self.events_limit = events_limit
        self._last: _Read | None = None
        self._last_filter: str | None = None
        #: wall time of the last snapshot() (queries, decoding and building), milliseconds
        self.last_wall_ms = 0.0
        self.stale_after = stale_after
        self.stuck_after = stuck_after
        self.window = window or HistoryWindow()
        self.running_limit = running_limit
        self.failed_limit = failed_limit
        self.history_limit = history_limit
        self.history_scan = history_scan
        self.sector_limit = sector_limit
        self.problem_limit = problem_limit

    async def snapshot(
        self,
        now: datetime,
        *,
        history_filter: str | None = None,
        lists: Collection[str] | None = None,
    ) -> ClusterSnapshot:
        """Run the query set once and build the snapshot (``now`` must be aware UTC).

        ``lists`` names the detail lists to read this time, out of :data:`LISTS`
        (``"sectors"``: the pipeline strip and problem lists, ``"history"``: recent attempts);
        the others are carried over from the previous snapshot. None reads all.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        started = time.perf_counter()
        history_filter = (history_filter or "").strip() or None
        # The filter is the shown history's: the tasks' attempts, or the sealing history's
        # search while that is shown (then the tasks' stay as last read).
        task_filter = (
            self._last_filter
            if lists is not None and "history" not in lists and "sealing_history" in lists
            else history_filter
        )
        counts_due = self._counts_at is None or (
            abs((now - self._counts_at).total_seconds()) >= self.counts_every
        )
        problems_due = self._problems_at is None or (
            abs((now - self._problems_at).total_seconds()) >= self.problems_every
        )
        timing = Timing()

        def want(name: str) -> bool:
            return lists is None or name in lists

        def due(section: str, *shown_by: str) -> bool:
            if self._last is None or want(section) or any(want(n) for n in shown_by):
                return True
            at = self._section_at.get(section)
            return at is None or abs((now - at).total_seconds()) >= self.hidden_every

        tasks_due = due("tasks")
        pipeline_due = due("pipeline", "sectors", "sealing_history")

        async def read(raw_tx: Tx) -> _Read:
            tx = timing.wrap(raw_tx)
            machines = await tx.select(MACHINES)
            running = await tx.select(RUNNING, self.running_limit)
            ids = [r["id"] for r in running]
            targets = (
                await self._targets.read(tx, ids) if want("jobs") else self._targets.known(ids)
            )
            if tasks_due or self._last is None:
                types = await tx.select(TASK_TYPES, now)
                failed = await tx.select(FAILED_TASKS, self.failed_limit)
            else:
                types, failed = self._last.types, self._last.failed
            if not want("history") and self._last is not None and task_filter == self._last_filter:
                history = self._last.history
            elif task_filter is None:
                history = await tx.select(HISTORY, self.history_limit)
            else:
                history = await tx.select(
                    HISTORY_FILTERED,
                    self.history_limit,
                    _like(task_filter),
                    self.history_scan,
                    task_filter,
                )
            window = await self.window.read(tx, now)  # type: ignore[arg-type]
            post = await read_post(tx, now, self._post_cache)  # type: ignore[arg-type]
            if want("miners"):
                await self._miner_figures.read(tx, post, now)
            post = self._miner_figures.apply(post)
            head = post.head_epoch
            if head is None and post.profile is not None and post.genesis is not None:
                head = EpochClock(post.genesis, post.profile).epoch_at(now)
            if want("miners") and post.profile is not None:
                day, block_time = post.profile.epochs_per_day, post.profile.block_time
                await self._expirations.read(
                    now,
                    lambda: read_expirations(tx, head, day, block_time),  # type: ignore[arg-type]
                )
            if pipeline_due or self._last is None:
                pipeline = await read_pipeline(
                    tx,  # type: ignore[arg-type]
                    head,
                    now,
                    self.stuck_after,
                    self.sector_limit,
                    self.problem_limit,
                    None if self._last is None else self._last.pipeline,
                    sectors=want("sectors"),
                    problems=want("sectors") and problems_due,
                    history=want("sealing_history"),
                    history_limit=self.sealing_history_limit,
                    history_search=history_filter if want("sealing_history") else None,
                )
            else:
                pipeline = self._last.pipeline
            if want("events"):
                self._events = await read_events(
                    tx, now, window=self.events_window, limit=self.events_limit
                )
            counts = await read_sector_files(tx) if counts_due else self._counts  # type: ignore[arg-type]
            storage = await read_storage(tx, now, counts[0], sector_bytes=counts[1])  # type: ignore[arg-type]
            alerts = await read_alerts(tx, now, self._alerts, listed=want("alerts"))
            return _Read(
                machines,
                running,
                types,
                failed,
                history,
                window,
                pipeline,
                storage,
                post,
                counts,
                targets,
                alerts,
            )

        raw = await self.db.transaction(read, isolation="repeatable_read")
        self._last, self._last_filter = raw, task_filter
        self.window.apply(raw.window)
        if counts_due:
            self._counts, self._counts_at = raw.counts, now
        for section, read_now in (("tasks", tasks_due), ("pipeline", pipeline_due)):
            if read_now:
                self._section_at[section] = now
        if problems_due and (lists is None or "sectors" in lists):
            self._problems_at = now
        snap = await build_in_slices(self._build(raw, now, timing, task_filter))
        self.last_wall_ms = (time.perf_counter() - started) * 1000
        return snap

    @property
    def backfill_pending(self) -> bool:
        """The 24 h history is not fully loaded yet (see :meth:`backfill_step`)."""
        return self.window.backfill_pending

    async def backfill_step(self) -> float:
        """Load one slice of the 24 h history (its own short transaction, never inside a
        refresh); returns the milliseconds it took. Call between refreshes until
        :attr:`backfill_pending` is False."""
        if not self.window.backfill_pending:
            return 0.0
        started = time.perf_counter()

        async def read(tx: Tx) -> HistoryRead:
            return await self.window.read_slice(tx)

        self.window.apply(await self.db.transaction(read))
        return (time.perf_counter() - started) * 1000

    # ------------------------------------------------------------------ building

    def _build(
        self, raw: _Read, now: datetime, timing: Timing, history_filter: str | None
    ) -> Generator[None, None, ClusterSnapshot]:
        """The snapshot from what was read, in steps (see :func:`build_in_slices`)."""
        machines: list[MachineSnap] = []
        yield from _each(raw.machines, lambda r: self._machine(r, now), machines)
        running: list[RunningTaskSnap] = []
        yield from _each(raw.running, lambda r: self._running(r, now), running)
        totals = self.window.per_type(now)
        yield
        names = sorted({r["name"] for r in raw.types} | set(totals))
        by_name = {r["name"]: r for r in raw.types}
        types = []
        for name in names:
            q = by_name.get(name, {})
            h = totals.get(name)
            types.append(
                TaskTypeSnap(
                    name=name,
                    pending=int(q.get("pending", 0)),
                    waiting=int(q.get("waiting", 0)),
                    running=int(q.get("running", 0)),
                    failed=int(q.get("failed", 0)),
                    oldest_pending=q.get("oldest_pending"),
                    oldest_age=_age(now, q.get("oldest_pending")),
                    done_24h=h.done if h else 0,
                    failed_24h=h.failed if h else 0,
                    mean_seconds=(h.done_seconds / h.done) if h and h.done else None,
                )
            )
        chart = self.window.chart(now)
        yield
        queues = QueueSnap(
            types=tuple(types),
            failed_tasks=tuple(
                FailedTaskSnap(
                    r["id"],
                    r["name"],
                    r["failed_at"],
                    _age(now, r["failed_at"]) or 0.0,
                    r["retries"],
                    r["last_error"],
                )
                for r in raw.failed
            ),
            failed_total=sum(t.failed for t in types),
            history=tuple(HistorySnap(**r) for r in raw.history),
            history_filter=history_filter,
            chart=chart,
            window_hours=self.window.hours_loaded,
            done_24h=sum(t.done_24h for t in types),
            failed_24h=sum(t.failed_24h for t in types),
        )
        yield
        p = raw.pipeline
        head = raw.post.head_epoch
        summaries = build_summaries(p.summaries)
        strips: list[SectorStrip] = []
        yield from _each(
            p.sectors, lambda r: build_strip(r, p.tasks, head, now, self.stuck_after), strips
        )
        problems: list[SectorProblem] = []
        yield from _each(p.problems, lambda r: build_problem(r, p.tasks, head, now), problems)
        pipeline = PipelineSnap(
            head_epoch=head,
            summaries=summaries,
            loads=build_loads(summaries),
            sectors=tuple(strips),
            in_progress=sum(int(r["in_progress"]) for r in p.summaries),
            problems=tuple(problems),
            stuck_after=self.stuck_after,
            history=p.history,
        )
        return ClusterSnapshot(
            taken_at=now,
            db_ms=timing.ms,
            statements=timing.statements,
            machines=tuple(machines),
            running=tuple(running),
            queues=queues,
            pipeline=pipeline,
            storage=raw.storage,
            post=raw.post,
            job_targets=raw.targets,
            events=self._events,
            alerts=raw.alerts,
            expirations=self._expirations.snap,
        )

    @staticmethod
    def _running(r: dict[str, Any], now: datetime) -> RunningTaskSnap:
        return RunningTaskSnap(
            id=r["id"],
            name=r["name"],
            owner_id=r["owner_id"],
            claimed_at=r["claimed_at"],
            posted_time=r["posted_time"],
            attempt=r["attempt"],
            retries=r["retries"],
            elapsed=_age(now, r["claimed_at"]) or 0.0,
        )

    def _machine(self, r: dict[str, Any], now: datetime) -> MachineSnap:
        age = _age(now, r["last_contact"]) or 0.0
        state = MachineState(r["state"])
        return MachineSnap(
            id=r["id"],
            host_and_port=r["host_and_port"],
            name=r["name"],
            state=state,
            cpu=r["cpu"],
            ram=r["ram"],
            gpu=r["gpu"],
            cpu_load=r["cpu_load"],
            ram_used=r["ram_used"],
            gpu_used=r["gpu_used"],
            last_contact=r["last_contact"],
            contact_age=age,
            stale=state.alive and age > self.stale_after,
            startup_time=r["startup_time"],
            version=r["version"],
            tasks=tuple(t for t in (r["tasks"] or "").split(",") if t),
            running=r["running"],
            host=r["host"],
        )
