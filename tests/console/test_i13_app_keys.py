"""The keys README and ``?`` promise: ``ctrl+p`` opens the command palette (and ``:`` still
does, while the filter box types a colon), in Pilot and in a real terminal under tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from engine.harmonydb import DB


async def test_ctrl_p_and_colon_open_the_palette_and_the_filter_types_a_colon(
    cluster: DB, console_app: Any, first_render: Any, screen_text: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "p Pause" in footer and "^p" not in footer  # listed under ?, not in the footer
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("slash", "n", "colon")
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)
        assert app.query_one("#filter", Input).value == "n:"


def _capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True, check=False
    ).stdout


def _wait_screen(session: str, needle: str, within: float) -> str:
    deadline = time.monotonic() + within
    while True:
        text = _capture(session)
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never appeared:\n{text}")
        time.sleep(0.3)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_ctrl_p_typed_in_tmux_opens_the_palette() -> None:
    """An operator's terminal: the key goes through tmux to ``harmony`` as bytes (0x10)."""
    root = Path(tempfile.mkdtemp(prefix="harmony-i13-keys-"))
    session = f"i13keys{os.getpid()}"
    command = f"{sys.executable} -m console --data-dir {root} --no-demo"
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
        check=True,
        env=env,
    )
    try:
        _wait_screen(session, "Machines", 90)
        subprocess.run(["tmux", "send-keys", "-t", session, "C-p"], check=True)
        text = _wait_screen(session, "Search for commands", 10)
        assert "Pane: Machines" in text or "Refresh now" in text
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        time.sleep(0.5)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and session in _sessions():
            time.sleep(0.3)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _sessions() -> str:
    return subprocess.run(
        ["tmux", "list-sessions", "-F", "#S"], capture_output=True, text=True, check=False
    ).stdout
