"""Suite-wide fixtures: one real PostgreSQL per run, one fresh schema per test.

``HARMONY_TEST_DB_URL`` points the suite at an external server; otherwise one embedded server is
started for the whole run (in a temporary data directory, stopped and removed at the end).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from engine.harmonydb import DB, itest_db, start_embedded
from engine.harmonytask import EngineConfig, TaskEngine, TaskType
from engine.resources import GiB, Resources
from support.curio_schema import CurioCluster, curio_cluster
from support.probe import PROBE_TABLE

#: Engines for tests heartbeat only when a test calls engine.beat() (or a machine NOTIFY
#: arrives), so nothing time-dependent happens behind a test's back.
MANUAL = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, poll_interval=30, housekeeping_interval=3600
)
BOX = Resources(cpu=4, ram=8 * GiB, gpu=0)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of the server every test uses."""
    external = os.environ.get("HARMONY_TEST_DB_URL")
    if external:
        yield external
        return
    # mkdtemp makes a 0700 directory; the embedded server user (as root) must be able to
    # enter it, and it is ours, so open it up.
    root = Path(tempfile.mkdtemp(prefix="harmony-test-"))
    root.chmod(0o755)
    server = start_embedded(root)
    try:
        yield server.uri
    finally:
        server.release()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[DB]:
    """A DB on a brand-new ``itest_<id>`` schema with every migration applied."""
    database = await itest_db(pg_url)
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


@pytest.fixture
async def engines(probe_db: DB) -> AsyncIterator[Callable[..., Awaitable[TaskEngine]]]:
    """``await engines(tasks, name, **kw)`` starts an engine (fixed capacity, manual
    heartbeats by default) that is stopped after the test."""
    started: list[TaskEngine] = []

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
        return engine

    yield start
    for engine in started:
        for handler in engine.handlers.values():
            release = getattr(handler.task, "release", None)
            if release is not None:
                release()
        await engine.stop_now()
