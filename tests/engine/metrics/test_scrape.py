"""The metrics endpoint of a running engine, scraped over HTTP and parsed with
prometheus_client's own parser: every figure checked against what was done, or against the
database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from engine.harmonydb import DB
from engine.harmonytask import TaskEngine, add_tasks
from engine.metrics import MetricsServer, start_metrics
from engine.resources import GiB, Resources
from support.probe import Probe, wait_until

OK, BAD, IDLE = 5, 1, 3


@dataclass
class Scrape:
    """One scrape's samples, by name and labels."""

    text: str
    samples: list[Sample]
    families: dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and _has(s, labels)]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples in\n{self.text}"
        return found[0]

    def names(self) -> set[str]:
        return {s.name for s in self.samples}


def _has(sample: Sample, labels: dict[str, str]) -> bool:
    return all(sample.labels.get(k) == v for k, v in labels.items())


async def scrape(url: str) -> Scrape:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    families = list(text_string_to_metric_families(text))
    return Scrape(
        text, [s for f in families for s in f.samples], {f.name: f.type for f in families}
    )


@dataclass
class Served:
    db: DB
    engine: TaskEngine
    server: MetricsServer
    ok: Probe
    bad: Probe

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
async def served(
    probe_db: DB, engines: Callable[..., Awaitable[TaskEngine]]
) -> AsyncIterator[Served]:
    """An engine that ran OK probe tasks (done), one that always fails (max_failures=2: one
    retry, then the failed state), and has IDLE tasks of a type no machine runs queued, with
    the endpoint on a free loopback port (its cluster figures re-read at every scrape)."""
    ok = Probe(probe_db, "m1", "ok")
    bad = Probe(probe_db, "m1", "bad", fail=True, max_failures=2)
    server = await start_metrics("127.0.0.1:0", probe_db, interval=0.0)
    try:
        engine = await engines([ok, bad], "metrics-host:1")
        server.attach(engine)
        for _ in range(OK):
            await engine.add_task("ok")
        await engine.add_task("bad")
        for _ in range(IDLE):
            await probe_db.exec(
                "INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('idle', $1, now())",
                engine.machine_id,
            )

        async def settled() -> bool:
            return (
                await probe_db.query_value(
                    "SELECT count(*) FROM harmony_task WHERE name <> 'idle' AND failed_at IS NULL"
                )
                == 0
            )

        await wait_until(settled, 20, "the ok tasks done and the bad one failed")
        yield Served(probe_db, engine, server, ok, bad)
    finally:
        await server.close()


async def test_task_counters_match_what_the_engine_did(served: Served) -> None:
    got = await scrape(served.url)
    assert got.value("harmony_tasks_claimed_total", task_type="ok") == OK
    assert got.value("harmony_tasks_completed_total", task_type="ok") == OK
    assert got.value("harmony_tasks_failed_total", task_type="ok") == 0
    # the bad task: two attempts ran, both failed; the first retried, the second its last. Two
    # claims, no more: a machine never claims a task whose failed attempt here is still ending.
    assert got.value("harmony_tasks_claimed_total", task_type="bad") == 2
    assert got.value("harmony_tasks_completed_total", task_type="bad") == 0
    assert got.value("harmony_tasks_failed_total", task_type="bad") == 2
    assert got.value("harmony_tasks_retried_total", task_type="bad") == 1
    assert got.value("harmony_tasks_failed_permanently_total", task_type="bad") == 1
    assert got.value("harmony_tasks_preempted_total", task_type="ok") == 0
    # histograms: one observation per attempt that ran; pickup for first attempts only
    assert got.value("harmony_task_run_seconds_count", task_type="ok") == OK
    assert got.value("harmony_task_run_seconds_count", task_type="bad") == 2
    assert got.value("harmony_task_run_seconds_bucket", task_type="ok", le="+Inf") == OK
    assert got.value("harmony_task_pickup_latency_seconds_count", task_type="ok") == OK
    assert got.value("harmony_task_pickup_latency_seconds_count", task_type="bad") == 1
    assert got.families["harmony_tasks_completed"] == "counter"
    assert got.families["harmony_task_run_seconds"] == "histogram"
    assert got.value("harmony_tasks_running", task_type="ok") == 0
    engine = served.engine
    info = got.value(
        "harmony_machine_info", machine_id=str(engine.machine_id), host_and_port="metrics-host:1"
    )
    assert info == 1
    assert got.value("harmony_machine_state", state="active") == 1
    assert got.value("harmony_machine_cpus") == engine.capacity.cpu
    assert got.value("harmony_machine_ram_bytes") == engine.capacity.ram
    assert got.value("harmony_machine_cpus_free") == engine.resources_available().cpu
    assert got.value("harmony_db_errors_total", operation="claim") == 0
    assert "process_cpu_seconds_total" in got.names()  # the library's process collector


