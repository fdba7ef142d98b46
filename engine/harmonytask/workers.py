"""A process pool for CPU-heavy ``do()`` work, whose calls can really be cancelled.

Work that holds the GIL for seconds (hashing a sector, burning CPU) would freeze every coroutine
of the process, the console's UI included. It runs here in worker processes instead. Unlike
``concurrent.futures.ProcessPoolExecutor``, cancelling a call (preemption, shutdown, timeout)
terminates the worker running it and starts a fresh one, so a preempted task stops using the CPU
at once instead of running to the end unseen.

Functions and arguments must be picklable: top-level functions, plain data.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class WorkerCrashed(RuntimeError):
    """The worker process died while running the call (killed, out of memory, segfault)."""


def _die_with_parent() -> None:
    """Make this worker die with the engine process, even when that is SIGKILLed.

    Without this, an orphaned worker would go on hashing a sector for minutes, writing files for
    a task that another machine is already redoing. A worker's parent is multiprocessing's fork
    server, which exits when the engine's end of its "alive" pipe closes; but every child is
    handed a copy of that end too, which keeps the fork server (and so the worker) alive. Drop
    the copy, then ask Linux to SIGKILL this worker when the fork server goes.
    """
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    alive_fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive_fd, int):
        with contextlib.suppress(OSError):
            os.close(alive_fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1

#: How much lower a worker's CPU priority is than its engine's (``nice`` steps, applied once in
#: the worker). Workers do the long CPU-bound work (proofs, hashing); the engine's own process
#: keeps heartbeats, claims and the console's event loop on time. At equal priority a machine
#: whose cores are all busy proving would delay its heartbeat (its lease) and, in the console,
#: every key press by whole scheduler slices; with nice 10 the kernel gives the engine's
#: process about ten times a worker's share whenever it wants the CPU, and the workers still
#: get every cycle it leaves idle, so a busy box loses nothing. Does not change anything when
#: only workers compete (sealing against PoSt: they are all workers at the same priority).
WORKER_NICENESS = 10
#: overrides :data:`WORKER_NICENESS` (0: workers at the engine's priority; the test suite uses
#: it, where timing-bound tests run beside each other and a starved worker means a slow test)
NICENESS_ENV = "HARMONY_WORKER_NICENESS"


def worker_niceness() -> int:
    """The ``nice`` steps a worker takes (:data:`WORKER_NICENESS` unless overridden)."""
    try:
        return max(0, int(os.environ.get(NICENESS_ENV, WORKER_NICENESS)))
    except ValueError:
        return WORKER_NICENESS


def _lower_priority(niceness: int) -> None:
    if niceness > 0:
        with contextlib.suppress(OSError):
            os.nice(niceness)


def _worker_main(conn: Connection, niceness: int = WORKER_NICENESS) -> None:
    """Serve calls until the engine goes away, then end quietly.

    The engine's end of the pipe closes when the engine dies (SIGKILL, OOM): a worker that
    was waiting for work sees EOF, one that finishes a call sees a broken pipe. Either way
    there is nobody left to report to, and a traceback would only put noise in the machine's
    log (it used to print two per worker). SIGINT is ignored: Ctrl-C in a terminal reaches the
    whole process group, and it is the engine's to act on (it drains); a worker interrupted
    mid-call would report the task as failed.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _lower_priority(niceness)
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        try:
            result = ("ok", fn(*args, **kwargs))
        except BaseException as exc:  # report everything back; the worker stays usable
            result = ("err", exc, traceback.format_exc())
        try:
            _reply(conn, result)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            os._exit(0)  # the parent went away: nobody to report to, nothing to clean up


def _reply(conn: Connection, result: tuple[Any, ...]) -> None:
    try:
        conn.send(result)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        raise
    except Exception as exc:  # unpicklable result or exception
        conn.send(("err", RuntimeError(f"cannot send result back: {exc}"), ""))


class _Worker:
    def __init__(self, ctx: Any, niceness: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main, args=(child, niceness), daemon=True, name="harmony-worker"
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.conn.close()

    def join(self) -> None:
        self.process.join(timeout=5)


class ProcessPool:
    """``await pool.run(fn, *args)`` runs ``fn`` in a worker process; cancellable.

    ``niceness``: how much lower the workers' CPU priority is (default :func:`worker_niceness`).
    """

    def __init__(self, workers: int | None = None, *, niceness: int | None = None) -> None:
        self.size = max(1, workers or os.cpu_count() or 1)
        self.niceness = worker_niceness() if niceness is None else niceness
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn"
        )
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._closed = False

    def _ensure_started(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                worker = _Worker(self._ctx, self.niceness)
                self._all.add(worker)
                self._idle.put_nowait(worker)
        return self._idle

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("process pool is closed")
        idle = self._ensure_started()
        worker = await idle.get()
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()
        try:
            worker.conn.send((fn, args, kwargs))
            loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
            try:
                await readable
            finally:
                loop.remove_reader(fd)
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError) as exc:
                raise WorkerCrashed(
                    f"worker process {worker.process.pid} died running {fn.__name__}"
                ) from exc
        except BaseException:
            # Cancelled (or the worker died): this worker's state is unknown; replace it.
            worker.kill()
            self._all.discard(worker)
            await asyncio.to_thread(worker.join)
            if not self._closed:
                fresh = _Worker(self._ctx, self.niceness)
                self._all.add(fresh)
                idle.put_nowait(fresh)
            raise
        idle.put_nowait(worker)
        if reply[0] == "ok":
            return reply[1]  # type: ignore[no-any-return]
        exc = reply[1]
        if isinstance(exc, BaseException) and reply[2]:
            exc.add_note(f"in worker process:\n{reply[2]}")
        raise exc

    async def close(self) -> None:
        self._closed = True
        # Killing a worker ends the run() waiting on it, which drops it from the set on the
        # event loop while the joining thread would iterate that set ("Set changed size during
        # iteration"): join a copy, and end any worker a run() started before it saw _closed.
        while self._all:
            workers = list(self._all)
            for worker in workers:
                worker.kill()
            await asyncio.to_thread(lambda ws=workers: [w.join() for w in ws])
            self._all.difference_update(workers)


def prestart_worker_processes() -> None:
    """Start multiprocessing's fork server (or resource tracker) now.

    Call before a UI replaces ``sys.stdout``/``sys.stderr`` (Textual does): started later, the
    helper process would be handed those stand-in streams, whose file descriptors are not real
    ("bad value(s) in fds_to_keep"), and no worker process could start.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.forkserver.ensure_running()
    else:
        multiprocessing.resource_tracker.ensure_running()  # type: ignore[attr-defined]


_default: ProcessPool | None = None


def default_pool() -> ProcessPool:
    """The process-wide pool, one worker per core, started on first use."""
    global _default
    if _default is None:
        _default = ProcessPool()
    return _default
