"""A mistyped ``--data-dir`` given to a command that only reads (or acts on what must already
exist) is refused with "no harmony cluster at DIR": no directory is created, no PostgreSQL is
initialised or started. Commands that may start a cluster say so in their help."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.harmonydb import DB
from support.cli import harmony_argv

#: Commands that must never create a cluster
READERS = [
    ["machine", "list"],
    ["machine", "cordon", "w1"],
    ["machine", "forget", "w1"],
    ["task", "list"],
    ["task", "history", "--json"],
    ["task", "restart", "1"],
    ["sectors", "list"],
    ["sectors", "status", "1"],
    ["proving", "info"],
    ["proving", "deadlines"],
    ["storage", "list"],
    ["storage", "detach", "/nowhere"],
    ["db", "status"],
    ["chain", "status"],
    ["chain", "create-miner"],
    ["chain", "serve"],
    ["--read-only"],  # the console that only watches
]


def plain_env() -> dict[str, str]:
    """The environment of a new user: no cluster configured anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env.pop("PGPASSWORD", None)
    return env


def run(*args: str, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=plain_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_mistyped_data_dir_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "harmny" / "data"
    before = run("--data-dir", str(typo), *command)
    after = run(*command, "--data-dir", str(typo))  # the global option after the command
    for result in (before, after):
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip().startswith(f"harmony: error: no harmony cluster at {typo} ")
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "harmny").exists()


def test_an_empty_directory_is_no_cluster_either(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "task", "list")
    assert result.returncode == 1
    assert f"no harmony cluster at {tmp_path} " in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_environment_names_the_data_dir_too(tmp_path: Path) -> None:
    env = {**plain_env(), "HARMONY_DATA_DIR": str(tmp_path / "typo")}
    result = subprocess.run(
        [sys.executable, "-m", "console", "machine", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
    )
    assert result.returncode == 1
    assert f"no harmony cluster at {tmp_path / 'typo'} " in result.stderr
    assert not (tmp_path / "typo").exists()


async def test_an_existing_cluster_is_read(db: DB) -> None:
    """The suite's own embedded cluster, named by its data directory instead of --db."""
    try:
        pgdata = await db.query_value("SELECT current_setting('data_directory')")
    except Exception:
        pytest.skip("the server does not tell this role its data directory")
    root = Path(pgdata).parent
    embedded = root / "pgdata"
    if not (embedded.exists() and embedded.samefile(pgdata)):
        pytest.skip("not an embedded harmony cluster (HARMONY_TEST_DB_URL)")
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu) VALUES ('w9', 1, 1, 0)"
    )
    result = await asyncio.to_thread(
        run, "machine", "list", "--json", "--data-dir", str(root), "--schema", db.schema
    )
    assert result.returncode == 0, result.stderr
    assert '"host_and_port": "w9"' in result.stdout


@pytest.mark.parametrize(
    "command",
    [["run"], ["db", "migrate"], ["chain", "init"], ["storage", "attach"], ["task", "add"]],
    ids=" ".join,
)
def test_commands_that_create_a_cluster_say_so(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "creates the embedded cluster in the data directory" in " ".join(result.stdout.split())


async def test_with_db_nothing_is_checked_on_disk(db: DB, tmp_path: Path) -> None:
    """--db names the cluster; a --data-dir beside it (demo storage) is not a cluster check."""
    argv = harmony_argv(db, "--data-dir", str(tmp_path / "none"), "task", "list")
    result = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no tasks in the queue"


async def test_a_mistyped_schema_is_not_created(db: DB) -> None:
    """The same for --schema: a reader neither creates the schema nor migrates into an
    unrelated one."""
    base = harmony_argv(db, "task", "list")[:5]  # python -m console --db URL
    for schema, said in (
        ("itest_typo_xyz", "schema 'itest_typo_xyz' does not exist"),
        ("public", "no harmony cluster in schema 'public' of this database"),
    ):
        for command in (["task", "list"], ["machine", "cordon", "w1"]):
            result = await asyncio.to_thread(
                subprocess.run,
                [*base, "--schema", schema, *command],
                capture_output=True,
                text=True,
                timeout=60,
                cwd="/",
            )
            assert result.returncode == 1, result.stderr
            assert said in result.stderr
    assert not await db.query_value(
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'itest_typo_xyz'"
    )
    assert not await db.query_value(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_name LIKE 'harmony%'"
    )
