"""``harmony proving check`` as an operator runs it (a real process, --read-only) over real 2 KiB
sectors: all good (exit 0, lotus's table); then one replica corrupted and one missing (exit 1,
each bad with its reason; --only-bad; --json); errors in one line; a Curio cluster refused."""

from __future__ import annotations

import json
from pathlib import Path

from engine.harmonydb import DB
from support.cli import harmony
from support.curio_cli import run_harmony
from support.curio_schema import CurioCluster
from support.proving_check import DEADLINE, check_cluster, flip_bytes


async def test_proving_check_reports_good_then_bad_sectors(db: DB, tmp_path: Path) -> None:
    cluster = await check_cluster(db, tmp_path)
    good = await harmony(db, "--read-only", "proving", "check", str(DEADLINE))
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout == (
        "deadline  partition  sector  status\n"
        "3         0          0       good\n"
        "3         0          1       good\n"
        "3         1          2       good\n"
    )

    flip_bytes(cluster.sealed(1))
    missing = cluster.sealed(2)
    missing.unlink()
    bad = await harmony(
        db, "proving", "check", str(DEADLINE), "--only-bad", "--miner", "t01000", "--read-only"
    )
    assert bad.returncode == 1, bad.stderr
    header, corrupt, gone = bad.stdout.splitlines()
    assert header.split() == ["deadline", "partition", "sector", "status"]
    assert corrupt.startswith("3         0          1       bad (corrupt: ")
    assert "does not match TreeR)" in corrupt
    assert (
        gone == f"3         1          2       bad (missing file: {missing}: leaf file is missing)"
    )

    js = await harmony(db, "proving", "check", str(DEADLINE), "--json", "--partition", "0")
    assert js.returncode == 1, js.stderr
    report = json.loads(js.stdout)
    assert (report["miner"], report["deadline"], report["bad"]) == ("t01000", DEADLINE, 1)
    assert [(s["sector"], s["status"], s["kind"]) for s in report["sectors"]] == [
        (0, "good", None),
        (1, "bad", "corrupt"),
    ]
    assert report["sectors"][1]["reason"].startswith(f"corrupt: {cluster.sealed(1)}: ")

    wrong = await harmony(db, "proving", "check", str(DEADLINE), "--partition", "7")
    assert wrong.returncode != 0 and wrong.stdout == ""
    assert "deadline 3 of t01000 has no partition 7 with live sectors (partitions: 0, 1)" in (
        wrong.stderr
    )
    far = await harmony(db, "proving", "check", "48")
    assert far.returncode != 0 and "deadline 48 does not exist (0-47)" in far.stderr


async def test_proving_check_refuses_a_curio_cluster(curio_db: CurioCluster) -> None:
    done = await run_harmony(curio_db.url, curio_db.schema, "proving", "check", "0")
    assert done.returncode != 0 and done.stdout == ""
    assert "is a Curio cluster: `harmony proving check` reads sectors sealed by harmony" in (
        done.stderr
    )
    assert "Nothing was read or changed" in done.stderr
