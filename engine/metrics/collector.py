"""The metrics a machine exposes, and the collector that builds them at scrape time.

:data:`CATALOGUE` is the one list of every metric family: its name (as scraped, counters with
``_total``), type, labels and help. The collector yields exactly these; ``harmony metrics
list`` prints them; the dashboard test checks every panel's query against them.

Three sources, all read on the event loop that serves the scrape (see :mod:`.server`), so no
lock is needed and nothing here waits on the database:

* this machine's engine: its task counters (:class:`~.tasks.TaskMetrics`), running attempts,
  free resources and heartbeat;
* the cluster-wide figures last read by :class:`~.cluster.ClusterGauges`;
* the DB layer's retries, counted through its retry policy (:mod:`.retries`).

Names follow Prometheus's conventions: ``harmony_`` namespace, base units (seconds, bytes),
``_total`` on counters, ``_info`` for a constant 1 with identifying labels.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from engine.harmonytask.machine_state import MachineState
from engine.snapshot.model import BUCKETS

from .cluster import ALERT_SERIES_LIMIT, AlertFigures, ClusterFigures, ClusterGauges
from .tasks import TaskMetrics, TypeTally

if TYPE_CHECKING:
    from engine.harmonytask import TaskEngine
    from engine.snapshot.model import ClusterSnapshot

__all__ = ["CATALOGUE", "HarmonyCollector", "MetricSpec", "metric_names"]

Kind = Literal["counter", "gauge", "histogram", "info"]

#: the states a machine can see itself in (it never reads itself offline or dead)
LOCAL_STATES = tuple(s for s in MachineState if s.alive)
#: the states the cluster's rows hold (stopping is never stored)
CLUSTER_STATES = tuple(s for s in MachineState if s is not MachineState.STOPPING)


@dataclass(frozen=True)
class MetricSpec:
    #: the family's name as scraped (a counter's ends in ``_total``)
    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    #: where it comes from: this machine, or the whole cluster (the same on every machine)
    scope: Literal["machine", "cluster"] = "machine"

    @property
    def family(self) -> str:
        """The name a family object takes (a counter's without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name

    @property
    def samples(self) -> tuple[str, ...]:
        """The sample names a scrape shows for it."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


T = ("task_type",)

CATALOGUE: tuple[MetricSpec, ...] = (
    # ---- this machine's engine
    MetricSpec(
        "harmony_machine_info",
        "info",
        ("machine", "machine_id", "host_and_port", "version"),
        "This machine's identity in the cluster; the value is always 1.",
    ),
    MetricSpec(
        "harmony_machine_state",
        "gauge",
        ("state",),
        "1 for the state this machine is in (active, cordoned, draining, drained, "
        "restarting, stopping), 0 for the others.",
    ),
    MetricSpec(
        "harmony_machine_heartbeat_age_seconds",
        "gauge",
        (),
        "Seconds since the database last answered this machine's heartbeat (peers declare "
        "it dead past the machine timeout).",
    ),
    MetricSpec(
        "harmony_machine_timeout_seconds",
        "gauge",
        (),
        "The cluster's machine timeout, as this machine last read it.",
    ),
    MetricSpec("harmony_machine_cpus", "gauge", (), "CPUs this machine offers to tasks."),
    MetricSpec(
        "harmony_machine_cpus_free",
        "gauge",
        (),
        "CPUs not taken by the declared costs of running tasks.",
    ),
    MetricSpec("harmony_machine_ram_bytes", "gauge", (), "RAM this machine offers to tasks."),
    MetricSpec(
        "harmony_machine_ram_free_bytes",
        "gauge",
        (),
        "RAM not taken by running tasks' declared costs (capped by what the kernel had free "
        "at the last probe).",
    ),
    MetricSpec("harmony_machine_gpus", "gauge", (), "GPUs this machine offers to tasks."),
    MetricSpec(
        "harmony_machine_gpus_free",
        "gauge",
        (),
        "GPUs not taken by the declared costs of running tasks.",
    ),
    MetricSpec(
        "harmony_tasks_running",
        "gauge",
        T,
        "Attempts running on this machine now, by task type.",
    ),
    MetricSpec(
        "harmony_tasks_claimed_total",
        "counter",
        T,
        "Tasks this machine claimed, by task type.",
    ),
    MetricSpec(
        "harmony_tasks_completed_total",
        "counter",
        T,
        "Tasks this machine completed (done recorded), by task type.",
    ),
    MetricSpec(
        "harmony_tasks_failed_total",
        "counter",
        T,
        "Failed attempts on this machine (do() returned False, raised or timed out), by task "
        "type; each is then retried or, at its last allowed failure, left failed.",
    ),
    MetricSpec(
        "harmony_tasks_retried_total",
        "counter",
        T,
        "Failed attempts queued to run again after their retry wait, by task type.",
    ),
    MetricSpec(
        "harmony_tasks_failed_permanently_total",
        "counter",
        T,
        "Failed attempts that were their task's last allowed failure (the task is now in the "
        "failed state until restarted), by task type.",
    ),
    MetricSpec(
        "harmony_tasks_preempted_total",
        "counter",
        T,
        "Attempts stopped on this machine to make room for time-sensitive work (back in the "
        "queue, not a failure), by task type.",
    ),
    MetricSpec(
        "harmony_tasks_returned_total",
        "counter",
        (*T, "reason"),
        "Attempts given back to the queue for another reason (not a failure): shutdown (the "
        "machine stopped) or released (no storage for its files), by task type.",
    ),
    MetricSpec(
        "harmony_tasks_fenced_total",
        "counter",
        T,
        "Results discarded because another machine owned the task by then, by task type.",
    ),
    MetricSpec(
        "harmony_task_run_seconds",
        "histogram",
        T,
        "Run time of attempts that ended here (completed or failed), from admission to the "
        "end of do(), by task type.",
    ),
    MetricSpec(
        "harmony_task_pickup_latency_seconds",
        "histogram",
        T,
        "From a task's posting to its first claim (by the database's clock), by task type.",
    ),
    MetricSpec(
        "harmony_db_errors_total",
        "counter",
        ("operation",),
        "Database errors that reached the engine after the DB layer's own retries, by what "
        "it was doing: claim, heartbeat, housekeeping, record (an attempt's outcome).",
    ),
    MetricSpec(
        "harmony_db_retries_total",
        "counter",
        (),
        "Statements and transactions the DB layer ran again (serialization failure, "
        "deadlock, lost connection) and writes re-sent after a lost reply.",
    ),
    # ---- the whole cluster, read once per interval
    MetricSpec(
        "harmony_cluster_figures_age_seconds",
        "gauge",
        (),
        "Seconds since the cluster-wide figures served were read (absent until the first "
        "read succeeded).",
        "cluster",
    ),
    MetricSpec(
        "harmony_cluster_figures_read_seconds",
        "gauge",
        (),
        "How long the last read of the cluster-wide figures took.",
        "cluster",
    ),
    MetricSpec(
        "harmony_cluster_figures_errors_total",
        "counter",
        (),
        "Reads of the cluster-wide figures that failed (the previous figures stay served).",
        "cluster",
    ),
    MetricSpec(
        "harmony_cluster_machines",
        "gauge",
        ("state",),
        "Machines of the cluster by state (active, cordoned, draining, drained, restarting, "
        "offline, dead).",
        "cluster",
    ),
    MetricSpec(
        "harmony_queue_tasks",
        "gauge",
        (*T, "state"),
        "Tasks in the cluster's queue by type and state: pending (claimable or in a retry "
        "wait), waiting (of those, in a retry wait), running (claimed), failed (until "
        "restarted).",
        "cluster",
    ),
    MetricSpec(
        "harmony_queue_oldest_pending_seconds",
        "gauge",
        T,
        "Age of the oldest pending task of each type (absent when none is pending).",
        "cluster",
    ),
    MetricSpec(
        "harmony_storage_capacity_bytes",
        "gauge",
        ("storage_id", "can_seal", "can_store"),
        "Capacity of each storage path (its filesystem, or its configured maximum).",
        "cluster",
    ),
    MetricSpec(
        "harmony_storage_available_bytes",
        "gauge",
        ("storage_id", "can_seal", "can_store"),
        "Bytes still available on each storage path, as its last heartbeat reported.",
        "cluster",
    ),
    MetricSpec(
        "harmony_storage_reserved_bytes",
        "gauge",
        ("storage_id", "can_seal", "can_store"),
        "Bytes reserved on each storage path by tasks writing there now (not yet on disk).",
        "cluster",
    ),
    MetricSpec(
        "harmony_storage_used_bytes",
        "gauge",
        ("storage_id", "can_seal", "can_store"),
        "Bytes used on each storage path, as its last heartbeat reported.",
        "cluster",
    ),
    MetricSpec(
        "harmony_storage_heartbeat_age_seconds",
        "gauge",
        ("storage_id",),
        "Seconds since any host last reported each storage path (absent: never).",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_sectors",
        "gauge",
        ("miner", "state"),
        "Sectors of each miner on chain: live (active, faulty or recovering), active, faulty "
        "(recovering included), recovering.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_current_deadline",
        "gauge",
        ("miner",),
        "Index of the deadline open now.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_current_deadline_closes_in_seconds",
        "gauge",
        ("miner",),
        "Seconds until the deadline open now closes.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_next_deadline",
        "gauge",
        ("miner",),
        "Index of the next deadline after the open one that holds live sectors.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_next_deadline_opens_in_seconds",
        "gauge",
        ("miner",),
        "Seconds until the next deadline holding live sectors opens.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_next_deadline_closes_in_seconds",
        "gauge",
        ("miner",),
        "Seconds until the next deadline holding live sectors closes.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_wdpost_submitted_24h",
        "gauge",
        ("miner",),
        "WindowPoSt proofs submitted in the last 24 hours (WdPostSubmit completions).",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_wdpost_missed_24h",
        "gauge",
        ("miner",),
        "Partitions whose deadline closed without a WindowPoSt in the last 24 hours.",
        "cluster",
    ),
    MetricSpec(
        "harmony_miner_blocks_won_24h",
        "gauge",
        ("miner",),
        "Blocks won by WinningPoSt in the last 24 hours.",
        "cluster",
    ),
    MetricSpec(
        "harmony_pipeline_sectors",
        "gauge",
        ("miner", "stage"),
        "Sectors in the sealing pipeline by stage (Curio's buckets: SDR, Trees, PreCommit "
        "Msg, Wait Seed, PoRep, Commit Msg; plus done and failed).",
        "cluster",
    ),
    MetricSpec(
        "harmony_alerts",
        "gauge",
        ("check", "severity", "state"),
        "Open alerts (not cleared) by check, severity and state: new (neither acknowledged "
        "nor muted: the ones that need someone), acked, muted (absent: none open).",
        "cluster",
    ),
    MetricSpec(
        "harmony_alert_first_seen_timestamp_seconds",
        "gauge",
        ("check", "subject", "severity"),
        "When each open alert was first seen (Unix time), one series per alert; only the "
        f"{ALERT_SERIES_LIMIT} most severe and oldest are listed (harmony_alerts counts all).",
        "cluster",
    ),
)

SPECS = {spec.name: spec for spec in CATALOGUE}


def metric_names() -> list[str]:
    """Every sample name a scrape can show (histograms' as ``_bucket``, ``_sum`` and
    ``_count``)."""
    return sorted(name for spec in CATALOGUE for name in spec.samples)


def _family(name: str) -> Metric:
    spec = SPECS[name]
    labels = list(spec.labels)
    if spec.kind == "counter":
        return CounterMetricFamily(spec.family, spec.help, labels=labels)
    if spec.kind == "histogram":
        return HistogramMetricFamily(spec.family, spec.help, labels=labels)
    return GaugeMetricFamily(spec.family, spec.help, labels=labels)


class HarmonyCollector(Collector):
    """Builds every family of :data:`CATALOGUE` from the engine (once attached) and the
    cached cluster figures. Runs on the event loop (see the module docstring)."""

    def __init__(self, cluster: ClusterGauges | None, db_retries: Callable[[], int]) -> None:
        self.cluster = cluster
        self.engine: TaskEngine | None = None
        self._db_retries = db_retries

    def attach(self, engine: TaskEngine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[Metric]:
        for spec in CATALOGUE:
            yield _family(spec.name)

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        if engine is not None:
            yield from self._machine(engine)
            yield from self._tasks(engine.metrics)
        retries = _family("harmony_db_retries_total")
        retries.add_metric([], self._db_retries())
        yield retries
        yield from self._cluster()

    # ------------------------------------------------------------------ this machine

    def _machine(self, engine: TaskEngine) -> Iterator[Metric]:
        import engine as engine_package

        info = GaugeMetricFamily(
            "harmony_machine_info",
            SPECS["harmony_machine_info"].help,
            labels=list(SPECS["harmony_machine_info"].labels),
        )
        info.add_metric(
            [
                engine.machine_name,
                str(engine.machine_id),
                engine.host_and_port,
                engine_package.__version__,
            ],
            1,
        )
        yield info
        state = _family("harmony_machine_state")
        current = engine.state
        for each in LOCAL_STATES:
            state.add_metric([each.value], 1 if each is current else 0)
        yield state
        yield _gauge("harmony_machine_heartbeat_age_seconds", engine.heartbeat_age)
        yield _gauge("harmony_machine_timeout_seconds", engine.machine_timeout)
        total, free = engine.capacity, engine.resources_available()
        yield _gauge("harmony_machine_cpus", total.cpu)
        yield _gauge("harmony_machine_cpus_free", max(0.0, free.cpu))
        yield _gauge("harmony_machine_ram_bytes", total.ram)
        yield _gauge("harmony_machine_ram_free_bytes", max(0, free.ram))
        yield _gauge("harmony_machine_gpus", total.gpu)
        yield _gauge("harmony_machine_gpus_free", max(0.0, free.gpu))
        running = _family("harmony_tasks_running")
        counts = Counter(r.name for r in engine.running_tasks())
        for name in sorted(set(engine.handlers) | set(counts)):
            running.add_metric([name], counts.get(name, 0))
        yield running

    def _tasks(self, metrics: TaskMetrics) -> Iterator[Metric]:
        tallies = sorted(metrics.types.items())
        for name, field_name in (
            ("harmony_tasks_claimed_total", "claimed"),
            ("harmony_tasks_completed_total", "completed"),
            ("harmony_tasks_failed_total", "failed"),
            ("harmony_tasks_retried_total", "retried"),
            ("harmony_tasks_failed_permanently_total", "failed_permanently"),
            ("harmony_tasks_preempted_total", "preempted"),
            ("harmony_tasks_fenced_total", "fenced"),
        ):
            family = _family(name)
            for task_type, tally in tallies:
                family.add_metric([task_type], getattr(tally, field_name))
            yield family
        returned = _family("harmony_tasks_returned_total")
        for task_type, tally in tallies:
            returned.add_metric([task_type, "shutdown"], tally.returned_shutdown)
            returned.add_metric([task_type, "released"], tally.returned_released)
        yield returned
        yield self._histogram("harmony_task_run_seconds", tallies, "run")
        yield self._histogram("harmony_task_pickup_latency_seconds", tallies, "pickup")
        errors = _family("harmony_db_errors_total")
        for operation in ("claim", "heartbeat", "housekeeping", "record"):
            errors.add_metric([operation], metrics.db_errors.get(operation, 0))
        yield errors

    @staticmethod
    def _histogram(
        name: str, tallies: list[tuple[str, TypeTally]], which: Literal["run", "pickup"]
    ) -> Metric:
        family = _family(name)
        assert isinstance(family, HistogramMetricFamily)
        for task_type, tally in tallies:
            buckets, total = getattr(tally, which).cumulative()
            family.add_metric([task_type], buckets, total)
        return family

    # ------------------------------------------------------------------ the cluster

    def _cluster(self) -> Iterator[Metric]:
        cluster = self.cluster
        if cluster is None:
            return
        errors = _family("harmony_cluster_figures_errors_total")
        errors.add_metric([], cluster.errors)
        yield errors
        figures, age = cluster.figures, cluster.age()
        if figures is None or age is None:
            return
        yield _gauge("harmony_cluster_figures_age_seconds", age)
        yield _gauge("harmony_cluster_figures_read_seconds", figures.read_seconds)
        yield from _cluster_families(figures, age)


def _gauge(name: str, value: float) -> Metric:
    family = _family(name)
    family.add_metric([], value)
    return family


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _cluster_families(figures: ClusterFigures, age: float) -> Iterator[Metric]:
    snap = figures.snapshot
    machines = _family("harmony_cluster_machines")
    by_state = Counter(MachineState(m.state) for m in snap.machines)
    for state in CLUSTER_STATES:
        machines.add_metric([state.value], by_state.get(state, 0))
    yield machines

    queue = _family("harmony_queue_tasks")
    oldest = _family("harmony_queue_oldest_pending_seconds")
    for t in snap.queues.types:
        for state, n in (
            ("pending", t.pending),
            ("waiting", t.waiting),
            ("running", t.running),
            ("failed", t.failed),
        ):
            queue.add_metric([t.name, state], n)
        if t.oldest_age is not None:
            oldest.add_metric([t.name], t.oldest_age + age)
    yield queue
    yield oldest

    capacity = _family("harmony_storage_capacity_bytes")
    available = _family("harmony_storage_available_bytes")
    reserved = _family("harmony_storage_reserved_bytes")
    used = _family("harmony_storage_used_bytes")
    heartbeat = _family("harmony_storage_heartbeat_age_seconds")
    for info in snap.storage.paths:
        p = info.path
        labels = [p.storage_id, _bool(p.can_seal), _bool(p.can_store)]
        capacity.add_metric(labels, p.capacity)
        available.add_metric(labels, p.available)
        reserved.add_metric(labels, info.live_reserved)
        used.add_metric(labels, p.used)
        if info.heartbeat_age is not None:
            heartbeat.add_metric([p.storage_id], info.heartbeat_age + age)
    yield from (capacity, available, reserved, used, heartbeat)

    yield from _miner_families(figures)

    pipeline = _family("harmony_pipeline_sectors")
    for summary in snap.pipeline.summaries:
        miner = _miner_label(snap, summary.sp_id)
        for bucket in BUCKETS:
            pipeline.add_metric([miner, bucket], summary.counts.get(bucket, 0))
        pipeline.add_metric([miner, "done"], summary.done)
        pipeline.add_metric([miner, "failed"], summary.failed)
    yield pipeline

    yield from _alert_families(figures.alerts)


def _alert_families(alerts: AlertFigures) -> Iterator[Metric]:
    counts = _family("harmony_alerts")
    for c in alerts.counts:
        counts.add_metric([c.check, c.severity, c.state], c.count)
    yield counts
    first_seen = _family("harmony_alert_first_seen_timestamp_seconds")
    for a in alerts.listed:
        first_seen.add_metric([a.check, a.subject, a.severity], a.first_seen)
    yield first_seen


def _miner_label(snap: ClusterSnapshot, sp_id: int) -> str:
    prefix = snap.post.miners[0].address_prefix if snap.post.miners else "t0"
    return f"{prefix}{sp_id}"


def _miner_families(figures: ClusterFigures) -> Iterator[Metric]:
    snap = figures.snapshot
    now = time.time()
    sectors = _family("harmony_miner_sectors")
    current = _family("harmony_miner_current_deadline")
    current_close = _family("harmony_miner_current_deadline_closes_in_seconds")
    nxt = _family("harmony_miner_next_deadline")
    next_open = _family("harmony_miner_next_deadline_opens_in_seconds")
    next_close = _family("harmony_miner_next_deadline_closes_in_seconds")
    submitted = _family("harmony_miner_wdpost_submitted_24h")
    missed = _family("harmony_miner_wdpost_missed_24h")
    won = _family("harmony_miner_blocks_won_24h")
    for m in snap.post.miners:
        label = [m.address]
        active = sum(d.active for d in m.deadlines)
        for state, n in (
            ("live", m.live),
            ("active", active),
            ("faulty", m.faulty),
            ("recovering", m.recovering),
        ):
            sectors.add_metric([m.address, state], n)
        times = figures.deadlines.get(m.sp_id)
        if times is not None:
            if times.current_index is not None and times.current_close is not None:
                current.add_metric(label, times.current_index)
                current_close.add_metric(label, times.current_close - now)
            if times.next_index is not None and times.next_open is not None:
                nxt.add_metric(label, times.next_index)
                next_open.add_metric(label, times.next_open - now)
                next_close.add_metric(label, (times.next_close or times.next_open) - now)
        submitted.add_metric(label, figures.post_submitted.get(m.sp_id, 0))
        missed.add_metric(label, figures.post_missed.get(m.sp_id, 0))
        won.add_metric(label, m.winning_wins)
    yield from (sectors, current, current_close, nxt, next_open, next_close)
    yield from (submitted, missed, won)
