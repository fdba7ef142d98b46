"""The built wheel: it carries the migrations, and an installed (non-editable) copy migrates.

An editable install reads ``sql/`` from the checkout and would hide a wheel without it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.harmonydb import DB, new_itest_id

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(out),
            str(CHECKOUT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (built,) = out.glob("harmony_console-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    yield target


def test_the_wheel_contains_exactly_the_shipped_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {n.rsplit("/", 1)[1] for n in names if n.startswith("engine/sql/")}
    assert packaged == {p.name for p in (CHECKOUT / "sql").glob("*.sql")}
    assert "console/cli.py" in names
    assert not [n for n in names if n.startswith("tests/")]


async def test_an_installed_copy_migrates_a_fresh_schema(installed: Path, pg_url: str) -> None:
    schema = f"itest_{new_itest_id()}"
    env = dict(os.environ, PYTHONPATH=str(installed))
    probe = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "import engine, console.cli; from engine.harmonydb.migrations import sql_dir; "
            "print(engine.__file__); print(sql_dir())",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=installed.parent,
        timeout=60,
        check=True,
    )
    assert all(line.startswith(str(installed)) for line in probe.stdout.split()), probe.stdout
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "console", "--db", pg_url, "--schema", schema, "db", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=installed.parent,
        timeout=120,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "applied 20261123-01-harmony-core.sql" in result.stdout
        db = await DB.open(pg_url, schema=schema, migrate=False)
        assert await db.query_value("SELECT count(*) FROM harmony_schema_migrations") >= 1
        await db.delete_all()
    finally:
        if result.returncode != 0:
            cleanup = await DB.open(pg_url, schema=schema, migrate=False)
            await cleanup.delete_all()


def test_the_headless_entry_points_do_not_import_textual(installed: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(installed))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, console.cli, engine.harmonydb; "
            "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if 'textual' in m)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=installed.parent,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
