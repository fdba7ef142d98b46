"""``harmony bench console`` runs end to end on a small cluster and prints every measure (its
figures are reported, not asserted: the targets live in the README, not in timed tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console.bench import BenchSize
from console.cli import build_parser
from console.panes import PANE_TITLES


def test_the_seeded_size_scales_from_the_issues_cluster() -> None:
    assert (BenchSize(1).machines, BenchSize(1).pending) == (100, 10_000)
    assert (BenchSize(1).history, BenchSize(1).sectors) == (1_000_000, 10_000)
    ten = BenchSize(10)
    assert (ten.machines, ten.pending, ten.history, ten.sectors) == (
        1_000,
        100_000,
        10_000_000,
        100_000,
    )
    assert BenchSize(0.0001).machines == 1  # never an empty cluster


async def test_the_console_benchmark_prints_every_measure(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        [
            *("--db", pg_url, "bench", "console", "--scale", "0.002", "--refreshes", "2"),
            *("--ui-seconds", "1", "--launches", "1", "--json"),
        ]
    )
    assert await args.run(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == {"machines": 1, "pending_tasks": 20, "sectors": 20}
    assert result["history_24h_counted"] >= 2_000
    assert set(result["seed_seconds"]) >= {"harmony_task_history", "total"}
    # every registered pane: its refresh and the key that shows it
    assert result["default_pane"] == next(iter(PANE_TITLES))
    assert set(result["refresh_db_ms"]) == {"all_lists"} | {f"pane:{p}" for p in PANE_TITLES}
    assert set(result["ui"]["pane_switch_ms_by_pane"]) == set(PANE_TITLES)
    assert result["ui"]["event_loop_lag_ms"]["n"] > 0
    # measured once the console has loaded its 24 h history; the lag while it loads apart
    assert result["ui"]["history_loaded_after_s"] >= 0
    loading = result["ui"]["event_loop_lag_loading_ms"]
    assert loading is None or loading["n"] > 0
    # the host's speed, timed while the lag was sampled (a second: some 100 samples)
    assert result["ui"]["host_reference_ms"]["n"] >= 2
    assert result["ui"]["host_reference_ms"]["median"] > 0
    # the collector's passes are reported by generation (0: none ran)
    assert set(result["ui"]["gc_pauses_ms"]) == {"young", "middle", "full"}
    first = result["first_frame"]
    assert 0 < first["first_frame_s"]["median"] <= first["first_data_s"]["median"]
    assert result["peak_rss_mb"] > 0


async def test_the_console_benchmark_reads_as_text(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        [
            *("--db", pg_url, "bench", "console", "--scale", "0.001", "--refreshes", "1"),
            *("--ui-seconds", "0.5", "--launches", "0"),
        ]
    )
    assert await args.run(args) == 0
    out = capsys.readouterr().out
    default = next(iter(PANE_TITLES))
    for words in (
        "seeding 1 machines",
        f"refresh DB time, default pane ({default}",
        "24 h history back-fill",
        "pane switch, key to painted: median",
        "event-loop lag with 2 CPU-heavy workers: median",
        "of which garbage-collector passes: young",
        "host speed, CPU time of a fixed 5,000-step Python loop during the run",
        "peak RSS",
    ):
        assert words in out
    for pane in PANE_TITLES:
        assert f"  {pane}: median" in out
    assert "first frame" not in out  # --launches 0


def test_the_console_starts_without_the_lotus_client_or_the_database_driver() -> None:
    """The first frame waits for the console's imports: Curio's chain watch and its Lotus
    client (aiohttp, about a third of them) are imported only when a Curio cluster is opened,
    the database layer (asyncpg, harmonydb's pools, the engine's scheduler) when the console
    connects, after the frame."""
    code = (
        "import sys, console.cli, console.app, console.connection; "
        "print(sorted(m for m in ('aiohttp', 'engine.snapshot.curio.chain', 'asyncpg', "
        "'engine.harmonydb.db', 'engine.harmonytask.engine') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
