"""The heartbeat cannot be starved by the machine's own work: task code that holds every thread
of the event loop's default executor (file copies through ``asyncio.to_thread``), or a probe of
the machine's resources that hangs, leaves it beating, so no peer declares a live machine dead
and runs its tasks a second time."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    add_tasks,
)
from engine.harmonytask import capacity as capacity_module
from engine.resources import Usage
from support.probe import PATIENCE, wait_until

#: Threads of the default executor in these tests (set explicitly: the real default depends on
#: the machine's cores).
THREADS = 4


class HoldsAThread(TaskType):
    """A task whose work blocks a default-executor thread until the test lets it go."""

    def __init__(self, db: DB, machine: str, go: threading.Event) -> None:
        self.db, self.machine, self.go = db, machine, go
        self.started: list[TaskID] = []

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="hold", max_failures=1)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        self.started.append(task_id)
        await asyncio.to_thread(self.go.wait, 120)
        if not await still_owned():
            return False
        await self.db.exec(
            "INSERT INTO probe_runs (task_id, type, machine) VALUES ($1, 'hold', $2)",
            task_id,
            self.machine,
        )
        return True


async def silence(db: DB, machine_id: int) -> float:
    return float(
        await db.query_value(
            "SELECT extract(epoch FROM clock_timestamp() - last_contact) FROM harmony_machines "
            "WHERE id = $1",
            machine_id,
        )
    )


async def test_tasks_holding_every_executor_thread_do_not_starve_the_heartbeat(
    probe_db: DB, engines
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=THREADS))
    go = threading.Event()
    live = EngineConfig(heartbeat_interval=0.2, machine_timeout=1.0, poll_interval=0.2)
    busy = HoldsAThread(probe_db, "busy", go)
    peer = HoldsAThread(probe_db, "peer", go)
    machine = await engines([busy], "busy", config=live)
    worst = 0.0

    async def watch() -> None:
        nonlocal worst
        while True:
            worst = max(worst, await silence(probe_db, machine.machine_id))
            await asyncio.sleep(0.05)

    watching = asyncio.ensure_future(watch())
    try:
        ids = await add_tasks(probe_db, "hold", THREADS)
        await wait_until(lambda: sorted(busy.started) == sorted(ids), 5, "every thread taken")
        # A peer that would take the tasks (and run them again) if it saw the machine silent;
        # started beside the watch, as its own start may need a thread too.
        joining = asyncio.ensure_future(engines([peer], "peer", config=live))
        await asyncio.sleep(3 * live.machine_timeout)
    finally:
        go.set()
        watching.cancel()
    await joining
    assert worst < live.machine_timeout, f"the heartbeat was {worst:.1f}s late"
    await wait_until(
        lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 10, "all done"
    )
    runs = await probe_db.select("SELECT task_id, machine FROM probe_runs ORDER BY task_id")
    assert [(r["task_id"], r["machine"]) for r in runs] == [(i, "busy") for i in sorted(ids)]
    assert peer.started == []  # never handed to a second machine
    lost = await probe_db.query_value(
        "SELECT lost_at FROM harmony_machines WHERE id = $1", machine.machine_id
    )
    assert lost is None


async def test_a_probe_that_hangs_does_not_hold_the_heartbeat_back(
    probe_db: DB, engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wedged GPU driver (an NVML call that never returns) must not silence the machine."""
    engine = await engines([], "wedged")
    wedged = threading.Event()

    def stuck() -> Usage:
        wedged.wait(60)
        return Usage(cpu_load=0.0, ram_used=0, gpu_used=0.0)

    monkeypatch.setattr(capacity_module, "usage", stuck)
    try:
        await probe_db.exec(
            "UPDATE harmony_machines SET last_contact = now() - interval '1 minute' WHERE id = $1",
            engine.machine_id,
        )
        for _ in range(3):  # the first beat starts the stuck probe, the next ones go past it
            await asyncio.wait_for(engine.beat(), 5 * PATIENCE)
        assert await silence(probe_db, engine.machine_id) < 5
    finally:
        wedged.set()
