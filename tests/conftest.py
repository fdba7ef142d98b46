"""Suite-wide fixtures: one real PostgreSQL per run, one fresh schema per test.

``HARMONY_TEST_DB_URL`` points the suite at an external server; otherwise one embedded server is
started for the whole run (in a temporary data directory, stopped and removed at the end).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from engine.clock import ManualClock
from engine.harmonydb import DB, itest_db, start_embedded
from engine.harmonydb.yugabyte_mode import front_if_requested
from engine.harmonytask import EngineConfig, TaskEngine, TaskType
from engine.resources import GiB, Resources
from support.curio_schema import CurioCluster, curio_cluster
from support.netns_cluster import netns_cluster  # noqa: F401  (hosts in network namespaces)
from support.probe import PROBE_TABLE
from support.schema_stock import SchemaStock

#: Process-pool workers run at the engine's priority here (production lowers theirs: see
#: engine.harmonytask.workers): tests that advance a devnet's epochs while proofs run beside
#: another test's work must not starve their workers.
os.environ.setdefault("HARMONY_WORKER_NICENESS", "0")

#: Engines for tests heartbeat only when a test calls engine.beat() (or a machine NOTIFY
#: arrives), so nothing time-dependent happens behind a test's back. Without NOTIFY (the
#: YugabyteDB-readiness mode) their claim poll backs off to 0.5 s, not 2 s: tests wait for
#: pickups one after another.
MANUAL = EngineConfig(
    heartbeat_interval=3600,
    machine_timeout=5,
    poll_interval=30,
    poll_max=0.5,
    housekeeping_interval=3600,
)
BOX = Resources(cpu=4, ram=8 * GiB, gpu=0)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of the server every test uses (through the YugabyteDB-readiness front with
    ``HARMONY_TEST_YUGABYTE_MODE=1``: engine/harmonydb/yugabyte_mode.py)."""
    external = os.environ.get("HARMONY_TEST_DB_URL")
    if external:
        with front_if_requested(external) as url:
            yield url
        return
    # mkdtemp makes a 0700 directory; the embedded server user (as root) must be able to
    # enter it, and it is ours, so open it up.
    root = Path(tempfile.mkdtemp(prefix="harmony-test-"))
    root.chmod(0o755)
    server = start_embedded(root)
    try:
        asyncio.run(_skip_fsync(server.uri))
        with front_if_requested(server.uri) as url:
            yield url
    finally:
        server.release()
        shutil.rmtree(root, ignore_errors=True)


async def _skip_fsync(url: str) -> None:
    """The suite's own throwaway server does not flush to disk: every test creates a schema
    (a few hundred catalog writes) and commits often, and no test survives a power cut. A
    killed server process loses nothing this way (its WAL is in the OS's cache; commits still
    wait for it: ``synchronous_commit`` stays on), so restart and crash tests mean the same."""
    conn = await asyncpg.connect(url)
    try:
        for setting in ("fsync", "full_page_writes"):
            await conn.execute(f"ALTER SYSTEM SET {setting} = off")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def schema_stock(pg_url: str) -> Iterator[SchemaStock]:
    """Migrated schemas made ahead of the tests (see :mod:`support.schema_stock`)."""
    stock = SchemaStock(pg_url)
    try:
        yield stock
    finally:
        stock.close()


@pytest.fixture
async def db(pg_url: str, schema_stock: SchemaStock) -> AsyncIterator[DB]:
    """A DB on a brand-new ``itest_<id>`` schema with every migration applied."""
    schema = await asyncio.to_thread(schema_stock.take)
    database = await (itest_db(pg_url) if schema is None else DB.open(pg_url, schema=schema))
    try:
        yield database
    finally:
        await database.delete_all()


@pytest.fixture
async def curio_db(pg_url: str) -> AsyncIterator[CurioCluster]:
    """A Curio-shaped ``itest_curio_<id>`` schema (:mod:`support.curio_schema`): Curio's tables
    and ledger, seeded as Curio's code writes them; dropped after the test."""
    async with curio_cluster(pg_url) as cluster:
        yield cluster


@pytest.fixture
async def probe_db(db: DB) -> DB:
    """The test DB with the ``probe_runs`` table of :class:`support.probe.Probe`."""
    await db.exec(PROBE_TABLE)
    return db


async def _poll_in_real_time(engine: TaskEngine) -> None:
    """Where the server refuses LISTEN (the YugabyteDB-readiness mode) an engine polls, on its
    own clock; a test that holds that clock still (a ``ManualClock``) would hold its polls still
    too, and only a NOTIFY would have woken it. This is its poll timer in real seconds."""
    while True:
        await asyncio.sleep(POLL_STAND_IN)
        engine.wake()


#: how often a frozen-clock engine without NOTIFY polls (see :func:`_poll_in_real_time`)
POLL_STAND_IN = 0.05


@pytest.fixture
async def engines(probe_db: DB) -> AsyncIterator[Callable[..., Awaitable[TaskEngine]]]:
    """``await engines(tasks, name, **kw)`` starts an engine (fixed capacity, manual
    heartbeats by default) that is stopped after the test."""
    started: list[TaskEngine] = []
    pollers: list[asyncio.Task[None]] = []

    async def start(
        tasks: Sequence[TaskType],
        name: str,
        *,
        db: DB | None = None,
        config: EngineConfig = MANUAL,
        capacity: Resources = BOX,
        **kwargs: object,
    ) -> TaskEngine:
        engine = await TaskEngine.new(
            tasks, name, db or probe_db, config=config, capacity=capacity, **kwargs
        )
        started.append(engine)
        if not engine.notify_mode and isinstance(kwargs.get("clock"), ManualClock):
            pollers.append(asyncio.create_task(_poll_in_real_time(engine)))
        return engine

    yield start
    for poller in pollers:
        poller.cancel()
    for engine in started:
        for handler in engine.handlers.values():
            release = getattr(handler.task, "release", None)
            if release is not None:
                release()
        await engine.stop_now()
