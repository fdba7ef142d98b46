"""Operator actions and listings: what the CLI and the console call.

Actions change one row by id and then NOTIFY the machine concerned, so a cordon or drain is
seen at once where notifications work (and within one heartbeat, ~2 s, where they do not).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString

from .claims import keyed_transaction, new_token
from .errors import MachineNotFound, TaskNotFound
from .machine_state import MACHINE_STATE_SQL
from .resend import resend
from .task import MAX_NAME_LENGTH, TaskID

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

OPERATOR = 0  # harmony_task.added_by for tasks added from the command line


@dataclass(frozen=True)
class TaskRow:
    id: TaskID
    name: str
    state: str  # pending | waiting (retry back-off) | running | failed
    owner: str | None
    posted_time: datetime
    claimed_at: datetime | None
    retries: int
    attempt: int
    priority: int
    last_error: str | None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    task_id: TaskID
    name: str
    posted: datetime
    work_start: datetime
    work_end: datetime
    result: bool
    outcome: str | None
    err: str | None
    completed_by_host_and_port: str
    attempt: int | None


@dataclass(frozen=True)
class MachineRow:
    id: int
    host_and_port: str
    name: str | None
    state: str  # a MachineState value
    cpu: int
    ram: int
    gpu: float
    cpu_load: float | None
    ram_used: int | None
    gpu_used: float | None
    last_contact: datetime
    seconds_since_contact: float
    running: int
    tasks: str | None
    version: str | None
    startup_time: datetime | None


TASKS = """
SELECT t.id, t.name,
       CASE WHEN t.failed_at IS NOT NULL THEN 'failed'
            WHEN t.owner_id IS NOT NULL THEN 'running'
            WHEN t.retry_after > now() THEN 'waiting'
            ELSE 'pending' END AS state,
       m.host_and_port AS owner, t.posted_time, t.claimed_at, t.retries, t.attempt, t.priority,
       t.last_error
  FROM harmony_task t LEFT JOIN harmony_machines m ON m.id = t.owner_id
 WHERE ($1::text IS NULL OR t.name = $1)
   AND ($2::text IS NULL OR $2 = CASE WHEN t.failed_at IS NOT NULL THEN 'failed'
                                      WHEN t.owner_id IS NOT NULL THEN 'running'
                                      WHEN t.retry_after > now() THEN 'waiting'
                                      ELSE 'pending' END)
 ORDER BY t.owner_id IS NULL, t.posted_time, t.id
 LIMIT $3
"""

HISTORY = """
SELECT id, task_id, name, posted, work_start, work_end, result, outcome, err,
       completed_by_host_and_port, attempt
  FROM harmony_task_history
 WHERE ($1::text IS NULL OR name = $1)
   AND ($2::bigint IS NULL OR task_id = $2)
   AND (NOT $3::bool OR NOT result)
 ORDER BY work_end DESC, id DESC
 LIMIT $4
"""

MACHINES = (
    """
SELECT m.id, m.host_and_port, d.machine_name AS name, """
    + MACHINE_STATE_SQL
    + """ AS state,
       m.cpu, m.ram, m.gpu, m.cpu_load, m.ram_used, m.gpu_used, m.last_contact,
       extract(epoch FROM now() - m.last_contact)::float8 AS seconds_since_contact,
       (SELECT count(*) FROM harmony_task t WHERE t.owner_id = m.id)::int AS running,
       d.tasks, d.version, d.startup_time
  FROM harmony_machines m LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
 ORDER BY m.host_and_port
