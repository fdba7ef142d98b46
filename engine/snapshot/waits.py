"""Why a task waits: the one definition that ``harmony task list --why``, the console's task
and sector views all print.

A pending task is claimed by the first live, schedulable machine that runs its type, has the
resources its type declares and, for a stage that writes sector files, a storage path that can
take them (the engine asks its ``has_capacity`` before each claim and reserves at the claim;
both go through :func:`engine.storage.placement.rank`). When nothing claims it, the operator
sees only "pending"; :func:`explain_tasks` says which of these holds, checked in the order an
operator would fix them:

1. ``no-machine``: no live machine runs the type;
2. ``cordoned``: every live machine that runs it is cordoned, draining or restarting;
3. ``resources``: none of those has the cores, RAM or GPU the type declares (its capacity,
   as it advertises it, not what is free now: that is queueing);
4. ``storage``: no storage path, on any host of those machines, can take the files the stage
   writes (the placement's own refusal, with the sector's real size), or the sector files a
   stage must read locally are only on hosts where no such machine runs;
5. ``backoff``: a failed attempt's retry wait has not passed;
6. ``queued``: N tasks of its type come first (priority, then age: the claim order), or
   ``next``: it is first and the next poll of a machine takes it.

Cost: a handful of bounded statements per call (the tasks asked about, the machine table, one
index range count per task, the path table once per host). It is meant for the rows a CLI
prints and for the one task or sector whose detail is open, never for a whole queue per refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from engine.harmonytask.machine_state import MACHINE_STATE_SQL, MachineState
from engine.resources import Resources
from engine.storage import SectorFileType
from engine.storage.placement import load_path_states, rank
from engine.storage.units import size_str

from .format import duration

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "KINDS",
    "NO_ROOM",
    "TaskNeeds",
    "Wait",
    "explain_tasks",
    "sector_waits",
    "type_needs",
]

#: how a ``storage`` wait begins, before the placement's own reason (the storage-no-room alert
#: quotes that reason)
NO_ROOM = "no storage path can hold its files: "

#: every kind of answer, most fundamental first (see the module docstring); ``running``,
#: ``failed`` and ``gone`` say the task is not waiting at all
KINDS = (
    "no-machine",
    "cordoned",
    "resources",
    "storage",
    "backoff",
    "queued",
    "next",
    "running",
    "failed",
    "gone",
)

NO_FILES = SectorFileType(0)

#: how far a queue position is counted (an index range scan, stopped there)
AHEAD_CAP = 10_000


@dataclass(frozen=True)
class Wait:
    """Why task ``task_id`` is where it is, in one line (``text``)."""

    task_id: int
    name: str
    kind: str
    text: str

    @property
    def waiting(self) -> bool:
        """Pending (or in a retry wait) and not claimed: the kinds before ``running``."""
        return self.kind not in ("running", "failed", "gone")


@dataclass(frozen=True)
class TaskNeeds:
    """What a task type declares: its cost, the files it writes (and on which kind of path),
    the files it must find on its own host."""

    cost: Resources
    writes: SectorFileType = NO_FILES
    seal: bool = True
    reads: SectorFileType = NO_FILES
    reads_remotely: bool = False


@cache
def _needs_table() -> dict[str, TaskNeeds]:
    """The shipped types' declarations, read from the task classes themselves (so a changed
    cost or file set changes the answer too). The sealing stages declare theirs as class
    attributes; the built-in types' ``type_details`` read only constants."""
    from engine.harmonytask.builtin import Burn, Fail, Noop, Sleep
    from engine.tasks.seal import (
        CommitBatchTask,
        FinalizeTask,
        MoveStorageTask,
        PoRepTask,
        PreCommitBatchTask,
        SDRTask,
        TreeDTask,
        TreeRCTask,
    )

    table: dict[str, TaskNeeds] = {}
    for stage in (
        SDRTask,
        TreeDTask,
        TreeRCTask,
        PreCommitBatchTask,
        PoRepTask,
        FinalizeTask,
        MoveStorageTask,
        CommitBatchTask,
    ):
        table[stage.stage.task] = TaskNeeds(
            cost=stage.cost,
            writes=SectorFileType(stage.writes),
            seal=stage.writes_for_sealing,
            reads=SectorFileType(stage.reads),
            reads_remotely=stage.reads_remotely,
        )
    none: Any = None
    for kind in (Noop(), Sleep(none), Burn(none), Fail()):
        details = kind.type_details()
        table[details.name] = TaskNeeds(cost=details.cost)
    return table


def type_needs(name: str) -> TaskNeeds | None:
    """The declaration of task type ``name``, when this installation ships it."""
    return _needs_table().get(name)


