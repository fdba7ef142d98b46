"""Numbers no command can use are refused by the parser, naming the option: not a raw SQL error
("value out of int64 range", "LIMIT must not be negative"), a traceback, or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIG = "99999999999999999999"  # past BIGINT


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (
            ["task", "add", "noop", "--count", "99999999999"],
            "argument --count: must be at most 1000000, got 99999999999",
        ),
        (
            ["task", "add", "noop", "--priority", "9999999999"],
            "argument --priority: must be at most 2147483647, got 9999999999",
        ),
        (["task", "restart", BIG], f"argument id: must be at most 9223372036854775807, got {BIG}"),
        (["task", "history", "--task", "0"], "argument --task: must be 1 or more, got 0"),
        (["sectors", "status", "-1"], "argument SECTOR: must be 0 or more, got -1"),
        (
            ["sectors", "status", BIG],
            f"argument SECTOR: must be at most 9223372036854775807, got {BIG}",
        ),
        (
            ["sectors", "pledge", "--auto", "1", "--max-sectors", "-1"],
            "argument --max-sectors: must be 1 or more, got -1",
        ),
        (["sectors", "pledge", "--auto", "-1"], "argument --auto: must be 0 or more, got -1"),
        (
            ["sectors", "list", "--miner", f"f0{BIG}"],
            f"argument --miner: no actor id is as large as {BIG}",
        ),
        (
            ["proving", "info", "--miner", "xyz"],
            "argument --miner: 'xyz' is not a miner ID address (f0<id>) or actor id",
        ),
        # a negative actor id made create-miner spin forever, growing to gigabytes
        (["chain", "create-miner", "--id", "-5"], "argument --id: must be 0 or more, got -5"),
        (
            ["chain", "init", "--block-time", "0"],
            "argument --block-time: must be more than 0, got 0",
        ),
        (
            ["machine", "drain", "w1", "--timeout", "-1"],
            "argument --timeout: must be more than 0, got -1",
        ),
        (["bench", "engine", "--engines", "0"], "argument --engines: must be 1 or more, got 0"),
        (["bench", "engine", "--tasks", "0"], "argument --tasks: must be 1 or more, got 0"),
        (
            ["run", "--engine-only", "--heartbeat", "0"],
            "argument --heartbeat: must be more than 0, got 0",
        ),
        (
            ["run", "--engine-only", "--heartbeat", "nan"],
            "argument --heartbeat: not a finite number: 'nan'",
        ),
        (["--history-days", "-1", "run"], "argument --history-days: must be 0 or more, got -1"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_impossible_numbers_are_refused_by_the_parser(
    argv: list[str], complaint: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    result = subprocess.run(
        [sys.executable, "-m", "console", "--data-dir", str(tmp_path / "d"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: harmony")
    assert result.stderr.strip().endswith(complaint)
    assert not (tmp_path / "d").exists()
