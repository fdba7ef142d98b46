"""Worker processes end quietly when their engine goes away, and leave Ctrl-C to the engine.

A SIGKILLed engine's workers used to print two tracebacks each into the machine's log: a worker
that finished its call after the engine died found the pipe broken, then failed again sending
the error about it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from engine.harmonytask import ProcessPool

#: The engine's end of a worker's pipe closes mid-call, as when the engine is SIGKILLed (the
#: fork server, the worker's parent, may outlive it for a moment, so the worker is not yet
#: killed with it).
ORPHANED_MID_CALL = """
import multiprocessing, time
from engine.harmonytask.workers import _Worker
if __name__ == "__main__":
    worker = _Worker(multiprocessing.get_context("forkserver"), 0)
    worker.conn.send((time.sleep, (0.3,), {}))
    worker.conn.close()
    worker.process.join(20)
    print("exit", worker.process.exitcode)
"""


def test_a_worker_whose_engine_went_away_mid_call_ends_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ORPHANED_MID_CALL],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.stdout.strip() == "exit 0"
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr == ""


def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


async def test_ctrl_c_reaching_a_worker_does_not_fail_its_call() -> None:
    """A terminal's Ctrl-C goes to the whole process group; the engine drains on it, and the
    task running in a worker must finish rather than fail with KeyboardInterrupt."""
    pool = ProcessPool(1)
    try:
        pid = await pool.run(os.getpid)
        call = asyncio.ensure_future(pool.run(nap, 1.0))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGINT)
        assert await asyncio.wait_for(call, 30) == "rested"
        assert await pool.run(os.getpid) == pid  # the same worker, still serving
    finally:
        await pool.close()
