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

from engine.alerts import AlertConfig, alert_tasks, configure_alert_tasks
from engine.clock import Clock
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, TaskEngine, TaskType, builtin_tasks
from engine.harmonytask.workers import ProcessPool, default_pool
from engine.metrics import MetricsServer, start_metrics
from engine.tasks import workload_tasks
from engine.tasks.storage import configure_store_groups

log = logging.getLogger(__name__)

#: Real seconds the services get to end once cancelled.
SERVICE_STOP_WAIT = 2.0

#: Factories of every task type a machine can run, by name. Workload modules add theirs.
TaskFactory = Callable[[DB, ProcessPool], list[TaskType]]
TASK_FACTORIES: list[TaskFactory] = [
    lambda db, pool: builtin_tasks(db, pool),
    workload_tasks,
    alert_tasks,
]


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
    #: the Prometheus endpoint (``--metrics-listen``), if it serves one
    metrics: MetricsServer | None = None

    async def graceful_terminate(self, grace: float | None = None) -> None:
        await self.engine.graceful_terminate(grace)
        await self._stop_services()

    async def stop_now(self) -> None:
        await self.engine.stop_now()
        await self._stop_services()

    async def _stop_services(self) -> None:
        """Cancel the services and give them a moment to end: one stuck cancelling a call on a
        frozen database connection is left behind rather than holding the process up."""
        if self.metrics is not None:
            await self.metrics.close()
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
    storage_listen: str | None = None,
    storage_url: str | None = None,
    metrics_listen: str | None = None,
    alerts: AlertConfig | None = None,
    store_groups: Sequence[str] = (),
) -> Node:
    """Join the cluster as ``identity``: start the engine and this host's storage heartbeat.

    With ``demo_dir``, first make sure the devnet demo (a miner, two storage paths under that
    directory, a small pipeline) is set up, if this installation ships the demo workload.
    ``clock`` is the engine's (the system clock unless a test passes a manual one).
    ``storage_listen`` (``ADDR:PORT``): serve this host's storage paths there (/remote, for
    other hosts' PoSt, moves and reads), from now if it has paths, else once it has one;
    ``storage_url`` is the URL other hosts use (default: from the address). A bad address
    raises ValueError before the engine starts.
    ``alerts``: the alert evaluator's interval and webhook, if this machine runs it.
    ``metrics_listen`` (``HOST:PORT``, loopback for a bare port): serve Prometheus metrics
    there; a bad or taken address raises ValueError before the engine starts.
    ``store_groups``: the sectors this machine moves to long-term storage go only to store
    paths in one of these groups (empty: any).
    """
    pool = pool or default_pool()
    if demo_dir is not None and importlib.util.find_spec("engine.demo") is not None:
        from engine import demo

        await demo.ensure_demo(db, demo_dir)
    storage_service = None
    if storage_listen is not None:
        from engine.storage.remote import StorageServer
        from engine.storage.remote.service import serve_storage, start_storage_server

        server = StorageServer(
            db, listen=storage_listen, advertise=storage_url, prove=lambda *a: pool.run(*a)
        )
        started = await start_storage_server(server)
        storage_service = serve_storage(server, started=started)
    metrics = None
    try:
        metrics = await start_metrics(metrics_listen, db) if metrics_listen else None
        tasks = select_tasks(available_tasks(db, pool), task_names)
        configure_alert_tasks(tasks, alerts)
        configure_store_groups(tasks, store_groups)
        engine = await TaskEngine.new(tasks, identity, db, config=config, clock=clock)
    except BaseException:
        if metrics is not None:
            await metrics.close()
        if storage_service is not None:
            storage_service.close()
            await server.stop()
        raise
    node = Node(engine, pool, metrics=metrics)
    if metrics is not None:
        metrics.attach(engine)
    if storage_service is not None:
        node.services.append(asyncio.create_task(storage_service, name="storage-server"))
    if storage_heartbeat:
        from engine.storage import StorageHeartbeat

        node.services.append(
            asyncio.create_task(StorageHeartbeat(db).run(), name="storage-heartbeat")
        )
    return node
