"""A fault-injecting TCP proxy for the PostgreSQL wire protocol (tests, `harmony bench chaos`).

Real networks lose a reply after the server acted on the request, and freeze with the connection
left open. Neither fault can be made by killing processes, and both are where "exactly once"
breaks: a client whose COMMIT reply was lost cannot know whether its transaction committed; a
client whose link froze waits for as long as nothing bounds the wait. The proxy sits between a
client (asyncpg, a whole engine, a ``harmony`` subprocess) and the server and makes both faults
on demand, at exact points in the conversation::

    async with PgProxy.for_url(pg_url) as proxy:
        db = await DB.open(proxy.url(pg_url), schema=...)     # everything goes through it
        rule = proxy.drop_reply("COMMIT", count=1)             # the next COMMIT: executed by
        ...                                                    # the server, reply never arrives
        assert rule.fired == 1
        proxy.freeze()                                         # nothing moves, sockets stay open
        ...
        proxy.thaw()                                           # traffic resumes where it stood

What it does:

* **Drop a reply after the server executed it** (:meth:`PgProxy.drop_reply`). The backend
  stream is parsed (1-byte type + int32 length) after the startup phase; a CommandComplete whose
  tag starts with the rule's prefix (``"COMMIT"``, ``"UPDATE"``, ``"INSERT"``) and, optionally,
  whose statement text contains ``sql_contains``, is swallowed together with everything up to
  and including the next ReadyForQuery. asyncpg's ``fetchrow``/``fetchval`` (HarmonyDB's
  ``query_row``/``query_value``) execute with a row limit, so the server ends their reply with
  PortalSuspended instead of CommandComplete: that counts as a reply too, its tag being the
  statement's first word and ``" ?"`` (``"UPDATE ?"``; a DML statement with RETURNING has run
  to its end when its first row is sent). Waiting for ReadyForQuery matters: an autocommit
  statement of the extended protocol commits at Sync, after its CommandComplete, so only then
  has the server provably finished (and, outside a transaction block, committed). Then the
  link is cut: ``after="close"`` closes both sides (the client sees a lost connection),
  ``after="hang"`` closes the server side but leaves the client's socket open and silent (the
  client waits until its own timeout). Rules fire ``count`` times and/or with a
  ``probability`` (seeded, so a failing run can be repeated).
* **Freeze** (:meth:`PgProxy.freeze` / :meth:`PgProxy.thaw`): no byte moves in either
  direction, on existing or new connections, while every socket stays open; a thaw delivers
  what was held back, in order.
* **Sever and refuse** (:meth:`PgProxy.sever`, ``proxy.refusing = True``): close every open
  link at once, as a server restart would; refuse new ones.
* **Count**: ``connections`` (accepted in all), ``open_links``, ``frontend`` and ``backend``
  message counts by type letter, ``tags`` (CommandComplete tags by first word, as the server
  sent them, dropped ones included).

The statement text a tag is matched against is the last one the client sent on that connection
(a simple Query, or the Parse text of the statement named by the last Bind). asyncpg sends one
statement and waits for its reply, so this is exact for it; a client that pipelines several
statements before reading replies may see a rule match the wrong one of them.

The upstream may be TCP (``PgProxy(host, port)``) or a Unix socket (``PgProxy(socket_path)``
with ``port=None``; the embedded test server listens only on one). The proxy itself always
listens on 127.0.0.1. An SSLRequest or GSSENCRequest is passed to the server; if it accepts
(``S``/``G``), the rest of that connection is encrypted and is forwarded without parsing or
faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import struct
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102
#: protocol 3.0: the startup message, with the session's parameters
_PROTOCOL_3 = 196608

After = Literal["close", "hang"]


@dataclass
class DropRule:
    """Which replies to drop; see :meth:`PgProxy.drop_reply`. ``fired`` counts drops so far."""

    tag: str
    count: int | None = 1
    probability: float = 1.0
    sql_contains: str | None = None
    after: After = "close"
    seed: int | None = None
    fired: int = 0
    seen: int = 0
    #: the tags dropped, as the server sent them ("UPDATE 7"), in order
    dropped: list[str] = field(default_factory=list)
    #: when each was dropped (``time.time()``, in the same order)
    dropped_at: list[float] = field(default_factory=list)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def active(self) -> bool:
        return self.count is None or self.fired < self.count

    def matches(self, tag: str, sql: str) -> bool:
        """Whether this reply is to be dropped (consumes a random draw for a matching tag)."""
        if not self.active or not tag.startswith(self.tag):
            return False
        if self.sql_contains is not None and self.sql_contains not in sql:
            return False
        self.seen += 1
        return self.probability >= 1.0 or self._random.random() < self.probability


class _Link:
    """One client connection and its server connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.statements: dict[bytes, str] = {}
        self.last_sql = ""
        self.hung = False
        self.tasks: list[asyncio.Task[None]] = []

    def close(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.close()


class PgProxy:
    """The proxy; use as ``async with PgProxy(...) as proxy`` (see the module docstring)."""

    def __init__(self, upstream_host: str, upstream_port: int | None = 5432) -> None:
        """``upstream_port=None`` means ``upstream_host`` is a Unix socket *file* path."""
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = "127.0.0.1"
        self.port = 0
        self.rules: list[DropRule] = []
        self.refusing = False
        self.connections = 0
        self.frontend: Counter[str] = Counter()
        self.backend: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @classmethod
    def for_url(cls, url: str) -> PgProxy:
        """A proxy in front of the server ``url`` names (its first host, or its ``host=``
        socket directory, as libpq and asyncpg read it)."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        netloc = parts.netloc.rpartition("@")[2]
        first = netloc.split(",")[0]
        host, port = _host_port(first)
        if "host" in query:
            host = query["host"].split(",")[0]
        port = int(query.get("port", port or 5432))
        if host.startswith("/"):
            return cls(os.path.join(host, f".s.PGSQL.{port}"), None)
        return cls(host or "localhost", port)

    def url(self, url: str) -> str:
        """``url`` with its host(s) replaced by this proxy (user, password, database and other
        parameters kept)."""
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query = [(k, v) for k, v in query if k not in ("host", "port")]
        netloc = f"{userinfo}{at}{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> PgProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and close every link."""
        if self._server is not None:
            self._server.close()
        self._flowing.set()
        links = list(self._links)
        for link in links:
            link.close()
            for task in link.tasks:
                task.cancel()
        for link in links:
            for task in link.tasks:
                with contextlib.suppress(BaseException):
                    await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    # ------------------------------------------------------------------ faults

    def drop_reply(
        self,
        tag: str,
        *,
        count: int | None = 1,
        probability: float = 1.0,
        sql_contains: str | None = None,
        after: After = "close",
        seed: int | None = None,
    ) -> DropRule:
        """Drop the reply to the next statement(s) whose CommandComplete tag starts with ``tag``
        (and whose text contains ``sql_contains``), after the server finished it, then cut the
        link (``after``). Fires at most ``count`` times (``None``: no limit), each matching
        reply with ``probability``. Returns the rule; :meth:`remove` takes it away."""
        rule = DropRule(
            tag=tag,
            count=count,
            probability=probability,
            sql_contains=sql_contains,
            after=after,
            seed=seed,
        )
        self.rules.append(rule)
        return rule

    def remove(self, rule: DropRule) -> None:
        with contextlib.suppress(ValueError):
            self.rules.remove(rule)

    def freeze(self) -> None:
        """Stop forwarding in both directions; every connection stays open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Resume forwarding; what was held back is delivered in order."""
        self._flowing.set()

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    def sever(self) -> int:
        """Close every open link now (both sides); return how many."""
        links = list(self._links)
        for link in links:
            link.close()
        return len(links)

    @property
    def open_links(self) -> int:
        return len(self._links)

    # ------------------------------------------------------------------ plumbing

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.refusing:
            writer.close()
            return
        link = _Link(writer)
        self._links.add(link)
        try:
            await self._flowing.wait()
            if self.upstream_port is None:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream_host)
            else:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            link.server = up_writer
            parse = await self._startup(reader, up_reader, link)
            if parse:
                pumps = [self._frontend(reader, link), self._backend(up_reader, link)]
            else:
                pumps = [self._opaque(reader, up_writer), self._opaque(up_reader, writer)]
            link.tasks = [asyncio.create_task(_quietly(pump)) for pump in pumps]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
            if link.hung:
                # The client's socket stays open and silent until the client gives up (its
                # read ends) or the proxy closes.
                await asyncio.wait(link.tasks[:1])
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for task in link.tasks:
                task.cancel()
            link.close()
            self._links.discard(link)

    async def _gate(self) -> None:
        if not self._flowing.is_set():
            await self._flowing.wait()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        await self._gate()
        writer.write(data)
        await writer.drain()

    async def _startup(
        self, client: asyncio.StreamReader, server: asyncio.StreamReader, link: _Link
    ) -> bool:
        """Forward the untyped startup packets; False if the rest is encrypted or a cancel."""
        assert link.server is not None
        while True:
            await self._gate()
            head = await client.readexactly(8)
            (length, code) = struct.unpack("!ii", head)
            body = await client.readexactly(length - 8)
            if code == _PROTOCOL_3:
                body = self._startup_parameters(body)
                head = struct.pack("!ii", len(body) + 8, code)
            await self._send(link.server, head + body)
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                await self._gate()
                answer = await server.readexactly(1)
                await self._send(link.client, answer)
                if answer in (b"S", b"G"):
                    return False
                continue
            return code != _CANCEL_REQUEST

    def _startup_parameters(self, body: bytes) -> bytes:
        """The startup message's parameters (name NUL value NUL ... NUL) as the server gets
        them: unchanged here; a subclass may set a session default."""
        return body

    async def _opaque(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await self._gate()
            data = await reader.read(65536)
            if not data:
                return
            await self._send(writer, data)

    async def _frontend(self, reader: asyncio.StreamReader, link: _Link) -> None:
        assert link.server is not None
        while True:
            await self._gate()
            kind, body = await _read_message(reader)
            if kind is None:
                return
            self.frontend[kind] += 1
            _remember_sql(link, kind, body)
            if link.hung:
                continue  # the server side is gone; the client hears nothing
            await self._send(link.server, _pack(kind, body))

    async def _backend(self, reader: asyncio.StreamReader, link: _Link) -> None:
        dropping: DropRule | None = None
        while True:
            await self._gate()
            kind, body = await _read_message(reader)
            if kind is None:
                return
            self.backend[kind] += 1
            if kind in ("C", "s"):
                tag = _tag(kind, body, link.last_sql)
                self.tags[tag.split(" ", 1)[0]] += 1
                if dropping is None:
                    for rule in self.rules:
                        if rule.matches(tag, link.last_sql):
                            rule.fired += 1
                            rule.dropped.append(tag)
                            rule.dropped_at.append(time.time())
                            dropping = rule
                            break
            if dropping is None:
                await self._send(link.client, _pack(kind, body))
                continue
            if kind == "Z":
                # The server has finished (and, outside a transaction block, committed):
                # cut the link without a word to the client.
                if dropping.after == "hang":
                    link.hung = True
                    if link.server is not None:
                        link.server.close()
                else:
                    link.close()
                return


async def _quietly(pump: Coroutine[None, None, None]) -> None:
    """A pump ends quietly when either socket breaks: that is the link ending."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        await pump


async def _read_message(reader: asyncio.StreamReader) -> tuple[str | None, bytes]:
    """One typed message (type letter, body), or (None, b"") at end of stream."""
    try:
        head = await reader.readexactly(5)
    except asyncio.IncompleteReadError:
        return None, b""
    (length,) = struct.unpack("!i", head[1:])
    body = await reader.readexactly(length - 4)
    return chr(head[0]), body


def _tag(kind: str, body: bytes, sql: str) -> str:
    """The CommandComplete tag; for a PortalSuspended, the statement's first word + " ?"."""
    if kind == "C":
        return body.rstrip(b"\0").decode("utf-8", "replace")
    words = sql.split(None, 1)
    return f"{words[0].upper() if words else ''} ?"


def _pack(kind: str, body: bytes) -> bytes:
    return kind.encode() + struct.pack("!i", len(body) + 4) + body


def _remember_sql(link: _Link, kind: str, body: bytes) -> None:
    """Track the statement text the next replies answer (simple Query; Parse + Bind)."""
    if kind == "Q":
        link.last_sql = body.rstrip(b"\0").decode("utf-8", "replace")
    elif kind == "P":
        name, _, rest = body.partition(b"\0")
        link.statements[name] = rest.partition(b"\0")[0].decode("utf-8", "replace")
        link.last_sql = link.statements[name]
    elif kind == "B":
        _portal, _, rest = body.partition(b"\0")
        name = rest.partition(b"\0")[0]
        link.last_sql = link.statements.get(name, link.last_sql)


def _host_port(item: str) -> tuple[str, int | None]:
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    return host, int(port) if port.isdigit() else None
