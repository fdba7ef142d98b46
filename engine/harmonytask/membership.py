"""This machine's membership of the cluster: registration, heartbeats, session loss, the gate
on declaring peers dead, and the operator flags read back at each beat.

:mod:`.machines` holds the statements; :class:`Membership` holds the state they need (machine
id, session token, flags) and the decisions around them. It knows nothing of the engine's
attempts: the caller says whether the machine is idle and acts on what a beat reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import engine as engine_package

from . import machines, settings
from .config import ClusterDefault, EngineConfig
from .exit_codes import EXIT_RESTART_REQUESTED
from .machines import Beat, Flags

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB
    from engine.resources import Resources, Usage

    from .claims import Claimed

log = logging.getLogger(__name__)

__all__ = ["Beat", "Flags", "Membership", "ReapGate"]

NO_FLAGS = Flags(False, None, None, None)


@dataclass
class ReapGate:
    """When this machine may declare silent peers dead.

    A machine that was cut off itself (database down, process paused) cannot tell a dead peer
    from one that was cut off just as long: after such a gap it gives everyone one machine
    timeout to report in before declaring deaths. Times are the engine clock's monotonic
    readings.
    """

    heartbeat_interval: float
    machine_timeout: float
    last_ok: float
    not_before: float = 0.0

    def may_reap(self, now: float) -> bool:
        """Called before each heartbeat statement."""
        if now - self.last_ok > 2.5 * self.heartbeat_interval:
            self.not_before = now + self.machine_timeout
        return now >= self.not_before

    def beat_ok(self, now: float) -> None:
        self.last_ok = now


class Membership:
    """Who this machine is in the cluster, and what operators asked of it."""

    def __init__(
        self,
        db: DB,
        host_and_port: str,
        *,
        machine_name: str,
        task_names: list[str],
        config: EngineConfig,
        clock: Clock,
    ) -> None:
        self._db = db
        self.host_and_port = host_and_port
        self.machine_name = machine_name
        self._task_names = sorted(task_names)
        self._config = config
        self._clock = clock
        self.machine_id = 0
        self.session = machines.new_session()
        self.flags = NO_FLAGS
        #: the cluster's machine timeout (``harmony_settings``), read at start and by every beat
        self.machine_timeout = float(config.machine_timeout)
        self.reap_gate = ReapGate(
            config.heartbeat_interval, self.machine_timeout, clock.monotonic()
        )
        #: when the last report the database took (registration or heartbeat) was *sent*:
        #: the database set ``last_contact`` no earlier, so no peer can declare this machine
        #: dead before this moment plus the machine timeout (see :attr:`lease_left`)
        self.lease_from = clock.monotonic()

    async def load_settings(self) -> None:
        """Read the cluster's settings; an explicit timeout in this machine's config first
        becomes the cluster's (every machine judges its peers by one value)."""
        chosen = self._config.machine_timeout
        if not isinstance(chosen, ClusterDefault):
            previous = await settings.set_machine_timeout(self._db, chosen)
            if previous is not None:
                log.warning(
                    "machine %s set the cluster's machine timeout to %gs (was %gs): every "
                    "machine now declares a peer dead after that much silence",
                    self.machine_name,
                    chosen,
                    previous,
                )
        await self.refresh_settings()

    async def refresh_settings(self) -> None:
        self._apply_settings(await settings.read_settings(self._db))

    def _apply_settings(self, cluster: settings.ClusterSettings) -> None:
        if cluster.machine_timeout != self.machine_timeout:
            log.info("cluster machine timeout: %gs", cluster.machine_timeout)
            if 3 * self._config.heartbeat_interval > cluster.machine_timeout:
                # The timeout is the cluster's, the interval this machine's own.
                log.warning(
                    "this machine's heartbeat interval (%gs) is too slow for the cluster's "
                    "machine timeout (%gs): peers may declare it dead while it is alive; "
                    "use --heartbeat %g or less",
                    self._config.heartbeat_interval,
                    cluster.machine_timeout,
                    cluster.machine_timeout / 3,
                )
        self.machine_timeout = cluster.machine_timeout
        self.reap_gate.machine_timeout = cluster.machine_timeout

    @property
    def accepts_work(self) -> bool:
        """The flags allow claiming (not cordoned, no restart pending)."""
        return not self.flags.unschedulable and self.flags.restart_request is None

    async def register(self, capacity: Resources) -> int:
        """Insert or take over this identity's machine row under the current session."""
        sent = self._clock.monotonic()
        self.machine_id = await machines.register(
            self._db,
            self.host_and_port,
            session=self.session,
            cpu=capacity.cpu,
            ram=capacity.ram,
            gpu=capacity.gpu,
            machine_timeout=self.machine_timeout,
            tasks=self._task_names,
            machine_name=self.machine_name,
            version=engine_package.__version__,
        )
        self.lease_from = sent
        return self.machine_id

    async def rejoin(self, capacity: Resources) -> None:
        """Register again under a fresh session (the old one was declared dead); raises
        :class:`~.errors.MachineIdentityInUse` if another live process took the identity."""
        self.session = machines.new_session()
        await self.register(capacity)

    @property
    def lease_left(self) -> float:
        """Seconds during which what this machine owns is certainly still its own: until then
        no peer can have declared it dead. An answer that was held up on the way (a frozen
        link delivers a reply seconds late) proves ownership only while this is positive."""
        return self.lease_from + self.machine_timeout - self._clock.monotonic()

    @property
    def silent_for(self) -> float:
        """Seconds since the database last answered a heartbeat."""
        return self._clock.monotonic() - self.reap_gate.last_ok

    async def readopt(self) -> list[Claimed]:
        """Tasks this identity owned before a restart (or before a session loss: a claim that
        raced a peer's reap), each under a new attempt."""
        return await machines.readopt(self._db, self.machine_id, self.host_and_port)

    async def beat(self, capacity: Resources, live: Usage) -> Beat:
        """Report in, read the flags back, declare silent peers dead when the gate allows.

        ``flags`` of the result is None when this session no longer owns the row (declared
        dead, or replaced): the caller must abandon its attempts and :meth:`rejoin`.
        """
        sent = self._clock.monotonic()
        reap = self.reap_gate.may_reap(sent)
        result = await machines.heartbeat(
            self._db,
            self.machine_id,
            self.session,
            cpu=capacity.cpu,
            ram=capacity.ram,
            gpu=capacity.gpu,
            cpu_load=live.cpu_load,
            ram_used=live.ram_used,
            gpu_used=live.gpu_used,
            reap=reap,
            # The statement reads the cluster's value itself; this only stands in for a
            # missing or unusable one, as read_settings does.
            machine_timeout=settings.DEFAULT_MACHINE_TIMEOUT,
            # One reply lost on a link left silent must cost one beat, not the machine: with
            # the DB's bound (12 s) the wait alone outlasts the machine timeout and peers
            # declare a healthy machine dead. The next beat goes out on a fresh connection.
            reply_timeout=max(self._config.heartbeat_interval, self.machine_timeout / 3),
        )
        self.reap_gate.beat_ok(self._clock.monotonic())
        if result.flags is not None:
            self.lease_from = sent
        if result.reclaimed:
            log.warning(
                "returned %d task(s) of %d silent machine(s) to the queue",
                result.reclaimed,
                result.declared_dead,
            )
        if result.flags is not None:
            self._apply_settings(
                settings.settings_from({"machine_timeout": result.machine_timeout_setting})
            )
            if self.flags is NO_FLAGS:
                self._say_what_operators_asked(result.flags)
            self.flags = result.flags
        return result

    def _say_what_operators_asked(self, flags: Flags) -> None:
        """At the first beat of a process: a machine that restarts still cordoned or drained
        claims nothing, and its log should say why rather than look idle for no reason."""
        if flags.drain_requested_at is not None:
            log.warning(
                "machine %s is drained (since %s): it claims no work until "
                "`harmony machine uncordon %s`",
                self.machine_name,
                flags.drain_requested_at.isoformat(timespec="seconds"),
                self.machine_name,
            )
        elif flags.unschedulable:
            log.warning(
                "machine %s is cordoned: it claims no work until `harmony machine uncordon %s`",
                self.machine_name,
                self.machine_name,
            )

    async def act_on_idle(self) -> int | None:
        """Nothing runs here: a pending restart or drain takes effect. Returns the exit status
        the process should end with (a restart request), or None."""
        if self.flags.restart_request is not None:
            log.warning(
                "restart requested and no task running: exiting with %d", EXIT_RESTART_REQUESTED
            )
            # The next process starts schedulable (Curio's rule).
            await machines.clear_restart(self._db, self.machine_id, self.session)
            return EXIT_RESTART_REQUESTED
        if self.flags.drain_requested_at is not None and self.flags.drained_at is None:
            await machines.mark_drained(self._db, self.machine_id, self.session)
            log.info("drained: no task running")
        return None

    async def leave(self) -> None:
        """Leave the cluster (the row stays, no longer alive)."""
        await machines.unregister(self._db, self.machine_id, self.session)