"""
)


async def list_tasks(
    db: DB, *, name: str | None = None, state: str | None = None, limit: int = 100
) -> list[TaskRow]:
    return await db.select(TASKS, name, state, limit, into=TaskRow)


async def task_history(
    db: DB,
    *,
    name: str | None = None,
    task_id: TaskID | None = None,
    failures_only: bool = False,
    limit: int = 100,
) -> list[HistoryRow]:
    return await db.select(HISTORY, name, task_id, failures_only, limit, into=HistoryRow)


async def restart_task(db: DB, task_id: TaskID) -> str:
    """Take a task out of the failed state: retries reset, claimable at once."""

    async def restart(tx: Tx) -> str:
        row = await tx.query_row(
            "SELECT name, failed_at IS NOT NULL AS failed FROM harmony_task WHERE id = $1 "
            "FOR UPDATE",
            task_id,
        )
        if row is None:
            raise TaskNotFound(f"no task {task_id} (finished tasks leave the queue)")
        if not row["failed"]:
            raise TaskNotFound(f"task {task_id} ({row['name']}) is not in the failed state")
        await tx.exec(
            "UPDATE harmony_task SET failed_at = NULL, retries = 0, retry_after = NULL, "
            "update_time = now() WHERE id = $1",
            task_id,
        )
        # in this transaction, after the failed state was checked: one event per restart
        await tx.exec(
            "INSERT INTO cluster_events (kind, task_id, task_name, message) "
            "VALUES ('task-restarted', $1, $2, 'restarted by hand: retries reset')",
            task_id,
            row["name"],
        )
        tx.notify("task", row["name"])
        await tx.commit()
        return str(row["name"])

    return await db.transaction(restart)


ADD_MANY = """
WITH added AS (
    INSERT INTO harmony_task (name, added_by, posted_time, priority)
    SELECT $1, $2, now(), $3 FROM generate_series(1, $4)
    RETURNING id
), params AS (
    INSERT INTO harmony_task_params (task_id, params)
    SELECT id, $5::jsonb FROM added WHERE $5::text IS NOT NULL
)
SELECT id FROM added ORDER BY id
"""


async def add_tasks(
    db: DB,
    name: str,
    count: int = 1,
    params: dict[str, Any] | None = None,
    *,
    priority: int = 0,
    added_by: int = OPERATOR,
    key: str | None = None,
) -> list[TaskID]:
    """Add ``count`` tasks of type ``name`` in one transaction, with one wake-up.

    Keyed like every add (``key``, random by default; see :func:`.claims.keyed_transaction`):
    sent again after a lost reply it returns the ids its first send added instead of adding
    ``count`` more. Raises :class:`.claims.AddOutcomeUnknown` when whether it committed cannot
    be known.
    """
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"task type name {name!r} must be 1..16 characters")
    if count < 1:
        raise ValueError("count must be at least 1")
    encoded = json.dumps(params) if params else None

    async def add(tx: Tx) -> list[TaskID]:
        rows = await tx.select(ADD_MANY, name, added_by, priority, count, encoded)
        tx.notify("task", name)
        return [r["id"] for r in rows]

    return await keyed_transaction(db, key or new_token(), add)


async def handlers_of(db: DB, name: str) -> int:
    """How many live machines run task type ``name``."""
    return int(
        await db.query_value(
            "SELECT count(*) FROM harmony_machines m JOIN harmony_machine_details d "
            "ON d.machine_id = m.id WHERE m.session IS NOT NULL "
            "AND $1 = ANY(string_to_array(d.tasks, ','))",
            name,
        )
    )


async def list_machines(db: DB) -> list[MachineRow]:
    return await db.select(MACHINES, into=MachineRow)


async def resolve_machine(db: DB, name_or_id: str) -> MachineRow:
    """A machine by id, host_and_port or machine name."""
    for machine in await list_machines(db):
        if name_or_id in (str(machine.id), machine.host_and_port, machine.name):
            return machine
    raise MachineNotFound(f"no machine {name_or_id!r} (see `harmony machine list`)")


#: An operator's flag change and the event it records (``cluster_events``), decided from the
#: flags before the change: (kind, message), or None when the flags were already so.
Event = Callable[[Any], tuple[str, str] | None]


async def _set_flags(db: DB, machine_id: int, sql: LiteralString, event: Event) -> None:
    """Set a machine's operator flags. Each action sets the same values however often it is
    sent, so one whose COMMIT reply was lost is simply sent again.

    Its event goes in the same transaction, after the row is locked and only if the flags
    change: an action sent again (or twice at once) finds them set and records nothing more."""

    async def update(tx: Tx) -> None:
        before = await tx.query_row(
            "SELECT host_and_port, unschedulable, drain_requested_at, restart_request "
            "FROM harmony_machines WHERE id = $1 FOR UPDATE",
            machine_id,
        )
        if before is None or not await tx.exec(sql, machine_id):
            raise MachineNotFound(f"no machine with id {machine_id}")
        what = event(before)
        if what is not None:
            await tx.exec(
                "INSERT INTO cluster_events (kind, machine_id, machine, message) "
                "VALUES ($1, $2, $3, $4)",
                what[0],
                machine_id,
                before["host_and_port"],
                what[1],
            )
        tx.notify("machine", str(machine_id))
        await tx.commit()

    await resend(db, lambda: db.transaction(update))


def _uncordoned(before: Any) -> tuple[str, str] | None:
    cancelled = [
        what
        for what, column in (("drain", "drain_requested_at"), ("restart", "restart_request"))
        if before[column] is not None
    ]
    if not cancelled and not before["unschedulable"]:
        return None
    why = f" ({' and '.join(cancelled)} cancelled)" if cancelled else ""
    return "machine-uncordoned", f"uncordoned: schedulable again{why}"


async def cordon(db: DB, machine_id: int) -> None:
    """Stop new claims on the machine; running tasks continue."""
    await _set_flags(
        db,
        machine_id,
        "UPDATE harmony_machines SET unschedulable = TRUE WHERE id = $1",
        lambda b: (
            None
            if b["unschedulable"]
            else ("machine-cordoned", "cordoned: no new tasks start there")
        ),
    )


async def uncordon(db: DB, machine_id: int) -> None:
    """Back to normal scheduling (also cancels a drain or a pending restart request)."""
    await _set_flags(
        db,
        machine_id,
        "UPDATE harmony_machines SET unschedulable = FALSE, drain_requested_at = NULL, "
        "drained_at = NULL, restart_request = NULL WHERE id = $1",
        _uncordoned,
    )


async def drain(db: DB, machine_id: int) -> None:
    """Cordon, then the machine records ``drained_at`` itself once nothing runs there."""
    await _set_flags(
        db,
        machine_id,
        # a drain asked again (a re-sent request) keeps the first one's time and, if the
        # machine has recorded it drained since, that record (and its one event)
        "UPDATE harmony_machines SET unschedulable = TRUE, "
        "drain_requested_at = coalesce(drain_requested_at, now()), "
        "drained_at = CASE WHEN drain_requested_at IS NULL THEN NULL ELSE drained_at END "
        "WHERE id = $1",
        lambda b: (
            None
            if b["drain_requested_at"] is not None
            else ("machine-drain", "drain requested: cordoned, running tasks finish")
        ),
    )


async def request_restart(db: DB, machine_id: int) -> None:
    """Cordon; once idle the machine exits with status 100 (a supervisor restarts it)."""
    await _set_flags(
        db,
        machine_id,
        "UPDATE harmony_machines SET unschedulable = TRUE, restart_request = now() WHERE id = $1",
        lambda b: (
            None
            if b["restart_request"] is not None
            else ("machine-restart", "restart requested: cordoned, restarts once idle")
        ),
    )
