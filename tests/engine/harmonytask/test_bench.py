"""The engine benchmark runs end to end on a small load (its figures are printed, not asserted:
performance targets live in `harmony bench engine`, not in timed tests)."""

from __future__ import annotations

import pytest

from engine.harmonytask.bench import run_engine_bench


@pytest.mark.parametrize("poll", [False, True], ids=["notify", "polling"])
async def test_the_engine_benchmark_measures_every_figure(pg_url: str, poll: bool) -> None:
    report = await run_engine_bench(
        pg_url,
        engines=2,
        tasks=300,
        repeats=1,
        rate=50,
        duration=1.0,
        idle=1.0,
        poll=poll,
        settle=0.0,
    )
    result = report.as_dict()
    assert result["mode"] == ("polling" if poll else "notify")
    assert len(result["throughput_tasks_per_s"]) == 1 and result["throughput_median"] > 0
    assert result["pickup_latency_ms"]["tasks"] == 50
    assert 0 < result["pickup_latency_ms"]["p50"] <= result["pickup_latency_ms"]["p99"]
    assert result["idle"]["statements_per_s_per_engine"] >= 0
    # the server line says whether commits wait for a flush (fsync, synchronous_commit)
    assert "fsync " in result["server"] and "synchronous_commit " in result["server"]
