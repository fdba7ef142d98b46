"""``harmony bench cluster`` end to end at its smallest: one real host through the delay proxy to
the suite's server (a scratch schema there), every figure of the row measured, nothing left
behind (no namespace of this run)."""

from __future__ import annotations

import os
import subprocess

import pytest

from engine.harmonytask.cluster_bench import run_cluster_bench, table
from support.netns_cluster import _reason


async def test_a_host_with_added_latency_gives_a_full_row(pg_url: str) -> None:
    if _reason():
        pytest.skip(f"cluster harness unavailable: {_reason()}")
    said: list[str] = []
    report = await run_cluster_bench(
        hosts=[1],
        latencies=[1.0],
        db_url=pg_url,
        tasks=200,
        repeats=1,
        rate=50,
        duration=1,
        idle=1,
        settle=0.2,
        progress=said.append,
    )
    (point,) = report.points
    assert (point.hosts, point.latency_ms, point.path) == (1, 1.0, "proxy")
    assert len(point.throughput) == 1 and point.tasks_per_s > 0
    assert point.pickup_ms["tasks"] == 50  # every task added at the rate was picked up once
    assert 0 < point.pickup_ms["p50"] <= point.pickup_ms["p99"] <= point.pickup_ms["max"]
    assert len(point.idle_statements_per_s) == 1
    assert point.claims_per_task > 0
    assert "| 1 | 1 ms |" in table(report)
    assert any("1 host(s), +1 ms each way (proxy)" in line for line in said)
    assert f"hxb{os.getpid()}" not in _netns_names()


def _netns_names() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
