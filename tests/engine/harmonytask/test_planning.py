"""The scheduler's policy without a database: claim plans, aging, preemption victims, admission
order, the local capacity bookkeeping and the gate on declaring peers dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.harmonytask import Limiter, TaskType, TaskTypeDetails
from engine.harmonytask.capacity import LocalCapacity, Running
from engine.harmonytask.claims import Claimed
from engine.harmonytask.handlers import Handler, build_handlers
from engine.harmonytask.membership import ReapGate
from engine.harmonytask.outcomes import Outcome, StopReason
from engine.harmonytask.planning import (
    admission_order,
    claim_plan,
    hold_back,
    starving,
    victims,
)
from engine.resources import GiB, Resources

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOX = Resources(cpu=4, ram=8 * GiB)


class Kind(TaskType):
    def __init__(self, name: str, **details: object) -> None:
        self.details = TaskTypeDetails(name=name, **details)  # type: ignore[arg-type]

    def type_details(self) -> TaskTypeDetails:
        return self.details

    async def do(self, task_id: int, still_owned: object) -> bool:
        return True


def handlers(*kinds: Kind) -> dict[str, Handler]:
    return build_handlers(kinds)


def claimed(task_id: int, name: str = "t", *, priority: int = 0, age: float = 0.0) -> Claimed:
    posted = NOW - timedelta(seconds=age)
    return Claimed(task_id, name, 1, priority, posted, 0, NOW, waited=age)


def plan(hs: dict[str, Handler], free: Resources = BOX, running: int = 0, **kw: int):
    options = {"claim_batch": 100, "max_running": 1000, **kw}
    return claim_plan(hs.values(), free=free, total=BOX, running=running, **options)


def test_a_plan_claims_what_fits_and_names_what_is_blocked() -> None:
    hs = handlers(
        Kind("small", cost=Resources(cpu=1)),
        Kind("big", cost=Resources(cpu=3)),
        Kind("huge", cost=Resources(cpu=16)),  # never fits this machine: not even blocked
        Kind("capped", max=2),
    )
    result = plan(hs, free=Resources(cpu=2, ram=8 * GiB))
    assert result.limits == {"small": 2, "capped": 2}
    assert [h.name for h in result.blocked] == ["big"]


def test_a_plan_respects_claim_batch_max_running_and_shared_limiters() -> None:
    slots = Limiter(3)
    hs = handlers(Kind("a", max=slots), Kind("b", max=slots), Kind("free"))
    slots.active = 2
    assert plan(hs, claim_batch=5).limits == {"a": 1, "b": 1, "free": 5}
    assert plan(hs, running=998).limits == {"a": 1, "b": 1, "free": 2}
    assert plan(hs, running=1000).limits == {}


def test_a_starving_type_is_the_time_sensitive_one_first_then_the_oldest() -> None:
    hs = handlers(Kind("old"), Kind("older"), Kind("urgent", time_sensitive=True))
    blocked = list(hs.values())
    waited = {"old": 120.0, "older": 180.0, "urgent": 61.0}  # seconds, by the DB's clock
    assert starving(blocked, waited, starvation_after=60).name == "urgent"
    del waited["urgent"]
    assert starving(blocked, waited, starvation_after=60).name == "older"
    assert starving(blocked, waited, starvation_after=600) is None


def running(task_id: int, handler: Handler, started: float) -> Running:
    return Running(claimed(task_id, handler.name), handler, started)


def test_a_starving_type_holds_everything_back_and_may_preempt() -> None:
    hs = handlers(
        Kind("bg", cost=Resources(cpu=2), can_yield=True),
        Kind("proof", cost=Resources(cpu=4), time_sensitive=True),
        Kind("small", cost=Resources(cpu=1)),
    )
    free = Resources(cpu=0, ram=8 * GiB)
    yielding = [running(1, hs["bg"], 1.0), running(2, hs["bg"], 2.0)]
    p = plan(hs, free=free)
    assert [h.name for h in p.blocked] == ["bg", "proof", "small"]

    held = hold_back(p, hs["small"], free=free, yieldable=yielding)
    assert (held.limits, held.held_for, held.preempt_for) == ({}, hs["small"], None)

    not_starving = hold_back(p, None, free=free, yieldable=yielding)
    assert not_starving.preempt_for is hs["proof"] and not_starving.held_for is None

    nothing_to_stop = hold_back(p, hs["proof"], free=free, yieldable=yielding[:1])
    assert nothing_to_stop.preempt_for is None and nothing_to_stop.held_for is hs["proof"]


def test_victims_are_the_youngest_yielding_attempts_just_enough_to_fit() -> None:
    hs = handlers(Kind("bg", cost=Resources(cpu=1)), Kind("proof", cost=Resources(cpu=2)))
    attempts = [running(i, hs["bg"], started=float(i)) for i in range(1, 5)]
    chosen = victims(hs["proof"], Resources(cpu=0, ram=GiB), attempts)
    assert [r.claimed.id for r in chosen] == [4, 3]
    assert victims(hs["proof"], Resources(cpu=2, ram=GiB), attempts) == []


def test_admission_is_by_priority_plus_age_then_oldest_then_id() -> None:
    tasks = [
        claimed(1, priority=1),
        claimed(2, priority=0, age=180),  # 3 aging steps: effective priority 3
        claimed(3, priority=2),
        claimed(4, priority=2),
        claimed(5, priority=2, age=1),
    ]
    order = admission_order(tasks, starvation_after=60)
    assert [c.id for c in order] == [2, 5, 3, 4, 1]


def test_admission_compares_waits_at_one_instant_not_at_each_claim() -> None:
    """A cycle claims type by type, so the later claim's tasks have waited longer by the
    time between the statements. Measured at each claim, the newer task looked older."""
    older = Claimed(1, "alpha", 1, 0, NOW, 0, NOW + timedelta(milliseconds=10), waited=0.010)
    newer = Claimed(
        2, "beta", 1, 0, NOW + timedelta(milliseconds=4), 0,
        NOW + timedelta(milliseconds=30), waited=0.026,
    )  # fmt: skip
    assert [c.id for c in admission_order([newer, older], starvation_after=1)] == [1, 2]
    # at the last claim (1.6 s) gamma has waited 3.6 s, delta 1.1 s (its priority 1 besides);
    # each at its own claim, delta's 1 + 1.1 beat gamma's 2.0
    aged = Claimed(3, "gamma", 1, 0, NOW - timedelta(seconds=2), 0, NOW, waited=2.0)
    boosted = Claimed(
        4, "delta", 1, 1, NOW + timedelta(seconds=0.5), 0,
        NOW + timedelta(seconds=1.6), waited=1.1,
    )  # fmt: skip
    assert [c.id for c in admission_order([boosted, aged], starvation_after=1)] == [3, 4]
    assert admission_order([], starvation_after=1) == []


def test_local_capacity_counts_attempts_and_limiter_slots_together() -> None:
    hs = handlers(Kind("t", cost=Resources(cpu=3), max=2))
    capacity = LocalCapacity(BOX)
    first = running(1, hs["t"], 0.0)
    capacity.occupy(first)
    assert (len(capacity), hs["t"].limiter.active) == (1, 1)
    assert capacity.free().cpu == 1
    assert not capacity.fits(hs["t"], capacity.free())  # the cost no longer fits
    with pytest.raises(RuntimeError, match="already running"):
        capacity.occupy(running(1, hs["t"], 1.0))
    capacity.vacate(first)
    capacity.vacate(first)  # a second vacate frees nothing twice
    assert (len(capacity), hs["t"].limiter.active) == (0, 0)
    assert capacity.fits(hs["t"], capacity.free())


def test_stop_reasons_leave_the_history_they_should() -> None:
    assert StopReason.PREEMPTED.outcome is Outcome.PREEMPTED
    assert StopReason.SHUTDOWN.outcome is Outcome.RELEASED
    assert StopReason.LOST.outcome is None  # another machine owns the task: nothing to write
    assert {o for o in Outcome if o.is_failure} == {Outcome.RETRY, Outcome.FAILED}


def test_peers_are_reaped_only_a_timeout_after_this_machine_was_cut_off() -> None:
    gate = ReapGate(heartbeat_interval=2, machine_timeout=12, last_ok=0.0)
    assert gate.may_reap(2.0)
    gate.beat_ok(2.0)
    assert not gate.may_reap(8.0)  # 6 s without a successful beat: cut off itself
    gate.beat_ok(8.0)
    for t in (10.0, 12.0, 14.0, 16.0, 18.0, 19.9):  # beating normally again, within the timeout
        assert not gate.may_reap(t)
        gate.beat_ok(t)
    assert gate.may_reap(20.0)
