"""The scheduler's decisions as pure functions: no database, no clock, no event loop.

* :func:`claim_plan`: how many of each type to claim now, and which types are blocked (they fit
  this machine but not what is free now);
* :func:`hold_back`: whether a starving blocked type holds other work back, and which blocked
  time-sensitive type may preempt;
* :func:`admission_order`: claimed tasks by effective priority (aging included);
* :func:`victims`: which yieldable attempts to stop for a time-sensitive task.

Keeping them free of I/O lets the policy be tested in microseconds, case by case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engine.resources import Resources

from .capacity import Running
from .claims import Claimed
from .handlers import Handler

__all__ = [
    "ClaimPlan",
    "Hold",
    "admission_order",
    "can_preempt_for",
    "claim_plan",
    "hold_back",
    "starving",
    "victims",
]


@dataclass(frozen=True)
class ClaimPlan:
    #: type name -> how many to claim now
    limits: dict[str, int] = field(default_factory=dict)
    #: types with a free limiter slot whose cost fits the machine but not what is free now
    blocked: list[Handler] = field(default_factory=list)


def claim_plan(
    handlers: Iterable[Handler],
    *,
    free: Resources,
    total: Resources,
    running: int,
    claim_batch: int,
    max_running: int,
) -> ClaimPlan:
    """For every type, how many more could start here now: its limiter's headroom and how many
    of its declared cost fit in ``free``, capped by ``claim_batch`` and by ``max_running`` (which
    bounds types that declare no cost)."""
    limits: dict[str, int] = {}
    blocked: list[Handler] = []
    room = max_running - running
    for handler in handlers:
        headroom = min(handler.headroom(), claim_batch, room)
        if headroom <= 0:
            continue
        n = handler.details.cost.how_many_fit(free, headroom)
        if n > 0:
            limits[handler.name] = n
        elif handler.details.cost.fits_in(total):
            blocked.append(handler)
    return ClaimPlan(limits, blocked)


def starving(
    blocked: Sequence[Handler],
    waited: Mapping[str, float],
    *,
    starvation_after: float,
    now: object = None,
) -> Handler | None:
    """The blocked type whose oldest claimable task has waited (``waited``: seconds, by type,
    as the database measures them) past ``starvation_after`` seconds: time-sensitive work
    first, then the longest wait.

    Waits come from the database's clock, not this machine's: a machine whose clock ran two
    minutes ahead saw every new task as starving and held a core idle for it. ``now`` is
    ignored, accepted until the scheduler stops passing it."""
    del now
    waiting = [
        (seconds, h)
        for h in blocked
        if (seconds := waited.get(h.name)) is not None and seconds > starvation_after
    ]
    if not waiting:
        return None
    waiting.sort(key=lambda pair: (not pair[1].details.time_sensitive, -pair[0]))
    return waiting[0][1]


def can_preempt_for(handler: Handler, free: Resources, yieldable: Iterable[Running]) -> bool:
    """``handler``'s cost would fit if every yieldable attempt let go."""
    reclaimable = free
    for run in yieldable:
        reclaimable = reclaimable + run.cost
    return handler.details.cost.fits_in(reclaimable)


@dataclass(frozen=True)
class Hold:
    """What a cycle claims given its blocked types."""

    #: what to claim by type (empty while a starving type holds everything back)
    limits: dict[str, int]
    #: the starving type other work waits behind, if any
    held_for: Handler | None = None
    #: a blocked time-sensitive type to claim one task of, preempting yieldable work
    preempt_for: Handler | None = None


def hold_back(
    plan: ClaimPlan,
    starving_type: Handler | None,
    *,
    free: Resources,
    yieldable: Sequence[Running],
) -> Hold:
    """Aging and preemption. A starving type makes the machine claim nothing else until it fits
    (Curio orders by age only, so a big task can starve behind a stream of small ones); a
    time-sensitive blocked type, starving or not, may preempt yieldable work if that makes
    room."""
    if starving_type is not None:
        preempt = starving_type.details.time_sensitive and can_preempt_for(
            starving_type, free, yieldable
        )
        return Hold({}, starving_type, starving_type if preempt else None)
    for handler in plan.blocked:
        if handler.details.time_sensitive and can_preempt_for(handler, free, yieldable):
            return Hold(plan.limits, None, handler)
    return Hold(plan.limits)


def admission_order(
    claimed: Iterable[Claimed], *, starvation_after: float, now: object = None
) -> list[Claimed]:
    """Claimed tasks best first: priority plus one per ``starvation_after`` waited, then the
    oldest, then the lowest id (a total order, so ties never depend on claim order). ``now``
    is ignored, accepted until the scheduler stops passing it.

    Every wait is taken at one instant, the cycle's last claim (``claimed_at``, by the
    database's clock like ``posted_time``). Each task's own ``waited`` ends at its own claim,
    and a cycle's claims are statements some milliseconds apart: a type claimed later gained
    those milliseconds, so two types added a moment apart were admitted newest first, and
    under a limiter they share the newer took the slots the older one waited for."""
    del now
    claimed = list(claimed)
    if not claimed:
        return []
    step = max(starvation_after, 1.0)
    at = max(c.claimed_at for c in claimed)

    def effective(c: Claimed) -> tuple[float, datetime, int]:
        waited = (at - c.posted_time).total_seconds()
        return (-(c.priority + waited / step), c.posted_time, c.id)

    return sorted(claimed, key=effective)


def victims(handler: Handler, free: Resources, yieldable: Iterable[Running]) -> list[Running]:
    """Just enough yieldable attempts, youngest first, for ``handler``'s cost to fit."""
    chosen: list[Running] = []
    for run in sorted(yieldable, key=lambda r: -r.started):
        if handler.details.cost.fits_in(free):
            break
        chosen.append(run)
        free = free + run.cost
    return chosen
