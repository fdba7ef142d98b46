"""The TaskEngine: one per process, a machine of the cluster with no master anywhere.

Each engine registers its machine, then loops: claim what fits (one statement), run it, record
the outcome (fenced), repeat when woken by a notification, a completion, a local add or a poll.
See ``scheduling.py`` for the claim cycle and ``runner.py`` for one task's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import engine as engine_package
from engine.harmonydb import DB, HarmonyDBError
from engine.resources import Resources, capacity, prime_cpu_percent, ram_available, usage

from . import claims, machines
from .claims import Claimed
from .config import EngineConfig
from .errors import MachineIdentityInUse, UnknownTaskType
from .housekeeping import housekeeping
from .machines import Flags
from .outcomes import CompletionBatcher, cancel_quietly
from .task import (
    ExtraFn,
    Limiter,
    StorageReservation,
    TaskID,
    TaskType,
    TaskTypeDetails,
    accepts_everything,
)
from .wakeup import Listener

log = logging.getLogger(__name__)

EXIT_RESTART_REQUESTED = 100


@dataclass
class Handler:
    """A registered task type and its per-machine limiter."""

    task: TaskType
    details: TaskTypeDetails
    limiter: Limiter
    accepts_all: bool
    last_bored: float = 0.0

    @property
    def name(self) -> str:
        return self.details.name


@dataclass
class Running:
    """A task this machine is working on."""

    claimed: Claimed
    handler: Handler
    started: float
    job: asyncio.Task[None] | None = None
    #: why the engine is stopping this attempt: "preempted", "shutdown", "lost"
    stop_reason: str | None = None
    reservation: StorageReservation | None = None
    waits_for: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def cost(self) -> Resources:
        return self.handler.details.cost


@dataclass(frozen=True)
class RunningInfo:
    task_id: TaskID
    name: str
    attempt: int
    elapsed: float


class TaskEngine:
    """Use :meth:`new`; stop with :meth:`graceful_terminate` (or :meth:`stop_now`)."""

    def __init__(
        self,
        db: DB,
        handlers: dict[str, Handler],
        host_and_port: str,
        config: EngineConfig,
        capacity_override: Resources | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        #: wall clock for scheduling decisions (aging); injectable so tests need not wait
        self.clock = clock
        self.handlers = handlers
        self.host_and_port = host_and_port
        self.config = config
        self._capacity_override = capacity_override
        self.capacity = capacity_override or capacity()
        self._ram_live = ram_available()
        self.machine_id = 0
        self.machine_name = host_and_port
        self.session = machines.new_session()
        self.running: dict[TaskID, Running] = {}
        self.flags = Flags(False, None, None, None)
        self.notify_mode = False
        self.stopping = False
        self.session_lost = False
        self.exit_code: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._wake = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._adders: list[asyncio.Task[None]] = []
        self._listener: Listener | None = None
        self._last_beat_ok = time.monotonic()
        self._reap_not_before = 0.0
        self._terminated = False
        self._shutting_down: asyncio.Future[None] | None = None
        self.completions: CompletionBatcher | None = None
        self._background: set[asyncio.Task[object]] = set()
        self.stats = {"claims": 0, "claimed": 0, "done": 0, "failed": 0, "fenced": 0}
        from .scheduling import Scheduler

        self.scheduler = Scheduler(self)

    # ------------------------------------------------------------------ construction

    @classmethod
    async def new(
        cls,
        tasks: Sequence[TaskType],
        host_and_port: str,
        db: DB,
        *,
        config: EngineConfig | None = None,
        capacity: Resources | None = None,
        machine_name: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> TaskEngine:
        """Register this machine, re-adopt tasks it owned before a restart, start scheduling."""
        config = config or EngineConfig()
        handlers: dict[str, Handler] = {}
        for task in tasks:
            details = task.type_details()
            if details.name in handlers:
                raise ValueError(f"task type {details.name!r} registered twice")
            limiter = details.max if isinstance(details.max, Limiter) else Limiter(details.max)
            handlers[details.name] = Handler(task, details, limiter, accepts_everything(task))
        engine = cls(
            db, handlers, host_and_port, config, capacity, clock or (lambda: datetime.now(UTC))
        )
        await engine._start(machine_name or host_and_port)
        return engine

    async def _register(self) -> None:
        """Insert or take over this identity's machine row under the current session."""
        self.machine_id = await machines.register(
            self.db,
            self.host_and_port,
            session=self.session,
            cpu=self.capacity.cpu,
            ram=self.capacity.ram,
            gpu=self.capacity.gpu,
            machine_timeout=self.config.machine_timeout,
            tasks=sorted(self.handlers),
            machine_name=self.machine_name,
            version=engine_package.__version__,
        )

    async def _start(self, machine_name: str) -> None:
        await asyncio.to_thread(prime_cpu_percent)
        self.machine_name = machine_name
        await self._register()
        log.info(
            "machine %s registered as id %d (%s)",
            self.host_and_port,
            self.machine_id,
            self.capacity.describe(),
        )
        self.completions = CompletionBatcher(self.db, self.machine_id, self.host_and_port)
        self.completions.start()
        if self.config.use_notify is not False:
            self._listener = Listener(
                self.db,
                {"task": self._on_task_notice, "machine": self._on_machine_notice},
                on_reconnect=self.wake,
            )
            self.notify_mode = await self._listener.start()
        self.scheduler.adopt(await machines.readopt(self.db, self.machine_id, self.host_and_port))
        self._loops = [
            asyncio.create_task(self._heartbeat_loop(), name="harmony-heartbeat"),
            asyncio.create_task(self.scheduler.loop(), name="harmony-scheduler"),
            asyncio.create_task(self._housekeeping_loop(), name="harmony-housekeeping"),
        ]
        for handler in self.handlers.values():
            self._adders.append(
                asyncio.create_task(self._run_adder(handler), name=f"adder-{handler.name}")
            )

    # ------------------------------------------------------------------ public API

    def resources_available(self) -> Resources:
        """Live capacity minus the declared costs of running tasks.

        RAM is also capped by what the kernel could hand out now, so memory taken by other
        processes on the box is respected.
        """
        used = Resources()
        for run in self.running.values():
            used = used + run.cost
        free = self.capacity - used
        return Resources(free.cpu, min(free.ram, self._ram_live), free.gpu)

    def running_tasks(self) -> list[RunningInfo]:
        now = time.monotonic()
        return [
            RunningInfo(r.claimed.id, r.claimed.name, r.claimed.attempt, now - r.started)
            for r in self.running.values()
        ]

    @property
    def state(self) -> str:
        """active / cordoned / draining / drained / restarting / stopping."""
        if self.stopping:
            return "stopping"
        if self.flags.restart_request is not None:
            return "restarting"
        if self.flags.drain_requested_at is not None:
            return "draining" if self.running else "drained"
        return "cordoned" if self.flags.unschedulable else "active"

    @property
    def schedulable(self) -> bool:
        return not (
            self.stopping
            or self.session_lost
            or self.flags.unschedulable
            or self.flags.restart_request is not None
        )

    async def add_task(
        self, type_name: str, extra: ExtraFn | None = None, *, priority: int | None = None
    ) -> TaskID | None:
        """Add a task of a registered type (what an adder's ``add_task`` does)."""
        handler = self.handlers.get(type_name)
        if handler is None:
            raise UnknownTaskType(f"no task type {type_name!r} on this machine")
        task_id = await claims.add_task(
            self.db,
            type_name,
            extra,
            added_by=self.machine_id,
            priority=handler.details.priority if priority is None else priority,
        )
        if task_id is not None:
            self.wake()
        return task_id

    def wake(self) -> None:
        """Run a claim cycle soon."""
        self._wake.set()

    def background(self, coro: Coroutine[object, object, object]) -> None:
        """Run a fire-and-forget coroutine, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def graceful_terminate(self, grace: float | None = None) -> None:
        """Stop claiming, let running tasks finish, leave the cluster.

        With ``grace`` (seconds), tasks still running after it are cancelled and returned to
        the queue (not counted as failures), except time-sensitive ones, which always finish.
        """
        if self._terminated:
            return
        self.stopping = True
        self.wake()
        for task in self._adders:
            await cancel_quietly(task)
        await self.scheduler.stop()
        jobs = [r.job for r in self.running.values() if r.job is not None]
        if jobs:
            log.info("waiting for %d running task(s) to finish", len(jobs))
            _, pending = await asyncio.wait(jobs, timeout=grace)
            if pending:
                await self._stop_running(lambda r: not r.handler.details.time_sensitive, "shutdown")
                await asyncio.wait([r.job for r in self.running.values() if r.job])
        await self._shutdown()

    async def stop_now(self) -> None:
        """Stop at once: every running task is cancelled and returned to the queue."""
        if self._terminated:
            return
        self.stopping = True
        for task in self._adders:
            await cancel_quietly(task)
        await self.scheduler.stop()
        await self._stop_running(lambda r: True, "shutdown")
        await self._shutdown()

    # ------------------------------------------------------------------ internals

    async def _stop_running(self, which: object, reason: str) -> None:
        victims = [r for r in self.running.values() if which(r)]  # type: ignore[operator]
        for run in victims:
            run.stop_reason = reason
            if run.job is not None:
                run.job.cancel()
        if victims:
            await asyncio.wait([r.job for r in victims if r.job is not None])

    async def _shutdown(self) -> None:
        """Leave the cluster, once: a drain interrupted by ``stop_now`` (a second signal) ends
        in the same single shutdown, awaited by both."""
        if self._shutting_down is None:
            self._shutting_down = asyncio.ensure_future(self._leave())
        await asyncio.shield(self._shutting_down)

    async def _leave(self) -> None:
        self._terminated = True
        if self.completions is not None:
            await self.completions.close()
        for loop_task in self._loops:
            await cancel_quietly(loop_task)
        if self._listener is not None:
            await self._listener.close()
        with contextlib.suppress(HarmonyDBError):
            await machines.unregister(self.db, self.machine_id, self.session)
        if not self.exit_code.done():
            self.exit_code.set_result(0)
        log.info("machine %s left the cluster", self.host_and_port)

    def _on_task_notice(self, payload: str) -> None:
        if payload in self.handlers or not payload:
            self.wake()

    def _on_machine_notice(self, payload: str) -> None:
        if payload in ("", str(self.machine_id)):
            self._beat_now.set()

    async def _run_adder(self, handler: Handler) -> None:
        async def add(
            extra: ExtraFn | None = None, *, priority: int | None = None
        ) -> TaskID | None:
            return await self.add_task(handler.name, extra, priority=priority)

        try:
            await handler.task.adder(add)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("adder of %s failed; it will not add more work", handler.name)

    async def _heartbeat_loop(self) -> None:
        interval = self.config.heartbeat_interval
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), interval * random.uniform(0.9, 1.1))
            self._beat_now.clear()
            try:
                await self.beat()
            except HarmonyDBError as exc:
                log.warning("heartbeat failed: %s", exc)

    async def beat(self) -> None:
        """One heartbeat: report in, read flags, declare silent peers dead, act on flags."""
        if self._capacity_override is None:
            self.capacity = await asyncio.to_thread(capacity)
        live = await asyncio.to_thread(usage)
        self._ram_live = await asyncio.to_thread(ram_available)
        now = time.monotonic()
        if now - self._last_beat_ok > 2.5 * self.config.heartbeat_interval:
            # We were cut off ourselves (DB down, process paused): peers may have been cut off
            # just as long. Give everyone one timeout to report in before declaring deaths.
            self._reap_not_before = now + self.config.machine_timeout
        result = await machines.heartbeat(
            self.db,
            self.machine_id,
            self.session,
            cpu=self.capacity.cpu,
            ram=self.capacity.ram,
            gpu=self.capacity.gpu,
            cpu_load=live.cpu_load,
            ram_used=live.ram_used,
            gpu_used=live.gpu_used,
            reap=now >= self._reap_not_before,
            machine_timeout=self.config.machine_timeout,
        )
        self._last_beat_ok = time.monotonic()
        if result.reclaimed:
            log.warning(
                "returned %d task(s) of %d silent machine(s) to the queue",
                result.reclaimed,
                result.declared_dead,
            )
            self.wake()
        if result.flags is None:
            await self._session_was_lost()
            return
        was_unschedulable = not self.schedulable
        self.flags = result.flags
        if was_unschedulable and self.schedulable:
            self.wake()
        await self._act_on_flags()

    async def _act_on_flags(self) -> None:
        if self.running or self.stopping:
            return
        if self.flags.restart_request is not None:
            log.warning(
                "restart requested and no task running: exiting with %d", EXIT_RESTART_REQUESTED
            )
            await machines.clear_restart(self.db, self.machine_id, self.session)
            if not self.exit_code.done():
                self.exit_code.set_result(EXIT_RESTART_REQUESTED)
        elif self.flags.drain_requested_at is not None and self.flags.drained_at is None:
            await machines.mark_drained(self.db, self.machine_id, self.session)
            log.info("drained: no task running")

    async def _session_was_lost(self) -> None:
        """Peers declared this machine dead (or another process took the identity): every
        task it runs now belongs to someone else. Stop them without recording anything, then
        rejoin as a fresh session."""
        log.error(
            "machine %s lost its session (declared dead after missing heartbeats); "
            "abandoning %d running task(s) and re-registering",
            self.host_and_port,
            len(self.running),
        )
        self.session_lost = True
        await self._stop_running(lambda r: True, "lost")
        self.session = machines.new_session()
        try:
            await self._register()
        except MachineIdentityInUse as exc:
            log.error("cannot rejoin: %s; stopping", exc)
            self.stopping = True
            if not self.exit_code.done():
                self.exit_code.set_result(1)
            return
        self.session_lost = False
        self.wake()

    async def _housekeeping_loop(self) -> None:
        interval = self.config.housekeeping_interval
        await asyncio.sleep(random.uniform(0.1, 1.0) * interval)
        while True:
            try:
                await housekeeping(self.db, self.config)
            except HarmonyDBError as exc:
                log.warning("housekeeping failed: %s", exc)
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))


def default_identity(role: str) -> str:
    """``<hostname>:<role>``: stable across restarts (so a restart re-adopts its tasks), and
    distinct for the console's engine and a headless worker on the same host."""
    return f"{socket.gethostname()}:{role}"
