"""`harmony run --engine-only` as real OS processes: exactly-once under contention, SIGTERM drain,
a second signal, SIGKILL reclaim, re-adoption after a restart, and exit 100 on request."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from engine.harmonydb import DB
from engine.harmonytask import (
    EXIT_RESTART_REQUESTED,
    EngineConfig,
    add_tasks,
    request_restart,
    resolve_machine,
    task_history,
)
from support.cli import harmony, harmony_argv
from support.probe import PATIENCE, Probe, wait_until


class Worker:
    """A headless worker process on the test's schema."""

    def __init__(self, db: DB, name: str, tasks: str = "noop,sleep,burn,fail") -> None:
        self.name = name
        self.proc = subprocess.Popen(
            harmony_argv(db, "run", "--engine-only", "--name", name, "--tasks", tasks),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd="/",
        )

    async def joined(self, db: DB) -> None:
        async def registered() -> bool:
            return bool(
                await db.query_value(
                    "SELECT count(*) FROM harmony_machines WHERE host_and_port = $1 "
                    "AND session IS NOT NULL",
                    self.name,
                )
            )

        await wait_until(registered, 30, f"{self.name} to join")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    async def exit_code(self, within: float = 30) -> int:
        return await asyncio.to_thread(self.proc.wait, within)

    def output(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        out, _ = self.proc.communicate(timeout=30)
        return out


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.proc.communicate(timeout=30)


async def sleep_started(db: DB, ms: int) -> int:
    """Add one ``sleep`` task of ``ms`` and wait until a worker has started it; its id.

    Claimed is not yet started: a stop that comes in between releases the task instead, with
    no history row (nothing new starts). A task added after the claim is claimed by a later
    cycle, so once it is done the cycle that claimed the sleep has started it."""
    (task_id,) = await add_tasks(db, "sleep", 1, {"ms": ms})

    async def claimed() -> bool:
        owner = await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
        return owner is not None

    await wait_until(claimed, 10, "the sleep task claimed")
    await later_cycle_ran(db)
    return task_id


async def later_cycle_ran(db: DB) -> None:
    """Wait until a cycle after the one that claimed what is owned now has run a task: then
    that claim's tasks are started (a ``noop`` added now is claimed by a later cycle)."""
    (marker,) = await add_tasks(db, "noop", 1)

    async def marker_done() -> bool:
        return [h.outcome for h in await task_history(db, task_id=marker)] == ["done"]

    await wait_until(marker_done, 10, "a later cycle to run a task")


async def test_three_worker_processes_run_every_task_exactly_once(db: DB, workers) -> None:
    for i in range(3):
        workers.append(Worker(db, f"proc-{i}", tasks="noop"))
    for worker in workers:
        await worker.joined(db)
    ids = await add_tasks(db, "noop", 3000)

    async def drained() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(drained, 60, "3000 tasks to finish")
    rows = await db.select(
        "SELECT task_id, count(*) AS n, min(completed_by_host_and_port) AS by "
        "FROM harmony_task_history WHERE outcome = 'done' GROUP BY task_id"
    )
    assert {r["task_id"] for r in rows} == set(ids)
    assert all(r["n"] == 1 for r in rows)
    assert len({r["by"] for r in rows}) >= 2  # the processes shared the work
    assert await db.query_value("SELECT count(*) FROM harmony_task_history") == 3000
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [await w.exit_code() for w in workers] == [0, 0, 0]


async def test_sigterm_drains_running_tasks_then_exits_zero(db: DB, workers) -> None:
    worker = Worker(db, "drainer")
    workers.append(worker)
    await worker.joined(db)
    task_id = await sleep_started(db, 1500)
    worker.signal(signal.SIGTERM)
    (later,) = await add_tasks(db, "noop", 1)
    assert await worker.exit_code() == 0
    assert [h.outcome for h in await task_history(db, task_id=task_id)] == ["done"]
    assert await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", later) is None
    assert "draining" in worker.output()


async def test_a_second_signal_stops_at_once_returning_the_task(db: DB, workers) -> None:
    worker = Worker(db, "impatient")
    workers.append(worker)
    await worker.joined(db)
    task_id = await sleep_started(db, 60_000)
    worker.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    worker.signal(signal.SIGINT)
    assert await worker.exit_code() == 0
    row = await db.query_row("SELECT owner_id, retries FROM harmony_task WHERE id = $1", task_id)
    assert row == {"owner_id": None, "retries": 0}
    assert [h.outcome for h in await task_history(db, task_id=task_id)] == ["released"]


async def test_a_sigkilled_workers_task_is_reclaimed_and_finished_elsewhere(
    db: DB, workers, engines
) -> None:
    victim = Worker(db, "victim", tasks="sleep")
    workers.append(victim)
    await victim.joined(db)
    (task_id,) = await add_tasks(db, "sleep", 1, {"ms": 60_000})

    async def claimed() -> bool:
        return (
            await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
            is not None
        )

    await wait_until(claimed, 10)
    victim.signal(signal.SIGKILL)
    await victim.exit_code()
    rescuer_probe = Probe(db, "rescuer", "sleep")
    config = EngineConfig(heartbeat_interval=0.2, machine_timeout=1.0, poll_interval=0.5)
    await engines([rescuer_probe], "rescuer", config=config)
    await wait_until(lambda: rescuer_probe.started == [task_id], 15, "the rescue")
    await wait_until(lambda: task_history(db, task_id=task_id, limit=2), 5)

    async def finished() -> bool:
        return [h.outcome for h in await task_history(db, task_id=task_id)] == ["done", "lost"]

    await wait_until(finished, 5)


async def test_a_restarted_worker_readopts_the_tasks_it_owned(db: DB, workers) -> None:
    first = Worker(db, "phoenix", tasks="sleep")
    workers.append(first)
    await first.joined(db)
    (task_id,) = await add_tasks(db, "sleep", 1, {"ms": 2000})

    async def claimed() -> bool:
        return (
            await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)
            is not None
        )

    await wait_until(claimed, 10)
    machine = await resolve_machine(db, "phoenix")
    first.signal(signal.SIGKILL)
    await first.exit_code()
    started = time.monotonic()
    second = Worker(db, "phoenix", tasks="sleep")  # same identity, well within the timeout
    workers.append(second)

    async def done() -> bool:
        return [h.outcome for h in await task_history(db, task_id=task_id)] == ["done", "lost"]

    await wait_until(done, 20, "the re-adopted task to finish")
    assert time.monotonic() - started < 12  # not rescued by a timeout: re-adopted
    history = await task_history(db, task_id=task_id)
    assert history[1].err == "lost: machine restarted"
    assert {h.completed_by_host_and_port for h in history} == {"phoenix"}
    assert (await resolve_machine(db, "phoenix")).id == machine.id
    second.signal(signal.SIGTERM)
    assert await second.exit_code() == 0


