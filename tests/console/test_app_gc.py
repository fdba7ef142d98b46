"""The console sets aside what it built before its first frame from the garbage collector's
full passes (gc.freeze: those passes walked every widget, style and module and paused the
event loop for hundreds of milliseconds), collects its youngest generation less often (each
refresh's snapshot was promoted to the oldest one and brought a full pass a second), and
gives both back when it closes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest

from console import collector
from engine.harmonydb import DB
from support.probe import wait_until


async def test_frozen_after_the_first_frame_and_given_back_on_exit(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    assert before[0] != collector.YOUNG_THRESHOLD
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await wait_until(lambda: gc.get_freeze_count() > 0, within=10, what="the freeze")
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)
        await pilot.pause()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_settle_twice_restores_the_first_settings() -> None:
    """Two consoles in one process (the tests): the settings saved are the process's own,
    not the first console's."""
    before = gc.get_threshold()
    try:
        collector.settle()
        collector.settle()
        collector.restore()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_the_generation_due_is_cpythons_choice() -> None:
    young = collector.IDLE_YOUNG
    middle, old = collector.OLDER_THRESHOLDS
    assert collector.generation_due((young, 0, 0), 0, 0) == 0
    assert collector.generation_due((young, middle, 0), 0, 0) == 0
    assert collector.generation_due((young, middle + 1, 0), 0, 0) == 1
    # the full pass: past its count, once a quarter of what the last one kept is new
    assert collector.generation_due((young, middle + 1, old + 1), 24, 100) == 1
    assert collector.generation_due((young, 0, old + 1), 25, 100) == 2
    assert collector.generation_due((young, 0, old), 25, 100) == 0


async def test_passes_run_between_the_loops_steps() -> None:
    """Objects past the idle mark, fewer than CPython's own threshold: a young pass follows
    on the loop, from the check between its steps (CPython would not have collected yet)."""
    passes: list[int] = []

    def observe(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            passes.append(info["generation"])

    before = gc.get_threshold()
    try:
        collector.settle()
        gc.callbacks.append(observe)
        kept = [[] for _ in range(collector.IDLE_YOUNG + 100)]  # tracked, alive
        assert gc.get_count()[0] < collector.YOUNG_THRESHOLD
        assert passes == []
        await wait_until(lambda: passes, within=5, what="a pass between the loop's steps")
        assert passes[0] == 0
        assert gc.get_count()[0] < collector.IDLE_YOUNG
        del kept
    finally:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(observe)
        collector.restore()
        gc.set_threshold(*before)
    assert collector._idle is None


@contextlib.contextmanager
def observed_passes() -> Iterator[tuple[Any, list[float]]]:
    """The console's collector settled, the loop time of each of its idle passes recorded;
    the process's settings given back after."""
    loop = asyncio.get_running_loop()
    collected: list[float] = []
    before = gc.get_threshold()
    try:
        collector.settle()
        passes = collector._idle
        assert passes is not None
        collect = passes.collect

        def observed(generation: int) -> None:
            collected.append(loop.time())
            collect(generation)

        passes.collect = observed  # type: ignore[method-assign]
        yield passes, collected
    finally:
        collector.restore()
        gc.set_threshold(*before)


async def test_a_pass_waits_for_a_calm_loop() -> None:
    """A check that runs late, right after a long step, does not collect there (its pause would
    add to that step's): the pass comes at the next check, one that runs on time."""
    loop = asyncio.get_running_loop()
    blocked_until: list[float] = []

    def block() -> None:
        time.sleep(0.05)  # a long step: a frame, a rebuild
        blocked_until.append(loop.time())

    with observed_passes() as (passes, collected):
        kept = [[] for _ in range(collector.IDLE_YOUNG + 100)]  # tracked, alive
        assert gc.get_count()[0] < collector.YOUNG_THRESHOLD
        loop.call_at(passes._due - 0.02, block)  # the check comes due while the loop is busy
        await wait_until(lambda: collected, within=5, what="a pass once the loop is calm")
        assert collected[0] - blocked_until[0] >= collector.IDLE_RETRY_S - 0.001
        del kept


async def test_a_pass_waits_through_a_bounded_number_of_late_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a loop where every check runs late (a box whose cores are busy with other work), the
    pass still comes, after :data:`IDLE_WAITS` retries."""
    monkeypatch.setattr(collector, "IDLE_LATE_S", -1.0)  # every check counts as late
    with observed_passes() as (passes, collected):
        due = passes._due
        kept = [[] for _ in range(collector.IDLE_YOUNG + 100)]  # tracked, alive
        assert gc.get_count()[0] < collector.YOUNG_THRESHOLD
        await wait_until(lambda: collected, within=5, what="a pass despite late checks")
        waited = collector.IDLE_WAITS * collector.IDLE_RETRY_S
        assert collected[0] - due >= waited - 0.001
        del kept


class Node:
    """A tracked object that can be made part of a cycle."""

    __slots__ = ("other",)

    def __init__(self) -> None:
        self.other: Node | None = None


async def test_a_full_pass_waits_for_growth_not_for_promotions() -> None:
    """Objects promoted to the oldest generation and freed since by reference counting (a
    refresh's snapshot) do not count towards a full pass; cycles that died there, and objects
    still alive, count until a full pass frees or keeps them."""
    n = 20_000
    old = collector.OLDER_THRESHOLDS[1] + 1  # middle passes since the last full one
    before = gc.get_threshold()
    try:
        collector.settle()
        passes = collector._idle
        assert passes is not None

        alive = [Node() for _ in range(n)]
        passes.collect(1)  # promoted
        assert passes.pending >= n
        del alive  # freed by reference counting, gone from the oldest generation
        passes.collect(1)
        assert passes.pending < n // 10  # CPython's count would still hold them
        assert collector.generation_due((0, 0, old), passes.pending, 4 * n) == 0

        cycles = [Node() for _ in range(n)]
        for node in cycles:
            node.other = node
        passes.collect(1)
        del cycles  # dead in cycles, still in the oldest generation
        passes.collect(1)
        assert passes.pending >= n
        assert collector.generation_due((0, 0, old), passes.pending, 4 * n) == 2
        passes.collect(2)
        assert passes.pending == 0 and passes.total < n // 10

        # CPython's own full pass (its threshold, inside a step that allocates more) counts too
        kept = [Node() for _ in range(n)]
        passes.collect(1)
        assert passes.pending >= n
        gc.collect()
        passes.collect(1)
        assert passes.pending < n // 10 and passes.total >= n
        del kept
    finally:
        collector.restore()
        gc.set_threshold(*before)


async def test_the_middle_generation_holds_two_young_passes_of_survivors() -> None:
    """A middle pass follows every second young pass: it walks what survived two of them, not
    six. The objects a refresh keeps (its snapshot, the rows and cells drawn from it) survive
    young passes, so six passes' worth was the longest single pause left after the first
    frame."""
    before = gc.get_threshold()
    try:
        collector.settle()
        passes = collector._idle
        assert passes is not None
        kept: list[list[Node]] = []
        largest = 0
        for _ in range(10):
            kept.append([Node() for _ in range(collector.IDLE_YOUNG)])
            passes.collect(collector.generation_due(gc.get_count(), passes.pending, passes.total))
            largest = max(largest, len(gc.get_objects(1)))
        assert 2 * collector.IDLE_YOUNG <= largest < 3 * collector.IDLE_YOUNG
        del kept
    finally:
        collector.restore()
        gc.set_threshold(*before)
