"""``CurioSnapshotReader``: one refresh of the console on a Curio cluster.

Unlike our reader (one repeatable-read transaction for every pane), each section is read in its
own short read-only transaction: Curio's schema changes with its releases, and a statement that
meets a column a release renamed must blank that one pane, with the error, not all five. The
rules of :mod:`engine.snapshot.reader` hold otherwise: ``now`` comes from the caller's clock,
every list is ordered by a unique key and limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from engine.harmonydb import HarmonyDBError

from ..alerts import LiveAlerts
from ..events import EventsSnap
from ..expirations import ExpirationsCache, ExpirationsSnap, read_curio_expirations
from ..jobs import JobTargets
from ..model import (
    ClusterSnapshot,
    PipelineSnap,
    PostSnap,
    QueueSnap,
    SectionError,
    StorageSnap,
)
from ..storage import read_counts
from ..timing import Timing
from .events import read_curio_events
from .kept import Kept
from .machines import DEAD_AFTER, STALE_AFTER, read_machines
from .pipeline import ProblemCache, read_pipeline
from .post import SectorCountCache, read_post
from .storage import read_storage
from .tasks import WindowCache, read_queues

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from ..jobs import JobTarget
    from ..model import (
        MachineSnap,
        RunningTaskSnap,
    )
    from ..sealing_history import SealingHistory
    from ..storage import Counts
    from ..timing import TimedTx
    from .chain import ChainWatch

__all__ = ["CurioSnapshotReader"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class CurioSnapshotReader:
    """Reads :class:`ClusterSnapshot`\\ s from a Curio schema (see the module docstring).

    Args:
        db: a session on the Curio schema (opened read-only: a foreign cluster always is).
        chain: where head, deadlines, faults and power come from; None: no Lotus node was
            given, and the PoSt pane says what it cannot know.
    """

    def __init__(
        self,
        db: DB,
        *,
        chain: ChainWatch | None = None,
        stale_after: float = STALE_AFTER,
        dead_after: float = DEAD_AFTER,
        stuck_after: float = 12 * 3600.0,
        running_limit: int = 2000,
        failed_limit: int = 200,
        history_limit: int = 200,
        history_scan: int = 50_000,
        sector_limit: int = 200,
        problem_limit: int = 100,
        counts_every: float = 30.0,
        sealing_history_limit: int = 100,
    ) -> None:
        self.db = db
        self.sealing_history_limit = sealing_history_limit
        self.chain = chain
        self.stale_after = stale_after
        self.dead_after = dead_after
        self.stuck_after = stuck_after
        self.running_limit = running_limit
        self.failed_limit = failed_limit
        self.history_limit = history_limit
        self.history_scan = history_scan
        self.sector_limit = sector_limit
        self.problem_limit = problem_limit
        #: seconds between re-reads of the per-path sector file counts (a scan of
        #: ``sector_location``, ~270 ms at a million files; they change at sealing pace)
        self.counts_every = counts_every
        self._counts: Kept[Counts] = Kept(counts_every)
        #: per-deadline sector counts without Lotus (they change every 15 min at most)
        self._post_counts = SectorCountCache()
        #: the day's task totals and given-up tasks (a scan of the day's history)
        self._window = WindowCache()
        #: the failed and stuck sectors (each candidate's stage start from its events)
        self._problems = ProblemCache()
        #: the sealing history as last read (read only while its view is shown)
        self._sealing_history: SealingHistory | None = None
        #: what each running task works on (sector, deadline), remembered by task id
        self._targets = JobTargets()
        #: the events as last read (read only while the Events pane shows them)
        self._events = EventsSnap.empty()
        #: the Curio alert checks, evaluated live (nothing is stored on a Curio cluster)
        self._alerts = LiveAlerts()
        #: sector expirations from sectors_meta at Lotus's head (read while miners are shown)
        self._expirations = ExpirationsCache()
        self.events_window = 24 * 3600.0
        self.events_limit = 500
        #: wall time of the last snapshot() (queries, decoding and building), milliseconds
        self.last_wall_ms = 0.0

    @property
    def backfill_pending(self) -> bool:
        """Nothing is loaded in slices here: the 24 h counts are one aggregate per refresh."""
        return False

    async def backfill_step(self) -> float:
        return 0.0

    async def snapshot(
        self,
        now: datetime,
        *,
        history_filter: str | None = None,
        lists: Collection[str] | None = None,
    ) -> ClusterSnapshot:
        """Read every section once (``now`` must be aware UTC). ``lists`` is the console's: of
        the detail lists ``"jobs"`` (the running tasks' targets), ``"events"`` and
        ``"sealing_history"`` (searched by ``history_filter``) are skipped when not named (each
        other section here is small and bounded, and always read)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        started = time.perf_counter()
        history_filter = (history_filter or "").strip() or None
        timing = Timing()
        errors: list[SectionError] = []

        async def section(name: str, read: Callable[[TimedTx], Awaitable[T]], empty: T) -> T:
            async def run(tx: Tx) -> T:
                return await read(timing.wrap(tx))

            try:
                return await self.db.transaction(run, isolation="repeatable_read")
            except HarmonyDBError as exc:
                errors.append(SectionError(name, _one_line(str(exc)) or type(exc).__name__))
            except Exception as exc:  # a row shaped unlike any Curio release we know
                log.exception("reading the %s of the Curio cluster failed", name)
                errors.append(SectionError(name, f"{type(exc).__name__}: {_one_line(str(exc))}"))
            return empty

        no_machines: tuple[tuple[MachineSnap, ...], tuple[RunningTaskSnap, ...]] = ((), ())
        machines, running = await section(
            "machines",
            lambda tx: read_machines(
                tx,
                now,
                stale_after=self.stale_after,
                dead_after=self.dead_after,
                running_limit=self.running_limit,
            ),
            no_machines,
        )
        ids = [t.id for t in running]
        targets: dict[int, JobTarget] = self._targets.known(ids)
        if lists is None or "jobs" in lists:
            targets = await section("jobs", lambda tx: self._targets.read(tx, ids), targets)
        queues: QueueSnap = await section(
            "tasks",
            lambda tx: read_queues(
                tx,
                now,
                history_filter=history_filter,
                history_limit=self.history_limit,
                history_scan=self.history_scan,
                failed_limit=self.failed_limit,
                cache=self._window,
            ),
            QueueSnap.empty(history_filter),
        )
        # The latest chain state known; never waits for Lotus (a refresh is started in the
        # background when the last one is old).
        chain = None if self.chain is None else self.chain.latest(now)
        post: PostSnap = await section(
            "post",
            lambda tx: read_post(tx, now, chain, cache=self._post_counts),
            PostSnap.empty(),
        )
        if self.chain is not None:
            self.chain.follow(m.sp_id for m in post.miners)
        pipeline: PipelineSnap = await section(
            "pipeline",
            lambda tx: read_pipeline(
                tx,
                now,
                head_epoch=post.head_epoch,
                stuck_after=self.stuck_after,
                sector_limit=self.sector_limit,
                problem_limit=self.problem_limit,
                cache=self._problems,
                history=lists is None or "sealing_history" in lists,
                history_limit=self.sealing_history_limit,
                history_search=history_filter,
                previous_history=self._sealing_history,
            ),
            PipelineSnap.empty(self.stuck_after),
        )
        self._sealing_history = pipeline.history
        if lists is None or "miners" in lists:
            await section(
                "expirations",
                lambda tx: self._expirations.read(
                    now, lambda: read_curio_expirations(tx, post.head_epoch, post.profile, now)
                ),
                ExpirationsSnap.empty(),
            )
        storage: StorageSnap = await section("storage", self._storage(now), StorageSnap(()))
        try:
            shown = lists is None or "alerts" in lists
            alerts = await self._alerts.read(self.db, now, shown=shown, chain=chain)
        except HarmonyDBError as exc:  # the last evaluation stays; the pane says why
            errors.append(SectionError("alerts", _one_line(str(exc)) or type(exc).__name__))
            alerts = self._alerts.snap
        if lists is None or "events" in lists:
            self._events = await section(
                "events",
                lambda tx: read_curio_events(
                    tx,
                    now,
                    window=self.events_window,
                    limit=self.events_limit,
                    dead_after=self.dead_after,
                ),
                self._events,
            )
        snap = ClusterSnapshot(
            taken_at=now,
            db_ms=timing.ms,
            statements=timing.statements,
            machines=machines,
            running=running,
            queues=queues,
            pipeline=pipeline,
            storage=storage,
            post=post,
            errors=tuple(errors),
            cluster="curio",
            job_targets=targets,
            events=self._events,
            expirations=self._expirations.snap,
            alerts=alerts,
        )
        self.last_wall_ms = (time.perf_counter() - started) * 1000
        return snap

    def _storage(self, now: datetime) -> Callable[[TimedTx], Awaitable[StorageSnap]]:
        async def read(tx: TimedTx) -> StorageSnap:
            kept = self._counts
            fresh = kept.fresh(None, now) and kept.value is not None
            counts = kept.value if fresh else await read_counts(tx)  # type: ignore[arg-type]
            snap = await read_storage(tx, now, counts=counts)
            if not fresh:
                kept.keep(None, now, counts)  # once the section's read succeeded
            return snap

        return read


def _one_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