async def test_a_restart_request_makes_the_worker_exit_100(db: DB, workers) -> None:
    worker = Worker(db, "restartable")
    workers.append(worker)
    await worker.joined(db)
    machine = await resolve_machine(db, "restartable")
    await request_restart(db, machine.id)
    assert await worker.exit_code() == EXIT_RESTART_REQUESTED
    row = await db.query_row(
        "SELECT unschedulable, restart_request, session FROM harmony_machines WHERE id = $1",
        machine.id,
    )
    assert row == {"unschedulable": False, "restart_request": None, "session": None}


async def test_unknown_task_types_are_a_clear_error(db: DB) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        harmony_argv(db, "run", "--engine-only", "--tasks", "noop,nosuch"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env=dict(os.environ),
    )
    assert result.returncode == 1
    assert "unknown task type(s) nosuch" in result.stderr


def test_engine_flags_are_checked_before_connecting() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "--db",
            "postgres://u:p@127.0.0.1:1/x",
            "run",
            "--engine-only",
            "--heartbeat",
            "5",
            "--machine-timeout",
            "6",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "harmony: error: --machine-timeout (6s) must be at least 3 heartbeats (15s)\n"
    )


async def test_a_second_signal_during_a_drain_of_several_tasks_leaves_once(db: DB, workers) -> None:
    worker = Worker(db, "twice")
    workers.append(worker)
    await worker.joined(db)
    ids = await add_tasks(db, "sleep", 3, {"ms": 60_000})

    async def all_claimed() -> bool:
        return await db.query_value(
            "SELECT count(*) = 3 FROM harmony_task WHERE owner_id IS NOT NULL"
        )

    await wait_until(all_claimed, 10)
    await later_cycle_ran(db)  # claimed is not yet started (see sleep_started)
    worker.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    worker.signal(signal.SIGTERM)
    assert await worker.exit_code() == 0
    rows = await db.select("SELECT owner_id, retries FROM harmony_task ORDER BY id")
    assert rows == [{"owner_id": None, "retries": 0}] * 3
    outcomes = [h.outcome for i in ids for h in await task_history(db, task_id=i)]
    assert outcomes == ["released"] * 3
    assert worker.output().count("left the cluster") == 1


