"""``harmony bench engine``: throughput, pickup latency and idle load of K engine processes.

* **Throughput**: N no-op tasks are added in one transaction; the clock runs from that commit
  until the queue is empty (every task claimed, run, deleted and recorded in history).
* **Pickup latency**: a producer adds single tasks at a fixed rate (one transaction and one
  NOTIFY each); latency = the task's ``do()`` start minus the moment the producer's commit was
  acknowledged (the same host clock for all processes).
* **Idle load**: with nothing to do, statements per second each engine sends (counted by its
  DB layer) and transactions per second the server commits, per engine.

The latency run follows the throughput runs on the same tables, so ``--tasks 400000 --repeats
1`` measures pickup right after a drain of 400,000 tasks, with their dead rows still in the
queue's index until a vacuum removes them. The server line names the settings that decide what
a commit waits for (``fsync``, ``synchronous_commit``, ``full_page_writes``): a claim commits
before its task starts, so on a server that flushes, every pickup includes a WAL flush, and a
server run without one (the suite's and CI's throwaway servers) is not a fair comparison.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.harmonydb import itest_db

from .admin import add_tasks
from .bench_worker import BENCH_TASK

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx


@dataclass
class BenchReport:
    engines: int
    tasks: int
    mode: str
    throughput: list[float] = field(default_factory=list)  # tasks/s per repetition
    latency_ms: dict[str, float] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)
    server: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "engines": self.engines,
            "tasks": self.tasks,
            "mode": self.mode,
            "throughput_tasks_per_s": self.throughput,
            "throughput_median": statistics.median(self.throughput) if self.throughput else None,
            "pickup_latency_ms": self.latency_ms,
            "idle": self.idle,
            "server": self.server,
        }


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc, self.name = proc, name

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\n".encode())
        await self.proc.stdin.drain()
        return await self.read()

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"bench engine {self.name} exited (code {await self.proc.wait()})")
        return json.loads(line)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))
    return ordered[rank]


async def _wait_empty(db: DB, within: float) -> None:
    deadline = time.monotonic() + within
    while await db.query_value("SELECT EXISTS (SELECT 1 FROM harmony_task)"):
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark tasks did not finish in time")
        await asyncio.sleep(0.005)


async def run_engine_bench(
    url: str,
    *,
    engines: int = 2,
    tasks: int = 20_000,
    repeats: int = 3,
    rate: float = 200.0,
    duration: float = 10.0,
    idle: float = 20.0,
    poll: bool = False,
    settle: float = 12.0,
    progress: Callable[[str], None] = lambda _: None,
) -> BenchReport:
    db = await itest_db(url, application_name="harmony bench")
    report = BenchReport(engines, tasks, "polling" if poll else "notify")
    workers: list[_Worker] = []
    try:
        report.server = await _describe_server(db)
        env = dict(os.environ, HARMONY_BENCH_DSN=url)
        for i in range(engines):
            name = f"bench-{i}"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "engine.harmonytask.bench_worker",
                db.schema,
                name,
                "poll" if poll else "notify",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
                limit=256 * 1024 * 1024,
            )
            workers.append(_Worker(proc, name))
        for worker in workers:
            ready = await worker.read()
            if poll == ready["notify"]:
                raise RuntimeError(f"{worker.name}: wanted {report.mode} mode")
        progress(f"{engines} engine processes ready ({report.mode} wake-ups)")

        for rep in range(repeats):
            await add_tasks(db, BENCH_TASK, tasks)
            started = time.perf_counter()
            await _wait_empty(db, within=600)
            elapsed = time.perf_counter() - started
            report.throughput.append(tasks / elapsed)
            progress(
                f"throughput run {rep + 1}: {tasks} tasks in {elapsed:.2f}s "
                f"= {tasks / elapsed:,.0f} tasks/s"
            )
        history = await db.query_value("SELECT count(*) FROM harmony_task_history")
        if history != tasks * repeats:
            raise RuntimeError(f"expected {tasks * repeats} history rows, found {history}")
        for worker in workers:
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
            task_id = await db.transaction(add_one)
            committed[task_id] = time.time()
        await _wait_empty(db, within=120)
        latencies = []
        for worker in workers:
            for task_id, start in (await worker.ask("starts"))["starts"].items():
                latencies.append((start - committed[int(task_id)]) * 1000)
        report.latency_ms = {
            "rate_per_s": rate,
            "tasks": len(latencies),
            "p50": _percentile(latencies, 0.50),
            "p99": _percentile(latencies, 0.99),
            "max": max(latencies),
        }
        progress(
            f"pickup latency at {rate:g}/s: p50 {report.latency_ms['p50']:.2f} ms, "
            f"p99 {report.latency_ms['p99']:.2f} ms"
        )

        # Backends report their transaction counts to the server's statistics lazily (up to
        # ~10 s after they go idle): wait, so the busy phases do not leak into the idle window.
        await asyncio.sleep(settle)
        before = [await w.ask("stats") for w in workers]
        xacts_before = await _server_transactions(db)
        await asyncio.sleep(idle)
        after = [await w.ask("stats") for w in workers]
        xacts_after = await _server_transactions(db)
        per_engine = [
            (a["statements"] - b["statements"]) / (a["time"] - b["time"])
            for a, b in zip(after, before, strict=True)
        ]
        report.idle = {
            "seconds": idle,
            "statements_per_s_per_engine": max(per_engine),
            # The server's view: every transaction in this database, autovacuum included.
            "server_transactions_per_s_per_engine": (xacts_after - xacts_before - 2)
            / idle
            / engines,  # minus the two counter reads themselves
        }
        progress(f"idle: {max(per_engine):.2f} statements/s per engine")
    finally:
        for worker in workers:
            if worker.proc.returncode is None:
                try:
                    await worker.ask("stop")
                except Exception:
                    worker.proc.kill()
                await worker.proc.wait()
        await db.delete_all()
    return report


#: the settings that decide what a commit waits for: figures from a server that does not flush
#: (a throwaway test server) are not comparable with those of one that does
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


async def _describe_server(db: DB) -> str:
    """``PostgreSQL 18.6 (fsync on, synchronous_commit on, full_page_writes on)``."""
    version = str(await db.query_value("SELECT version()")).split(" on ")[0]
    rows = await db.select(
        "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])", list(DURABILITY)
    )
    found = {r["name"]: r["setting"] for r in rows}
    settings = ", ".join(f"{name} {found[name]}" for name in DURABILITY if name in found)
    return f"{version} ({settings})" if settings else version


async def _server_transactions(db: DB) -> int:
    await db.exec("SELECT pg_stat_clear_snapshot()")
    value = await db.query_value(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = "
        "current_database()"
    )
    return int(value)
