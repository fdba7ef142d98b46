"""`harmony … | head`: output into a pipe whose reader has gone ends the command quietly with
141 (as SIGPIPE ends other tools), never a BrokenPipeError traceback; a worker logging into
such a pipe keeps working."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from engine.harmonydb import DB
from support.cli import harmony_argv


def run_into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose read end is already closed (head that has exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            argv, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, cwd="/"
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args", [["task", "list"], ["task", "list", "--json"], ["machine", "list"]], ids=" ".join
)
async def test_listings_into_a_closed_pipe(db: DB, args: list[str]) -> None:
    await db.exec(
        "INSERT INTO harmony_task (name, added_by, posted_time) "
        "SELECT 'noop', 0, now() FROM generate_series(1, 500)"
    )
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu) VALUES ('w1', 1, 1, 0)"
    )
    result = await asyncio.to_thread(run_into_closed_pipe, harmony_argv(db, *args))
    assert result.stderr == ""
    assert result.returncode == 141


async def test_a_worker_keeps_working_when_its_log_reader_goes(db: DB) -> None:
    from support.probe import wait_until

    read_end, write_end = os.pipe()
    os.close(read_end)
    worker = await asyncio.to_thread(
        subprocess.Popen,
        harmony_argv(db, "run", "--engine-only", "--name", "piped", "--tasks", "noop"),
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    os.close(write_end)
    try:
        await db.exec(
            "INSERT INTO harmony_task (name, added_by, posted_time) "
            "SELECT 'noop', 0, now() FROM generate_series(1, 5)"
        )

        async def all_done() -> bool:
            return await db.query_value("SELECT count(*) FROM harmony_task") == 0

        await wait_until(all_done, 30, "the piped worker to run the tasks")
        assert worker.poll() is None
        worker.terminate()
        code = await asyncio.to_thread(worker.wait, 30)
        stderr = worker.stderr.read() if worker.stderr else ""
        assert code == 0, stderr
        assert "Traceback" not in stderr and "Logging error" not in stderr
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stderr:
            worker.stderr.close()
