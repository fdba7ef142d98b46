"""The console's read model: typed, frozen snapshots of the cluster and the bounded query set
that produces them.

Public API::

    reader = SnapshotReader(db)                  # a pool on the cluster schema (read-only ok)
    snap = await reader.snapshot(now)            # ClusterSnapshot; now = the injected clock
    plan = drain_plan(snap, machine_id, now)     # running tasks, estimate, PoSt risks

No UI imports here: the console renders these dataclasses, the CLI could print them.
"""

from .drain import DrainPlan, drain_plan, remaining_seconds
from .format import countdown, duration
from .history import HistoryWindow
from .model import (
    BUCKETS,
    SECTIONS,
    STRIP_STAGES,
    ChartSnap,
    ClusterSnapshot,
    FailedTaskSnap,
    HistorySnap,
    MachineSnap,
    PipelineSnap,
    PipelineSummary,
    PostDeadline,
    PostMiner,
    PostSnap,
    QueueSnap,
    RunningTaskSnap,
    SectionError,
    SectorProblem,
    SectorStrip,
    StageLoad,
    StorageSnap,
    StripCell,
    TaskTypeSnap,
)
from .post import (
    DeadlineTimes,
    PostRisk,
    current_deadline,
    deadline_times,
    maintenance_risks,
    next_non_empty,
)
from .reader import SnapshotReader

__all__ = [
    "BUCKETS",
    "SECTIONS",
    "STRIP_STAGES",
    "ChartSnap",
    "ClusterSnapshot",
    "DeadlineTimes",
    "DrainPlan",
    "FailedTaskSnap",
    "HistorySnap",
    "HistoryWindow",
    "MachineSnap",
    "PipelineSnap",
    "PipelineSummary",
    "PostDeadline",
    "PostMiner",
    "PostRisk",
    "PostSnap",
    "QueueSnap",
    "RunningTaskSnap",
    "SectionError",
    "SectorProblem",
    "SectorStrip",
    "SnapshotReader",
    "StageLoad",
    "StorageSnap",
    "StripCell",
    "TaskTypeSnap",
    "countdown",
    "current_deadline",
    "deadline_times",
    "drain_plan",
    "duration",
    "maintenance_risks",
    "next_non_empty",
    "remaining_seconds",
]
