"""The cluster harness: real hosts (network namespaces on a bridge) running ordinary
``harmony run --engine-only`` processes against the suite's server, reached over the bridge.

What only several hosts can show: each host registers under its own hostname (the default
identity ``<hostname>:worker``, so no two hosts collide), tasks added once run once across hosts,
and a NOTIFY sent from outside reaches the engines on every host over the network. Plus the
harness's own promises: nothing is left behind, not even by a run that was killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from engine.faults.netns import remove_leftovers
from engine.harmonydb import DB
from engine.harmonytask import add_tasks
from support.netns_cluster import harmony_worker
from support.probe import wait_until

HOSTS = ("a", "b")


def _ip_names() -> str:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return netns + links


async def test_hosts_join_under_their_own_hostnames_and_run_each_task_once(
    db: DB, netns_cluster
) -> None:
    cluster = netns_cluster(HOSTS)
    assert len({h.ip for h in cluster.hosts.values()}) == len(HOSTS)
    procs = {name: harmony_worker(cluster.host(name), db, "--tasks", "noop") for name in HOSTS}

    async def joined() -> bool:
        for name, proc in procs.items():
            if proc.poll() is not None:
                out = proc.communicate(timeout=10)[0]
                raise AssertionError(f"worker on {name} exited {proc.returncode}:\n{out}")
        live = await db.query_value(
            "SELECT count(*) FROM harmony_machines WHERE session IS NOT NULL"
        )
        return live == len(HOSTS)

    await wait_until(joined, 30, "both hosts to join")
    rows = await db.select("SELECT host_and_port, hostname FROM harmony_machines")
    assert {r["host_and_port"]: r["hostname"] for r in rows} == {
        f"hx-{name}:worker": f"hx-{name}" for name in HOSTS
    }

    # A notification from outside reaches each host over the bridge. A host registers before its
    # LISTEN connection is up, so the wake-up is re-sent until each has one (bounded).
    channel = db.channel("task")
    notify = await db.notify_supported()
    if notify:
        sent = [0.0]

        async def every_host_woken() -> bool:
            if time.monotonic() - sent[0] > 0.2:
                sent[0] = time.monotonic()
                await db.notify("task", "noop")
            stats = cluster.host_stats()
            return all(stats[name].channels.get(channel, 0) >= 1 for name in HOSTS)

        await wait_until(every_host_woken, 30, f"each host to get a '{channel}' notification")

    before = cluster.host_stats()
    ids = await add_tasks(db, "noop", 300)

    async def all_done() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task_history") == len(ids)

    await wait_until(all_done, 30, "300 tasks to be done")
    assert not await db.query_value("SELECT count(*) FROM harmony_task")
    history = await db.select(
        "SELECT task_id, outcome, completed_by_host_and_port FROM harmony_task_history"
    )
    assert sorted(r["task_id"] for r in history) == sorted(ids)  # each exactly once
    assert {r["outcome"] for r in history} == {"done"}
    assert {r["completed_by_host_and_port"] for r in history} <= {
        f"hx-{name}:worker" for name in HOSTS
    }

    after = cluster.host_stats()
    for name in HOSTS:
        # Each host talks to the database over the bridge (where the server refuses LISTEN, the
        # YugabyteDB-readiness mode, it polls; a poll that had backed off may find nothing
        # during a short drain, so only that it talked at all is certain).
        if notify:
            assert after[name].statements > before[name].statements
        assert after[name].statements > 0
        assert after[name].connections >= 1

    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for name, proc in procs.items():
        out = proc.communicate(timeout=30)[0]
        assert proc.returncode == 0, f"worker on {name}:\n{out}"
    left = await db.query_value("SELECT count(*) FROM harmony_machines WHERE session IS NOT NULL")
    assert left == 0


async def test_a_host_sees_its_own_hostname_and_address(netns_cluster) -> None:
    cluster = netns_cluster(["a", "b"])
    for name in ("a", "b"):
        host = cluster.host(name)
        code = textwrap.dedent(
            """
            import socket, subprocess
            print(socket.gethostname())
            print(subprocess.run(["ip", "-4", "-o", "addr", "show", "eth0"],
                                 capture_output=True, text=True).stdout.split()[3])
            """
        )
        out = host.run([sys.executable, "-c", code], timeout=30)
        assert out.returncode == 0, out.stderr
        hostname, address = out.stdout.split()
        assert hostname == f"hx-{name}"
        assert address.split("/")[0] == host.ip
    assert os.uname().nodename not in ("hx-a", "hx-b")  # this namespace's is untouched


def test_a_killed_run_leaves_nothing_the_next_start_does_not_remove(pg_url: str) -> None:
    from support.netns_cluster import _reason

    if _reason():
        pytest.skip(f"cluster harness unavailable: {_reason()}")
    # A process builds a cluster and is killed before it can clean up.
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from engine.faults.netns import NetnsCluster
        c = NetnsCluster(["a", "b"], db_url={pg_url!r}, prefix="hxk").start()
        print(c.tag, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    tag = killed.stdout.strip()
    assert tag.startswith("hxk") and tag in _ip_names()

    removed = remove_leftovers("hxk")
    assert sorted(removed) == sorted([f"{tag}v0", f"{tag}v1", f"{tag}br", f"{tag}-a", f"{tag}-b"])
    assert tag not in _ip_names()
