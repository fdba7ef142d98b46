"""The typed read model of the cluster: what one refresh of the console knows.

Every class is a frozen dataclass with ``eq=False``: a snapshot is replaced as a whole each
refresh, and deep equality over thousands of rows on every reactive assignment (Textual
compares old and new values) would cost more than re-rendering. Times are aware UTC datetimes;
``*_age`` and ``elapsed`` figures are seconds measured against the snapshot's ``taken_at`` (the
injected clock), never against the database server's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from engine.chain import ChainProfile
from engine.harmonytask.machine_state import MachineState
from engine.storage import StoragePathInfo

from .alerts import AlertsSnap
from .events import EventsSnap
from .expirations import ExpirationsSnap
from .filesystems import FilesystemSnap, group_filesystems
from .sealing_history import SealingHistory

if TYPE_CHECKING:
    from .jobs import JobTarget

__all__ = [
    "BUCKETS",
    "SECTIONS",
    "STRIP_STAGES",
    "ChartSnap",
    "ClusterSnapshot",
    "FailedTaskSnap",
    "FilesystemSnap",
    "HistorySnap",
    "MachineSnap",
    "PipelineSnap",
    "PipelineSummary",
    "PostDeadline",
    "PostMiner",
    "PostSnap",
    "QueueSnap",
    "RunningTaskSnap",
    "SectionError",
    "SectorProblem",
    "SectorStrip",
    "StageLoad",
    "StorageSnap",
    "StripCell",
    "TaskTypeSnap",
]


# --------------------------------------------------------------------------- machines


@dataclass(frozen=True, eq=False)
class MachineSnap:
    """One row of ``harmony_machines`` with its details and running-task count."""

    id: int
    host_and_port: str
    name: str
    #: derived by :data:`~engine.harmonytask.machine_state.MACHINE_STATE_SQL` (never ``stopping``)
    state: MachineState
    cpu: int
    ram: int
    gpu: float
    #: live use from the last heartbeat: CPU and GPU as 0..1 fractions, RAM in bytes
    cpu_load: float | None
    ram_used: int | None
    gpu_used: float | None
    last_contact: datetime
    contact_age: float
    #: no heartbeat for longer than the reader's ``stale_after`` while the session is live
    stale: bool
    startup_time: datetime | None
    version: str | None
    tasks: tuple[str, ...]
    running: int
    #: the config layers it runs with and the miners it serves (Curio's details; empty here)
    layers: tuple[str, ...] = ()
    miners: tuple[str, ...] = ()
    #: its heartbeat reports live CPU/RAM/GPU use; Curio's records none (say so, never "?")
    reports_load: bool = True
    #: the host it runs on, as its registration recorded it (boot id, else hostname); empty:
    #: not recorded, :attr:`host_key` falls back to the host part of ``host_and_port``
    host: str = ""

    @property
    def host_key(self) -> str:
        """What tells its host apart: machines with equal keys share cores, RAM and GPUs."""
        return self.host or self.host_and_port.rpartition(":")[0] or self.host_and_port

    @property
    def uptime(self) -> float | None:
        """Seconds from start-up to the last heartbeat (None when unknown)."""
        if self.startup_time is None:
            return None
        return max(0.0, (self.last_contact - self.startup_time).total_seconds())

    @property
    def label(self) -> str:
        return self.name or self.host_and_port

    @property
    def alive(self) -> bool:
        return MachineState(self.state).alive


@dataclass(frozen=True, eq=False)
class RunningTaskSnap:
    """A claimed task (``owner_id`` set) and how long its current attempt has run."""

    id: int
    name: str
    owner_id: int
    claimed_at: datetime | None
    posted_time: datetime
    attempt: int
    retries: int
    elapsed: float


# --------------------------------------------------------------------------- task queues


@dataclass(frozen=True, eq=False)
class TaskTypeSnap:
    """One task type: the queue now, and the last 24 hours of history."""

    name: str
    pending: int
    #: pending but inside a retry back-off (``retry_after`` in the future)
    waiting: int
    running: int
    failed: int
    oldest_pending: datetime | None
    oldest_age: float | None
    done_24h: int
    failed_24h: int
    #: mean run time (work_end - work_start) of successful attempts in the window
    mean_seconds: float | None


@dataclass(frozen=True, eq=False)
class FailedTaskSnap:
    """A task in the dead-letter state (``failed_at`` set), restartable by id."""

    id: int
    name: str
    failed_at: datetime
    age: float
    retries: int
    last_error: str | None


@dataclass(frozen=True, eq=False)
class HistorySnap:
    """One attempt from ``harmony_task_history``."""

    id: int
    task_id: int
    name: str
    work_start: datetime
    work_end: datetime
    result: bool
    outcome: str | None
    err: str | None
    host: str

    @property
    def duration(self) -> float:
        return max(0.0, (self.work_end - self.work_start).total_seconds())


@dataclass(frozen=True, eq=False)
class ChartSnap:
    """Completions and failures per minute, oldest minute first."""

    minutes: tuple[datetime, ...]
    done: tuple[int, ...]
    failed: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class QueueSnap:
    types: tuple[TaskTypeSnap, ...]
    failed_tasks: tuple[FailedTaskSnap, ...]
    failed_total: int
    history: tuple[HistorySnap, ...]
    #: the filter the history rows were selected with (None = the latest rows)
    history_filter: str | None
    chart: ChartSnap
    #: hours of the 24 h window loaded so far (history is loaded in slices, newest first)
    window_hours: float
    done_24h: int
    failed_24h: int

    @classmethod
    def empty(cls, history_filter: str | None = None) -> QueueSnap:
        """No task types, no history: what a pane shows beside its section's error."""
        return cls((), (), 0, (), history_filter, ChartSnap((), (), ()), 0.0, 0, 0)

    @property
    def pending(self) -> int:
        return sum(t.pending for t in self.types)

    @property
    def running(self) -> int:
        return sum(t.running for t in self.types)

    @property
    def window_complete(self) -> bool:
        return self.window_hours >= 24.0


