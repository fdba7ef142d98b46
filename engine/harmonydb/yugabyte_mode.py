"""The YugabyteDB-readiness mode: a PostgreSQL server that behaves, where it matters to us, like
a YugabyteDB cluster without ``yb_enable_listen_notify``.

No YugabyteDB runs on the machines that test this project, yet two of its differences decide
whether the engine works there at all (``docs/yugabytedb.md``):

* **LISTEN is refused** (``ERROR: This statement not supported yet``, SQLSTATE 0A000). The DB
  layer must find that out (:meth:`DB.notify_supported` probes with a real ``LISTEN``) and every
  waiter must fall back to polling.
* **Transactions see serialization failures** (YugabyteDB's REPEATABLE READ / SERIALIZABLE, or a
  cluster without real READ COMMITTED): 40001 can come from any transaction under contention,
  and every place the project promises a retry must retry it.

The front is a :class:`~engine.faults.pgproxy.PgProxy` between the clients and the server that
changes two things in what the clients send, and nothing else:

* every connection's startup packet gets ``default_transaction_isolation=serializable`` (unless
  the client set an isolation itself), so each session's transactions are SERIALIZABLE on the
  server: PostgreSQL's SSI raises real 40001s under contention, as YugabyteDB would;
* a statement that begins with ``LISTEN`` (a simple Query or an extended-protocol Parse) is
  replaced by one that the *server* fails with SQLSTATE 0A000: the client gets a genuine server
  error (inside a transaction block the server aborts the block, as it would for a refused
  statement), and the code under test takes the path it takes on YugabyteDB, not a flag.

NOTIFY is left alone: PostgreSQL delivers nothing to a server with no listener, and the DB
layer sends none once the probe failed (:meth:`DB.notify`).

Tests and CI turn the mode on with ``HARMONY_TEST_YUGABYTE_MODE``: ``1`` for the whole suite
(``tests/conftest.py`` starts the front in a process of its own, in front of the suite's
server; see :func:`start_front_process`), ``engine`` for ``tests/engine`` alone, the rest of
the same run in the normal mode (``tests/engine/conftest.py`` puts the front before the engine
tests' server only; CI's second run does this, so the engine suite runs once with NOTIFY and
READ COMMITTED and once without, under SERIALIZABLE, and no run is added).
``python -m engine.harmonydb.yugabyte_mode URL`` prints the front's URL and serves until its
standard input closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from engine.faults.pgproxy import (
    PgProxy,
    _Link,
    _pack,
    _read_message,
    _remember_sql,
)

#: The environment variable that puts the test suite in this mode: ``1`` the whole suite,
#: ``engine`` only ``tests/engine``; unset, empty or ``0`` none of it.
ENV = "HARMONY_TEST_YUGABYTE_MODE"

#: The parts of the suite the variable can name (``1`` names :data:`SUITE`).
SUITE = "suite"
ENGINE = "engine"


def requested_scope() -> str | None:
    """Which part of the suite ``HARMONY_TEST_YUGABYTE_MODE`` puts in the mode: :data:`SUITE`,
    :data:`ENGINE` or None; any other value is refused (a typo must not pass for a run in the
    mode)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0"):
        return None
    if value == "1":
        return SUITE
    if value == ENGINE:
        return ENGINE
    raise ValueError(f"{ENV}={value!r}: expected 1 (the whole suite), engine (tests/engine) or 0")


def in_mode(part: str) -> bool:
    """Whether tests of ``part`` (:data:`SUITE` for any test, :data:`ENGINE` for tests/engine)
    run in the mode."""
    scope = requested_scope()
    return scope == SUITE or (scope is not None and scope == part)


#: A statement list whose first statement, or any statement after a ';', is a LISTEN.
_LISTEN = re.compile(rb"(?:^|;)\s*LISTEN\b", re.IGNORECASE)

#: What the server runs instead: it raises YugabyteDB's refusal itself, so the error, the
#: aborted transaction block and the SQLSTATE are the server's own.
REFUSAL = (
    b"DO $harmony_yb$ BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', "
    b"MESSAGE = 'This statement not supported yet', "
    b"HINT = 'LISTEN is refused in the YugabyteDB-readiness mode "
    b"(yb_enable_listen_notify off)'; END $harmony_yb$"
)


