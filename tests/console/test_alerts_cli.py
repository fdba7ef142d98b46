"""``harmony alerts`` as an operator runs it (real processes): a stale path's alert listed,
acknowledged by id, muted by check, as JSON; on a Curio cluster the checks are evaluated live
and ack is refused with nothing written."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys

import pytest

from console.commands.alerts import duration_arg
from engine.alerts import AlertSettings, evaluate
from engine.harmonydb import DB
from support.cli import harmony
from support.curio_schema import CurioCluster


async def test_list_ack_mute(db: DB) -> None:
    await db.exec(
        "INSERT INTO storage_path (storage_id, can_store, last_heartbeat) "
        "VALUES ('p1', TRUE, now())"
    )
    await db.exec(
        "INSERT INTO storage_path_hosts (storage_id, hostname, local_path, last_heartbeat) "
        "VALUES ('p1', 'host-a', '/srv/p1', now() - interval '10 minutes')"
    )
    await evaluate(db, AlertSettings())
    listed = await harmony(db, "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:6] == ["ID", "SEVERITY", "STATE", "CHECK", "SUBJECT", "FIRST"]
    assert row.split()[1:5] == ["warning", "new", "storage-path", "p1"]
    assert "p1 on host-a" in row and "heartbeat is stale" in row
    alert_id = row.split()[0]
    acked = await harmony(db, "alerts", "ack", alert_id)
    assert acked.returncode == 0 and acked.stdout == f"acknowledged 1 alert(s): {alert_id}\n"
    muted = await harmony(db, "alerts", "mute", "storage-path", "--for", "2h")
    assert muted.returncode == 0 and muted.stdout == f"muted for 2h00m: 1 alert(s): {alert_id}\n"
    as_json = await harmony(db, "alerts", "list", "--json")
    (alert,) = json.loads(as_json.stdout)
    assert alert["state"] == "muted" and alert["acked_by"] and alert["links"]["host"] == "host-a"


async def test_a_curio_cluster_is_evaluated_live_and_never_written(
    curio_db: CurioCluster,
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "console", "--db", curio_db.url, "--schema"]
        return subprocess.run(
            [*argv, curio_db.schema, *args], capture_output=True, text=True, timeout=60, cwd="/"
        )

    listed = await asyncio.to_thread(run, "alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    alerts = json.loads(listed.stdout)
    assert all(a["id"] == 0 for a in alerts)
    refused = await asyncio.to_thread(run, "alerts", "ack", "storage-path")
    assert refused.returncode == 1 and "Curio's web UI" in refused.stderr
    assert "nothing was changed" in refused.stderr


def test_durations() -> None:
    assert [duration_arg(t) for t in ("90", "30s", "15m", "2h", "1d", "0")] == [
        90,
        30,
        900,
        7200,
        86400,
        0,
    ]
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        duration_arg("soon")
