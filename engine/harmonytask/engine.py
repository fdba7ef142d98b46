"""The TaskEngine: one per process, a machine of the cluster with no master anywhere.

Each engine registers its machine, then loops: claim what fits (one statement), run it, record
the outcome (fenced), repeat when woken by a notification, a completion, a local add or a poll.

This module is the composition root. It builds the parts, hands each the values and callbacks it
needs, runs their loops under supervision and owns the engine's lifecycle; none of the parts
imports it:

* :mod:`.capacity`: the machine's resources and running attempts (occupy / vacate);
* :mod:`.runner`: one attempt's life, from storage to a fenced outcome;
* :mod:`.scheduling` (decisions in :mod:`.planning`): the claim cycle and its wake-up;
* :mod:`.membership` (statements in :mod:`.machines`): registration, heartbeats, session loss,
  operator flags;
* :mod:`.wakeup`: LISTEN/NOTIFY; :mod:`.outcomes`: the completion batcher;
* :mod:`.supervision`: background work that never dies silently;
* :mod:`.selfcheck`: tasks this machine owns but does not run go back to the queue;
* :mod:`.settings`: the cluster-wide machine timeout.

No wait on the database is unbounded (:mod:`.bounded`): a heartbeat that gets no answer within
its interval is reported at once ("database unreachable for Ns"), and leaving the cluster gives
the database one machine timeout before it gives up with :data:`EXIT_DB_UNREACHABLE`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.clock import SystemClock, wait_event
from engine.harmonydb import HarmonyDBError
from engine.metrics.tasks import TaskMetrics

from . import claims
from .bounded import ABANDON_AFTER, Unfinished, bounded
from .capacity import LocalCapacity
from .config import EngineConfig
from .errors import MachineIdentityInUse, UnknownTaskType
from .exit_codes import EXIT_CRASHED, EXIT_DB_UNREACHABLE
from .handlers import build_handlers
from .housekeeping import housekeeping
from .lifecycle import Lifecycle
from .machine_state import state_of_flags
from .membership import Membership
from .outcomes import CompletionBatcher, StopReason, cancel_quietly
from .runner import AttemptHooks, AttemptRunner
from .scheduling import CycleResult, Scheduler, SchedulerHooks
from .selfcheck import release_strays
from .stats import Stats, Tally
from .supervision import Supervisor
from .task import MachineView
from .wakeup import Listener

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB
    from engine.resources import Resources

    from .capacity import Running
    from .handlers import Handler
    from .machine_state import MachineState
    from .machines import Flags
    from .task import AddTaskFn, ExtraFn, TaskID, TaskType

log = logging.getLogger(__name__)

__all__ = ["RunningInfo", "TaskEngine"]

#: How long stopping waits for a claim cycle in progress to finish (its claims are admitted and
#: started, so a graceful stop then waits for them) before cancelling it.
CYCLE_STOP_WAIT = 5.0

#: Every this many heartbeats the machine gives back tasks it owns but does not run (unless it
#: provably owns none: see ``TaskEngine._owns_nothing``).
SELF_CHECK_EVERY = 5

#: Real seconds a heartbeat waits for the probes of this machine's resources (they run in a
#: thread of their own; the heartbeat reports the previous values when they are late).
PROBE_WAIT = 1.0


@dataclass(frozen=True)
class RunningInfo:
    task_id: TaskID
    name: str
    attempt: int
    #: seconds since the attempt was admitted
    elapsed: float


class TaskEngine:
    """Use :meth:`new`; stop with :meth:`graceful_terminate` (or :meth:`stop_now`)."""

    def __init__(
        self,
        db: DB,
        handlers: dict[str, Handler],
        host_and_port: str,
        config: EngineConfig,
        capacity: LocalCapacity,
        membership: Membership,
        clock: Clock,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.host_and_port = host_and_port
        self.config = config
        #: the one source of time of this engine (a ManualClock in tests)
        self.clock = clock
        self.notify_mode = False
        #: resolves with the status the process should exit with: 0 after leaving, 100 for a
        #: restart request, 1 after an unexpected error in a background loop
        self.exit_code: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._capacity = capacity
        self._membership = membership
        self._lifecycle = Lifecycle.RUNNING
        self._exit_status = 0
        self._stats = Stats()
        #: per-type counters and histograms for the metrics endpoint (:mod:`engine.metrics`)
        self.metrics = TaskMetrics(handlers)
        self._supervisor = Supervisor(self._crashed)
        self._beat_now = asyncio.Event()
        self._listener: Listener | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._scheduling: asyncio.Task[None] | None = None
        self._adders: list[asyncio.Task[None]] = []
        self._leaving: asyncio.Future[None] | None = None
        self._stopping_after_failure: asyncio.Task[None] | None = None
        self._beats = 0
        self._beating = asyncio.Lock()
        #: The last self-check found nothing running here, so every task this machine's id
        #: owned went back, and since then no claim has taken a task or failed (one that failed
        #: may have committed) and no rejoin has re-adopted any: this machine owns no task, and
        #: a self-check would find nothing. Only this machine's claims and re-adoptions make its
        #: id an owner, so the heartbeats skip the self-check's statement until one of those
        #: happens (an idle machine was back at 0.7 statements a second with it, 0.6 without).
        self._owns_nothing = False
        #: the database stopped answering heartbeats (reported once, until it answers again)
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._add_task: dict[str, AddTaskFn] = {name: self._adder_of(name) for name in handlers}
        # Built once the machine is registered (they name its id): see _start.
        self._completions: CompletionBatcher
        self._runner: AttemptRunner
        self._scheduler: Scheduler

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
        clock: Clock | None = None,
    ) -> TaskEngine:
        """Register this machine, re-adopt tasks it owned before a restart, start scheduling.

        ``capacity`` pins the machine's resources (otherwise probed at every heartbeat);
        ``clock`` replaces the system clock (tests pass a :class:`~engine.clock.ManualClock`).
        """
        config = config or EngineConfig()
        clock = clock or SystemClock()
        handlers = build_handlers(tasks, config.max_tasks)
        membership = Membership(
            db,
            host_and_port,
            machine_name=machine_name or host_and_port,
            task_names=list(handlers),
            config=config,
            clock=clock,
        )
        engine = cls(
            db,
            handlers,
            host_and_port,
            config,
            LocalCapacity(capacity, config.offer),
            membership,
            clock,
        )
        await engine._start()
        return engine

    async def _start(self) -> None:
        await self._capacity.prime()
        await self._capacity.refresh()
        await self._membership.load_settings()
        await self._membership.register(self._capacity.total)
        log.info(
            "machine %s registered as id %d (%s)",
            self.host_and_port,
            self.machine_id,
            self._capacity.total.describe(),
        )
        self._completions = CompletionBatcher(
            self.db,
            self.machine_id,
            self.host_and_port,
            reply_timeout=lambda: self._membership.machine_timeout / 3,
        )
        self._completions.start(lambda name, coro: self._supervisor.spawn(name, coro, loop=True))
        self._runner = AttemptRunner(
            self._capacity,
            AttemptHooks(
                db=self.db,
                host_and_port=self.host_and_port,
                config=self.config,
                clock=self.clock,
                completions=self._completions,
                machine_id=lambda: self._membership.machine_id,
                machine_timeout=lambda: self._membership.machine_timeout,
                member=lambda: (
                    self._lifecycle is not Lifecycle.REJOINING and self._membership.lease_left > 0
                ),
                cordoned=lambda: self._membership.flags.unschedulable,
                count=self._stats.count,
                metrics=self.metrics,
                vacated=self._vacated,
                wake=self.wake,
                background=self._background,
            ),
        )
        self._scheduler = Scheduler(
            self.handlers,
            self._capacity,
            self._runner,
            SchedulerHooks(
                db=self.db,
                config=self.config,
                clock=self.clock,
                identity=lambda: (self._membership.machine_id, self._membership.session),
                # A machine whose lease ran out (no beat the database took for a machine
                # timeout) may already be declared dead: whatever it claimed, still_owned
                # would disown, and the attempt would fail and be claimed again at once.
                may_claim=lambda: self.schedulable and self._membership.lease_left > 0,
                machine_view=self.machine_view,
                add_task=self._add_task,
                background=self._background,
            ),
        )
        if self.config.use_notify is not False:
            self._listener = Listener(
                self.db,
                {"task": self._on_task_notice, "machine": self._on_machine_notice},
                on_reconnect=self.wake,
                clock=self.clock,
                spawn=lambda name, coro: self._supervisor.spawn(name, coro, loop=True),
            )
            self.notify_mode = await self._listener.start()
        self._scheduler.adopt(await self._membership.readopt())
        spawn = self._supervisor.spawn
        self._scheduling = spawn("harmony-scheduler", self._scheduling_loop(), loop=True)
        self._loops = [
            spawn("harmony-heartbeat", self._heartbeat_loop(), loop=True),
            self._scheduling,
            spawn("harmony-housekeeping", self._housekeeping_loop(), loop=True),
        ]
        self._adders = [
            spawn(f"adder-{name}", self._run_adder(handler))
            for name, handler in self.handlers.items()
        ]

    # ------------------------------------------------------------------ public API

    @property
    def machine_id(self) -> int:
        return self._membership.machine_id

    @property
    def machine_name(self) -> str:
        return self._membership.machine_name

    @property
    def flags(self) -> Flags:
        """The operator flags read back at the last heartbeat."""
        return self._membership.flags

    @property
    def capacity(self) -> Resources:
        """This machine's total resources (as last probed, or as pinned)."""
        return self._capacity.total

    @property
    def machine_timeout(self) -> float:
        """The cluster's machine timeout, as last read (``harmony_settings``)."""
        return self._membership.machine_timeout

    @property
    def heartbeat_age(self) -> float:
        """Seconds since the database last answered this machine's heartbeat."""
        return self._membership.silent_for

    @property
    def lifecycle(self) -> Lifecycle:
        return self._lifecycle

    @property
    def stats(self) -> Stats:
        return self._stats

    @property
    def listener(self) -> Listener | None:
        """The LISTEN connection's keeper; None when polling was forced."""
        return self._listener

    @property
    def state(self) -> MachineState:
        """This machine's state as operators see it (stopping while this process leaves)."""
        flags = self._membership.flags
        return state_of_flags(
            unschedulable=flags.unschedulable,
            restart_request=flags.restart_request,
            drain_requested_at=flags.drain_requested_at,
            running=len(self._capacity),
            stopping=self._lifecycle.leaving,
        )

    @property
    def schedulable(self) -> bool:
        """It may claim work now: running, and not cordoned or asked to restart."""
        return self._lifecycle.may_claim and self._membership.accepts_work

    def resources_available(self) -> Resources:
        """Capacity minus the declared costs of running tasks (RAM also capped by what the
        kernel could hand out at the last probe)."""
        return self._capacity.free()

    def running_tasks(self) -> list[RunningInfo]:
        now = self.clock.monotonic()
        return [
            RunningInfo(r.claimed.id, r.claimed.name, r.claimed.attempt, now - r.started)
            for r in self._capacity.running.values()
        ]

    def machine_view(self) -> MachineView:
        """What ``can_accept`` sees of this machine."""
        return MachineView(
            machine_id=self.machine_id,
            host_and_port=self.host_and_port,
            name=self.machine_name,
            capacity=self._capacity.total,
            free=self._capacity.free(),
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
        self._scheduler.wake()

    async def cycle(self) -> CycleResult:
        """Run one claim cycle now (after any in progress) and say what it did.

        The scheduling loop runs these on its own; tests and diagnostics call it to see what
        the machine would do at this moment, without waiting for the loop.
        """
        try:
            result = await self._scheduler.cycle()
        except BaseException:
            self._owns_nothing = False  # its claim may have committed before it failed
            raise
        if result.found:
            self._owns_nothing = False
        self._stats.count(Tally.CLAIMS, result.statements)
        self._stats.count(Tally.CLAIMED, result.found)
        self.metrics.claimed(result.claimed)
        return result

    async def beat(self) -> None:
        """One heartbeat: report in, read flags, declare silent peers dead, act on flags.

        The statement goes first, with the resources as last probed: nothing the machine's
        own work does (tasks holding every thread of the default executor) can hold it back.
        Then the probes run, in their own thread, for the next beat.
        """
        async with self._beating:  # one at a time: two that both saw the session lost would
            await self._beat()  # both rejoin, and the second would refuse the first's session

    async def _beat(self) -> None:
        if self._lifecycle is Lifecycle.STOPPED:
            return  # it left the cluster: a beat now would only make it rejoin
        could_claim = self.schedulable
        result = await self._membership.beat(self._capacity.total, self._capacity.live)
        self._reachable()
        await self._capacity.refresh(wait=PROBE_WAIT)
        if result.reclaimed:
            self.wake()
        if result.flags is None:
            await self._session_lost()
            return
        if not could_claim and self.schedulable:
            self.wake()
        self._beats += 1
        if (
            self._beats % SELF_CHECK_EVERY == 0
            and not self._lifecycle.leaving
            and not self._owns_nothing
        ):
            await self.self_check()
        await self._act_on_idle()

    async def self_check(self) -> list[TaskID]:
        """Give back tasks this machine owns but does not run (see :mod:`.selfcheck`); returns
        their ids. Runs between claim cycles, so a task being admitted is never one of them."""
        async with self._scheduler.exclusive():
            running = {
                task_id: run.claimed.attempt for task_id, run in self._capacity.running.items()
            }
            released = await release_strays(self.db, self.machine_id, self.host_and_port, running)
            self._stats.count(Tally.SELF_CHECKS)
            # No attempt can start while this holds the cycles back.
            self._owns_nothing = not running
        if released:
            self.wake()
        return released

    async def graceful_terminate(self, grace: float | None = None) -> None:
        """Stop claiming, let running tasks finish, leave the cluster.

        With ``grace`` (seconds), tasks still running after it are cancelled and returned to
        the queue (not counted as failures), except time-sensitive ones, which always finish.
        """
        if self._leaving is not None:
            await asyncio.shield(self._leaving)
            return
        self._lifecycle = Lifecycle.STOPPING
        await self._stop_claiming()
        jobs = [r.job for r in self._capacity.running.values() if r.job is not None]
        if jobs:
            log.info("waiting for %d running task(s) to finish", len(jobs))
            if not await self._drained(jobs, grace):
                await self._hand_back(lambda r: not r.handler.details.time_sensitive)
                await self._all_end(
                    [r.job for r in self._capacity.running.values() if r.job is not None]
                )
        await self._leave()

    async def stop_now(self) -> None:
        """Stop at once: every running task is cancelled and returned to the queue."""
        if self._leaving is not None:
            await asyncio.shield(self._leaving)
            return
        self._lifecycle = Lifecycle.STOPPING
        await self._stop_claiming()
        await self._hand_back(lambda r: True)
        await self._leave()

    # ------------------------------------------------------------------ loops

    async def _scheduling_loop(self) -> None:
        while not self._lifecycle.leaving:
            result = CycleResult()
            try:
                result = await self.cycle()
            except HarmonyDBError as exc:
                self.metrics.db_error("claim")
                log.warning("claim cycle failed: %s", exc)
                await self.clock.sleep(0.5)
            await self._scheduler.wait(result, notify_mode=self.notify_mode)

    async def _heartbeat_loop(self) -> None:
        interval = self.config.heartbeat_interval
        while True:
            await wait_event(self.clock, self._beat_now, interval * random.uniform(0.9, 1.1))
            self._beat_now.clear()
            try:
                await self._watched_beat()
            except (HarmonyDBError, Unfinished) as exc:
                self.metrics.db_error("heartbeat")
                self._unreachable(exc)

    async def _watched_beat(self) -> None:
        """One beat, reported at once when the database has not answered it within the
        interval, and abandoned after a machine timeout (by then peers have declared this
        machine dead; the next beat learns it)."""
        interval = self.config.heartbeat_interval
        started = self.clock.monotonic()
        beat = asyncio.ensure_future(self.beat())
        try:
            while True:
                left = self._membership.machine_timeout - (self.clock.monotonic() - started)
                if left <= 0:
                    raise Unfinished("the heartbeat got no answer")
                try:
                    await bounded(self.clock, min(interval, left), asyncio.shield(beat))
                    return
                except Unfinished:
                    self._unreachable(None)
        finally:
            if not beat.done():
                beat.cancel()
                await asyncio.wait((beat,), timeout=ABANDON_AFTER)
                beat.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _unreachable(self, exc: BaseException | None) -> None:
        """A heartbeat failed or is overdue: say so now, not when the driver gives up."""
        silent = self._membership.silent_for
        now = self.clock.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now - silent
        elif now - self._unreachable_logged < self._membership.machine_timeout:
            return  # said once at once; then once per machine timeout while it lasts
        self._unreachable_logged = now
        log.warning(
            "database unreachable for %.0fs (%s); peers declare this machine dead after %gs "
            "without a heartbeat",
            silent,
            exc if exc is not None else "a heartbeat got no answer",
            self._membership.machine_timeout,
        )

    def _reachable(self) -> None:
        if self._unreachable_since is not None:
            log.warning(
                "database reachable again after %.0fs",
                self.clock.monotonic() - self._unreachable_since,
            )
            self._unreachable_since = None

    async def _housekeeping_loop(self) -> None:
        interval = self.config.housekeeping_interval
        # Spread out so engines started together do not all clean up at once.
        await self.clock.sleep(random.uniform(0.1, 1.0) * interval)
        while True:
            try:
                await housekeeping(self.db, self.config)
            except HarmonyDBError as exc:
                self.metrics.db_error("housekeeping")
                log.warning("housekeeping failed: %s", exc)
            await self.clock.sleep(interval * random.uniform(0.8, 1.2))

    async def _run_adder(self, handler: Handler) -> None:
        try:
            await handler.task.adder(self._add_task[handler.name])
        except asyncio.CancelledError:
            raise
        except Exception:
            # The type's own code: its failure costs that type its new work, not the machine
            # the work of every other type.
            log.exception("adder of %s failed; it will not add more work", handler.name)

    # ------------------------------------------------------------------ callbacks

    def _adder_of(self, name: str) -> AddTaskFn:
        """``add_task`` bound to one type: what its adder and IAmBored hook are given."""

        async def add(
            extra: ExtraFn | None = None, *, priority: int | None = None
        ) -> TaskID | None:
            return await self.add_task(name, extra, priority=priority)

        return add

    def _background(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        self._supervisor.spawn(name, coro)

    def _vacated(self) -> None:
        self.wake()  # freed resources may admit more work
        if not len(self._capacity):
            self._background("idle check", self._act_on_idle())

    def _on_task_notice(self, payload: str) -> None:
        if payload in self.handlers or not payload:
            self.wake()

    def _on_machine_notice(self, payload: str) -> None:
        if payload in ("", str(self.machine_id)):
            self._beat_now.set()

    def _crashed(self, name: str, exc: BaseException) -> None:
        """A background loop hit an unexpected error: the engine is in an unknown state."""
        self._fail()

    def _fail(self) -> None:
        """Stop at once (handing running tasks back) and exit with a non-zero status once the
        machine has left the cluster."""
        self._exit_status = EXIT_CRASHED
        if self._leaving is None and self._stopping_after_failure is None:
            self._stopping_after_failure = asyncio.get_running_loop().create_task(
                self.stop_now(), name="harmony-stop-after-failure"
            )

    # ------------------------------------------------------------------ internals

    async def _act_on_idle(self) -> None:
        """Nothing runs here any more: a drain is complete, a restart request takes effect."""
        if len(self._capacity) or self._lifecycle.leaving:
            return
        code = await self._membership.act_on_idle()
        if code is not None:
            self._resolve_exit(code)

    async def _session_lost(self) -> None:
        """Peers declared this machine dead (or another process took the identity): every
        task it runs now belongs to someone else. Stop them without recording anything, then
        rejoin as a fresh session, unless the machine is leaving: it must not come back as a
        live machine while it stops.

        A claim that raced the peers' reap may have committed tasks to this machine's id after
        the reap looked (it skips locked rows); once the machine is back they would stay owned
        by a live machine that runs none of them. So the rejoin re-adopts whatever its id still
        owns, with no claim cycle in progress meanwhile.
        """
        self._owns_nothing = False  # its rejoin re-adopts what its id still owns
        leaving = self._lifecycle.leaving
        log.error(
            "machine %s lost its session (declared dead after missing heartbeats); "
            "abandoning %d running task(s)%s",
            self.host_and_port,
            len(self._capacity),
            "" if leaving else " and re-registering",
        )
        if self._lifecycle is Lifecycle.RUNNING:
            self._lifecycle = Lifecycle.REJOINING
        async with self._scheduler.exclusive():
            await self._runner.stop(lambda r: True, StopReason.LOST)
            if self._lifecycle.leaving:
                return
            try:
                await self._membership.rejoin(self._capacity.total)
            except MachineIdentityInUse as exc:
                log.error("cannot rejoin: %s; stopping", exc)
                self._lifecycle = Lifecycle.STOPPING
                self._fail()
                return
            if self._lifecycle.leaving:
                # It began to leave while re-registering: leave under the new session too.
                await self._membership.leave()
                return
            adopted = await self._membership.readopt()
            if adopted:
                log.warning(
                    "re-adopted %d task(s) this machine's id still owned after its session "
                    "was lost",
                    len(adopted),
                )
            self._scheduler.adopt(adopted)
            if self._lifecycle is Lifecycle.REJOINING:
                self._lifecycle = Lifecycle.RUNNING
        self.wake()

    async def _stop_claiming(self) -> None:
        """No new work: adders stop, and the scheduling loop ends after its current cycle (or
        is cancelled after :data:`CYCLE_STOP_WAIT`: a claim stuck on an unreachable database
        must not hold the stop up; what it may have claimed is returned by peers once this
        machine has left or gone silent)."""
        self.wake()
        for task in self._adders:
            await cancel_quietly(task)
        scheduling = self._scheduling
        if (
            scheduling is not None
            and scheduling is not asyncio.current_task()
            and not await self._all_end([scheduling], CYCLE_STOP_WAIT)
        ):
            log.warning("the claim cycle did not end within %gs; cancelling it", CYCLE_STOP_WAIT)
            scheduling.cancel()
            await asyncio.wait((scheduling,), timeout=ABANDON_AFTER)

    async def _drained(self, jobs: list[asyncio.Task[None]], grace: float | None) -> bool:
        """Wait for ``jobs`` to end, for at most ``grace`` seconds, and only while the database
        answers: once it has been silent for a machine timeout, peers have (or could have)
        given these tasks to others, so finishing them here is no longer this machine's to do.
        True if they all ended."""
        interval = self.config.heartbeat_interval
        deadline = None if grace is None else self.clock.monotonic() + grace
        while True:
            step = (
                interval if deadline is None else min(interval, deadline - self.clock.monotonic())
            )
            if await self._all_end(jobs, max(0.0, step)):
                return True
            if deadline is not None and self.clock.monotonic() >= deadline:
                return False
            if (
                self._unreachable_since is not None
                and self._membership.silent_for > self._membership.machine_timeout
            ):
                log.error(
                    "the database has not answered for %.0fs: not waiting for %d running "
                    "task(s) any longer (peers take them over)",
                    self._membership.silent_for,
                    sum(not job.done() for job in jobs),
                )
                self._exit_status = self._exit_status or EXIT_DB_UNREACHABLE
                return False

    async def _hand_back(self, which: Callable[[Running], bool]) -> None:
        """Stop the attempts ``which`` selects, returning their tasks to the queue; when the
        database does not take the returns within a machine timeout, the attempts are cut
        short (peers return their tasks once this machine is silent)."""
        chosen = [r for r in self._capacity.running.values() if which(r)]
        for run in chosen:
            run.stop(StopReason.SHUTDOWN)
        jobs = [r.job for r in chosen if r.job is not None]
        if jobs and not await self._all_end(jobs, self._membership.machine_timeout):
            log.error(
                "could not return %d task(s) to the queue: the database does not answer",
                sum(not job.done() for job in jobs),
            )
            self._exit_status = EXIT_DB_UNREACHABLE
            for job in jobs:
                job.cancel()
            await asyncio.wait(jobs, timeout=ABANDON_AFTER)

    async def _all_end(self, jobs: list[asyncio.Task[None]], seconds: float | None = None) -> bool:
        """Wait until ``jobs`` have all ended, or ``seconds`` pass on the engine clock; True if
        they ended. The jobs are never cancelled here."""
        if not jobs:
            return True
        if seconds is None:
            await asyncio.wait(jobs)
            return True
        all_ended = asyncio.ensure_future(asyncio.wait(jobs))
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait((all_ended, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (all_ended, timer):
                await cancel_quietly(waiter)
        return all(job.done() for job in jobs)

    def _resolve_exit(self, code: int) -> None:
        if not self.exit_code.done():
            self.exit_code.set_result(code)

    async def _leave(self) -> None:
        """Leave the cluster, once: a drain interrupted by ``stop_now`` (a second signal) ends
        in the same single departure, awaited by both."""
        if self._leaving is None:
            self._leaving = asyncio.ensure_future(self._depart())
        await asyncio.shield(self._leaving)

    async def _depart(self) -> None:
        """Record the last completions, stop the loops, leave: with one machine timeout for
        all the database work, after which peers would have declared this machine dead anyway.
        Past it, the machine gives up and exits with :data:`EXIT_DB_UNREACHABLE`."""
        deadline = self.clock.monotonic() + self._membership.machine_timeout

        async def step(what: str, work: Coroutine[Any, Any, Any]) -> bool:
            try:
                await bounded(self.clock, max(0.1, deadline - self.clock.monotonic()), work)
                return True
            except (HarmonyDBError, Unfinished) as exc:
                log.error("leaving the cluster: %s failed: %s", what, exc)
                return False

        clean = await step("recording the last completions", self._completions.close())
        for loop_task in self._loops:
            if loop_task is not asyncio.current_task():
                loop_task.cancel()
        clean = await self._supervisor.cancel_all(wait=ABANDON_AFTER) and clean
        if self._listener is not None:
            closed = await step("closing the notification listener", self._listener.close())
            clean = closed and clean
        left = await step("leaving", self._membership.leave())
        self._lifecycle = Lifecycle.STOPPED
        if not left:
            self._exit_status = self._exit_status or EXIT_DB_UNREACHABLE
            log.error(
                "machine %s stopped without leaving the cluster (the database does not "
                "answer); peers return its tasks after %gs of silence",
                self.host_and_port,
                self._membership.machine_timeout,
            )
        else:
            log.info("machine %s left the cluster", self.host_and_port)
        if not clean:
            log.warning("some of this machine's work was cut short while it stopped")
        self._resolve_exit(self._exit_status)
        self._capacity.close()
