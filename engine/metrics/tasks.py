"""What this machine's engine did, by task type: the counters and histograms behind
``harmony_tasks_*_total`` and ``harmony_task_*_seconds``.

The engine calls these at the points where the events happen (a claim, a completion, a failed
attempt, a preemption), on its event loop, for every task: ~10,000 a second on no-op tasks.
So they are plain integer and float updates on per-type records, not prometheus_client metric
objects (each of those takes a lock and looks up its label set on every update: several
microseconds a task, which ``harmony bench engine`` shows). The exposition reads these
records at scrape time (:mod:`.collector`), on the same event loop, so nothing here needs a
lock. No import of prometheus_client here: the engine loads this module whether or not
metrics are served.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "PICKUP_BUCKETS",
    "RUN_BUCKETS",
    "Histogram",
    "TaskMetrics",
    "TypeTally",
]

#: Run time of an attempt, seconds: from milliseconds (no-op and message tasks) to the ten
#: hours Curio's buckets end at (a 32 GiB SDR on a slow machine).
RUN_BUCKETS: tuple[float, ...] = (
    0.005,
    0.025,
    0.1,
    0.5,
    1,
    3,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    18000,
    36000,
)

#: Pickup latency, seconds from a task's posting to its first claim: milliseconds on an idle
#: cluster (LISTEN/NOTIFY), up to hours for work queued behind a busy pipeline.
PICKUP_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
    14400,
)


@dataclass
class Histogram:
    """Counts per bucket (the last one is +Inf) and the sum of what was observed."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, Prometheus's ``le`` (less than or equal).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> tuple[list[tuple[str, int]], float]:
        """``(le, count)`` pairs as the exposition wants them, ending in ``+Inf``, and the sum.
        The counts are copied first, so the pairs agree with each other (and the count,
        the ``+Inf`` bucket, with them) even if an observation lands meanwhile."""
        counts = list(self.counts)
        total = self.total
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip((*map(_le, self.bounds), "+Inf"), counts, strict=True):
            running += n
            out.append((bound, running))
        return out, total


def _le(bound: float) -> str:
    return repr(float(bound))


@dataclass
class TypeTally:
    """One task type's counts on this machine since the process started."""

    #: claimed by this machine (admitted or given back at once)
    claimed: int = 0
    #: completions recorded
    completed: int = 0
    #: failed attempts (do() returned False, raised or timed out), recorded or not
    failed: int = 0
    #: of those, queued to run again after their retry wait
    retried: int = 0
    #: of those, the task's last allowed failure: it is now in the failed state
    failed_permanently: int = 0
    #: stopped here for time-sensitive work, back in the queue (not a failure)
    preempted: int = 0
    #: given back for another reason: the machine stopping, no storage for its files
    returned_shutdown: int = 0
    returned_released: int = 0
    #: results discarded because another machine owned the task by then
    fenced: int = 0
    run: Histogram = field(default_factory=lambda: Histogram(RUN_BUCKETS))
    pickup: Histogram = field(default_factory=lambda: Histogram(PICKUP_BUCKETS))


class _ClaimedTask(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def waited(self) -> float: ...


class TaskMetrics:
    """Counters of one engine, by task type, plus the database errors that reached it.

    ``outcome`` arguments are the values of :class:`engine.harmonytask.Outcome` as strings
    (``retry``, ``failed``, ``preempted``, ``shutdown``, ``released``): this module does not
    import the engine, the engine imports it.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        #: by task type; the engine's types are present from the start (zeros are exported,
        #: so ``rate()`` sees a series begin at 0 rather than at its first event)
        self.types: dict[str, TypeTally] = {name: TypeTally() for name in names}
        #: database errors that reached the engine (after the DB layer's own retries), by
        #: what it was doing: claim, heartbeat, housekeeping, record
        self.db_errors: dict[str, int] = {}

    def of(self, name: str) -> TypeTally:
        tally = self.types.get(name)
        if tally is None:
            tally = self.types[name] = TypeTally()
        return tally

    # ------------------------------------------------------------------ the engine's hooks

    def claimed(self, tasks: Iterable[_ClaimedTask]) -> None:
        """Tasks one claim cycle took. Pickup latency is observed for first attempts only:
        a retried task's wait since posting includes its earlier attempts."""
        for task in tasks:
            tally = self.of(task.name)
            tally.claimed += 1
            if task.attempt == 1:
                tally.pickup.observe(task.waited)

    def completed(self, name: str, seconds: float) -> None:
        tally = self.of(name)
        tally.completed += 1
        tally.run.observe(seconds)

    def failed(self, name: str, outcome: str | None, seconds: float) -> None:
        """A failed attempt; ``outcome``: what recording it led to (None: not recorded)."""
        tally = self.of(name)
        tally.failed += 1
        tally.run.observe(seconds)
        if outcome == "retry":
            tally.retried += 1
        elif outcome == "failed":
            tally.failed_permanently += 1

    def returned(self, name: str, outcome: str) -> None:
        """An attempt the engine ended and gave back to the queue (not a failure)."""
        tally = self.of(name)
        if outcome == "preempted":
            tally.preempted += 1
        elif outcome == "shutdown":
            tally.returned_shutdown += 1
        else:
            tally.returned_released += 1

    def fenced(self, name: str) -> None:
        self.of(name).fenced += 1

    def db_error(self, operation: str) -> None:
        self.db_errors[operation] = self.db_errors.get(operation, 0) + 1
