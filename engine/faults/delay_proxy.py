"""A TCP proxy that delays each direction by a fixed time and counts each client's traffic.

The cluster harness (:mod:`engine.faults.netns`) puts hosts in network namespaces on a bridge;
this kernel has no ``netem``, so the latency of a real network between a host and the database
comes from here: every chunk read from one side is delivered to the other ``delay_ms`` after it
arrived. Both directions are delayed independently (a round trip costs ``2 * delay_ms``), chunks
are delivered in the order they were read (one queue and one writer per direction, so bytes are
never reordered), and a burst is not serialised (the second of two chunks read together leaves
at the same moment as the first, as on a wire, not ``delay_ms`` after it).

The proxy also reads the PostgreSQL wire protocol as it passes (without changing it) and counts,
per client IP address, what the engines on that host cost the server: statements executed
(simple ``Query`` plus extended-protocol ``Execute`` messages), notifications delivered
(``NotificationResponse``), connections and bytes. A host is a source address on the bridge,
so one listener serves every host.

In-process::

    async with DelayProxy.for_url(pg_url, listen_host="10.213.7.1", delay_ms=1) as proxy:
        url = proxy.url(pg_url)          # the same URL, host and port replaced by the proxy's
        ...
        proxy.stats()["10.213.7.2"].statements

As its own process (so its CPU is not the caller's, and a synchronous caller can use it):
``python -m engine.faults.delay_proxy --listen IP --upstream HOST:PORT|/socket/file
--delay-ms MS`` prints ``{"port": N}`` once listening, then answers each ``stats`` line on stdin
with one JSON line; it exits on ``stop`` or at the end of stdin. :class:`DelayProxyProcess`
drives it. The upstream is an address, never a URL: no password passes through argv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from .pgproxy import PgProxy

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_PROTOCOL_3 = 196608
#: chunks held per direction before the reader waits (back-pressure on a slow receiver)
_QUEUE_CHUNKS = 512
#: a length above this is not PostgreSQL (e.g. a TLS record): stop parsing that connection
_MAX_MESSAGE = 1 << 30
#: notifications longer than this (channel + payload) are not counted
_MAX_NOTIFICATION = 16384


@dataclass
class HostCounts:
    """What one client address sent and received, since the proxy started."""

    connections: int = 0
    #: ``Query`` + ``Execute`` messages: statements the server was asked to run
    statements: int = 0
    #: ``NotificationResponse`` messages delivered to this client (LISTEN/NOTIFY wake-ups)
    notifications: int = 0
    #: the same, by channel name
    channels: dict[str, int] = field(default_factory=dict)
    bytes_up: int = 0
    bytes_down: int = 0
    #: connections whose stream could not be read (TLS): their statements are not counted
    opaque: int = 0


def _counts(values: dict[str, object]) -> HostCounts:
    counts = HostCounts(**values)  # type: ignore[arg-type]
    counts.channels = dict(counts.channels)
    return counts


class _Scanner:
    """Incremental reader of one direction of a PostgreSQL connection: it only counts, it never
    holds bytes back. The frontend starts with untyped startup packets; the backend answers an
    SSLRequest/GSSENCRequest with one unframed byte before anything typed."""

    def __init__(self, frontend: bool, counts: HostCounts, peer: _Scanner | None = None) -> None:
        self.frontend = frontend
        self.counts = counts
        self.peer = peer
        self.untyped = frontend  # startup phase: int32 length + int32 code packets
        self.answers_due = 0  # (backend) one-byte answers owed to encryption requests
        self.head = b""
        self.skip = 0  # body bytes still to pass over
        self.opaque = False
        self.notification = b""  # (backend) the NotificationResponse body read so far
        self.notification_left = 0

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n and not self.opaque:
            if self.skip:
                step = min(self.skip, n - i)
                if self.notification_left:
                    self.notification += data[i : i + step]
                    self.notification_left -= step
                    if not self.notification_left:
                        self._count_notification()
                self.skip -= step
                i += step
                continue
            if not self.frontend and self.answers_due and not self.head:
                self.answers_due -= 1
                if data[i : i + 1] in (b"S", b"G"):
                    self._give_up()
                i += 1
                continue
            want = 8 if self.untyped else 5
            take = min(want - len(self.head), n - i)
            self.head += data[i : i + take]
            i += take
            if len(self.head) < want:
                return
            head, self.head = self.head, b""
            if self.untyped:
                length, code = struct.unpack("!ii", head)
                if code in (_SSL_REQUEST, _GSSENC_REQUEST) and self.peer is not None:
                    self.peer.answers_due += 1
                elif code == _PROTOCOL_3:
                    self.untyped = False
                body = length - 8
            else:
                kind = head[:1]
                (length,) = struct.unpack("!i", head[1:])
                body = length - 4
                if self.frontend and kind in (b"Q", b"E"):
                    self.counts.statements += 1
                elif not self.frontend and kind == b"A" and 0 < body <= _MAX_NOTIFICATION:
                    self.notification, self.notification_left = b"", body
            if body < 0 or body > _MAX_MESSAGE:
                self._give_up()
                return
            self.skip = body

    def _count_notification(self) -> None:
        """NotificationResponse: int32 sender PID, channel NUL, payload NUL."""
        channel = self.notification[4:].partition(b"\0")[0].decode("utf-8", "replace")
        self.notification = b""
        self.counts.notifications += 1
        self.counts.channels[channel] = self.counts.channels.get(channel, 0) + 1

    def _give_up(self) -> None:
        self.opaque = True
        self.counts.opaque += 1


class DelayProxy:
    """Listens on ``listen_host`` (port ``listen_port``, 0: any free one); forwards to the
    upstream server (TCP, or a Unix socket file when ``upstream_port`` is None)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int | None = 5432,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        delay_ms: float = 0.0,
    ) -> None:
        if delay_ms < 0:
            raise ValueError("delay_ms must be 0 or more")
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.host, self.port = listen_host, listen_port
        self.delay = delay_ms / 1000.0
        self.counts: dict[str, HostCounts] = {}
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    @classmethod
    def for_url(cls, url: str, **kwargs: object) -> DelayProxy:
        """A proxy in front of the server ``url`` names (as :meth:`PgProxy.for_url` reads it)."""
        target = PgProxy.for_url(url)
        return cls(target.upstream_host, target.upstream_port, **kwargs)  # type: ignore[arg-type]

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's (everything else kept)."""
        shim = PgProxy(self.upstream_host, self.upstream_port)
        shim.host, shim.port = self.host, self.port
        return shim.url(url)

    def stats(self) -> dict[str, HostCounts]:
        """Counts by client IP address (a copy)."""
        return {ip: _counts(asdict(c)) for ip, c in self.counts.items()}

    async def __aenter__(self) -> DelayProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._links):
            task.cancel()
        for task in list(self._links):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        peer = writer.get_extra_info("peername")
        counts = self.counts.setdefault(str(peer[0]) if peer else "?", HostCounts())
        counts.connections += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.upstream_port is None:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream_host)
            else:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            backend = _Scanner(False, counts)
            frontend = _Scanner(True, counts, peer=backend)
            pumps = [
                asyncio.create_task(self._pipe(reader, up_writer, frontend, up=True)),
                asyncio.create_task(self._pipe(up_reader, writer, backend, up=False)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                for pump in pumps:
                    with contextlib.suppress(BaseException):
                        await pump
        except OSError:
            pass
        finally:
            writer.close()
            if up_writer is not None:
                up_writer.close()
            self._links.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        scanner: _Scanner,
        *,
        up: bool,
    ) -> None:
        """Read → (arrival time + delay) → write, one FIFO per direction."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(_QUEUE_CHUNKS)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if up:
                    scanner.counts.bytes_up += len(data)
                else:
                    scanner.counts.bytes_down += len(data)
                if data:
                    scanner.feed(data)
                if self.delay == 0 and queue.empty() and data:
                    writer.write(data)  # nothing held back: no hop through the queue
                    await writer.drain()
                    continue
                await queue.put((loop.time() + self.delay, data))
                if not data:
                    await sender  # deliver what is held, then end this direction
                    return
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender


class DelayProxyProcess:
    """A :class:`DelayProxy` in a process of its own (see the module docstring)."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int | None,
        *,
        listen_host: str,
        delay_ms: float = 0.0,
        start_within: float = 30.0,
    ) -> None:
        upstream = upstream_host if upstream_port is None else f"{upstream_host}:{upstream_port}"
        self.host = listen_host
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.faults.delay_proxy",
                "--listen",
                listen_host,
                "--upstream",
                upstream,
                "--delay-ms",
                repr(float(delay_ms)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._read(start_within)["port"])

    @classmethod
    def for_url(cls, url: str, **kwargs: object) -> DelayProxyProcess:
        target = PgProxy.for_url(url)
        return cls(target.upstream_host, target.upstream_port, **kwargs)  # type: ignore[arg-type]

    def url(self, url: str) -> str:
        shim = PgProxy("-", 0)
        shim.host, shim.port = self.host, self.port
        return shim.url(url)

    def _read(self, within: float) -> dict[str, object]:
        assert self.proc.stdout is not None
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(within):
                self.close()
                raise RuntimeError(f"delay proxy gave no answer within {within:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"delay proxy exited (code {self.proc.wait()})")
        return json.loads(line)

    def stats(self) -> dict[str, HostCounts]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        answer = self._read(30)["stats"]
        assert isinstance(answer, dict)
        return {ip: _counts(c) for ip, c in answer.items()}

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


async def _main(listen: str, upstream: str, delay_ms: float) -> None:
    host, _, port = upstream.rpartition(":")
    if upstream.startswith("/"):
        proxy = DelayProxy(upstream, None, listen_host=listen, delay_ms=delay_ms)
    else:
        proxy = DelayProxy(host, int(port), listen_host=listen, delay_ms=delay_ms)
    await proxy.start()
    say = sys.stdout
    say.write(json.dumps({"port": proxy.port}) + "\n")
    say.flush()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "stats":
                stats = {ip: asdict(c) for ip, c in proxy.counts.items()}
                say.write(json.dumps({"stats": stats, "time": time.time()}) + "\n")
                say.flush()
            elif line == "stop":
                break
    finally:
        await proxy.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m engine.faults.delay_proxy",
        description="Delay every chunk by --delay-ms in each direction between clients and a "
        "PostgreSQL server, counting statements and notifications per client address.",
    )
    parser.add_argument("--listen", required=True, metavar="IP", help="address to listen on")
    parser.add_argument(
        "--upstream", required=True, help="the server: HOST:PORT, or a Unix socket file path"
    )
    parser.add_argument("--delay-ms", type=float, default=0.0, help="per direction (default 0)")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.listen, args.upstream, args.delay_ms))


if __name__ == "__main__":
    main()
