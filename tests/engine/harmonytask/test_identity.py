"""A machine identity is taken over only from a process that is provably gone, the row was left,
or it has been silent past the machine timeout: never because a PID is not visible from here
(another container on the same host), and never by a reused PID. A lost attempt's history
row names the machine that lost it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from dataclasses import replace

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB
from engine.harmonytask import MachineIdentityInUse, claims, machines
from engine.process_identity import ProcessIdentity
from support.cli import harmony_argv
from support.probe import PATIENCE, wait_until

HERE = ProcessIdentity.current()


async def register(db: DB, process: ProcessIdentity, *, silent_after: float = 30) -> int:
    return await machines.register(
        db,
        "w1",
        session=machines.new_session(),
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=silent_after,
        tasks=["noop"],
        machine_name="w1",
        version="test",
        process=process,
    )


def exited_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def test_this_process_is_recorded_with_its_boot_namespace_and_start_time(db: DB) -> None:
    assert HERE.boot_id and HERE.pid_namespace and HERE.start_time
    machine_id = await register(db, HERE)
    row = await db.query_row(
        "SELECT pid, boot_id, pid_namespace, process_start FROM harmony_machines WHERE id = $1",
        machine_id,
    )
    assert row == {
        "pid": os.getpid(),
        "boot_id": HERE.boot_id,
        "pid_namespace": HERE.pid_namespace,
        "process_start": HERE.start_time,
    }


async def test_a_live_holder_in_another_pid_namespace_is_never_taken_over(db: DB) -> None:
    # the holder's PID does not exist here, which is what another container looks like
    other = replace(HERE, pid=exited_pid(), pid_namespace="pid:[1]")
    await register(db, other)
    with pytest.raises(MachineIdentityInUse, match="another host, boot or container"):
        await register(db, HERE)
    on_another_boot = replace(HERE, pid=exited_pid(), boot_id="another-boot")
    await db.exec("DELETE FROM harmony_machine_details")
    await db.exec("DELETE FROM harmony_machines")
    await register(db, on_another_boot)
    with pytest.raises(MachineIdentityInUse):
        await register(db, HERE)


async def test_a_live_holder_here_is_refused_and_an_exited_or_reused_pid_is_taken_over(
    db: DB,
) -> None:
    await register(db, HERE)  # this very process holds it (as a second engine would find)
    with pytest.raises(MachineIdentityInUse):
        await register(db, replace(HERE, pid=None))
    # the holder exited: a restart within the timeout takes over at once
    gone = replace(HERE, pid=exited_pid())
    await db.exec("UPDATE harmony_machines SET pid = $1", gone.pid)
    first = await db.query_value("SELECT id FROM harmony_machines")
    assert await register(db, HERE) == first
    # the holder's PID runs again, but as another process (started at another time)
    await db.exec("UPDATE harmony_machines SET process_start = process_start - 100")
    assert await register(db, HERE) == first


async def test_a_silent_or_departed_holder_is_taken_over_wherever_it_ran(db: DB) -> None:
    other = replace(HERE, pid_namespace="pid:[1]")
    machine_id = await register(db, other)
    await db.exec("UPDATE harmony_machines SET last_contact = now() - interval '1 minute'")
    assert await register(db, HERE, silent_after=30) == machine_id  # silent past the timeout
    await db.exec("UPDATE harmony_machines SET pid_namespace = 'pid:[1]', session = NULL")
    assert await register(db, HERE) == machine_id  # left (or declared dead)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
async def test_a_second_worker_with_the_same_name_in_another_pid_namespace_is_refused(
    db: DB,
) -> None:
    first = await asyncio.create_subprocess_exec(
        *harmony_argv(db, "run", "--engine-only", "--name", "w1", "--tasks", "noop"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd="/",
    )
    try:

        async def joined() -> bool:
            return bool(
                await db.query_value(
                    "SELECT count(*) FROM harmony_machines WHERE host_and_port = 'w1' "
                    "AND session IS NOT NULL"
                )
            )

        await wait_until(joined, 30, "w1 to join")
        holder = await db.query_row("SELECT session, pid FROM harmony_machines")
        second = await asyncio.create_subprocess_exec(
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            *harmony_argv(db, "run", "--engine-only", "--name", "w1", "--tasks", "noop"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd="/",
            start_new_session=True,  # killpg reaches the worker inside the namespace too
        )
        try:
            out, _ = await asyncio.wait_for(second.communicate(), 30 * PATIENCE)
        except TimeoutError:
            os.killpg(second.pid, signal.SIGKILL)
            out, _ = await second.communicate()
            pytest.fail(f"the second w1 ran beside the first:\n{out.decode()}")
        output = out.decode()
        assert second.returncode != 0, output
        assert "in use by live process" in output, output
        assert "Traceback" not in output, output
        # the first still holds its identity, untouched
        assert await db.query_row("SELECT session, pid FROM harmony_machines") == holder
        assert first.returncode is None
    finally:
        first.kill()
        await first.wait()


async def test_a_lost_attempt_is_recorded_against_the_machine_that_lost_it(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('noop', 0, now())"
    )
    silent_session = machines.new_session()
    silent = await machines.register(
        db,
        "silent",
        session=silent_session,
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=30,
        tasks=["noop"],
        machine_name="silent",
        version="test",
    )
    (task,) = await claims.claim_by_type(db, silent, silent_session, {"noop": 1})
    await db.exec(
        "UPDATE harmony_machines SET last_contact = now() - interval '1 minute' WHERE id = $1",
        silent,
    )
    peer_session = machines.new_session()
    peer = await machines.register(
        db,
        "peer",
        session=peer_session,
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=30,
        tasks=["noop"],
        machine_name="peer",
        version="test",
    )
    beat = await machines.heartbeat(
        db,
        peer,
        peer_session,
        cpu=1,
        ram=1 << 30,
        gpu=0,
        cpu_load=0,
        ram_used=0,
        gpu_used=0,
        reap=True,
        machine_timeout=30,
    )
    assert (beat.declared_dead, beat.reclaimed) == (1, 1)
    lost = await db.query_row(
        "SELECT task_id, outcome, machine_id, attempt, completed_by_host_and_port "
        "FROM harmony_task_history"
    )
    assert lost == {
        "task_id": task.id,
        "outcome": "lost",
        "machine_id": silent,
        "attempt": task.attempt,
        "completed_by_host_and_port": "silent",
    }


async def test_a_registration_whose_commit_reply_was_lost_is_recognised(
    db: DB, pg_url: str
) -> None:
    """Sent again, it finds the row under its own session: not another live process."""
    async with PgProxy.for_url(pg_url) as proxy:
        through = await DB.open(proxy.url(pg_url), schema=db.schema, migrate=False)
        try:
            rule = proxy.drop_reply("COMMIT")
            machine_id = await register(through, HERE)
            assert rule.fired == 1
        finally:
            await through.close()
    assert await db.query_value("SELECT id FROM harmony_machines") == machine_id
