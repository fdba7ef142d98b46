"""What taking a machine out of scheduling would mean, from one snapshot: the tasks still
running there, how long they should take, and which PoSt deadlines that overlaps (the
maintenance rule of :func:`~engine.snapshot.post.maintenance_risks`).

How long a running task should still take: its type's typical run time less the time it has
already run, never below zero. Typical is the mean run time of the type's attempts that ended
done in the last 24 hours (``TaskTypeSnap.mean_seconds``: both readers, ours and Curio's, define
it so). A type with no such attempt has no estimate, and the plan says so rather than guess; its
tasks could end at any time, so the PoSt check then looks at the next deadline with sectors
however far away it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.harmonytask.machine_state import MachineState

from .format import duration
from .model import ClusterSnapshot, MachineSnap, RunningTaskSnap
from .post import PostRisk, maintenance_risks

__all__ = ["DrainPlan", "drain_plan", "remaining_seconds", "typical_seconds"]

#: Task types that prove WindowPoSt: a machine that is the only one running them matters.
POST_TASKS = ("WdPost", "WdPostSubmit", "WdPostRecover", "WinPost")
#: the PoSt look-ahead when a running task's end cannot be estimated: a whole proving period
UNKNOWN_HORIZON = 24 * 3600.0


@dataclass(frozen=True)
class DrainPlan:
    machine: MachineSnap
    running: tuple[RunningTaskSnap, ...]
    #: seconds until the last running task whose type has history should finish (0 when
    #: nothing runs, or all have run past their type's typical time)
    estimate: float
    risks: tuple[PostRisk, ...]
    #: PoSt task types no other live, schedulable machine runs
    sole_post_tasks: tuple[str, ...] = ()
    #: the running tasks' types without a done attempt in the last 24 h: no estimate for them
    unknown: tuple[str, ...] = ()
    #: the typical run time of each running task's type that has one: (type, seconds)
    typical: tuple[tuple[str, float], ...] = ()

    def typical_of(self, name: str) -> float | None:
        """How long a task of this type typically runs (None: no history)."""
        return dict(self.typical).get(name)

    def expected_end(self, since: float = 0.0) -> str:
        """When the running tasks should be done, in words, ``since`` seconds after the
        snapshot ('' when nothing runs): the estimate, that they are past their typical time,
        or which types have no history to estimate from."""
        if not self.running:
            return ""
        parts = []
        if len(self.unknown) < len({t.name for t in self.running}):
            left = self.estimate - since
            parts.append(
                f"expected to finish in ~{duration(left)}"
                if left >= 0.5
                else "past their typical run time, expected to end any moment"
            )
        if self.unknown:
            parts.append(
                f"no estimate for {', '.join(self.unknown)}: none finished in the last 24 h"
            )
        return "; ".join(parts)

    @property
    def warnings(self) -> list[str]:
        out = [r.describe() for r in self.risks]
        if self.sole_post_tasks:
            out.append(
                f"it is the only schedulable machine running {', '.join(self.sole_post_tasks)}"
            )
        return out


def typical_seconds(snap: ClusterSnapshot, name: str) -> float | None:
    """How long a task of type ``name`` typically runs: the mean of its done attempts in the
    last 24 hours; None when there was none."""
    kind = snap.task_type(name)
    return kind.mean_seconds if kind is not None else None


def remaining_seconds(snap: ClusterSnapshot, task: RunningTaskSnap) -> float | None:
    """Expected time left: the type's typical run time less the time already run, never below
    zero (a task past it should end any moment); None when the type has no history."""
    typical = typical_seconds(snap, task.name)
    if typical is None:
        return None
    return max(0.0, typical - task.elapsed)


def drain_plan(snap: ClusterSnapshot, machine_id: int, now: datetime) -> DrainPlan | None:
    machine = snap.machine(machine_id)
    if machine is None:
        return None
    running = tuple(snap.running_on(machine_id))
    left = [(t, remaining_seconds(snap, t)) for t in running]
    estimate = max((r for _, r in left if r is not None), default=0.0)
    unknown = tuple(sorted({t.name for t, r in left if r is None}))
    typical = tuple(
        (name, seconds)
        for name in sorted({t.name for t in running})
        if (seconds := typical_seconds(snap, name)) is not None
    )
    horizon = UNKNOWN_HORIZON if unknown else estimate
    risks = tuple(maintenance_risks(snap.post, now, horizon))
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
    return DrainPlan(machine, running, estimate, risks, sole, unknown, typical)
