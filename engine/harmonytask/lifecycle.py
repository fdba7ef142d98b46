"""The engine's own lifecycle, one enum instead of a handful of flags.

A machine's cluster state (:class:`~.machine_state.MachineState`) is what operators see and
the database stores; the lifecycle is where this process is in its life, which decides what its
loops may still do: claim work, beat, record results.
"""

from __future__ import annotations

import enum

__all__ = ["Lifecycle"]


class Lifecycle(enum.StrEnum):
    #: registered and scheduling
    RUNNING = "running"
    #: peers declared this machine dead: its attempts are abandoned and it registers again
    #: under a new session; nothing is claimed meanwhile
    REJOINING = "rejoining"
    #: leaving (graceful terminate, stop now, or a crash): no new claims, running attempts
    #: finish or are handed back
    STOPPING = "stopping"
    #: left the cluster; nothing runs any more
    STOPPED = "stopped"

    @property
    def leaving(self) -> bool:
        return self in (Lifecycle.STOPPING, Lifecycle.STOPPED)

    @property
    def may_claim(self) -> bool:
        return self is Lifecycle.RUNNING
