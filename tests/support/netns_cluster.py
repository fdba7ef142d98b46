"""Fixture: a cluster of real hosts (network namespaces) on the test's database.

The fixture is registered suite-wide (tests/conftest.py imports it)::

    from support.netns_cluster import harmony_worker

    async def test_x(db: DB, netns_cluster) -> None:
        cluster = netns_cluster(["a", "b"], latency_ms=0)        # a NetnsCluster, started
        proc = harmony_worker(cluster.host("a"), db, "--tasks", "noop")   # `harmony run
        # --engine-only` on host a: hostname "hx-a", identity "hx-a:worker", its own IP
        cluster.host("a").spawn(argv, env={...})                  # anything else on host a
        cluster.db_url_for("a")                                   # the DB URL from host a
        cluster.host_stats()["a"].statements                      # what host a sent the DB

Hosts reach the suite's server (``pg_url``: embedded or external) over the bridge, through
a delay proxy on the bridge's address (``latency_ms`` per direction). Every cluster a test
made is torn down after it, with whatever it spawned. Skips, with the reason, where network
namespaces cannot be made (not root, no ``ip``): see :func:`engine.faults.netns.unavailable_reason`.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence

import pytest

from engine.faults.netns import NetnsCluster, NetnsHost, unavailable_reason
from engine.harmonydb import DB

__all__ = ["harmony_worker", "netns_cluster", "worker_env"]


@functools.cache
def _reason() -> str | None:
    return unavailable_reason()


@pytest.fixture
def netns_cluster(pg_url: str) -> Iterator[Callable[..., NetnsCluster]]:
    """``netns_cluster(hosts=("a", "b"), latency_ms=0.0)`` → a started :class:`NetnsCluster`."""
    reason = _reason()
    if reason:
        pytest.skip(f"cluster harness unavailable: {reason}")
    made: list[NetnsCluster] = []

    def make(hosts: Sequence[str] | int = ("a", "b"), *, latency_ms: float = 0.0) -> NetnsCluster:
        cluster = NetnsCluster(hosts, db_url=pg_url, latency_ms=latency_ms)
        made.append(cluster)
        return cluster.start()

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()


def worker_env(host: NetnsHost, db: DB) -> dict[str, str]:
    """The environment of a ``harmony`` process on ``host`` using the test's schema (the URL
    in the environment, never in argv)."""
    return {"HARMONY_DB_URL": host.db_url(), "HARMONY_SCHEMA": db.schema}


def harmony_worker(host: NetnsHost, db: DB, *args: str) -> subprocess.Popen[str]:
    """``harmony run --engine-only ARGS…`` on ``host`` (stdout and stderr piped together,
    text); killed when the cluster closes if still running."""
    return host.spawn(
        [sys.executable, "-m", "console", "run", "--engine-only", *args],
        env=worker_env(host, db),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd="/",
    )
