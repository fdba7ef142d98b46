"""What this machine has and what its running attempts take: the one place that knows.

:class:`LocalCapacity` holds the running attempts and, through them, the limiter counts. Its
:meth:`~LocalCapacity.occupy` and :meth:`~LocalCapacity.vacate` are the only writers of either,
so "what is running" and "how many slots are taken" can never disagree; :meth:`~LocalCapacity.fits`
is the one admission check (a limiter slot free and the declared cost within what is free), used
for new claims, re-adopted tasks and IAmBored alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.resources import Resources, Usage, capacity, ram_available, usage

from .claims import Claimed
from .handlers import Handler
from .outcomes import StopReason
from .task import StorageReservation, TaskID

__all__ = ["LocalCapacity", "Running"]


@dataclass
class Running:
    """An attempt this machine is working on."""

    claimed: Claimed
    handler: Handler
    #: the engine clock's monotonic reading when it was admitted
    started: float
    job: asyncio.Task[None] | None = None
    #: set when the engine itself ends the attempt (and why), before cancelling its job
    stop_reason: StopReason | None = None
    reservation: StorageReservation | None = None
    #: jobs of preempted attempts that must let go of their resources before this one starts
    waits_for: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def cost(self) -> Resources:
        return self.handler.details.cost

    @property
    def yieldable(self) -> bool:
        """May be preempted for time-sensitive work now."""
        details = self.handler.details
        return details.can_yield and not details.time_sensitive and self.stop_reason is None

    def stop(self, reason: StopReason) -> None:
        """Ask the attempt to end: its job is cancelled and hands the task back for ``reason``."""
        self.stop_reason = reason
        if self.job is not None:
            self.job.cancel()


class LocalCapacity:
    """This machine's resources, and the attempts using them.

    ``fixed`` pins the capacity (tests, benchmarks); otherwise it is re-probed at every
    heartbeat, so a resized VM or a changed ``HARMONY_OVERRIDE_*`` takes effect without a
    restart.
    """

    def __init__(self, fixed: Resources | None = None) -> None:
        self._fixed = fixed
        self.total: Resources = fixed or capacity()
        self._ram_live = ram_available()
        self._running: dict[TaskID, Running] = {}

    # ------------------------------------------------------------------ the only writers

    def occupy(self, run: Running) -> None:
        """``run`` now holds its cost and a slot of its limiter."""
        task_id = run.claimed.id
        if task_id in self._running:
            raise RuntimeError(f"task {task_id} is already running here")
        self._running[task_id] = run
        run.handler.limiter.active += 1

    def vacate(self, run: Running) -> None:
        """``run`` ended: its cost and limiter slot are free again."""
        if self._running.get(run.claimed.id) is run:
            del self._running[run.claimed.id]
            run.handler.limiter.active -= 1

    # ------------------------------------------------------------------ readers

    @property
    def running(self) -> Mapping[TaskID, Running]:
        """The attempts running here, by task id (read-only)."""
        return MappingProxyType(self._running)

    def __len__(self) -> int:
        return len(self._running)

    def free(self) -> Resources:
        """Capacity minus the declared costs of running attempts.

        RAM is also capped by what the kernel could hand out at the last probe, so memory taken
        by other processes on the box is respected.
        """
        used = Resources()
        for run in self._running.values():
            used = used + run.cost
        free = self.total - used
        return Resources(free.cpu, min(free.ram, self._ram_live), free.gpu)

    @staticmethod
    def fits(handler: Handler, free: Resources) -> bool:
        """One more ``handler`` task may start: its limiter has a slot and its cost fits in
        ``free`` (what the caller has not yet handed out this round)."""
        return handler.limiter.headroom() > 0 and handler.details.cost.fits_in(free)

    def yieldable(self) -> list[Running]:
        return [r for r in self._running.values() if r.yieldable]

    # ------------------------------------------------------------------ probing

    async def refresh(self) -> Usage:
        """Re-probe capacity (unless fixed) and free RAM; return live use for the heartbeat."""
        if self._fixed is None:
            self.total = await asyncio.to_thread(capacity)
        live = await asyncio.to_thread(usage)
        self._ram_live = await asyncio.to_thread(ram_available)
        return live
