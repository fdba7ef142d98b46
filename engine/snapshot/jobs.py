"""Jobs: what runs where, now (lotus-miner ``sealing jobs``), built from one snapshot.

A job is a claimed task (:class:`~engine.snapshot.model.RunningTaskSnap`) seen with its machine
and what it works on. The running list and the machines come from the same read as the
machines pane and the status line, so all three agree in every frame; only the *target* (the
sector of a sealing task, the deadline and partition of a WindowPoSt task, the epoch of a
WinningPoSt task) is read here, and only while a view that shows it is on screen
(the ``"jobs"`` list).

The target lookup is the same on our schema and on Curio's (both keep Curio's table and column
names): the sealing pipeline's ``task_id_*`` columns, ``wdpost_partition_tasks``,
``wdpost_recovery_tasks``, ``wdpost_proofs.submit_task_id`` and ``mining_tasks``. A task's
target never changes while it runs, so :class:`JobTargets` remembers each one and reads only
the ids it has not seen: a refresh whose running set did not change runs no statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from engine.harmonytask.machine_state import MachineState

from .model import ClusterSnapshot, MachineSnap, RunningTaskSnap
from .pipeline import TASK_COLUMNS

__all__ = ["TARGETS", "Job", "JobTarget", "JobTargets", "build_jobs", "job_state"]

#: Each running task id's target, from whichever table names it. The pipeline has no index on
#: its task columns (Curio's neither): its sectors still in progress are unpivoted and joined by
#: hash against the ids asked for, one pass over the pipeline (measured: 2-10 ms at 10k pipeline
#: rows, 15-25 ms at 100k, on a loaded 2-core machine), and only when a task not seen before
#: runs while jobs are shown; the PoSt tables are looked up by their primary keys.
TARGETS = (
    """
WITH ids AS (SELECT DISTINCT unnest($1::bigint[]) AS id)
SELECT x.task_id AS id, 'sector' AS kind, p.sp_id, p.sector_number AS number,
       NULL::bigint AS part
  FROM sectors_sdr_pipeline p
 CROSS JOIN LATERAL (VALUES """
    + ", ".join(f"(p.{c})" for c in TASK_COLUMNS)
    + """) AS x(task_id)
 WHERE NOT (p.after_commit_msg_success AND p.after_move_storage)
   AND x.task_id IN (SELECT id FROM ids)
UNION ALL
SELECT t.task_id, 'wdpost', t.sp_id, t.deadline_index, t.partition_index
  FROM wdpost_partition_tasks t WHERE t.task_id IN (SELECT id FROM ids)
UNION ALL
SELECT t.task_id, 'recover', t.sp_id, t.deadline_index, t.partition_index
  FROM wdpost_recovery_tasks t WHERE t.task_id IN (SELECT id FROM ids)
UNION ALL
SELECT w.submit_task_id, 'submit', w.sp_id, w.deadline, w."partition"
  FROM wdpost_proofs w WHERE w.submit_task_id IN (SELECT id FROM ids)
UNION ALL
SELECT m.task_id, 'winning', m.sp_id, m.epoch, NULL
  FROM mining_tasks m WHERE m.task_id IN (SELECT id FROM ids)
 ORDER BY 1, 2, 3, 4, 5
"""
)


@dataclass(frozen=True)
class JobTarget:
    """What a task works on: a sector, a deadline's partition, a WinningPoSt epoch."""

    #: sector | wdpost | recover | submit | winning
    kind: str
    sp_id: int
    #: the sector number, the deadline index, or the epoch (by ``kind``)
    number: int
    #: the partition index (WindowPoSt kinds; a submit task names one of its partitions)
    partition: int | None = None

    @property
    def sector_key(self) -> str | None:
        """``"sp_id:sector"`` for a sealing task (what the sector detail opens with)."""
        return f"{self.sp_id}:{self.number}" if self.kind == "sector" else None

    def label(self, address_prefix: str = "t0") -> str:
        """As an operator writes it: ``t01000:12`` (a sector), ``t01000 dl 3 p 0`` (a deadline
        and partition), ``t01000 @4321`` (a WinningPoSt epoch)."""
        miner = f"{address_prefix}{self.sp_id}"
        if self.kind == "sector":
            return f"{miner}:{self.number}"
        if self.kind == "winning":
            return f"{miner} @{self.number}"
        part = f" p {self.partition}" if self.partition is not None else ""
        return f"{miner} dl {self.number}{part}"


class _Tx(Protocol):
    async def select(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...


class JobTargets:
    """The targets of running tasks, remembered by task id (a target never changes)."""

    def __init__(self, keep: int = 20_000) -> None:
        self._known: dict[int, JobTarget | None] = {}
        self.keep = keep

    async def read(self, tx: _Tx, task_ids: Iterable[int]) -> dict[int, JobTarget]:
        """The target of each of these running tasks that has one; reads only the ids not
        seen before (no statement at all when there are none)."""
        ids = list(task_ids)
        new = [i for i in ids if i not in self._known]
        if new:
            found: dict[int, JobTarget] = {}
            for r in await tx.select(TARGETS, new):
                found.setdefault(r["id"], JobTarget(r["kind"], r["sp_id"], r["number"], r["part"]))
            if len(self._known) + len(new) > self.keep:
                self._known = {i: self._known[i] for i in ids if i in self._known}
            for i in new:
                self._known[i] = found.get(i)
        return self.known(ids)

    def known(self, task_ids: Iterable[int]) -> dict[int, JobTarget]:
        """The targets already read of these tasks (no statement: a refresh that does not show
        jobs carries them over)."""
        return {i: t for i in task_ids if (t := self._known.get(i)) is not None}


@dataclass(frozen=True, eq=False)
class Job:
    """One running task, its machine and its target, as the jobs view shows it."""

    task: RunningTaskSnap
    machine: MachineSnap | None
    target: JobTarget | None
    #: running | stopping (its machine drains) | owner lost (its machine is stale or dead)
    state: str

    @property
    def id(self) -> int:
        return self.task.id

    def elapsed(self, snap: ClusterSnapshot, now: datetime | None = None) -> float:
        """Seconds the attempt has run at ``now`` (the snapshot's time when None): the read's
        figure moved on by the clock, so the view ticks between refreshes."""
        moved = 0.0 if now is None else (now - snap.taken_at).total_seconds()
        return max(0.0, self.task.elapsed + moved)


def job_state(machine: MachineSnap | None) -> str:
    """A job's state from its machine's: ``stopping`` while the machine drains (or restarts
    once drained), ``owner lost`` when the machine is stale, dead, gone or left, else
    ``running``."""
    if machine is None or not machine.alive or machine.stale:
        return "owner lost"
    if machine.state in (MachineState.DRAINING, MachineState.DRAINED, MachineState.RESTARTING):
        return "stopping"
    return "running"


def build_jobs(snap: ClusterSnapshot, targets: Mapping[int, JobTarget] | None = None) -> list[Job]:
    """Every running task of ``snap`` as a job, longest-running first (then by id)."""
    machines = {m.id: m for m in snap.machines}
    known = snap.job_targets if targets is None else targets
    jobs = []
    for t in snap.running:
        machine = machines.get(t.owner_id)
        jobs.append(Job(t, machine, known.get(t.id), job_state(machine)))
    jobs.sort(key=lambda j: (-j.task.elapsed, j.task.id))
    return jobs
