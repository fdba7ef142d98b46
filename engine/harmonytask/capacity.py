"""What this machine has and what its running attempts take: the one place that knows.

:class:`LocalCapacity` holds the running attempts and, through them, the limiter counts. Its
:meth:`~LocalCapacity.occupy` and :meth:`~LocalCapacity.vacate` are the only writers of either,
so "what is running" and "how many slots are taken" can never disagree; :meth:`~LocalCapacity.fits`
is the one admission check (a limiter slot free and the declared cost within what is free), used
for new claims, re-adopted tasks and IAmBored alike.

Probing (psutil, NVML) runs in a thread of its own, never in the event loop's default executor:
task code shares that one (``asyncio.to_thread`` file copies, hashing), and ten tasks each holding
a thread for 25 s once starved the heartbeat behind them for 24 s, so peers declared a live
machine dead and ran its ten tasks a second time, at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.resources import (
    Resources,
    Usage,
    capacity,
    prime_cpu_percent,
    ram_available,
    usage,
)

from .claims import Claimed
from .handlers import Handler
from .limits import ResourceOffer
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
    restart. ``offer`` lowers either to what the operator lets this machine's tasks use.
    """

    def __init__(self, fixed: Resources | None = None, offer: ResourceOffer | None = None) -> None:
        self._fixed = fixed
        self._offer = offer or ResourceOffer()
        self.total: Resources = self._offer.apply(fixed or capacity())
        self._ram_live = ram_available()
        #: live use at the last probe: what a heartbeat reports (it never waits for a probe)
        self.live = Usage(cpu_load=0.0, ram_used=0, gpu_used=0.0)
        self._running: dict[TaskID, Running] = {}
        #: the probes' own thread (see the module docstring)
        self._probe_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmony-probe")
        self._probing: asyncio.Future[tuple[Resources, Usage, int]] | None = None

    # ------------------------------------------------------------------ the only writers

    def occupy(self, run: Running) -> None:
        """``run`` now holds its cost and a slot of its limiter."""
        task_id = run.claimed.id
        if task_id in self._running:
            raise RuntimeError(f"task {task_id} is already running here")
        self._running[task_id] = run
        for limiter in run.handler.limiters:
            limiter.active += 1

    def vacate(self, run: Running) -> None:
        """``run`` ended: its cost and limiter slot are free again."""
        if self._running.get(run.claimed.id) is run:
            del self._running[run.claimed.id]
            for limiter in run.handler.limiters:
                limiter.active -= 1

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
        return handler.headroom() > 0 and handler.details.cost.fits_in(free)

    def yieldable(self) -> list[Running]:
        return [r for r in self._running.values() if r.yieldable]

    # ------------------------------------------------------------------ probing

    async def prime(self) -> None:
        """Start the CPU-load counter (its first reading is a meaningless 0.0)."""
        await asyncio.get_running_loop().run_in_executor(self._probe_thread, prime_cpu_percent)

    async def refresh(self, wait: float | None = None) -> None:
        """Re-probe capacity (unless fixed), live use and free RAM in the probe thread.

        Waits at most ``wait`` seconds (None: until done): a probe that hangs (a wedged GPU
        driver) goes on in its thread and the caller goes on with the last values; no second
        probe starts while one is in flight. A probe that failed raises here, now or at the
        next call.
        """
        probing = self._probing
        if probing is None or probing.done():
            if probing is not None:
                probing.result()  # a failure that outlived an earlier wait
            probing = asyncio.get_running_loop().run_in_executor(self._probe_thread, self._measure)
            probing.add_done_callback(self._probed)
            self._probing = probing
        done, _ = await asyncio.wait({probing}, timeout=wait)
        if done:
            probing.result()

    def _measure(self) -> tuple[Resources, Usage, int]:
        total = self._fixed if self._fixed is not None else capacity()
        return self._offer.apply(total), usage(), ram_available()

    def _probed(self, probing: asyncio.Future[tuple[Resources, Usage, int]]) -> None:
        if probing.cancelled() or probing.exception() is not None:
            return
        self.total, self.live, self._ram_live = probing.result()

    def close(self) -> None:
        """Let the probe thread go (a probe in flight finishes on its own)."""
        self._probe_thread.shutdown(wait=False, cancel_futures=True)
