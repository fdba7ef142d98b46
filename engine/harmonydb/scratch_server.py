"""A throwaway PostgreSQL server on 127.0.0.1 with password authentication.

The embedded server listens only on a Unix socket with trust auth and is shared by every
harmony process of its data directory; tests of passwords, TCP hosts and multi-host failover
need a real TCP server, and ``harmony bench chaos`` needs a server of its own that it may
restart without touching anyone's cluster. This one is built from the same bundled binaries
(run as the unprivileged server user when running as root) in a temporary directory that
:meth:`TcpPostgres.destroy` removes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from engine.harmonydb.embedded import SERVER_USER_AS_ROOT, is_root, server_binaries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpPostgres:
    """``initdb`` + ``pg_ctl start`` on a free port; ``url`` carries the password."""

    def __init__(
        self, user: str = "harmony", password: str = "s3cret-pw", database: str = "harmony"
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="harmony-tcp-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.user, self.password, self.database = user, password, database
        self.port = free_port()
        self.bin = server_binaries(self.root)
        self._run_as = SERVER_USER_AS_ROOT if is_root() else None
        if self._run_as:
            import shutil

            shutil.chown(self.root, self._run_as)
        pwfile = self.root / "pw"
        pwfile.write_text(password + "\n")
        if self._run_as:
            import shutil

            shutil.chown(pwfile, self._run_as)
        self._cmd(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                user,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
            ]
        )
        pwfile.unlink()
        self.start()
        self.psql(f"CREATE DATABASE {database}")

    def _cmd(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = str(self.bin / args[0])
        return subprocess.run(
            [exe, *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            cwd=self.root,
            timeout=60,
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def url_with(self, **parts: str) -> str:
        user = parts.get("user", self.user)
        password = parts.get("password", self.password)
        database = parts.get("database", self.database)
        port = parts.get("port", str(self.port))
        return f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"

    def start(self) -> None:
        self._cmd(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.root / "log"),
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                "start",
            ]
        )

    def restart(self) -> None:
        """Stop (fast: clients are disconnected, open transactions roll back) and start again on
        the same port, as an operator's ``systemctl restart postgresql`` would."""
        self.stop()
        self.start()

    def stop(self, mode: str = "fast") -> None:
        self._cmd(["pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop"], check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = dict(os.environ, PGPASSWORD=self.password)
        out = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        return out.stdout

    def wait_down(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def destroy(self) -> None:
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
