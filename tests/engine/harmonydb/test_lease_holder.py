"""Proving a migration lease holder dead: only on this host, boot and PID namespace, and only
when its PID no longer runs with the start time it recorded."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from engine.harmonydb.lease_holder import LeaseHolder, process_start

ROOT = Path(__file__).resolve().parents[3]


def test_the_holder_text_round_trips_and_keeps_the_old_prefix() -> None:
    me = LeaseHolder.current()
    text = me.text()
    assert text.startswith(f"{me.host}:{me.pid}:{me.token} ")
    assert LeaseHolder.parse(text) == me


def test_this_process_is_alive_to_itself() -> None:
    me = LeaseHolder.current()
    assert me.start is not None
    assert not me.proves_dead(LeaseHolder.parse(me.text()) or me)


async def test_an_exited_process_is_provably_dead_and_a_reused_pid_does_not_fool_it() -> None:
    me = LeaseHolder.current()
    child = await asyncio.create_subprocess_exec("sleep", "30")
    start = process_start(child.pid)
    assert start is not None
    holder = replace(me, pid=child.pid, start=start)
    assert not me.proves_dead(holder)  # running
    # the same PID running something that started at another time: a reused PID
    assert me.proves_dead(replace(holder, start=start - 1))
    child.kill()
    await child.wait()
    assert me.proves_dead(holder)


def test_nothing_is_proven_about_another_host_boot_or_namespace_or_an_old_record() -> None:
    me = LeaseHolder.current()
    gone = replace(me, pid=2**22 + 17, start=1)  # no such PID
    assert me.proves_dead(gone)
    assert not me.proves_dead(replace(gone, host="elsewhere"))
    assert not me.proves_dead(replace(gone, boot="another-boot"))
    assert not me.proves_dead(replace(gone, pidns="pid:[1]"))
    old = LeaseHolder.parse(f"{me.host}:{gone.pid}:abcd")  # what older versions wrote
    assert old is not None and not me.proves_dead(old)
    assert LeaseHolder.parse("not a holder") is None


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_a_holder_in_another_pid_namespace_is_never_proven_dead_from_here() -> None:
    """Two containers on one hostname: the other's PID means nothing here."""
    probe = (
        "from engine.harmonydb.lease_holder import LeaseHolder\nprint(LeaseHolder.current().text())"
    )
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    if result.returncode != 0:
        pytest.skip(f"unshare refused here: {result.stderr.strip()}")
    holder = LeaseHolder.parse(result.stdout.strip())
    me = LeaseHolder.current()
    assert holder is not None and holder.pid == 1  # init of its own namespace
    assert holder.host == me.host and holder.boot == me.boot
    assert holder.pidns != me.pidns
    assert not me.proves_dead(holder)  # it has exited, but nothing here can know that
