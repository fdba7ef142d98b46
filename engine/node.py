"""A machine of the cluster: the task engine plus the services every harmony process runs.

Both the headless worker (``harmony run --engine-only``) and the console's embedded engine are
built here, so they behave identically; the console only adds a UI on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.clock import Clock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, TaskEngine, TaskType, builtin_tasks
from engine.harmonytask.workers import ProcessPool, default_pool
from engine.tasks import workload_tasks

log = logging.getLogger(__name__)

#: Real seconds the services get to end once cancelled.
SERVICE_STOP_WAIT = 2.0

#: Factories of every task type a machine can run, by name. Workload modules add theirs.
TaskFactory = Callable[[DB, ProcessPool], list[TaskType]]
TASK_FACTORIES: list[TaskFactory] = [lambda db, pool: builtin_tasks(db, pool), workload_tasks]


def available_tasks(db: DB, pool: ProcessPool) -> dict[str, TaskType]:
    tasks: dict[str, TaskType] = {}
    for factory in TASK_FACTORIES:
        for task in factory(db, pool):
            tasks[task.type_details().name] = task
    return tasks


def select_tasks(available: dict[str, TaskType], wanted: Sequence[str] | None) -> list[TaskType]:
    """All task types, or the named subset (an unknown name is an error listing the known)."""
    if not wanted:
        return list(available.values())
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise ValueError(
            f"unknown task type(s) {', '.join(unknown)}; known: {', '.join(sorted(available))}"
        )
    return [available[name] for name in wanted]


@dataclass
class Node:
    """A running machine: its engine plus background services (the storage heartbeat)."""

    engine: TaskEngine
    pool: ProcessPool
    services: list[asyncio.Task[None]] = field(default_factory=list)

    async def graceful_terminate(self, grace: float | None = None) -> None:
        await self.engine.graceful_terminate(grace)
        await self._stop_services()

    async def stop_now(self) -> None:
        await self.engine.stop_now()
        await self._stop_services()

    async def _stop_services(self) -> None:
        """Cancel the services and give them a moment to end: one stuck cancelling a call on a
        frozen database connection is left behind rather than holding the process up."""
        for task in self.services:
            task.cancel()
        if not self.services:
            return
        done, _ = await asyncio.wait(self.services, timeout=SERVICE_STOP_WAIT)
        for task in done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()


async def start_node(
    db: DB,
    identity: str,
    *,
    task_names: Sequence[str] | None = None,
    config: EngineConfig | None = None,
    pool: ProcessPool | None = None,
    storage_heartbeat: bool = True,
    demo_dir: Path | None = None,
    clock: Clock | None = None,
) -> Node:
    """Join the cluster as ``identity``: start the engine and this host's storage heartbeat.

    With ``demo_dir``, first make sure the devnet demo (a miner, two storage paths under that
    directory, a small pipeline) is set up, if this installation ships the demo workload.
    ``clock`` is the engine's (the system clock unless a test passes a manual one).
    """
    pool = pool or default_pool()
    if demo_dir is not None and importlib.util.find_spec("engine.demo") is not None:
        from engine import demo

        await demo.ensure_demo(db, demo_dir)
    tasks = select_tasks(available_tasks(db, pool), task_names)
    engine = await TaskEngine.new(tasks, identity, db, config=config, clock=clock)
    node = Node(engine, pool)
    if storage_heartbeat:
        from engine.storage import StorageHeartbeat

        node.services.append(
            asyncio.create_task(StorageHeartbeat(db).run(), name="storage-heartbeat")
        )
    return node