@dataclass(frozen=True)
class _Machine:
    id: int
    host_and_port: str
    hostname: str | None
    cpu: int
    ram: int
    gpu: float
    state: str
    tasks: str

    @property
    def label(self) -> str:
        return f"#{self.id} {self.host_and_port}"

    def runs(self, name: str) -> bool:
        return name in self.tasks.split(",")


TASKS = """
SELECT t.id, t.name, t.owner_id, t.failed_at IS NOT NULL AS failed, t.retries, t.priority,
       t.posted_time, t.last_error,
       EXTRACT(EPOCH FROM t.retry_after - now())::float8 AS backoff_left,
       m.host_and_port AS owner
  FROM harmony_task t LEFT JOIN harmony_machines m ON m.id = t.owner_id
 WHERE t.id = ANY($1::bigint[])
"""

MACHINES = (
    """
SELECT m.id, m.host_and_port, m.hostname, m.cpu, m.ram, m.gpu, coalesce(d.tasks, '') AS tasks,
       """
    + MACHINE_STATE_SQL
    + """ AS state
  FROM harmony_machines m LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
 ORDER BY m.id
 LIMIT 10000
"""
)

#: tasks of the same type a machine would claim first (harmonytask.claims' order)
AHEAD = """
SELECT count(*) FROM (
  SELECT 1 FROM harmony_task
   WHERE name = $1 AND owner_id IS NULL AND failed_at IS NULL AND id <> $4
     AND (priority > $2 OR (priority = $2 AND (posted_time, id) < ($3, $4)))
   LIMIT $5) x
"""

#: hosts a sector's files of the given types are on (attached there)
HOLDING_HOSTS = """
SELECT DISTINCT h.hostname
  FROM sector_location l JOIN storage_path_hosts h ON h.storage_id = l.storage_id
 WHERE l.miner_id = $1 AND l.sector_num = $2 AND (l.sector_filetype & $3) <> 0
 ORDER BY h.hostname
"""


def _cores(cpu: float) -> str:
    return f"{cpu:g} core" + ("" if cpu == 1 else "s")


def _resources_text(r: Resources) -> str:
    parts = [_cores(r.cpu), size_str(r.ram)]
    if r.gpu:
        parts.append(f"{r.gpu:g} GPU")
    return ", ".join(parts)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


async def _sector_of(db: DB, name: str, task_id: int) -> tuple[int, int, int] | None:
    from engine.tasks.seal.pipeline import STAGE_BY_TASK

    stage = STAGE_BY_TASK.get(name)
    if stage is None:
        return None
    row = await db.query_row(stage.lookup, task_id)
    if row is None:
        return None
    return int(row["sp_id"]), int(row["sector_number"]), int(row["sector_size"])


async def _storage_reason(
    db: DB, name: str, task_id: int, needs: TaskNeeds, hosts: list[str]
) -> str | None:
    """Why no host among ``hosts`` can take the task's sector files, or None if one can."""
    if not needs.writes and not needs.reads:
        return None
    sector = await _sector_of(db, name, task_id)
    if sector is None:
        return None
    miner, number, size = sector
    where = f"sector t0{miner}-{number}"
    if needs.reads and not needs.reads_remotely:
        holding = [
            r["hostname"] for r in await db.select(HOLDING_HOSTS, miner, number, int(needs.reads))
        ]
        if holding and not set(holding) & set(hosts):
            return (
                f"{where}: its files ({needs.reads}) are on {', '.join(holding)}, where no "
                f"schedulable machine runs {name}"
            )
    if not needs.writes:
        return None
    refusals: list[str] = []
    for host in hosts:
        states = await load_path_states(db, host)
        pending: dict[str, int] = {}
        refused = None
        for ft in needs.writes.bits():
            needed = ft.overhead(size, sealing=needs.seal)
            ranking = rank(
                states, ft, needed, seal=needs.seal, miner=miner, host=host, pending=pending
            )
            if not ranking.candidates:
                what = f"a {size_str(needed)} {ft} file"
                refused = str(ranking.refusal(what))
                # the placement's sentence names what it was asked to place; say it once
                head = f"no storage path can take {what}: "
                if refused.startswith(head):
                    refused = f"{what} fits nowhere: {refused[len(head) :]}"
                break
            best = ranking.candidates[0].storage_id
            pending[best] = pending.get(best, 0) + needed
        if refused is None:
            return None
        refusals.append(refused if len(hosts) == 1 else f"on {host}: {refused}")
    kind = "seal" if needs.seal else "store"
    total = sum(ft.overhead(size, sealing=needs.seal) for ft in needs.writes.bits())
    return (
        f"{where} ({size_str(size)}) needs {size_str(total)} on a {kind} path for its "
        f"{needs.writes}; " + "; ".join(refusals)
    )


