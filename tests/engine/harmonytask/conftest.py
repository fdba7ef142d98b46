"""Engines for tests: manual heartbeats (tests call ``engine.beat()``), fixed capacity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from support.probe import PROBE_TABLE

from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, TaskEngine, TaskType
from engine.resources import GiB, Resources

#: Heartbeats only when a test calls engine.beat() (or a machine NOTIFY arrives).
MANUAL = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, poll_interval=30, housekeeping_interval=3600
)
BOX = Resources(cpu=4, ram=8 * GiB, gpu=0)

EngineFactory = Callable[..., "TaskEngine"]


@pytest.fixture
async def probe_db(db: DB) -> DB:
    await db.exec(PROBE_TABLE)
    return db


@pytest.fixture
async def engines(probe_db: DB) -> AsyncIterator[Callable[..., object]]:
    """``await engines(tasks, name, **kw)`` starts an engine that is stopped after the test."""
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
        for task in engine.handlers.values():
            probe = task.task
            if hasattr(probe, "release"):
                probe.release()
        await engine.stop_now()
