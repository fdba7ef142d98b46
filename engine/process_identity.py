"""Which process holds something (a machine identity, the migration lease), precisely enough
to prove it gone.

A restarted worker takes its machine row over at once, and a starting migrator breaks the
migration lease at once, when the process that held it is provably gone; otherwise each must
wait for the holder's silence (machine timeout) or the lease's expiry, or it would run work the
holder still runs. "The PID is not alive on this hostname" proves nothing in two common cases:
two containers share a hostname (and a kernel) but not a PID namespace, so the other
container's PID is simply not visible; and PIDs are reused. So a holder is recorded as boot id,
PID namespace, PID and that process's start time, and counts as gone only when this process
shares its boot and its PID namespace, and that PID is no longer running with that start time.

The start time is the kernel's own (``/proc/PID/stat``, clock ticks since boot): exact, so a
reused PID (started at least a tick later) never compares equal.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["ProcessIdentity", "boot_id", "default_identity", "pid_namespace", "process_start"]


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError:
        return None


def boot_id() -> str | None:
    """The kernel's boot id: PIDs and start times mean something only within one boot."""
    return _read("/proc/sys/kernel/random/boot_id")


def pid_namespace() -> str | None:
    """This process's PID namespace (e.g. ``pid:[4026531836]``)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """Start of process ``pid`` (as this process sees PIDs) in clock ticks since boot; None if
    there is no such process (or only its zombie: it has exited, and holds nothing)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # the command name (field 2) is in parentheses and may contain spaces or parentheses
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return int(fields[19])


@dataclass(frozen=True)
class ProcessIdentity:
    """A process, as recorded by what it holds."""

    hostname: str | None
    pid: int | None
    #: see :func:`boot_id`
    boot_id: str | None
    #: see :func:`pid_namespace`: PIDs mean something only within one PID namespace
    pid_namespace: str | None
    #: see :func:`process_start`: tells a reused PID apart
    start_time: int | None

    @classmethod
    def current(cls, hostname: str | None = None) -> ProcessIdentity:
        pid = os.getpid()
        return cls(
            hostname=hostname or socket.gethostname(),
            pid=pid,
            boot_id=boot_id(),
            pid_namespace=pid_namespace(),
            start_time=process_start(pid),
        )

    def sees_the_same_pids_as(self, other: ProcessIdentity) -> bool:
        """Whether a PID of ``other`` means the same process here: same host, same boot, same
        PID namespace (unknowns never match)."""
        return (
            other.hostname == self.hostname
            and other.boot_id is not None
            and other.boot_id == self.boot_id
            and other.pid_namespace is not None
            and other.pid_namespace == self.pid_namespace
        )

    def proves_gone(self, holder: ProcessIdentity) -> bool:
        """Whether ``holder`` has provably exited, as far as this process can see. False when it
        cannot know (another host, boot or PID namespace, or no start time recorded)."""
        if holder.pid is None or holder.start_time is None:
            return False
        if not self.sees_the_same_pids_as(holder):
            return False
        return process_start(holder.pid) != holder.start_time


def default_identity(role: str) -> str:
    """``<hostname>:<role>``: stable across restarts (so a restart re-adopts its tasks), and
    distinct for the console's engine and a headless worker on the same host."""
    return f"{socket.gethostname()}:{role}"
