"""The metrics endpoint: ``GET /metrics`` in Prometheus's text format (or OpenMetrics when the
scraper asks for it), served by aiohttp on the machine's own event loop.

Why on the loop and not prometheus_client's server thread: everything a scrape reads (the
engine's running attempts, its counters, the cached cluster figures) is changed by the event
loop; a thread reading them meanwhile would need locks the engine's hot path would pay for, or
would meet a dict changing size under its iteration. On the loop, a scrape is one more short
callback (a few milliseconds of building text every scrape interval), and the cluster figures'
refresh is an ordinary coroutine the scrape can wait for without blocking anything. aiohttp is
already the project's HTTP server (``harmony chain serve``). The exposition itself and the
registry are prometheus_client's; the registry is this server's own, never the library's
global one, so two machines in one process (tests, benchmarks) do not collide.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from .cluster import DEFAULT_INTERVAL, DEFAULT_WAIT, ClusterGauges
from .collector import HarmonyCollector
from .listen import ListenAddress, parse_listen
from .retries import count_retries

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.harmonytask import TaskEngine

log = logging.getLogger(__name__)

__all__ = ["MetricsListenError", "MetricsServer", "start_metrics"]

INDEX = b"""<html><head><title>harmony metrics</title></head><body>
<p>Prometheus metrics of this harmony machine: <a href="/metrics">/metrics</a></p>
</body></html>
"""

#: Real seconds the server gives a scrape in flight to finish when the machine stops.
SHUTDOWN_WAIT = 2.0


class MetricsListenError(ValueError):
    """The metrics address cannot be listened on (taken, not this host's, not allowed)."""


class MetricsServer:
    """One machine's endpoint: its registry, collector and HTTP listener.

    Start it before the engine (a taken port fails the start before the machine joins the
    cluster), then :meth:`attach` the engine; until then a scrape shows the process and the
    cluster figures only.
    """

    def __init__(
        self,
        address: ListenAddress,
        db: DB | None,
        *,
        interval: float = DEFAULT_INTERVAL,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self.address = address
        self.registry = CollectorRegistry(auto_describe=False)
        self.cluster = ClusterGauges(db, interval=interval, wait=wait) if db is not None else None
        #: statements and transactions the DB layer ran again (see :mod:`.retries`)
        self.db_retries = 0
        if db is not None:
            count_retries(db, self._retried)
        self.collector = HarmonyCollector(self.cluster, lambda: self.db_retries)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._runner: web.AppRunner | None = None
        #: the bound (host, port) pairs once started (port 0 is replaced by the real one)
        self.addresses: list[tuple[str, int]] = []

    def _retried(self) -> None:
        self.db_retries += 1

    def attach(self, engine: TaskEngine) -> None:
        """Serve ``engine``'s figures from now on."""
        self.collector.attach(engine)

    @property
    def url(self) -> str:
        host, port = self.addresses[0] if self.addresses else (self.address.host, 0)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    async def start(self) -> None:
        """Listen; raises :class:`MetricsListenError` when the address cannot be bound."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_WAIT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.address.host, self.address.port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            raise MetricsListenError(f"cannot serve metrics on {self.address}: {reason}") from None
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.addresses = [(str(a[0]), int(a[1])) for a in runner.addresses]
        log.info("serving Prometheus metrics on %s", self.url)

    async def close(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.cluster is not None:
            await self.cluster.fresh()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(body=INDEX, content_type="text/html")


async def start_metrics(
    listen: str | ListenAddress,
    db: DB | None,
    *,
    interval: float = DEFAULT_INTERVAL,
    wait: float = DEFAULT_WAIT,
) -> MetricsServer:
    """Parse ``listen`` (see :mod:`.listen`), bind it and serve; raises
    :class:`MetricsListenError` (a ValueError) saying why not."""
    try:
        address = listen if isinstance(listen, ListenAddress) else parse_listen(listen)
    except ValueError as exc:
        raise MetricsListenError(f"--metrics-listen {exc}") from None
    server = MetricsServer(address, db, interval=interval, wait=wait)
    await server.start()
    return server
