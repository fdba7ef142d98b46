"""Global options are accepted after the command too (`harmony machine list --data-dir D`); given
there, they override the ones before it, and absent there they leave those alone."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import build_parser
from engine.harmonydb import DB


async def harmony_plain(*args: str) -> subprocess.CompletedProcess[str]:
    """``harmony ARGS…`` exactly as given: no --db/--schema put in front."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


async def test_db_and_schema_after_the_command(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu) VALUES ('w1', 1, 1, 0)"
    )
    result = await harmony_plain(
        "machine", "list", "--json", "--db", db.url.dsn, "--schema", db.schema
    )
    assert result.returncode == 0, result.stderr
    assert [m["host_and_port"] for m in json.loads(result.stdout)] == ["w1"]


async def test_an_option_after_the_command_overrides_the_one_before(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu) VALUES ('w2', 1, 1, 0)"
    )
    result = await harmony_plain(
        "--db", db.url.dsn, "--schema", "no_such_schema", "machine", "list", "--json",
        "--schema", db.schema,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [m["host_and_port"] for m in json.loads(result.stdout)] == ["w2"]


async def test_read_only_after_the_command_refuses_writes(db: DB) -> None:
    base = ("--db", db.url.dsn, "--schema", db.schema)
    listed = await harmony_plain("task", "list", "--read-only", *base)
    assert listed.returncode == 0, listed.stderr
    added = await harmony_plain("task", "add", "noop", "--read-only", *base)
    assert added.returncode == 1
    assert added.stderr.startswith("harmony: error: ")
    assert "Traceback" not in added.stderr
    assert not await db.query_value("SELECT count(*) FROM harmony_task")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--schema", "a", "task", "list"], {"schema": "a"}),
        (["task", "list", "--schema", "b"], {"schema": "b"}),
        (["--schema", "a", "task", "list", "--schema", "b"], {"schema": "b"}),
        (["task", "list"], {"schema": "harmony", "db": None, "data_dir": None}),
        (["machine", "list", "--data-dir", "/d"], {"data_dir": Path("/d")}),
        (["--data-dir", "/d", "machine", "list"], {"data_dir": Path("/d")}),
        (["machine", "list", "-v"], {"verbose": 1}),
        (["-v", "machine", "list"], {"verbose": 1}),
        (["machine", "list", "--read-only"], {"read_only": True}),
        (["machine", "list"], {"read_only": False}),
        (["--db", "postgres://h/x", "db", "status"], {"db": "postgres://h/x"}),
        # `run` repeats the machine and console options: its copies must not reset them
        (["--name", "w7", "run", "--engine-only"], {"name": "w7", "engine_only": True}),
        (["run", "--name", "w8", "--no-demo"], {"name": "w8", "no_demo": True}),
        (["--no-demo", "--heartbeat", "3", "run"], {"no_demo": True, "heartbeat": 3.0}),
        (["run", "--read-only"], {"read_only": True}),
    ],
)
def test_where_an_option_is_given_does_not_matter(
    argv: list[str], expected: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HARMONY_DB_URL", "HARMONY_DATA_DIR", "HARMONY_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    args = vars(build_parser().parse_args(argv))
    assert {key: args[key] for key in expected} == expected


def test_help_of_a_command_lists_the_global_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console", "task", "history", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "global options:" in result.stdout
    assert "--data-dir DIR" in result.stdout
