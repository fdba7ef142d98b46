"""Which process holds a machine identity, precisely enough to prove it gone.

A restarted worker takes its machine row over at once when the process that held it is provably
gone; otherwise it must wait until the row has been silent past the cluster's machine timeout,
or it would run, a second time and at the same moment, the tasks the first still runs. "The PID
is not alive on this hostname" proves nothing in two common cases: two containers share a
hostname (and a kernel) but not a PID namespace, so the other container's PID is simply not
visible; and PIDs are reused. So a holder is recorded as boot id, PID namespace, PID and that
process's start time, and counts as gone only when this process shares its boot and its PID
namespace, and that PID is no longer running with that start time.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

__all__ = ["ProcessIdentity"]

#: two readings of one process's start time differ by less than this (psutil derives it from
#: the boot time and clock ticks; a reused PID starts at least a tick later)
START_TIME_TOLERANCE = 0.05


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _start_time(pid: int) -> float | None:
    """When process ``pid`` (as this process sees PIDs) started; None if there is none."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.Error:
        return None


@dataclass(frozen=True)
class ProcessIdentity:
    """A process, as recorded on the machine row it holds."""

    hostname: str | None
    pid: int | None
    #: the kernel's boot id: PIDs and start times mean something only within one boot
    boot_id: str | None
    #: e.g. ``pid:[4026531836]``: PIDs mean something only within one PID namespace
    pid_namespace: str | None
    #: the process's start time (seconds since the epoch), which tells a reused PID apart
    start_time: float | None

    @classmethod
    def current(cls, hostname: str | None = None) -> ProcessIdentity:
        pid = os.getpid()
        return cls(
            hostname=hostname or socket.gethostname(),
            pid=pid,
            boot_id=_read("/proc/sys/kernel/random/boot_id"),
            pid_namespace=_pid_namespace(),
            start_time=_start_time(pid),
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
        cannot know (another host, boot or PID namespace): only the row's silence tells then."""
        if holder.pid is None:
            return False
        if holder.boot_id is None and holder.pid_namespace is None and holder.start_time is None:
            # Recorded by a version that kept only host and PID (a cluster being upgraded):
            # the old rule, once, until that row is rewritten by this version.
            return holder.hostname == self.hostname and _start_time(holder.pid) is None
        if not self.sees_the_same_pids_as(holder):
            return False
        running_since = _start_time(holder.pid)
        if running_since is None:
            return True
        if holder.start_time is None:
            return False
        return abs(running_since - holder.start_time) > START_TIME_TOLERANCE
