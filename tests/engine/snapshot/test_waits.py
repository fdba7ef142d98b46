"""Why a pending task waits (engine.snapshot.waits), each reason made real through the engine's
own APIs: a seal path too small for the sector (then a big one attached), no machine for the
type, a cordoned machine, a machine too small, a retry wait, and a queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.harmonydb import DB
from engine.harmonytask import (
    MachineView,
    ProcessPool,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    add_tasks,
    cordon,
    uncordon,
)
from engine.harmonytask.builtin import Burn, Sleep
from engine.resources import MiB, Resources
from engine.snapshot.waits import explain_tasks, sector_waits
from engine.storage import StorageHeartbeat, attach
from support.devnet import sdr_on_a_small_seal_path
from support.probe import wait_until


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    workers = ProcessPool(1)
    yield workers
    await workers.close()


async def test_a_seal_path_too_small_then_a_big_one(
    db: DB, engines: Any, pool: ProcessPool, tmp_path: Path
) -> None:
    """Two 8 MiB sectors pledged with only a 6 MiB seal path: their SDR tasks wait, and the
    why names the placement's refusal; once a big seal path is attached the why moves on."""
    miner, numbers, ids = await sdr_on_a_small_seal_path(db, engines, pool, tmp_path)
    # The engine may claim one for a moment and give it back when its reservation fails (its
    # pre-claim check sizes by the smallest sector in use): read while both wait.
    waits: dict[Any, Any] = {}

    async def both_wait() -> bool:
        waits.update(await explain_tasks(db, ids))
        return all(waits[i].kind == "storage" for i in ids)

    await wait_until(both_wait, 20, "both SDR tasks waiting for storage")
    for number, task_id in zip(numbers, ids, strict=True):
        w = waits[task_id]
        assert w.kind == "storage", w
        assert w.text.startswith(
            f"no storage path can hold its files: sector t0{miner.sp_id}-{number} (8 MiB) needs "
        )
        assert w.text.endswith(
            "120.8 MiB on a seal path for its unsealed,cache; a 8 MiB unsealed file fits "
            "nowhere: 1 path is store-only, 1 lacks space (most free: 6 MiB)"
        )

    # the sector's view says the same, from the same definition
    async def the_sector_says_the_same() -> bool:
        sector = await sector_waits(db, miner.sp_id, numbers[0])
        return len(sector) == 1 and sector[0] == (await explain_tasks(db, ids[:1]))[ids[0]]

    await wait_until(the_sector_says_the_same, 20, "the sector's why, as its task's")

    (tmp_path / "big").mkdir()
    await attach(db, tmp_path / "big", can_seal=True, can_store=False)
    await StorageHeartbeat(db).beat_once()
    after = await explain_tasks(db, ids)
    # storage is no longer the reason; a task given back by a refused reservation just before
    # waits out its retry delay ("backoff"), which is what its why then says
    assert all(w.kind in ("next", "queued", "running", "backoff") for w in after.values()), after
    assert after[ids[0]].kind in ("next", "running", "backoff")
    if after[ids[1]].kind == "queued":
        assert after[ids[1]].text.startswith("queued behind 1 other SDR task(s)")


class Refuses(TaskType):
    """A type whose machine never accepts a task: it stays pending on a schedulable machine."""

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="refuses", cost=Resources(ram=1 * MiB))

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        return True

    async def can_accept(self, task_ids: list[TaskID], machine: MachineView) -> list[TaskID]:
        return []


async def test_no_machine_a_cordoned_one_a_small_one(probe_db: DB, engines: Any) -> None:
    db = probe_db
    (sleep_id,) = await add_tasks(db, "sleep", 1, {"ms": 1})
    w = (await explain_tasks(db, [sleep_id]))[sleep_id]
    assert (w.kind, w.name) == ("no-machine", "sleep")
    assert w.text.startswith("no live machine runs sleep: start one that runs it")

    # a machine that runs it, cordoned before it could claim
    engine = await engines([Sleep(db)], "m1")
    await cordon(db, engine.machine_id)
    # A claim that starts after the cordon committed takes nothing; one already in flight
    # (the engine's next cycle after claiming the first task) may still take that task. The
    # engine itself stops trying at its heartbeat.
    await engine.beat()
    assert not engine.schedulable
    (cordoned_id,) = await add_tasks(db, "sleep", 1, {"ms": 1})
    waits = await explain_tasks(db, [sleep_id, cordoned_id])
    if waits[sleep_id].kind in ("running", "gone"):  # claimed (and run) before the cordon
        waits.pop(sleep_id)
    assert cordoned_id in waits
    for w in waits.values():
        assert w.kind == "cordoned", w
        assert w.text.startswith("every live machine that runs sleep takes no new work (#")
        assert "is cordoned): uncordon one" in w.text
    await uncordon(db, engine.machine_id)
    await engine.beat()  # and of the uncordon at the next
    assert engine.schedulable
    engine.wake()

    async def claimed() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(claimed, 20, "the sleep tasks ran once uncordoned")

    # a type whose cost no machine of it has: burn wants 1 core
    await engines([Burn(db)], "tiny", capacity=Resources(cpu=0.5, ram=1024 * MiB))
    (burn_id,) = await add_tasks(db, "burn", 1, {"ms": 1})
    w = (await explain_tasks(db, [burn_id]))[burn_id]
    assert w.kind == "resources", w
    assert w.text.startswith(
        "no schedulable machine that runs burn has the 1 core, 16 MiB it needs"
    )


async def test_retry_wait_queue_and_gone(probe_db: DB, engines: Any) -> None:
    db = probe_db
    await engines([Refuses()], "m1")
    ids = await add_tasks(db, "refuses", 3, {})
    waits = await explain_tasks(db, [*ids, 999_999])
    assert waits[ids[0]].kind == "next"
    assert (
        waits[ids[0]].text
        == "next in line: 1 schedulable machine runs refuses; its next poll takes it"
    )
    assert waits[ids[2]].kind == "queued"
    assert waits[ids[2]].text == (
        "queued behind 2 other refuses task(s); 1 schedulable machine runs refuses"
    )
    assert waits[999_999].kind == "gone" and not waits[999_999].waiting
    await db.exec(
        "UPDATE harmony_task SET retries = 1, retry_after = now() + interval '1 hour', "
        "last_error = 'disk on fire' WHERE id = $1",
        ids[0],
    )
    w = (await explain_tasks(db, [ids[0]]))[ids[0]]
    assert w.kind == "backoff"
    assert w.text.startswith("retry wait: claimable again in ")
    assert w.text.endswith("after 1 failed attempt (disk on fire)")