# --------------------------------------------------------------------------- sealing pipeline

#: Curio's "PoRep Pipeline" summary buckets, in its GUI's order, so operators coming from Curio
#: read the same columns.
BUCKETS = ("SDR", "Trees", "PreCommit Msg", "Wait Seed", "PoRep", "Commit Msg")

#: The per-sector strip: one cell per stage, with Curio's GUI labels, in pipeline order.
STRIP_STAGES = (
    "SDR",
    "TreeD",
    "TreeC",
    "TreeR",
    "Synthetic",
    "PComm Msg",
    "PComm Wait",
    "Wait Seed",
    "PoRep",
    "Clear Cache",
    "Move Storage",
    "Commit Msg",
    "Commit Wait",
)


@dataclass(frozen=True, eq=False)
class PipelineSummary:
    """One miner's bucket counts. Stage buckets leave failed sectors out (they are counted
    once, under ``failed``); the predicates are otherwise exactly Curio's."""

    sp_id: int
    counts: dict[str, int]
    running: dict[str, int]
    done: int
    failed: int

    def pending(self, bucket: str) -> int:
        return self.counts.get(bucket, 0) - self.running.get(bucket, 0)


@dataclass(frozen=True, eq=False)
class StageLoad:
    """All miners together: sectors in a bucket whose stage task is queued or running."""

    bucket: str
    pending: int
    running: int


@dataclass(frozen=True, eq=False)
class StripCell:
    """One stage of one sector.

    ``status`` is one of: ``done``, ``running`` (task claimed), ``queued`` (task waiting for a
    machine), ``ready`` (its inputs are ready, the poller has not added its task yet),
    ``failed`` (task failed, or its id is missing from harmony_task: Curio shows that
    as FAILED), ``batch`` (ready, not yet picked by a batch), ``waiting`` (waiting for the
    chain), ``none`` (not reached yet).
    """

    label: str
    status: str
    task_id: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True, eq=False)
class SectorStrip:
    sp_id: int
    sector_number: int
    create_time: datetime
    age: float
    cells: tuple[StripCell, ...]
    #: the stage the sector is in now (its first stage not done), or "Done"
    stage: str
    #: Sealing | Sealed | Failed
    state: str
    since: datetime
    stuck: bool
    failed_reason: str
    failed_msg: str
    #: "yes" / "no" (precommitted or active on the devnet chain), and the chain state
    on_chain: str
    chain_state: str | None

    @property
    def key(self) -> str:
        return f"{self.sp_id}:{self.sector_number}"


@dataclass(frozen=True, eq=False)
class SectorProblem:
    """A failed sector, or one in the same stage for longer than the stuck threshold."""

    sp_id: int
    sector_number: int
    kind: str  # failed | stuck
    stage: str
    since: datetime
    age: float
    reason: str
    message: str

    @property
    def key(self) -> str:
        return f"{self.sp_id}:{self.sector_number}"


