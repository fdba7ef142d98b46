"""What taking a machine out of scheduling would mean, from one snapshot: the tasks still
running there, how long they should take, and which PoSt deadlines that overlaps (the
maintenance rule of :func:`~engine.snapshot.post.maintenance_risks`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.harmonytask.machine_state import MachineState

from .model import ClusterSnapshot, MachineSnap, RunningTaskSnap
from .post import PostRisk, maintenance_risks

__all__ = ["DrainPlan", "drain_plan", "remaining_seconds"]

#: Task types that prove WindowPoSt: a machine that is the only one running them matters.
POST_TASKS = ("WdPost", "WdPostSubmit", "WdPostRecover", "WinPost")


@dataclass(frozen=True)
class DrainPlan:
    machine: MachineSnap
    running: tuple[RunningTaskSnap, ...]
    #: seconds until the last running task should finish (0 when nothing runs)
    estimate: float
    risks: tuple[PostRisk, ...]
    #: PoSt task types no other live, schedulable machine runs
    sole_post_tasks: tuple[str, ...]

    @property
    def warnings(self) -> list[str]:
        out = [r.describe() for r in self.risks]
        if self.sole_post_tasks:
            out.append(
                f"it is the only schedulable machine running {', '.join(self.sole_post_tasks)}"
            )
        return out


def remaining_seconds(snap: ClusterSnapshot, task: RunningTaskSnap) -> float:
    """Expected time left: the type's 24 h mean run time minus the time already run; a task
    past its mean (or of a type without history) is assumed to need as long again."""
    kind = snap.task_type(task.name)
    mean = kind.mean_seconds if kind else None
    if mean is not None and mean > task.elapsed:
        return mean - task.elapsed
    return task.elapsed


def drain_plan(snap: ClusterSnapshot, machine_id: int, now: datetime) -> DrainPlan | None:
    machine = snap.machine(machine_id)
    if machine is None:
        return None
    running = tuple(snap.running_on(machine_id))
    estimate = max((remaining_seconds(snap, t) for t in running), default=0.0)
    risks = tuple(maintenance_risks(snap.post, now, estimate))
    others = [
        m
        for m in snap.machines
        if m.id != machine_id and m.state == MachineState.ACTIVE and not m.stale
    ]
    sole = tuple(
        name
        for name in POST_TASKS
        if name in machine.tasks and not any(name in m.tasks for m in others)
    )
    return DrainPlan(machine, running, estimate, risks, sole)