@dataclass
class FrontCounts:
    """What the front changed, for tests: LISTENs refused, sessions made serializable."""

    listens_refused: int = 0
    serializable_sessions: int = 0


class YugabyteFront(PgProxy):
    """A proxy that refuses LISTEN and makes every session SERIALIZABLE (module docstring)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int | None = 5432,
        *,
        isolation: str = "serializable",
    ) -> None:
        super().__init__(upstream_host, upstream_port)
        self.counts = FrontCounts()
        #: every session's default isolation: ``serializable`` in the mode; tests of code that
        #: opens its own transactions may ask for ``repeatable read`` (YugabyteDB's Snapshot,
        #: where PostgreSQL's SSI does not stand in for a missing write conflict)
        self.isolation = isolation

    def _startup_parameters(self, body: bytes) -> bytes:
        """The startup parameters (name NUL value NUL ... NUL) with the session's default
        isolation set to serializable, unless the client chose one (the startup exchange is
        :meth:`PgProxy._startup`'s; an encrypted one cannot be changed, and the suite's servers
        have no TLS)."""
        fields = body.split(b"\0")
        names = fields[0:-2:2]
        if b"default_transaction_isolation" in names:
            return body
        self.counts.serializable_sessions += 1
        return body[:-1] + b"default_transaction_isolation\0" + self.isolation.encode() + b"\0\0"

    async def _frontend(self, reader: asyncio.StreamReader, link: _Link) -> None:
        assert link.server is not None
        while True:
            await self._gate()
            kind, body = await _read_message(reader)
            if kind is None:
                return
            self.frontend[kind] += 1
            body = self._refuse_listen(kind, body)
            _remember_sql(link, kind, body)
            if link.hung:
                continue
            await self._send(link.server, _pack(kind, body))

    def _refuse_listen(self, kind: str, body: bytes) -> bytes:
        """A Query or Parse whose text holds a LISTEN, with the text replaced by the refusal."""
        if kind == "Q":
            if _LISTEN.search(body.rstrip(b"\0")):
                self.counts.listens_refused += 1
                return REFUSAL + b"\0"
        elif kind == "P":
            name, _, rest = body.partition(b"\0")
            text = rest.partition(b"\0")[0]
            if _LISTEN.search(text):
                self.counts.listens_refused += 1
                # The refusal takes no parameters: declare none.
                return name + b"\0" + REFUSAL + b"\0" + struct.pack("!h", 0)
        return body

    def url(self, url: str) -> str:
        """``url`` through the front; TLS off, since an encrypted stream cannot be changed."""
        proxied = super().url(url)
        return proxied + ("&" if "?" in proxied else "?") + "sslmode=disable"


@dataclass
class FrontProcess:
    """A front running in a process of its own (so the suite's event loops and the CPU it
    shares with the server are not also carrying every byte); :meth:`stop` ends it."""

    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_front_process(url: str) -> FrontProcess:
    """Start ``python -m engine.harmonydb.yugabyte_mode`` in front of ``url``; the URL goes on
    its standard input (never on its command line: it may hold a password)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.harmonydb.yugabyte_mode"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(url + "\n")
    process.stdin.flush()
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        raise RuntimeError("the YugabyteDB-readiness front did not start")
    return FrontProcess(process, line)


@contextlib.contextmanager
def front_if_requested(url: str, part: str = SUITE) -> Iterator[str]:
    """``url`` through a front process when ``HARMONY_TEST_YUGABYTE_MODE`` names exactly
    ``part`` (the suite's ``pg_url`` fixture wraps its server with ``SUITE``, the engine suite's
    with ``ENGINE``: one front, never two), else ``url`` itself."""
    if requested_scope() != part:
        yield url
        return
    front = start_front_process(url)
    try:
        yield front.url
    finally:
        front.stop()


async def _serve_until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    url = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
    upstream = PgProxy.for_url(url)
    front = YugabyteFront(upstream.upstream_host, upstream.upstream_port)
    async with front:
        sys.stdout.write(front.url(url) + "\n")
        sys.stdout.flush()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_serve_until_stdin_closes())
