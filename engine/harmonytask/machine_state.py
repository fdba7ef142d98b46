"""The states a machine can be in, defined once: the enum and the SQL that derives it.

A machine's state is not stored; it follows from its row (session, operator flags, ``lost_at``).
:data:`MACHINE_STATE_SQL` derives it in a query (``harmony_machines`` aliased ``m``) and
:func:`state_of_flags` derives it in the engine from the flags its heartbeat read back, so the
CLI, the console and the engine's own view always use the same names and the same precedence.
"""

from __future__ import annotations

import enum
from datetime import datetime

__all__ = ["MACHINE_STATE_SQL", "MachineState", "state_of_flags"]


class MachineState(enum.StrEnum):
    """What the cluster may ask of a machine, in the order an operator reads them."""

    #: heartbeating and taking work
    ACTIVE = "active"
    #: heartbeating, takes no new work (operator's cordon)
    CORDONED = "cordoned"
    #: cordoned by a drain request; tasks still running
    DRAINING = "draining"
    #: a drain request whose running tasks have all ended
    DRAINED = "drained"
    #: restart requested: it exits with 100 once idle
    RESTARTING = "restarting"
    #: this process is leaving (graceful terminate or stop); never stored in the DB
    STOPPING = "stopping"
    #: left the cluster cleanly (session cleared by itself)
    OFFLINE = "offline"
    #: declared dead by a peer after missing heartbeats
    DEAD = "dead"

    @property
    def alive(self) -> bool:
        """Still a member of the cluster (its heartbeats count)."""
        return self not in (MachineState.OFFLINE, MachineState.DEAD)


def _sql() -> str:
    s = MachineState
    return f"""
CASE WHEN m.session IS NULL AND m.lost_at IS NOT NULL THEN '{s.DEAD}'
     WHEN m.session IS NULL THEN '{s.OFFLINE}'
     WHEN m.restart_request IS NOT NULL THEN '{s.RESTARTING}'
     WHEN m.drain_requested_at IS NOT NULL AND m.drained_at IS NOT NULL THEN '{s.DRAINED}'
     WHEN m.drain_requested_at IS NOT NULL THEN '{s.DRAINING}'
     WHEN m.unschedulable THEN '{s.CORDONED}'
     ELSE '{s.ACTIVE}' END
"""


#: The state of ``harmony_machines m`` as a SQL expression (constants only, no parameters).
MACHINE_STATE_SQL = _sql()


def state_of_flags(
    *,
    unschedulable: bool,
    restart_request: datetime | None,
    drain_requested_at: datetime | None,
    running: int,
    stopping: bool = False,
) -> MachineState:
    """The engine's view of its own state, with the same precedence as the SQL.

    A drain is "drained" here as soon as nothing runs (the DB's ``drained_at`` follows when the
    engine marks it).
    """
    if stopping:
        return MachineState.STOPPING
    if restart_request is not None:
        return MachineState.RESTARTING
    if drain_requested_at is not None:
        return MachineState.DRAINING if running else MachineState.DRAINED
    return MachineState.CORDONED if unschedulable else MachineState.ACTIVE
