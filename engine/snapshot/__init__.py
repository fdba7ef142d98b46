"""The console's read model: typed, frozen snapshots of the cluster and the bounded query set
that produces them.

Public API::

    reader = SnapshotReader(db)                  # a pool on the cluster schema (read-only ok)
    snap = await reader.snapshot(now)            # ClusterSnapshot; now = the injected clock
    plan = drain_plan(snap, machine_id, now)     # running tasks, estimate, PoSt risks

No UI imports here: the console renders these dataclasses, the CLI could print them. The
exports load on first use (:mod:`engine.lazy`): the console's panes name the model before its
first frame, the reader and its queries load when it connects.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "drain": ["DrainPlan", "drain_plan", "remaining_seconds"],
        "format": ["countdown", "duration"],
        "history": ["HistoryWindow"],
        "model": [
            "BUCKETS",
            "SECTIONS",
            "STRIP_STAGES",
            "ChartSnap",
            "ClusterSnapshot",
            "FailedTaskSnap",
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
        ],
        "post": [
            "DeadlineTimes",
            "PostRisk",
            "current_deadline",
            "deadline_times",
            "maintenance_risks",
            "next_non_empty",
        ],
        "reader": ["SnapshotReader"],
    },
)
