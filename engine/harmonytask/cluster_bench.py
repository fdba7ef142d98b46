"""``harmony bench cluster``: the engine benchmark on N real hosts (network namespaces).

Each host (:mod:`engine.faults.netns`) runs one engine process, the same
:mod:`.bench_worker` ``harmony bench engine`` runs, with its own hostname and IP, and reaches
one PostgreSQL over the bridge: directly (the server listens on the bridge's address) or, with
added latency, through :class:`~engine.faults.delay_proxy.DelayProxyProcess` (``latency_ms``
each way: a round trip costs twice that). The figures mean what they mean in
:mod:`.bench`, whose helpers this module uses:

* **tasks/s**: N no-op tasks added in one transaction; the clock runs from that commit until
  the queue is empty (median of the runs).
* **pickup p50/p99**: single tasks added at a fixed rate, one transaction and one NOTIFY each;
  latency = the task's ``do()`` start on its host minus the producer's acknowledged commit
  (all namespaces share one clock).
* **idle statements/s per host**: with nothing to do, statements each host's engine sent (its
  DB layer's count), the mean over hosts.

And what says why throughput stops growing, measured over the throughput runs: the server's
CPU (its processes' CPU time / wall time, in cores), the whole machine's CPU use, the engines'
claim statements per task claimed (claims that found nothing because another host was faster
count here: claim contention), and what the server's busy backends were waiting on, sampled
every 50 ms from ``pg_stat_activity`` (``CPU``: running; ``IO:WALSync``: fsync of the WAL at
commit; ``Lock:…``: row or transaction locks, i.e. contention; ``Client:ClientRead`` while
active: mid-statement, waiting for the engine's next protocol message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

from engine.faults.delay_proxy import DelayProxyProcess
from engine.faults.netns import NetnsCluster, unavailable_reason
from engine.harmonydb import itest_db
from engine.harmonydb.scratch_server import TcpPostgres

from .admin import add_tasks
from .bench import _percentile, _wait_empty, _Worker
from .bench_worker import BENCH_TASK

if TYPE_CHECKING:
    from engine.faults.netns import NetnsHost
    from engine.harmonydb import DB, Tx

DEFAULT_HOSTS = (1, 2, 4, 8)
DEFAULT_LATENCIES = (0.0, 1.0)


@dataclass
class ClusterPoint:
    """One row of the table: N hosts at one added latency."""

    hosts: int
    latency_ms: float
    path: str
    throughput: list[float] = field(default_factory=list)
    pickup_ms: dict[str, float] = field(default_factory=dict)
    idle_statements_per_s: list[float] = field(default_factory=list)  # per host
    db_cpu_cores: float = 0.0
    machine_cpu_percent: float = 0.0
    engines_cpu_cores: float = 0.0
    claims_per_task: float = 0.0
    #: what the engines' active backends waited on: mean backends per sample, by wait event
    waits: dict[str, float] = field(default_factory=dict)

    @property
    def tasks_per_s(self) -> float:
        return statistics.median(self.throughput) if self.throughput else 0.0

    @property
    def idle_per_host(self) -> float:
        return statistics.fmean(self.idle_statements_per_s) if self.idle_statements_per_s else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "tasks_per_s": self.tasks_per_s,
            "idle_statements_per_s_per_host": self.idle_per_host,
        }


@dataclass
class ClusterReport:
    server: str
    cores: int
    fsync: str
    points: list[ClusterPoint] = field(default_factory=list)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "cores": self.cores,
            "fsync": self.fsync,
            "load_average_at_start": list(self.load_average),
            "points": [p.as_dict() for p in self.points],
        }


class _BridgePostgres(TcpPostgres):
    """A throwaway server that also listens on the bridge's address and admits its subnet
    (password authentication, as for loopback)."""

    def __init__(self, gateway: str, subnet: str) -> None:
        self.gateway, self.subnet = gateway, subnet
        super().__init__()

    def start(self) -> None:
        hba = self.data / "pg_hba.conf"
        line = f"host all all {self.subnet} scram-sha-256\n"
        if line not in hba.read_text():
            with hba.open("a") as f:
                f.write(line)
        self._cmd(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.root / "log"),
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1,{self.gateway} "
                "-c max_connections=300",
                "start",
            ]
        )


def _cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def _server_cpu_seconds(postmaster: psutil.Process | None) -> float:
    """CPU time of the whole server so far: the postmaster, its live backends and the ones it
    has reaped (counted in its children's times), so backends that come and go in a window
    are neither lost nor counted twice."""
    if postmaster is None:
        return 0.0
    try:
        own = postmaster.cpu_times()
        live = postmaster.children(recursive=True)
    except psutil.Error:
        return 0.0
    return own.user + own.system + own.children_user + own.children_system + _cpu_seconds(live)


async def _sample_waits(db: DB, stop: asyncio.Event, into: Counter[str]) -> None:
    """Every 50 ms: what each active backend of the bench's engines waits on."""
    while not stop.is_set():
        rows = await db.select(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w "
            "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
            "AND application_name LIKE 'harmony bench %' "
            "AND application_name <> 'harmony bench cluster'"
        )
        for row in rows:
            into[str(row["w"])] += 1
        into["(samples)"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def _start_workers(
    hosts: Sequence[NetnsHost], schema: str, url: str
) -> list[tuple[_Worker, NetnsHost]]:
    env = dict(os.environ, HARMONY_BENCH_DSN=url)
    workers = []
    for host in hosts:
        name = f"{host.hostname}:bench"
        argv = [sys.executable, "-m", "engine.harmonytask.bench_worker", schema, name, "notify"]
        proc = await asyncio.create_subprocess_exec(
            *host.argv(argv),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
            limit=256 * 1024 * 1024,
        )
        workers.append((_Worker(proc, host.hostname), host))
    for worker, _ in workers:
        ready = await worker.read()
        if not ready.get("notify"):
            raise RuntimeError(f"{worker.name}: LISTEN/NOTIFY not available over the bridge")
    return workers


async def _stop_workers(workers: Sequence[tuple[_Worker, NetnsHost]]) -> None:
    for worker, _ in workers:
        if worker.proc.returncode is None:
            try:
                await worker.ask("stop")
            except Exception:
                worker.proc.kill()
            await worker.proc.wait()


async def _measure(
    db: DB,
    hosts: Sequence[NetnsHost],
    url: str,
    point: ClusterPoint,
    server: psutil.Process | None,
    *,
    tasks: int,
    repeats: int,
    rate: float,
    duration: float,
    idle: float,
    settle: float,
    progress: Callable[[str], None],
) -> None:
    workers = await _start_workers(hosts, db.schema, url)
    try:
        pids = [psutil.Process(w.proc.pid) for w, _ in workers]
        before_stats = [await w.ask("stats") for w, _ in workers]
        waits: Counter[str] = Counter()
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_waits(db, stop, waits))
        window = time.perf_counter()
        cpu0, db0, eng0 = psutil.cpu_times(), _server_cpu_seconds(server), _cpu_seconds(pids)
        for _ in range(repeats):
            await add_tasks(db, BENCH_TASK, tasks)
            started = time.perf_counter()
            await _wait_empty(db, within=600)
            point.throughput.append(tasks / (time.perf_counter() - started))
        cpu1, db1, eng1 = psutil.cpu_times(), _server_cpu_seconds(server), _cpu_seconds(pids)
        wall = time.perf_counter() - window
        stop.set()
        await sampler
        after_stats = [await w.ask("stats") for w, _ in workers]
        busy = (sum(cpu1) - cpu1.idle - cpu1.iowait) - (sum(cpu0) - cpu0.idle - cpu0.iowait)
        total = sum(cpu1) - sum(cpu0)
        point.machine_cpu_percent = 100 * busy / total if total else 0.0
        point.db_cpu_cores = (db1 - db0) / wall
        point.engines_cpu_cores = (eng1 - eng0) / wall
        pairs = list(zip(after_stats, before_stats, strict=True))
        claims = sum(a["claims"] - b["claims"] for a, b in pairs)
        claimed = sum(a["claimed"] - b["claimed"] for a, b in pairs)
        point.claims_per_task = claims / claimed if claimed else 0.0
        samples = waits.pop("(samples)", 0)
        point.waits = {k: v / samples for k, v in waits.most_common(6)} if samples else {}
        progress(
            f"  {point.hosts} hosts, +{point.latency_ms:g} ms: "
            f"{point.tasks_per_s:,.0f} tasks/s (DB {point.db_cpu_cores:.2f} cores, machine "
            f"{point.machine_cpu_percent:.0f}% busy)"
        )
        history = await db.query_value(
            "SELECT count(*) FROM harmony_task_history WHERE name = $1", BENCH_TASK
        )
        if history != tasks * repeats:
            raise RuntimeError(f"expected {tasks * repeats} history rows, found {history}")
        await db.exec("DELETE FROM harmony_task_history")
        for worker, _ in workers:
            await worker.ask("starts")  # forget the throughput runs

        committed: dict[int, float] = {}

        async def add_one(tx: Tx) -> int:
            task_id = await tx.query_value(
                "INSERT INTO harmony_task (name, added_by, posted_time) "
                "VALUES ($1, 0, now()) RETURNING id",
                BENCH_TASK,
            )
            tx.notify("task", BENCH_TASK)
            await tx.commit()
            return int(task_id)

        count = int(rate * duration)
        begin = time.monotonic()
        for i in range(count):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            committed[await db.transaction(add_one)] = time.time()
        await _wait_empty(db, within=120)
        latencies = []
        for worker, _ in workers:
            for task_id, start in (await worker.ask("starts"))["starts"].items():
                latencies.append((start - committed[int(task_id)]) * 1000)
        point.pickup_ms = {
            "rate_per_s": rate,
            "tasks": len(latencies),
            "p50": _percentile(latencies, 0.50),
            "p99": _percentile(latencies, 0.99),
            "max": max(latencies),
        }
        await db.exec("DELETE FROM harmony_task_history")

        await asyncio.sleep(settle)  # the last completions and wake-ups settle
        before = [await w.ask("stats") for w, _ in workers]
        await asyncio.sleep(idle)
        after = [await w.ask("stats") for w, _ in workers]
        point.idle_statements_per_s = [
            (a["statements"] - b["statements"]) / (a["time"] - b["time"])
            for a, b in zip(after, before, strict=True)
        ]
        progress(
            f"  pickup p50 {point.pickup_ms['p50']:.2f} ms, p99 {point.pickup_ms['p99']:.2f} ms; "
            f"idle {point.idle_per_host:.2f} statements/s per host"
        )
    finally:
        await _stop_workers(workers)
        # each point starts with no machines (those that left would otherwise pile up)
        await db.exec("DELETE FROM harmony_machines")


async def run_cluster_bench(
    *,
    hosts: Sequence[int] = DEFAULT_HOSTS,
    latencies: Sequence[float] = DEFAULT_LATENCIES,
    db_url: str | None = None,
    tasks: int = 5000,
    repeats: int = 3,
    rate: float = 200.0,
    duration: float = 5.0,
    idle: float = 10.0,
    settle: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
) -> ClusterReport:
    """Measure every (hosts, latency) pair. Without ``db_url``, a throwaway server of its own
    listens on the bridge (fsync on, as in production) and latency 0 is a direct connection;
    with ``db_url`` (a scratch schema there, dropped afterwards) every host goes through the
    proxy, delay 0 included."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"the cluster benchmark needs network namespaces: {reason}")
    cluster = NetnsCluster(max(hosts), db_url=db_url, proxy=False, prefix="hxb")
    server: _BridgePostgres | None = None
    proxy: DelayProxyProcess | None = None
    db: DB | None = None
    try:
        await asyncio.to_thread(cluster.start)
        if db_url is None:
            server = await asyncio.to_thread(_BridgePostgres, cluster.gateway, str(cluster.subnet))
            upstream = server.url
            cluster.upstream_url = upstream
        else:
            upstream = db_url
        db = await itest_db(upstream, application_name="harmony bench cluster")
        postmaster = None
        if server is not None:
            pid = int((server.data / "postmaster.pid").read_text().split()[0])
            postmaster = psutil.Process(pid)
        report = ClusterReport(
            server=str(await db.query_value("SELECT version()")).split(" on ")[0],
            cores=psutil.cpu_count() or 0,
            fsync=str(await db.query_value("SHOW fsync")),
            load_average=os.getloadavg(),
        )
        progress(
            f"{report.server}, fsync {report.fsync}; {report.cores} cores, load average "
            f"{report.load_average[0]:.1f}; bridge {cluster.subnet}"
        )
        for latency in latencies:
            if latency == 0 and server is not None:
                url, path = cluster.db_url_for(cluster.names[0]), "direct"
            else:
                proxy = await asyncio.to_thread(
                    DelayProxyProcess.for_url,
                    upstream,
                    listen_host=cluster.gateway,
                    delay_ms=latency,
                )
                url, path = proxy.url(upstream), "proxy"
            for n in hosts:
                progress(f"{n} host(s), +{latency:g} ms each way ({path})")
                point = ClusterPoint(n, latency, path)
                chosen = [cluster.host(name) for name in cluster.names[:n]]
                await _measure(
                    db,
                    chosen,
                    url,
                    point,
                    postmaster,
                    tasks=tasks,
                    repeats=repeats,
                    rate=rate,
                    duration=duration,
                    idle=idle,
                    settle=settle,
                    progress=progress,
                )
                report.points.append(point)
            if proxy is not None:
                await asyncio.to_thread(proxy.close)
                proxy = None
        return report
    finally:
        if proxy is not None:
            await asyncio.to_thread(proxy.close)
        if db is not None:
            with contextlib.suppress(Exception):
                await db.delete_all()
        await asyncio.to_thread(cluster.close)
        if server is not None:
            await asyncio.to_thread(server.destroy)


def table(report: ClusterReport) -> str:
    """The report as a Markdown table (plus the why-columns)."""
    lines = [
        "| hosts | added latency | tasks/s | pickup p50 | pickup p99 | idle stmts/s per host "
        "| DB CPU | engines CPU | machine CPU | claims/task | busy backends by wait (mean) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in report.points:
        waits = ", ".join(f"{k} {v:.2f}" for k, v in list(p.waits.items())[:3])
        lines.append(
            f"| {p.hosts} | {p.latency_ms:g} ms | {p.tasks_per_s:,.0f} | "
            f"{p.pickup_ms.get('p50', 0):.1f} ms | {p.pickup_ms.get('p99', 0):.1f} ms | "
            f"{p.idle_per_host:.2f} | {p.db_cpu_cores:.2f} cores | "
            f"{p.engines_cpu_cores:.2f} cores | "
            f"{p.machine_cpu_percent:.0f}% | {p.claims_per_task:.2f} | {waits} |"
        )
    return "\n".join(lines)
