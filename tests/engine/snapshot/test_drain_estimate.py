"""The drain estimate: each running task's type's typical run time (the mean of its done attempts
in the last 24 h) less the time it has run, never below zero; no estimate, said as such, for a
type without history (not "as long again as it has run", which read "~6s" for a 30 s task 6 s
in)."""

from __future__ import annotations

from datetime import timedelta

from console.fixture import FIXED_NOW, seed
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader, drain_plan, maintenance_risks, remaining_seconds
from engine.snapshot.drain import UNKNOWN_HORIZON, typical_seconds

NODE_A = 1


async def _running_on_node_a(db: DB, *tasks: tuple[int, str, float]) -> None:
    """Node-a runs exactly these (id, type, seconds run so far)."""
    await db.exec("DELETE FROM harmony_task WHERE id >= 9000")
    await db.exec(
        "UPDATE harmony_task SET owner_id = NULL, claimed_at = NULL WHERE owner_id = $1", NODE_A
    )
    for task_id, name, elapsed in tasks:
        claimed = FIXED_NOW - timedelta(seconds=elapsed)
        await db.exec(
            "INSERT INTO harmony_task (id, update_time, posted_time, owner_id, added_by, name, "
            "retries, attempt, priority, claimed_at) VALUES ($1, $2, $2, $3, $3, $4, 0, 1, 0, $2)",
            task_id,
            claimed,
            NODE_A,
            name,
        )


_next_id = iter(range(70_000, 80_000))


async def _history(db: DB, name: str, *attempts: tuple[float, bool]) -> None:
    """Attempts of ``name`` that ended a few minutes ago: (seconds run, done)."""
    for i, (seconds, done) in enumerate(attempts):
        end = FIXED_NOW - timedelta(minutes=5 + i)
        await db.exec(
            "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
            "result, err, completed_by_host_and_port, outcome, machine_id, attempt) "
            "VALUES ($1, $2, $3, $4, $4, $5, $6, $7, 'node-a:worker', $8, 1, 1)",
            next(_next_id),
            80_000 + i,
            name,
            end - timedelta(seconds=seconds),
            end,
            done,
            None if done else "exit status 1",
            "done" if done else "retry",
        )


async def test_remaining_is_the_types_typical_time_less_the_time_run(db: DB) -> None:
    await seed(db)
    # Three 30 s runs (28, 30, 32) and a failed 2 s attempt, which does not count.
    await _history(db, "sleep", (28, True), (30, True), (32, True), (2, False))
    await _running_on_node_a(db, (9001, "sleep", 6))
    snap = await SnapshotReader(db).snapshot(FIXED_NOW)
    assert typical_seconds(snap, "sleep") == 30
    (task,) = snap.running_on(NODE_A)
    assert round(remaining_seconds(snap, task) or 0) == 24
    plan = drain_plan(snap, NODE_A, FIXED_NOW)
    assert plan is not None
    assert round(plan.estimate) == 24 and plan.unknown == ()
    assert plan.typical_of("sleep") == 30
    assert plan.expected_end() == "expected to finish in ~24s"
    assert plan.expected_end(since=4) == "expected to finish in ~20s"


async def test_a_type_without_done_attempts_has_no_estimate_and_says_so(db: DB) -> None:
    await seed(db)
    await _history(db, "sleep", (30, True))
    await _history(db, "mystery", (5, False))  # failed only: still nothing to go by
    await _running_on_node_a(db, (9001, "mystery", 6))
    snap = await SnapshotReader(db).snapshot(FIXED_NOW)
    (task,) = snap.running_on(NODE_A)
    assert remaining_seconds(snap, task) is None
    plan = drain_plan(snap, NODE_A, FIXED_NOW)
    assert plan is not None
    assert plan.unknown == ("mystery",) and plan.estimate == 0
    assert plan.typical_of("mystery") is None
    assert plan.expected_end() == "no estimate for mystery: none finished in the last 24 h"
    # Its end could come at any time: the PoSt check looks as far as the next deadline with
    # sectors, wherever it opens, not only at the one open now.
    far = maintenance_risks(snap.post, FIXED_NOW, UNKNOWN_HORIZON)
    near = maintenance_risks(snap.post, FIXED_NOW, 0)
    assert len(far) > len(near)
    assert [r.describe() for r in plan.risks] == [r.describe() for r in far]

    await _running_on_node_a(db, (9001, "mystery", 6), (9002, "sleep", 10))
    snap = await SnapshotReader(db).snapshot(FIXED_NOW)
    plan = drain_plan(snap, NODE_A, FIXED_NOW)
    assert plan is not None
    assert round(plan.estimate) == 20 and plan.unknown == ("mystery",)
    assert plan.expected_end() == (
        "expected to finish in ~20s; no estimate for mystery: none finished in the last 24 h"
    )


async def test_a_task_past_its_typical_time_should_end_any_moment(db: DB) -> None:
    await seed(db)
    await _history(db, "sleep", (30, True))
    await _running_on_node_a(db, (9001, "sleep", 45))
    snap = await SnapshotReader(db).snapshot(FIXED_NOW)
    (task,) = snap.running_on(NODE_A)
    assert remaining_seconds(snap, task) == 0
    plan = drain_plan(snap, NODE_A, FIXED_NOW)
    assert plan is not None and plan.estimate == 0
    assert plan.expected_end() == "past their typical run time, expected to end any moment"
