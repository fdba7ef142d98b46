"""Failures the commands do not foresee still end in one line on stderr and status 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.harmonydb import DB
from support.cli import harmony


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
async def test_an_os_error_is_one_line(db: DB) -> None:
    # /proc exists and is a directory, but nothing can be created in it.
    result = await harmony(db, "storage", "attach", "/proc", "--seal")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("harmony: error: ")
    assert "/proc/" in lines[0]
    assert not await db.query_value("SELECT count(*) FROM storage_path")
