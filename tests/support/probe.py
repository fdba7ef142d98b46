"""A task type for engine tests: it records each run, and can block, fail or be picky.

Runs are recorded in the test schema's ``probe_runs`` table (a real side effect, written only
while ``still_owned()`` holds), so tests can count executions per task.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engine.harmonydb import DB
from engine.harmonytask import MachineView, StillOwned, TaskID, TaskType, TaskTypeDetails
from engine.resources import Resources

PROBE_TABLE = """
CREATE TABLE IF NOT EXISTS probe_runs (
    n SERIAL PRIMARY KEY, task_id BIGINT NOT NULL, type TEXT NOT NULL, machine TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)
"""


class Probe(TaskType):
    def __init__(
        self,
        db: DB,
        machine: str,
        name: str = "probe",
        *,
        cost: Resources | None = None,
        block: bool = False,
        fail: bool | Callable[[TaskID], bool] = False,
        accept: Callable[[list[TaskID]], list[TaskID]] | None = None,
        **details: Any,
    ) -> None:
        self.db, self.machine, self.name = db, machine, name
        self.cost = cost or Resources()
        self.block = block
        self.fail = fail
        self._accept = accept
        self.details = details
        self.started: list[TaskID] = []
        self.start_times: dict[TaskID, float] = {}
        self.gates: dict[TaskID, asyncio.Event] = {}
        self.any_started = asyncio.Event()
        self.cancelled: list[TaskID] = []
        self.owned_checks: list[bool] = []
        self.asked_by: list[MachineView] = []

    def type_details(self) -> TaskTypeDetails:
        details = {"retry_wait": lambda retries: 0.0, **self.details}
        return TaskTypeDetails(name=self.name, cost=self.cost, **details)

    async def can_accept(self, task_ids: list[TaskID], machine: MachineView) -> list[TaskID]:
        self.asked_by.append(machine)
        return self._accept(task_ids) if self._accept else task_ids

    def gate(self, task_id: TaskID) -> asyncio.Event:
        return self.gates.setdefault(task_id, asyncio.Event())

    def release(self, task_id: TaskID | None = None) -> None:
        for tid in [task_id] if task_id is not None else list(self.started):
            self.gate(tid).set()

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        self.started.append(task_id)
        self.start_times[task_id] = time.monotonic()
        self.any_started.set()
        try:
            if self.block:
                await self.gate(task_id).wait()
        except asyncio.CancelledError:
            self.cancelled.append(task_id)
            raise
        owned = await still_owned()
        self.owned_checks.append(owned)
        if not owned:
            return False
        await self.db.exec(
            "INSERT INTO probe_runs (task_id, type, machine) VALUES ($1, $2, $3)",
            task_id,
            self.name,
            self.machine,
        )
        should_fail = self.fail(task_id) if callable(self.fail) else self.fail
        if should_fail:
            raise RuntimeError(f"probe {task_id} told to fail")
        return True


#: Waits in tests are for an event, not a performance target (those are benchmarks): on a
#: loaded CI machine an engine may take several times longer than here, so every wait for
#: something that must happen is stretched by this factor (``HARMONY_TEST_PATIENCE``).
PATIENCE = float(os.environ.get("HARMONY_TEST_PATIENCE", "3"))


async def wait_until(
    predicate: Callable[[], Awaitable[bool] | bool], within: float = 10.0, what: str = ""
) -> None:
    """Poll ``predicate`` every 10 ms until true; fail the test after ``within`` seconds
    (times :data:`PATIENCE`)."""
    deadline = time.monotonic() + within * PATIENCE
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {within * PATIENCE:g}s waiting for {what or predicate}"
            )
        await asyncio.sleep(0.01)
