"""A PostgreSQL primary and a streaming hot standby on loopback, for failover tests.

The primary is ``initdb``'d with password authentication, the standby cloned from it with
``pg_basebackup -R`` (which writes ``primary_conninfo`` and ``standby.signal``), and the primary
then waits for the standby at every commit (``synchronous_standby_names = '*'``): a commit the
primary acknowledged is on the standby, which is what lets a test say "no committed task lost"
of a promotion. Asynchronous replication could lose the last acknowledged commits, and no
engine logic could get them back.

:meth:`ReplicaPair.kill_primary` SIGKILLs the primary's postmaster and every process under it,
as a host that dies takes its server with it (a killed postmaster alone leaves its backends
serving their sessions); :meth:`ReplicaPair.promote` is ``pg_ctl promote``. Both return how
long they took.

PostgreSQL 15 (Debian's ``/usr/lib/postgresql/15``, as CI's external server) is preferred, then
the server binaries on ``PATH``, then the embedded package's; :func:`binaries_or_reason` says why
none fit. As root the servers run as the embedded server's unprivileged user, as
:class:`~engine.harmonydb.scratch_server.TcpPostgres` does. Like the suite's own servers these do
not flush to disk (a killed process loses nothing of what the OS holds).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from engine.harmonydb.embedded import SERVER_USER_AS_ROOT, is_root, server_binaries
from engine.harmonydb.scratch_server import free_port

NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres", "psql")
PREFERRED = Path("/usr/lib/postgresql/15/bin")


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in NEEDED)


def binaries_or_reason() -> tuple[Path | None, str]:
    """The server binaries to use, or None and why there are none (or why, as root, there is
    no unprivileged user to run them: the embedded server's, made when it first starts)."""
    if is_root():
        try:
            pwd.getpwnam(SERVER_USER_AS_ROOT)
        except KeyError:
            return None, f"running as root and no user {SERVER_USER_AS_ROOT} to run servers as"
    candidates = [PREFERRED]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    for folder in candidates:
        if _complete(folder):
            return folder, ""
    try:
        bundled = server_binaries(Path(tempfile.gettempdir()))
    except Exception as exc:  # no embedded package, or it cannot be made runnable
        return None, f"no PostgreSQL server binaries ({type(exc).__name__}: {exc})"
    if _complete(bundled):
        return bundled, ""
    missing = [name for name in NEEDED if not (bundled / name).is_file()]
    return None, f"no PostgreSQL server binaries with {', '.join(missing)}"


class ReplicaPair:
    """Primary + synchronous hot standby on two loopback ports; :meth:`destroy` removes both."""

    def __init__(
        self,
        binaries: Path,
        user: str = "harmony",
        password: str = "failover-pw",
        database: str = "harmony",
    ) -> None:
        self.bin = binaries
        self.user, self.password, self.database = user, password, database
        self.root = Path(tempfile.mkdtemp(prefix="harmony-replica-"))
        self.root.chmod(0o755)
        self._run_as = SERVER_USER_AS_ROOT if is_root() else None
        if self._run_as:
            shutil.chown(self.root, self._run_as)
        self.primary_data, self.standby_data = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()
        try:
            self._init_primary()
            self._start(self.primary_data, self.primary_port, "primary.log")
            self.psql(self.primary_port, f"CREATE DATABASE {database}")
            self._clone_standby()
            self._start(self.standby_data, self.standby_port, "standby.log")
            # Only now (a CREATE DATABASE would wait for a standby that is not there yet):
            # every commit waits until the standby has the commit's WAL.
            self.psql(
                self.primary_port,
                "ALTER SYSTEM SET synchronous_standby_names = '*'",
            )
            self.psql(self.primary_port, "SELECT pg_reload_conf()")
            self._wait_sync()
        except BaseException:
            self.destroy()
            raise

    # ------------------------------------------------------------------ set-up

    def _cmd(
        self, args: list[str], check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            cwd=self.root,
            timeout=60,
            env=env,
        )

    def _init_primary(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._run_as:
            shutil.chown(pwfile, self._run_as)
        try:
            self._cmd(
                [
                    "initdb",
                    "-D",
                    str(self.primary_data),
                    "-U",
                    self.user,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                ]
            )
        finally:
            pwfile.unlink()

    def _start(self, data: Path, port: int, log_name: str) -> None:
        options = (
            f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._cmd(
            [
                "pg_ctl",
                "-D",
                str(data),
                "-w",
                "-l",
                str(self.root / log_name),
                "-o",
                options,
                "start",
            ]
        )

    def _clone_standby(self) -> None:
        # The password travels in the environment (never argv); -R writes it into the clone's
        # primary_conninfo, which only the server user can read.
        env = dict(os.environ, PGPASSWORD=self.password)
        self._cmd(
            [
                "pg_basebackup",
                "-D",
                str(self.standby_data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary_port),
                "-U",
                self.user,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            env=env,
        )

    def _wait_sync(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            state = self.psql(
                self.primary_port,
                "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'",
                tuples=True,
            ).strip()
            if state == "sync":
                return
            time.sleep(0.05)
        raise TimeoutError(f"the standby did not become synchronous within {within:g}s")

    # ------------------------------------------------------------------ use

    @property
    def url(self) -> str:
        """Both servers, primary first, for a read-write session wherever one is."""
        return (
            f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.primary_port},"
            f"127.0.0.1:{self.standby_port}/{self.database}?target_session_attrs=read-write"
        )

    def psql(self, port: int, sql: str, *, database: str = "postgres", tuples: bool = False) -> str:
        env = dict(os.environ, PGPASSWORD=self.password)
        flags = ["-X", "-q", "-v", "ON_ERROR_STOP=1", *(["-A", "-t"] if tuples else [])]
        command = [str(self.bin / "psql"), *flags, "-h", "127.0.0.1", "-p", str(port)]
        command += ["-U", self.user, "-d", database, "-c", sql]
        out = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        return out.stdout

    def in_recovery(self, port: int) -> bool:
        return self.psql(port, "SELECT pg_is_in_recovery()", tuples=True).strip() == "t"

    def kill_primary(self) -> float:
        """SIGKILL the primary's postmaster and every process under it; seconds it took."""
        started = time.monotonic()
        pid = int((self.primary_data / "postmaster.pid").read_text().split()[0])
        for victim in [pid, *_children(pid)]:
            with contextlib.suppress(ProcessLookupError):  # gone already
                os.kill(victim, signal.SIGKILL)
        _wait_gone(pid)
        return time.monotonic() - started

    def promote(self) -> float:
        """``pg_ctl promote``, waiting until the standby takes writes; seconds it took."""
        started = time.monotonic()
        self._cmd(["pg_ctl", "-D", str(self.standby_data), "-w", "-t", "30", "promote"])
        return time.monotonic() - started

    def server_log(self, which: str) -> str:
        path = self.root / f"{which}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        for data in (self.standby_data, self.primary_data):
            if (data / "postmaster.pid").exists():
                self._cmd(["pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """Every process whose parent is ``pid`` (the postmaster's backends and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _wait_gone(pid: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # dead, its parent not reaped it yet
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} still there {within:g}s after SIGKILL")
