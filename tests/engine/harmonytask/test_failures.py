"""Failures: retries with their wait, the visible failed state, restart by id, timeouts, storage
that cannot be had, and adders whose extra work declines or already exists."""

from __future__ import annotations

import pytest

from engine.clock import ManualClock
from engine.harmonydb import DB, Tx
from engine.harmonytask import (
    TaskNotFound,
    TaskType,
    TaskTypeDetails,
    add_tasks,
    list_tasks,
    restart_task,
    task_history,
)
from support.probe import Probe, wait_until


async def test_failures_retry_then_enter_the_failed_state_then_restart_by_id(
    probe_db: DB, engines
) -> None:
    attempts = {"n": 0}

    def fail_twice_then_fail_again_until_restarted(task_id: int) -> bool:
        attempts["n"] += 1
        return attempts["n"] <= 2

    probe = Probe(probe_db, "m", fail=fail_twice_then_fail_again_until_restarted, max_failures=2)
    engine = await engines([probe], "m")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(
        lambda: probe_db.query_value("SELECT failed_at IS NOT NULL FROM harmony_task"), 5
    )
    (row,) = await list_tasks(probe_db)
    assert (row.state, row.retries) == ("failed", 2)
    assert "told to fail" in (row.last_error or "")
    history = await task_history(probe_db, task_id=task_id)
    assert [h.outcome for h in history] == ["failed", "retry"]  # newest first
    assert all(not h.result for h in history)

    assert (await engine.cycle()).claimed == ()  # nothing retries a failed task on its own
    assert len(probe.started) == 2

    assert await restart_task(probe_db, task_id) == "probe"
    await wait_until(lambda: probe_db.query_value("SELECT count(*) = 0 FROM harmony_task"), 5)
    latest = next(iter(await task_history(probe_db, task_id=task_id)))
    assert latest.outcome == "done"


async def test_restarting_a_task_that_is_not_failed_is_refused(probe_db: DB) -> None:
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    with pytest.raises(TaskNotFound, match="not in the failed state"):
        await restart_task(probe_db, task_id)
    with pytest.raises(TaskNotFound, match="no task 999999"):
        await restart_task(probe_db, 999999)


async def test_retry_waits_before_the_task_is_claimable_again(probe_db: DB, engines) -> None:
    probe = Probe(probe_db, "m", fail=True, max_failures=2, retry_wait=lambda retries: 0.6)
    await engines([probe], "m")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: len(probe.started) == 2, 5)
    await wait_until(
        lambda: probe_db.query_value("SELECT count(*) = 2 FROM harmony_task_history"), 5
    )
    first, second = await task_history(probe_db, task_id=task_id, limit=2)
    assert (second.outcome, first.outcome) == ("retry", "failed")
    assert (first.work_start - second.work_end).total_seconds() >= 0.55


async def test_an_attempt_past_its_timeout_is_a_failure(probe_db: DB, engines) -> None:
    clock = ManualClock()
    probe = Probe(probe_db, "m", block=True, timeout=600, max_failures=1)
    engine = await engines([probe], "m", clock=clock)
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: probe.started == [task_id], 5)
    clock.advance(599)
    assert (await engine.cycle()).claimed == ()
    assert [t.task_id for t in engine.running_tasks()] == [task_id]  # not yet timed out
    assert probe.cancelled == []
    clock.advance(1)
    await wait_until(lambda: task_history(probe_db, task_id=task_id), 5)
    (row,) = await task_history(probe_db, task_id=task_id)
    assert (row.outcome, row.err) == ("failed", "timed out after 600s")
    assert probe.cancelled == [task_id]


class BrokenStorage:
    """A storage requirement that looks available but whose claim always fails (e.g. another
    machine took the last space between the check and the claim)."""

    def __init__(self, room: bool = True) -> None:
        self.claims = 0
        self.room = room

    async def has_capacity(self) -> bool:
        return self.room

    async def claim(self, task_id: int, machine_id: int) -> object:
        self.claims += 1
        raise RuntimeError("no storage path can take a 2 KiB sealed file")


async def test_a_task_whose_storage_cannot_be_claimed_backs_off_alone(
    probe_db: DB, engines
) -> None:
    storage = BrokenStorage()
    needy = Probe(probe_db, "m", "needy", storage=storage)
    easy = Probe(probe_db, "m", "easy")
    engine = await engines([needy, easy], "m")
    (stuck,) = await add_tasks(probe_db, "needy", 1)
    ok = await add_tasks(probe_db, "easy", 3)
    await wait_until(lambda: sorted(easy.started) == ok, 5)
    await wait_until(lambda: storage.claims == 1, 5)
    # The give-back and its history row are one statement: once the row exists, so does it.
    await wait_until(lambda: task_history(probe_db, task_id=stuck), 5, "the task to be given back")
    row = await probe_db.query_row(
        "SELECT owner_id, retries, retry_after > now() + interval '20 seconds' AS backing_off "
        "FROM harmony_task WHERE id = $1",
        stuck,
    )
    assert row == {"owner_id": None, "retries": 0, "backing_off": True}
    (history,) = await task_history(probe_db, task_id=stuck)
    assert history.outcome == "released"
    assert "no storage path can take" in (history.err or "")
    assert not needy.started  # do() never ran without its storage
    assert engine.resources_available() == engine.capacity


class Adder(TaskType):
    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="adder")

    async def do(self, task_id: int, still_owned: object) -> bool:
        return True


async def test_extra_work_commits_with_the_task_or_not_at_all(probe_db: DB, engines) -> None:
    await probe_db.exec("CREATE TABLE work_items (key TEXT PRIMARY KEY, task_id BIGINT)")
    engine = await engines([Adder()], "m")
    await engine.graceful_terminate()  # only its add_task is used below; nothing claims

    def item(key: str, commit: bool = True):
        async def extra(task_id: int, tx: Tx) -> bool:
            await tx.exec("INSERT INTO work_items VALUES ($1, $2)", key, task_id)
            return commit

        return extra

    first = await engine.add_task("adder", item("sector-1"))
    assert first is not None
    assert await engine.add_task("adder", item("sector-1")) is None  # already added
    assert await engine.add_task("adder", item("sector-2", commit=False)) is None  # declined
    tasks = await probe_db.select("SELECT id FROM harmony_task")
    items = await probe_db.select("SELECT key, task_id FROM work_items")
    assert tasks == [{"id": first}]
    assert items == [{"key": "sector-1", "task_id": first}]


async def test_a_type_whose_storage_has_no_room_is_not_claimed(probe_db: DB, engines) -> None:
    full = BrokenStorage(room=False)
    needy = Probe(probe_db, "m", "needy", storage=full)
    engine = await engines([needy], "m")
    (task_id,) = await add_tasks(probe_db, "needy", 1)
    cycle = await engine.cycle()
    assert cycle.no_storage == ("needy",) and cycle.claimed == ()
    assert full.claims == 0 and not needy.started
    row = await probe_db.query_row(
        "SELECT owner_id, attempt FROM harmony_task WHERE id = $1", task_id
    )
    assert row == {"owner_id": None, "attempt": 0}  # never even claimed