async def explain_tasks(db: DB, task_ids: Sequence[int]) -> dict[int, Wait]:
    """Why each of ``task_ids`` (our own cluster's) is not running, keyed by task id (every id
    asked for is answered: ``gone`` when it left the queue)."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    rows = {r["id"]: r for r in await db.select(TASKS, ids)}
    machines = [_Machine(**r) for r in await db.select(MACHINES)]
    out: dict[int, Wait] = {}
    for task_id in ids:
        row = rows.get(task_id)
        if row is None:
            out[task_id] = Wait(task_id, "", "gone", "not in the queue: it finished or was removed")
            continue
        out[task_id] = await _explain(db, row, machines)
    return out


async def _explain(db: DB, row: Any, machines: list[_Machine]) -> Wait:
    task_id, name = int(row["id"]), str(row["name"])

    def wait(kind: str, text: str) -> Wait:
        return Wait(task_id, name, kind, text)

    if row["failed"]:
        error = (row["last_error"] or "").strip()
        return wait(
            "failed",
            f"failed after {_plural(int(row['retries']), 'attempt')}"
            + (f": {error}" if error else "")
            + " (`harmony task restart` takes it back)",
        )
    if row["owner_id"] is not None:
        owner = row["owner"] or f"machine #{row['owner_id']}"
        return wait("running", f"running on {owner}")
    runners = [m for m in machines if m.runs(name)]
    alive = [m for m in runners if MachineState(m.state).alive]
    if not alive:
        gone = f" ({', '.join(f'{m.label} is {m.state}' for m in runners[:3])})" if runners else ""
        return wait(
            "no-machine",
            f"no live machine runs {name}{gone}: start one that runs it "
            "(`harmony run`, or add it to a machine's task list)",
        )
    active = [m for m in alive if m.state == MachineState.ACTIVE]
    if not active:
        states = ", ".join(f"{m.label} is {m.state}" for m in alive[:3])
        more = f" and {len(alive) - 3} more" if len(alive) > 3 else ""
        return wait(
            "cordoned",
            f"every live machine that runs {name} takes no new work ({states}{more}): "
            "uncordon one (`harmony machine uncordon`)",
        )
    needs = type_needs(name)
    if needs is not None:
        fit = [m for m in active if needs.cost.fits_in(Resources(m.cpu, m.ram, m.gpu))]
        if not fit:
            biggest = max(active, key=lambda m: (m.gpu, m.cpu, m.ram))
            return wait(
                "resources",
                f"no schedulable machine that runs {name} has the {_resources_text(needs.cost)} "
                f"it needs (largest: {biggest.label} with "
                f"{_resources_text(Resources(biggest.cpu, biggest.ram, biggest.gpu))})",
            )
        hosts = sorted({m.hostname for m in fit if m.hostname})
        if hosts:
            reason = await _storage_reason(db, name, task_id, needs, hosts)
            if reason is not None:
                return wait("storage", f"{NO_ROOM}{reason}")
    left = row["backoff_left"]
    if left is not None and left > 0:
        error = (row["last_error"] or "").strip()
        return wait(
            "backoff",
            f"retry wait: claimable again in {duration(left)} after "
            f"{_plural(int(row['retries']), 'failed attempt')}" + (f" ({error})" if error else ""),
        )
    ahead = int(
        await db.query_value(AHEAD, name, row["priority"], row["posted_time"], task_id, AHEAD_CAP)
        or 0
    )
    n = len(active)
    runs = f"{n} schedulable machine{' runs' if n == 1 else 's run'} {name}"
    if ahead:
        count = f"{ahead}+" if ahead >= AHEAD_CAP else str(ahead)
        return wait("queued", f"queued behind {count} other {name} task(s); {runs}")
    return wait("next", f"next in line: {runs}; its next poll takes it")


#: a sector's stage tasks (every ``task_id_*`` column of its pipeline row)
SECTOR_TASKS = """
SELECT task_id_sdr, task_id_tree_d, task_id_tree_r, task_id_precommit_msg, task_id_porep,
       task_id_finalize, task_id_move_storage, task_id_commit_msg
  FROM sectors_sdr_pipeline WHERE sp_id = $1 AND sector_number = $2
"""


async def sector_waits(db: DB, sp_id: int, sector: int) -> list[Wait]:
    """Why the stage tasks of a sector that are not running yet wait (none when every task it
    has is running or done)."""
    row = await db.query_row(SECTOR_TASKS, sp_id, sector)
    if row is None:
        return []
    ids = sorted({int(v) for v in row.values() if v is not None})
    found = await explain_tasks(db, ids)
    return [w for w in found.values() if w.waiting]
