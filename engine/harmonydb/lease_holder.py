"""Who holds the migration lease, precisely enough to prove the holder dead.

The lease expires, so a migrator killed mid-run cannot block the cluster forever; but until it
expires (60 s) every process that starts, typically every machine of a cluster restarted after
an upgrade, waits. When the holder ran on this host, this process can often prove it gone and
break the lease at once. "Its PID is not running" proves nothing by itself: PIDs are reused, and
two containers on one hostname (and one kernel) see different PIDs. So the holder records its
boot id, PID namespace, PID and that process's start time (clock ticks since boot, exact), and
counts as dead only when this process shares its hostname, boot and PID namespace, and that PID
is no longer running with that start time. Anything else, another host or container or an
older version's holder text, is left to the lease's expiry.

The record is the lease row's ``holder`` text (``host:pid:token boot=… pidns=… start=…``), so
the lease table, created before any migration can run, keeps its shape and older versions
still read the holder as an opaque name.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from engine.process_identity import ProcessIdentity, boot_id, pid_namespace, process_start

__all__ = ["LeaseHolder", "process_start"]


@dataclass(frozen=True)
class LeaseHolder:
    host: str
    pid: int
    token: str
    boot: str | None = None
    pidns: str | None = None
    start: int | None = None

    @classmethod
    def current(cls) -> LeaseHolder:
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            token=secrets.token_hex(4),
            boot=boot_id(),
            pidns=pid_namespace(),
            start=process_start(pid),
        )

    def text(self) -> str:
        extra = [
            f"{key}={value}"
            for key, value in (("boot", self.boot), ("pidns", self.pidns), ("start", self.start))
            if value is not None
        ]
        return " ".join([f"{self.host}:{self.pid}:{self.token}", *extra])

    @classmethod
    def parse(cls, text: str) -> LeaseHolder | None:
        """The holder a lease row names; None for text this version cannot read."""
        first, *rest = text.split()
        host, _, tail = first.partition(":")
        pid_text, _, token = tail.partition(":")
        if not host or not pid_text.isdigit():
            return None
        fields = dict(item.partition("=")[::2] for item in rest)
        start = fields.get("start")
        return cls(
            host=host,
            pid=int(pid_text),
            token=token,
            boot=fields.get("boot"),
            pidns=fields.get("pidns"),
            start=int(start) if start and start.isdigit() else None,
        )

    @property
    def process(self) -> ProcessIdentity:
        return ProcessIdentity(self.host, self.pid, self.boot, self.pidns, self.start)

    def proves_dead(self, holder: LeaseHolder) -> bool:
        """Whether ``holder`` has provably exited, as seen from this process (``self``)."""
        return self.process.proves_gone(holder.process)