async def test_queue_depth_is_the_databases(served: Served) -> None:
    got = await scrape(served.url)
    rows = await served.db.select(
        "SELECT name, count(*) FILTER (WHERE owner_id IS NULL AND failed_at IS NULL) AS pending,"
        " count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed FROM harmony_task GROUP BY name"
    )
    assert {r["name"] for r in rows} == {"idle", "bad"}
    for row in rows:
        assert (
            got.value("harmony_queue_tasks", task_type=row["name"], state="pending")
            == row["pending"]
        )
        assert (
            got.value("harmony_queue_tasks", task_type=row["name"], state="failed") == row["failed"]
        )
    assert got.value("harmony_queue_tasks", task_type="idle", state="pending") == IDLE
    assert got.value("harmony_queue_oldest_pending_seconds", task_type="idle") >= 0
    assert got.value("harmony_cluster_machines", state="active") == 1
    # more work queued shows at the next scrape (this server re-reads at every scrape)
    await served.db.exec(
        "INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('idle', $1, now())",
        served.engine.machine_id,
    )
    again = await scrape(served.url)
    assert again.value("harmony_queue_tasks", task_type="idle", state="pending") == IDLE + 1


async def test_a_preemption_and_a_running_attempt(probe_db: DB, engines) -> None:
    """A yielding task running (the running gauge says 1, its CPU is not free), then stopped
    for time-sensitive work: counted preempted, not failed; the urgent one completes."""
    background = Probe(probe_db, "m", "bg", cost=Resources(cpu=1), block=True, can_yield=True)
    urgent = Probe(probe_db, "m", "wdpost", cost=Resources(cpu=1), time_sensitive=True)
    engine = await engines([background, urgent], "m", capacity=Resources(cpu=1, ram=GiB))
    server = await start_metrics("127.0.0.1:0", probe_db, interval=0.0)
    try:
        server.attach(engine)
        (victim,) = await add_tasks(probe_db, "bg", 1)
        await wait_until(lambda: background.started == [victim], 5)
        running = await scrape(server.url)
        assert running.value("harmony_tasks_running", task_type="bg") == 1
        assert running.value("harmony_machine_cpus_free") == 0
        assert running.value("harmony_queue_tasks", task_type="bg", state="running") == 1
        (proof,) = await add_tasks(probe_db, "wdpost", 1)
        await wait_until(lambda: urgent.started == [proof], 5, "the time-sensitive task")

        async def counted() -> bool:
            got = await scrape(server.url)
            return got.value("harmony_tasks_completed_total", task_type="wdpost") == 1

        await wait_until(counted, 5, "the urgent task's completion")
        got = await scrape(server.url)
        assert got.value("harmony_tasks_preempted_total", task_type="bg") == 1
        assert got.value("harmony_tasks_failed_total", task_type="bg") == 0
        assert got.value("harmony_tasks_returned_total", task_type="bg", reason="shutdown") == 0
    finally:
        background.block = False
        background.release()
        await server.close()
