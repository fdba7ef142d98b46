"""What harmony may do to a Curio cluster besides reading it: the operator's machine actions,
with Curio's own semantics (read from its Go code; see :mod:`engine.curio.machines`).

Public API::

    machine = await find_machine(db, "gpu-1")        # by id, host:port or machine name
    result = await cordon(db, machine.id)            # unschedulable = true
    await request_restart(db, machine.id)            # only on a cordoned machine
    await abort_restart(db, machine.id)              # restart_request = NULL
    await uncordon(db, machine.id)                   # unschedulable = false, nothing else

Each action is one explicit read-write transaction on a session that is otherwise read-only
(a foreign cluster's always is); refusals raise :class:`CurioActionRefused` with nothing
changed. There is no drain: Curio has none.
"""

from .machines import (
    ACTIONS,
    ActionResult,
    CurioActionError,
    CurioActionRefused,
    CurioActionUncertain,
    CurioMachine,
    CurioMachineNotFound,
    abort_restart,
    cordon,
    find_machine,
    list_machine_rows,
    request_restart,
    uncordon,
)

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
