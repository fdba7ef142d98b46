"""`harmony` as an operator starts it: a real process on a pseudo-terminal, its own embedded
database. It paints, and a SIGTERM leaves cleanly: exit status 143, server stopped."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import psutil


def read_until(fd: int, marker: bytes, within: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while marker not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} never appeared; got {seen[-500:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def postmaster(data: Path) -> int | None:
    pidfile = data / "pgdata" / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().split("\n", 1)[0])


def test_sigterm_leaves_the_console_cleanly_and_stops_its_server() -> None:
    root = Path(tempfile.mkdtemp(prefix="harmony-tui-"))
    root.chmod(0o755)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--data-dir", str(root), "--no-demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        read_until(master, b"Machines", 30)
        read_until(master, b"active", 30)  # its own machine joined: the server is up
        server = postmaster(root)
        assert server is not None and psutil.pid_exists(server)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 143
        deadline = time.monotonic() + 15
        while psutil.pid_exists(server) and psutil.Process(server).status() != "zombie":
            assert time.monotonic() < deadline, "the embedded server outlived the console"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        os.close(master)
        leftover = postmaster(root)
        if leftover and psutil.pid_exists(leftover):
            os.kill(leftover, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