@dataclass(frozen=True, eq=False)
class PipelineSnap:
    head_epoch: int | None
    summaries: tuple[PipelineSummary, ...]
    loads: tuple[StageLoad, ...]
    sectors: tuple[SectorStrip, ...]
    #: sectors still in the pipeline (the strip list is limited)
    in_progress: int
    problems: tuple[SectorProblem, ...]
    stuck_after: float
    #: finished sectors with their stage times (read while the history view is on screen)
    history: SealingHistory = field(default_factory=SealingHistory)

    @classmethod
    def empty(cls, stuck_after: float) -> PipelineSnap:
        return cls(None, (), (), (), 0, (), stuck_after)

    @property
    def total(self) -> int:
        return sum(sum(s.counts.values()) + s.done + s.failed for s in self.summaries)

    @property
    def done(self) -> int:
        return sum(s.done for s in self.summaries)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.summaries)

    @property
    def stuck(self) -> int:
        return sum(1 for p in self.problems if p.kind == "stuck")


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True, eq=False)
class StorageSnap:
    """Every storage path, and the filesystems they lie on: the totals count each filesystem
    once (two paths on one disk report the same size), not each path."""

    paths: tuple[StoragePathInfo, ...]
    #: per path, the ``"host:fs_id"`` of each host that reported the filesystem it lies on
    #: (empty: not known, the path is its own filesystem; see :mod:`.filesystems`)
    fs_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: per path, bytes of the sector files declared on it (``sector_location`` at each file's
    #: finished size); a path missing here has no such figure (Curio records no sector sizes)
    declared_bytes: Mapping[str, int] = field(default_factory=dict)

    def sector_bytes(self, info: StoragePathInfo) -> int | None:
        """Harmony's own bytes on the path: what its heartbeat measured where a limit is set
        (``used``, as Curio measures it), else its declared sector files; None if unknown."""
        p = info.path
        if p.max_storage > 0 and p.last_heartbeat is not None:
            return p.used
        return self.declared_bytes.get(info.storage_id)

    @cached_property
    def filesystems(self) -> tuple[FilesystemSnap, ...]:
        return group_filesystems(
            self.paths, self.fs_keys, {p.storage_id: self.sector_bytes(p) for p in self.paths}
        )

    @property
    def capacity(self) -> int:
        return sum(f.capacity for f in self.filesystems)

    @property
    def used(self) -> int:
        return sum(f.used for f in self.filesystems)

    @property
    def reserved(self) -> int:
        return sum(f.reserved for f in self.filesystems)

    @property
    def harmony_bytes(self) -> int | None:
        """Harmony's sector bytes on every path, or None when no path's figure is known."""
        known = [f.sector_bytes for f in self.filesystems if f.sector_bytes is not None]
        return sum(known) if known else None


# --------------------------------------------------------------------------- PoSt


@dataclass(frozen=True, eq=False)
class PostDeadline:
    """One deadline of a miner: the figures of ``proving deadlines`` and Curio's grid flags.

    Counts are of live sectors (active, faulty or recovering) and of partitions holding live
    sectors, as ``proving deadlines`` without ``--all``.
    """

    index: int
    partitions: int
    live: int
    active: int
    faulty: int
    recovering: int
    #: partitions whose SubmitWindowedPoSt landed in the current proving period
    proven_partitions: int
    #: Curio's WindowPoSt work for this deadline in the current proving period, in partitions
    #: (zero on our own clusters): proofs scheduled (``wdpost_partition_tasks``), computed and
    #: submitted (``wdpost_proofs``, with a message), recovery declarations scheduled
    #: (``wdpost_recovery_tasks``)
    scheduled: int = 0
    computed: int = 0
    submitted: int = 0
    recoveries_declared: int = 0

    @property
    def empty(self) -> bool:
        return self.live == 0

    @property
    def proven(self) -> bool:
        """Curio's ``Proven`` flag: live sectors and none faulty."""
        return self.live > 0 and self.faulty == 0

    @property
    def part_faulty(self) -> bool:
        return self.faulty > 0

    @property
    def all_faulty(self) -> bool:
        return self.live > 0 and self.faulty >= self.live

    @property
    def partitions_proven(self) -> bool:
        return self.proven_partitions >= self.partitions


@dataclass(frozen=True, eq=False)
class PostMiner:
    sp_id: int
    sector_size: int
    proving_period_offset: int
    #: the period the proven-partition counts belong to (at snapshot time)
    period_start: int
    deadlines: tuple[PostDeadline, ...]

    #: "f0" on mainnet, "t0" on test networks (the network's address prefix)
    address_prefix: str = "t0"
    #: power in bytes (raw-byte, quality-adjusted) when a chain node told it; None otherwise
    raw_power: int | None = None
    qa_power: int | None = None
    #: WinningPoSt in the last 24 hours (Curio's ``mining_tasks``; zero on our clusters):
    #: elections run, blocks won, won blocks the chain did not include, and the last won epoch
    winning_attempts: int = 0
    winning_wins: int = 0
    winning_missed: int = 0
    last_win_epoch: int | None = None

    @property
    def address(self) -> str:
        return f"{self.address_prefix}{self.sp_id}"

    @property
    def live(self) -> int:
        return sum(d.live for d in self.deadlines)

    @property
    def faulty(self) -> int:
        return sum(d.faulty for d in self.deadlines)

    @property
    def recovering(self) -> int:
        return sum(d.recovering for d in self.deadlines)


@dataclass(frozen=True, eq=False)
class PostSnap:
    #: None when the chain is not configured yet (no ``chain_config`` row)
    profile: ChainProfile | None
    genesis: datetime | None
    head_epoch: int | None
    miners: tuple[PostMiner, ...]
    #: what could not be known, in one line each (e.g. no Lotus node reachable: deadlines,
    #: faults and power the database does not hold)
    missing: tuple[str, ...] = ()

    @classmethod
    def empty(cls) -> PostSnap:
        return cls(None, None, None, ())


# --------------------------------------------------------------------------- the whole

#: The sections of a snapshot, one per console pane. A reader that could not read one leaves it
#: empty and says why in :attr:`ClusterSnapshot.errors`; the other panes stay live.
SECTIONS = ("machines", "tasks", "pipeline", "storage", "post")


@dataclass(frozen=True)
class SectionError:
    """Why one section of a snapshot is empty (one line, no credentials)."""

    section: str
    message: str


@dataclass(frozen=True, eq=False)
class ClusterSnapshot:
    """Everything one refresh read, in one consistent (repeatable-read) view."""

    taken_at: datetime
    #: time spent waiting on the database (statement round trips), milliseconds, and the
    #: number of statements
    db_ms: float
    statements: int
    machines: tuple[MachineSnap, ...]
    running: tuple[RunningTaskSnap, ...]
    queues: QueueSnap
    pipeline: PipelineSnap
    storage: StorageSnap
    post: PostSnap
    notes: tuple[str, ...] = field(default=())
    #: sections that could not be read this time (see :data:`SECTIONS`)
    errors: tuple[SectionError, ...] = ()
    #: whose schema it was read from: "harmony" or "curio" (a ClusterKind value)
    cluster: str = "harmony"
    #: what each running task works on (a sector, a deadline's partition), by task id; read
    #: only while a view shows jobs (the ``"jobs"`` list), else empty (see :mod:`.jobs`)
    job_targets: Mapping[int, JobTarget] = field(default_factory=dict)
    #: the newest events (the ``"events"`` list: read while the Events pane is shown, else as
    #: last read; see :mod:`.events`)
    events: EventsSnap = field(default_factory=EventsSnap.empty)
    #: open alerts: the count needing attention (every refresh), the list while the Alerts
    #: pane shows it (the ``"alerts"`` list; see :mod:`.alerts`)
    alerts: AlertsSnap = field(default_factory=AlertsSnap.empty)
    #: sector expirations per miner (the ``"miners"`` list: read while the Miners pane is
    #: shown, else as last read; see :mod:`.expirations`)
    expirations: ExpirationsSnap = field(default_factory=ExpirationsSnap.empty)

    def error(self, section: str) -> str | None:
        """Why ``section`` could not be read this time, or None."""
        return next((e.message for e in self.errors if e.section == section), None)

    def machine(self, machine_id: int) -> MachineSnap | None:
        return next((m for m in self.machines if m.id == machine_id), None)

    def running_on(self, machine_id: int) -> list[RunningTaskSnap]:
        return [t for t in self.running if t.owner_id == machine_id]

    def task_type(self, name: str) -> TaskTypeSnap | None:
        return next((t for t in self.queues.types if t.name == name), None)
