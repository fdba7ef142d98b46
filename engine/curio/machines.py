"""An operator's actions on a Curio cluster's machines, with Curio's own semantics.

A Curio schema is foreign (:mod:`engine.harmonydb.cluster_kind`): its sessions are read-only at
the server, and these four actions are the only writes harmony makes there, each in its own
explicit read-write transaction (``db.transaction(..., read_write=True)``), behind the
operator's confirmation (the caller's job). Each changes exactly the columns Curio's own code
changes, with Curio's statements (filecoin-project/curio at e0294b0f):

* **cordon** ``UPDATE harmony_machines SET unschedulable = true WHERE id = $1``
  (web/api/webrpc/cluster.go ``Cordon``; cmd/curio/rpc/rpc.go ``Cordon`` for ``curio cli
  cordon``). The node's poller reads the flag (harmony/harmonytask/harmonytask.go
  ``checkNodeFlags``) and takes no new work; running tasks continue.
* **uncordon** ``SET unschedulable = false`` and nothing else (``Uncordon`` in the same files):
  a pending restart request stays.
* **restart** ``SET restart_request = NOW()`` (web/api/webrpc/cluster.go ``Restart``). Curio's
  GUI offers it only on a cordoned machine (web/static/cluster-machines.mjs greys it out
  otherwise), and so does this module: refused on a schedulable one. The node, once it owns no
  task (``SELECT COUNT(*) FROM harmony_task WHERE owner_id = $1``), clears both flags
  (``SET restart_request = NULL, unschedulable = FALSE``) and exits with status 100
  (``restartIfNoTasksPending``), for its supervisor to start it again.
* **abort restart** ``SET restart_request = NULL`` (``AbortRestart``); the cordon stays.

Curio has no drain: cordon, then wait for the machine's tasks to end.

Each action reads and locks the row first (``FOR UPDATE``), so an unknown machine or a refused
precondition is said plainly and nothing is written; an action whose state is already there
(cordon on a cordoned machine, restart while one is requested, ...) writes nothing and says so
(:attr:`ActionResult.changed`), so a pending restart keeps the time it was asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString

from engine.harmonydb import AmbiguousCommit, ReadOnlyError
from engine.harmonydb.errors import INSUFFICIENT_PRIVILEGE

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "ACTIONS",
    "ActionResult",
    "CurioActionError",
    "CurioActionRefused",
    "CurioActionUncertain",
    "CurioMachine",
    "CurioMachineNotFound",
    "abort_restart",
    "cordon",
    "find_machine",
    "list_machine_rows",
    "request_restart",
    "uncordon",
]


class CurioActionError(Exception):
    """An action on a Curio machine did not certainly happen; the message says why."""


class CurioActionRefused(CurioActionError):
    """The action was not taken and nothing was changed (unknown machine, a precondition of
    Curio's, a session or role that may not write)."""


class CurioMachineNotFound(CurioActionRefused):
    """No machine of that id, address or name in the Curio cluster."""


class CurioActionUncertain(CurioActionError):
    """The reply to the COMMIT was lost and reading the row back could not tell whether the
    action took effect: the operator must look (``harmony machine list``)."""


@dataclass(frozen=True)
class CurioMachine:
    """A row of Curio's ``harmony_machines`` as the actions see it."""

    id: int
    host_and_port: str
    #: ``harmony_machine_details.machine_name`` (None before the node wrote its details)
    name: str | None
    #: cordoned: its engine claims no new work
    unschedulable: bool
    #: when a restart was asked for; None when none is pending
    restart_request: datetime | None
    #: tasks it owns (``harmony_task.owner_id``): what a restart waits for
    running: int

    @property
    def label(self) -> str:
        """How an operator names it: the machine name, else its address."""
        return self.name or self.host_and_port


@dataclass(frozen=True)
class ActionResult:
    """What an action left: the machine's row after it, and whether anything was written."""

    machine: CurioMachine
    changed: bool


#: One machine with its name and running-task count; ``{lock}`` is empty or ``FOR UPDATE OF m``.
_MACHINE = """
SELECT m.id, m.host_and_port, d.machine_name AS name,
       coalesce(m.unschedulable, false) AS unschedulable, m.restart_request,
       (SELECT count(*) FROM harmony_task t WHERE t.owner_id = m.id) AS running
FROM harmony_machines m
LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
"""
_ONE_LOCKED: LiteralString = _MACHINE + "WHERE m.id = $1 FOR UPDATE OF m"
_ONE: LiteralString = _MACHINE + "WHERE m.id = $1"
_ALL: LiteralString = _MACHINE + "ORDER BY m.id"

# Curio's statements (see the module docstring); the restart's extra condition repeats the
# check made under the row lock.
_CORDON: LiteralString = "UPDATE harmony_machines SET unschedulable = true WHERE id = $1"
_UNCORDON: LiteralString = "UPDATE harmony_machines SET unschedulable = false WHERE id = $1"
_RESTART: LiteralString = (
    "UPDATE harmony_machines SET restart_request = NOW() WHERE id = $1 AND unschedulable"
)
_ABORT_RESTART: LiteralString = "UPDATE harmony_machines SET restart_request = NULL WHERE id = $1"


def _machine(row: Any) -> CurioMachine:
    return CurioMachine(
        id=int(row["id"]),
        host_and_port=str(row["host_and_port"]),
        name=row["name"] or None,
        unschedulable=bool(row["unschedulable"]),
        restart_request=row["restart_request"],
        running=int(row["running"]),
    )


async def list_machine_rows(db: DB) -> list[CurioMachine]:
    """Every machine of the Curio cluster, by id (a read; works for a SELECT-only role)."""
    return [_machine(row) for row in await db.select(_ALL)]


async def find_machine(db: DB, name_or_id: str) -> CurioMachine:
    """The machine an operator named: by id, else ``host_and_port``, else ``machine_name``
    (which Curio does not keep unique: a name two machines share is refused)."""
    machines = await list_machine_rows(db)
    wanted = name_or_id.strip()
    for matches in (
        [m for m in machines if str(m.id) == wanted],
        [m for m in machines if m.host_and_port == wanted],
        [m for m in machines if m.name == wanted],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(str(m.id) for m in matches)
            raise CurioMachineNotFound(
                f"{len(matches)} machines are named {wanted!r} (ids {ids}): name one by id "
                "or host:port"
            )
    raise CurioMachineNotFound(f"no machine {wanted!r} in the Curio cluster")


Check = Callable[[CurioMachine], bool]


async def _act(
    db: DB,
    machine_id: int,
    what: str,
    sql: LiteralString,
    *,
    done: Check,
    allowed: Callable[[CurioMachine], str | None] = lambda _m: None,
) -> ActionResult:
    """Lock the row, refuse or skip as the state says, else run Curio's ``sql``, commit.

    ``done`` says the machine is already as the action leaves it (nothing to write);
    ``allowed`` returns why the action is refused, or None.
    """

    async def work(tx: Tx) -> ActionResult:
        row = await tx.query_row(_ONE_LOCKED, machine_id)
        if row is None:
            raise CurioMachineNotFound(f"no machine with id {machine_id} in the Curio cluster")
        before = _machine(row)
        if done(before):
            return ActionResult(before, changed=False)
        refusal = allowed(before)
        if refusal is not None:
            raise CurioActionRefused(f"{before.label}: {refusal}; nothing was changed")
        if await tx.exec(sql, machine_id) != 1:
            raise CurioActionRefused(f"{before.label}: the row changed meanwhile; try again")
        after = _machine(await tx.query_row(_ONE, machine_id))
        await tx.commit()
        return ActionResult(after, changed=True)

    try:
        return await db.transaction(work, read_write=True)
    except ReadOnlyError as exc:
        raise CurioActionRefused(_why_not_writable(db, exc, what)) from None
    except AmbiguousCommit:
        return await _after_lost_reply(db, machine_id, what, done)


def _why_not_writable(db: DB, exc: ReadOnlyError, what: str) -> str:
    if exc.sqlstate == INSUFFICIENT_PRIVILEGE:
        return (
            f"cannot {what}: this database role may not update Curio's harmony_machines "
            "(it may only read); connect as a role that may, e.g. Curio's own; nothing was changed"
        )
    if db.read_only:
        return f"cannot {what}: the session is read-only (--read-only); nothing was changed"
    return f"cannot {what}: the server refused the write ({exc}); nothing was changed"


async def _after_lost_reply(db: DB, machine_id: int, what: str, done: Check) -> ActionResult:
    """The COMMIT's reply was lost: read the row back; if it shows the action's state, the
    action (or someone's equal one) took effect, else nobody can say."""
    try:
        row = await db.query_row(_ONE, machine_id)
    except Exception as exc:  # the database is still out of reach
        raise CurioActionUncertain(
            f"the reply to {what} was lost and the machine could not be read back ({exc}); "
            "check `harmony machine list`"
        ) from None
    if row is not None and done(_machine(row)):
        return ActionResult(_machine(row), changed=True)
    raise CurioActionUncertain(
        f"the reply to {what} was lost and the machine does not show it: it did not take "
        "effect, or was undone since; check `harmony machine list`"
    )


async def cordon(db: DB, machine_id: int) -> ActionResult:
    """Cordon (Curio: ``unschedulable = true``): no new tasks start there, running ones go on."""
    return await _act(db, machine_id, "cordon", _CORDON, done=lambda m: m.unschedulable)


async def uncordon(db: DB, machine_id: int) -> ActionResult:
    """Uncordon: clears ``unschedulable`` only (a requested restart stays requested)."""
    return await _act(db, machine_id, "uncordon", _UNCORDON, done=lambda m: not m.unschedulable)


async def request_restart(db: DB, machine_id: int) -> ActionResult:
    """Ask a cordoned machine to restart (``restart_request = NOW()``): it exits with status
    100 once it owns no task, clearing the cordon and the request. Refused on a machine that
    is not cordoned, as in Curio's GUI; a pending request keeps its time."""
    return await _act(
        db,
        machine_id,
        "request a restart",
        _RESTART,
        done=lambda m: m.restart_request is not None,
        allowed=lambda m: (
            None
            if m.unschedulable
            else "a restart is only requested on a cordoned machine (Curio's rule): cordon it first"
        ),
    )


async def abort_restart(db: DB, machine_id: int) -> ActionResult:
    """Withdraw a restart request (``restart_request = NULL``); the cordon stays."""
    return await _act(
        db,
        machine_id,
        "abort the restart",
        _ABORT_RESTART,
        done=lambda m: m.restart_request is None,
    )


#: the actions by the CLI's names, for callers that dispatch on a word
ACTIONS: dict[str, Callable[[DB, int], Awaitable[ActionResult]]] = {
    "cordon": cordon,
    "uncordon": uncordon,
    "restart": request_restart,
    "abort-restart": abort_restart,
}
