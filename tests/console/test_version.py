"""`harmony --version`: the installed package's version, on stdout, exit 0, before anything
connects (no database is configured here)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "HARMONY_DB_URL": "postgres://nowhere.invalid/x"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"harmony {version('harmony-console')}\n"
    assert done.stderr == ""
