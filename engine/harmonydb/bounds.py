"""How long any database call may wait, on both ends of the connection.

Without bounds a frozen link (a switch that drops packets, a NAT that forgot the flow, a server
stuck on I/O) holds a call forever: the machine stops heartbeating without a word in its log,
its peers reclaim its tasks, and when traffic resumes it acts on a world that moved on. Every
layer therefore gets a bound, sized from the engine's defaults (a 2 s heartbeat, a 12 s machine
timeout), so that a machine cut off from the database hears of it before its peers give up on
it:

* ``statement_timeout`` (server side): a statement running longer is cancelled by the server,
  which then reports a clean error (SQLSTATE 57014) and has provably not committed it.
* ``reply_timeout`` (client side, asyncpg's ``command_timeout``): a little above the statement
  timeout, so it fires only when the server could not even say that: the link is gone. The
  connection is then dropped (never reused) and the call raises :class:`TimedOut`, or
  :class:`AmbiguousCommit` for a write.
* ``connect_timeout``: opening a connection.
* TCP keepalive on both ends and ``TCP_USER_TIMEOUT`` on ours: an idle connection (a LISTEN
  connection waits for hours) or one whose sent data is never acknowledged is found dead by the
  kernel within about ``keepalive_idle + keepalive_count * keepalive_interval`` seconds, and the
  server rolls back a dead client's transaction instead of holding its locks.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Bounds:
    """The waits of one :class:`~engine.harmonydb.DB`; seconds unless said otherwise."""

    statement_timeout: float = 10.0
    #: the client's wait for any reply; None: ``statement_timeout`` + 2 s
    command_timeout: float | None = None
    connect_timeout: float = 5.0
    keepalive_idle: int = 5
    keepalive_interval: int = 2
    keepalive_count: int = 3

    @property
    def reply_timeout(self) -> float:
        if self.command_timeout is not None:
            return self.command_timeout
        return self.statement_timeout + 2.0

    def with_statement_timeout(self, seconds: float) -> Bounds:
        return replace(self, statement_timeout=seconds)

    def server_settings(self) -> dict[str, str]:
        """Session settings sent at connect (they survive asyncpg's ``RESET ALL`` on release,
        unlike ``SET``). The keepalive settings are ignored on Unix sockets."""
        return {
            "statement_timeout": str(int(self.statement_timeout * 1000)),
            "tcp_keepalives_idle": str(self.keepalive_idle),
            "tcp_keepalives_interval": str(self.keepalive_interval),
            "tcp_keepalives_count": str(self.keepalive_count),
        }

    def configure_socket(self, sock: Any) -> None:
        """Keepalive and ``TCP_USER_TIMEOUT`` on a TCP client socket (Unix sockets: nothing)."""
        if sock is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
        options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        for name, value in (
            ("TCP_KEEPIDLE", self.keepalive_idle),
            ("TCP_KEEPINTVL", self.keepalive_interval),
            ("TCP_KEEPCNT", self.keepalive_count),
            ("TCP_USER_TIMEOUT", int(self.reply_timeout * 1000)),
        ):
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
        for level, option, value in options:
            with contextlib.suppress(OSError):  # a platform without the option keeps its default
                sock.setsockopt(level, option, value)


DEFAULT_BOUNDS = Bounds()


def configure_connection(conn: Any, bounds: Bounds) -> None:
    """Apply :meth:`Bounds.configure_socket` to an asyncpg connection's socket."""
    transport = getattr(conn, "_transport", None)
    if transport is not None:
        bounds.configure_socket(transport.get_extra_info("socket"))
