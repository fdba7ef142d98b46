"""The shipped systemd unit: systemd itself finds nothing wrong in it, it restarts on 100,
reloads with SIGHUP, and the password never reaches a command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.commands.service import unit_text
from engine.harmonytask import EXIT_RESTART_REQUESTED


def test_the_unit_says_what_production_needs() -> None:
    unit = unit_text()
    service = unit.split("[Service]")[1].split("[Install]")[0]
    lines = [line for line in service.splitlines() if line and not line.startswith("#")]
    assert f"RestartForceExitStatus={EXIT_RESTART_REQUESTED}" in lines
    assert "EnvironmentFile=/etc/harmony/worker.env" in lines
    # `systemctl reload`: SIGHUP drains and exits 100, which RestartForceExitStatus restarts
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines
    [start] = [line for line in lines if line.startswith("ExecStart=")]
    assert start == "ExecStart=/usr/local/bin/harmony run --engine-only --layers base"
    assert "--db" not in start and "PGPASSWORD" not in start and "@" not in start
    assert (
        unit_text("/opt/h/bin/harmony", "base,seal").count(
            "ExecStart=/opt/h/bin/harmony run --engine-only --layers base,seal"
        )
        == 1
    )


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    harmony = Path(sys.executable).with_name("harmony")
    executable = str(harmony) if harmony.exists() else "/bin/true"
    path = tmp_path / "harmony-worker.service"
    path.write_text(unit_text(executable, "base,seal"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # an unknown key is only a warning there
