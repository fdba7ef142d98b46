"""``harmony bench chaos`` end to end on a small load: every fault kind strikes, and the
promise holds (each task done once, none lost, none stranded, no add applied twice). The
benchmark's own figures for the README come from a full run, not from here."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.harmonytask.chaos import ChaosConfig, run_chaos_bench

pytestmark = pytest.mark.slow


async def test_every_task_is_done_once_through_kills_stops_freezes_and_lost_replies(
    pg_url: str, tmp_path: Path
) -> None:
    cfg = ChaosConfig(
        tasks=200,
        engines=2,
        batch=10,
        add_seconds=10,
        fault_every=0.8,
        machine_timeout=3,
        lost_replies=0.01,
        deadline=120,
        seed=7,
    )
    report = await run_chaos_bench(pg_url, cfg, keep=tmp_path)
    # With --db the server is not ours: the restart is stood in for by cutting every link.
    assert report.faults.get("restart") == 1
    assert sum(report.faults.values()) >= 6, report.faults
    assert report.replies_lost > 0
    assert report.added == 200
    assert (report.done_once, report.done_twice, report.lost, report.stranded) == (200, 0, 0, 0)
    assert report.not_reported_added == 0
    assert report.side_effect_twice == 0
    assert report.kept_the_promise
    assert (tmp_path / "journal").stat().st_size > 0  # kept for a look afterwards
