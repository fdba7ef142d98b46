"""A machine of the cluster: the task engine plus the services every harmony process runs.

Both the headless worker (``harmony run --engine-only``) and the console's embedded engine are
built here, so they behave identically; the console only adds a UI on top.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, TaskEngine, TaskType, builtin_tasks
from engine.harmonytask.workers import ProcessPool, default_pool

log = logging.getLogger(__name__)

#: Factories of every task type a machine can run, by name. Workload modules add theirs.
TaskFactory = Callable[[DB, ProcessPool], list[TaskType]]
TASK_FACTORIES: list[TaskFactory] = [lambda db, pool: builtin_tasks(db, pool)]


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
    engine: TaskEngine
    pool: ProcessPool

    async def graceful_terminate(self, grace: float | None = None) -> None:
        await self.engine.graceful_terminate(grace)

    async def stop_now(self) -> None:
        await self.engine.stop_now()


async def start_node(
    db: DB,
    identity: str,
    *,
    task_names: Sequence[str] | None = None,
    config: EngineConfig | None = None,
    pool: ProcessPool | None = None,
) -> Node:
    pool = pool or default_pool()
    tasks = select_tasks(available_tasks(db, pool), task_names)
    engine = await TaskEngine.new(tasks, identity, db, config=config)
    return Node(engine, pool)