async def read_until(worker: Worker, needle: str, within: float = 30) -> str:
    """The worker's output up to and including the first line containing ``needle``."""
    assert worker.proc.stdout is not None
    seen: list[str] = []

    def read() -> str:
        while True:
            line = worker.proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise AssertionError(f"{worker.name} exited without logging {needle!r}")
            seen.append(line)
            if needle in line:
                return "".join(seen)

    try:
        return await asyncio.wait_for(asyncio.to_thread(read), within * PATIENCE)
    except TimeoutError:
        raise AssertionError(f"{worker.name} never logged {needle!r}: {''.join(seen)}") from None


@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("cordon", "machine held-w is cordoned: it takes no work until "
         "`harmony machine uncordon held-w`"),
        ("drain", "machine held-w was being drained: it takes no work until "
         "`harmony machine uncordon held-w`"),
    ],
)  # fmt: skip
async def test_a_worker_restarted_while_held_says_so_at_start(
    db: DB, workers, action: str, said: str
) -> None:
    first = Worker(db, "held-w", tasks="noop")
    workers.append(first)
    start = await read_until(first, "running noop")
    assert "takes no work" not in start
    held = await harmony(db, "machine", action, "held-w")
    assert held.returncode == 0, held.stderr
    first.signal(signal.SIGTERM)
    assert await first.exit_code() == 0

    again = Worker(db, "held-w", tasks="noop")
    workers.append(again)
    out = await read_until(again, "takes no work")
    assert said in out
    assert "WARNING harmony.worker" in out.splitlines()[-1]
    # It means it: a task added now stays pending until the uncordon.
    (task_id,) = await add_tasks(db, "noop", 1)
    await harmony(db, "machine", "uncordon", "held-w")

    async def done() -> bool:
        return not await db.query_value("SELECT count(*) FROM harmony_task WHERE id = $1", task_id)

    await wait_until(done, 20, "the task to run after the uncordon")
    again.signal(signal.SIGTERM)
    assert await again.exit_code() == 0


async def test_a_pending_restart_request_is_said_at_start(db: DB, workers) -> None:
    """A worker killed while a restart was requested: the next start says it will exit."""
    first = Worker(db, "restart-w", tasks="noop")
    workers.append(first)
    await read_until(first, "running noop")
    first.signal(signal.SIGKILL)
    await first.exit_code()
    await db.exec(
        "UPDATE harmony_machines SET restart_request = now(), unschedulable = TRUE "
        "WHERE host_and_port = 'restart-w'"
    )
    again = Worker(db, "restart-w", tasks="noop")
    workers.append(again)
    out = await read_until(again, "restart request pending")
    assert (
        f"machine restart-w has a restart request pending: it takes no work and exits with "
        f"{EXIT_RESTART_REQUESTED} once idle" in out
    )
    assert await again.exit_code() == EXIT_RESTART_REQUESTED


async def test_sighup_drains_then_exits_100_for_a_restart(db: DB, workers) -> None:
    """SIGHUP (`systemctl reload`): the running task finishes, nothing new starts, and the exit
    status is 100, which the shipped unit restarts (RestartForceExitStatus): the new process
    reads its config layers again."""
    worker = Worker(db, "reloaded")
    workers.append(worker)
    await worker.joined(db)
    task_id = await sleep_started(db, 1500)
    worker.signal(signal.SIGHUP)
    (later,) = await add_tasks(db, "noop", 1)
    assert await worker.exit_code() == EXIT_RESTART_REQUESTED
    assert [h.outcome for h in await task_history(db, task_id=task_id)] == ["done"]
    assert await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", later) is None
    assert "SIGHUP: draining" in worker.output()
    session = await db.query_value(
        "SELECT session FROM harmony_machines WHERE host_and_port = 'reloaded'"
    )
    assert session is None  # it left the cluster cleanly


async def test_a_stop_during_a_reloads_drain_exits_zero(db: DB, workers) -> None:
    """SIGHUP, then SIGTERM: the operator wants it stopped, so it stops now and exits 0 (a
    supervisor must not start it again)."""
    worker = Worker(db, "reload-then-stop")
    workers.append(worker)
    await worker.joined(db)
    task_id = await sleep_started(db, 60_000)
    worker.signal(signal.SIGHUP)
    await asyncio.sleep(0.3)
    worker.signal(signal.SIGTERM)
    assert await worker.exit_code() == 0
    assert [h.outcome for h in await task_history(db, task_id=task_id)] == ["released"]
