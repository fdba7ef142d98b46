"""The sealing pane's figures through the CLI (issue 13: one definition, shared by the CLI and
the console): ``sectors status`` says a stage is ready without a task (or queued) as the strip
does, and ``sectors history`` prints the console's sealing history, in both modes, on one seeded
cluster each (Curio's: tests/engine/snapshot/curio/test_sealing_history.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from console.commands.sealing_history_format import history_json
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader
from engine.snapshot.pipeline import stage_status
from support.cli import harmony

from .test_i13_sealing import link_attempts


async def test_sectors_status_says_ready_or_queued_as_the_strip(cluster: DB) -> None:
    snap = await SnapshotReader(cluster).snapshot(datetime.now(UTC))
    strips = {s.key: s for s in snap.pipeline.sectors}
    # t01001's 2000 waits for the SDR task the poller has not added; t01000's 1001 has its
    # SDR task, pending
    for miner, number, status in (("t01001", 2000, "ready"), ("t01000", 1001, "queued")):
        out = await harmony(cluster, "sectors", "status", str(number), "--miner", miner, "--json")
        assert out.returncode == 0, out.stderr
        cli = json.loads(out.stdout)
        console = strips[f"{miner[2:]}:{number}"]
        assert (cli["stage"], cli["stage_status"]) == (console.stage, stage_status(console))
        assert cli["stage_status"] == status
    text = await harmony(cluster, "sectors", "status", "2000", "--miner", "t01001")
    assert "Stage:\t\tSDR, ready, no task yet" in text.stdout.splitlines()
    # sectors list: every sector in flight with its stage's status as its strip says it
    listed = json.loads((await harmony(cluster, "sectors", "list", "--json")).stdout)
    by_key = {f"{r['miner'][2:]}:{r['sector']}": r["stage_status"] for r in listed}
    assert {k: by_key[k] for k in strips} == {k: stage_status(s) for k, s in strips.items()}
    assert by_key["1001:2000"] == "ready" and by_key["1000:7"] == ""  # finished: none


async def test_sectors_history_prints_the_consoles_sealing_history(cluster: DB) -> None:
    await link_attempts(cluster, 7)
    reader = SnapshotReader(cluster, sealing_history_limit=5)
    snap = await reader.snapshot(datetime.now(UTC), lists={"sealing_history"})
    out = await harmony(cluster, "sectors", "history", "--limit", "5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == history_json("t0", snap.pipeline.history)
    assert [r["sector"] for r in json.loads(out.stdout)] == [60, 59, 58, 57, 56]

    snap = await reader.snapshot(datetime.now(UTC), lists={"sealing_history"}, history_filter="7")
    out = await harmony(cluster, "sectors", "history", "--sector", "7", "--json")
    (row,) = json.loads(out.stdout)
    assert [row] == history_json("t0", snap.pipeline.history)
    assert row["stages"]["SDR"] == {"seconds": 4000.0, "attempts": 1, "failed": 0}
    assert row["stages"]["TreeRC"]["failed"] == 1 and row["total_seconds"] == 117400.0
    lines = (await harmony(cluster, "sectors", "history", "--sector", "7")).stdout.splitlines()
    assert lines[0].split()[:5] == ["Miner", "Sector", "Finished", "SDR", "TreeD"]
    assert lines[1].split()[:5] == ["t01000", "7", "2026-01-01", "09:46:40", "1h06m"]
    missing = await harmony(cluster, "sectors", "history", "--sector", "1001")
    assert missing.stdout.startswith("no finished sector 1001")
