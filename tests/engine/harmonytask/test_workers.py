"""The process pool for CPU-heavy work: the event loop stays responsive, cancellation really
stops the worker, errors come back with their type."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import psutil
import pytest

from engine.harmonytask import ProcessPool, workers
from engine.harmonytask.builtin import burn_cpu
from engine.harmonytask.workers import NICENESS_ENV, WORKER_NICENESS


def worker_pid() -> int:
    return os.getpid()


def worker_niceness() -> int:
    return os.nice(0)


def explode(message: str) -> None:
    raise ValueError(message)


def sleep_forever() -> None:
    time.sleep(3600)


async def max_loop_lag(while_running: asyncio.Future[object]) -> float:
    worst = 0.0
    while not while_running.done():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


async def test_cpu_heavy_work_does_not_block_the_event_loop() -> None:
    pool = ProcessPool(1)
    try:
        await pool.run(worker_pid)  # start the worker outside the measurement
        burn = asyncio.ensure_future(pool.run(burn_cpu, 1500))
        lag = await max_loop_lag(burn)
        assert await burn > 0
        # Run in-process, the burn would stall the loop for its full 1.5 s.
        assert lag < 0.5, f"event loop stalled for {lag * 1000:.0f} ms"
    finally:
        await pool.close()


def test_workers_run_at_a_lower_cpu_priority_than_the_engine(monkeypatch) -> None:
    """Heartbeats, claims and the console's keys must not queue behind proofs for the CPU
    (the suite itself runs its workers at the engine's priority: tests/conftest.py)."""
    monkeypatch.delenv(NICENESS_ENV)
    assert WORKER_NICENESS == 10
    assert workers.worker_niceness() == WORKER_NICENESS
    monkeypatch.setenv(NICENESS_ENV, "3")
    assert workers.worker_niceness() == 3


async def test_a_worker_takes_the_niceness_it_is_given() -> None:
    pool = ProcessPool(1, niceness=WORKER_NICENESS)
    try:
        assert await pool.run(worker_niceness) == min(os.nice(0) + WORKER_NICENESS, 19)
    finally:
        await pool.close()


async def test_a_cancelled_call_kills_its_worker_and_the_pool_goes_on() -> None:
    pool = ProcessPool(1)
    try:
        first = await pool.run(worker_pid)
        call = asyncio.ensure_future(pool.run(sleep_forever))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"
        second = await pool.run(worker_pid)
        assert second != first
    finally:
        await pool.close()


async def test_errors_raised_in_a_worker_keep_their_type() -> None:
    pool = ProcessPool(1)
    try:
        with pytest.raises(ValueError, match="bad sector") as caught:
            await pool.run(explode, "bad sector")
        assert any("in worker process" in note for note in caught.value.__notes__)
        assert await pool.run(worker_pid) > 0  # the worker survived the error
    finally:
        await pool.close()


def test_workers_die_with_a_sigkilled_engine_process() -> None:
    """An orphaned worker must not go on working for a task another machine now redoes."""
    import signal
    import subprocess
    import sys

    script = (
        "import asyncio\n"
        "from engine.harmonytask import ProcessPool\n"
        "from engine.harmonytask.builtin import burn_cpu\n"
        "async def main():\n"
        "    pool = ProcessPool(1)\n"
        "    import os\n"
        "    pid = await pool.run(os.getpid)\n"
        "    print(pid, flush=True)\n"
        "    await pool.run(burn_cpu, 600_000)\n"
        "asyncio.run(main())\n"
    )
    engine_proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert engine_proc.stdout is not None
        worker = int(engine_proc.stdout.readline())
        assert psutil.pid_exists(worker)
        time.sleep(0.3)  # the worker is burning now
        engine_proc.send_signal(signal.SIGKILL)
        engine_proc.wait(10)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(worker) and psutil.Process(worker).status() != "zombie":
            assert time.monotonic() < deadline, "the worker outlived its engine process"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(engine_proc.pid, signal.SIGKILL)  # whatever survived, fork server included
        engine_proc.communicate(timeout=10)
