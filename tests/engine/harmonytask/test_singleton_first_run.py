"""Two machines firing a singleton's adder at the same moment, on its very first run (no row in
``harmony_task_singletons`` to lock yet), must add one live instance, not two."""

from __future__ import annotations

import asyncio

from engine.harmonydb import DB, Tx
from engine.harmonytask import ExtraFn, TaskID, singleton_adder
from engine.harmonytask.claims import add_task

TRIALS = 40


def machine(db: DB, name: str, both_inside: asyncio.Barrier):
    """``add_task`` of one machine for type ``name``: its first try waits, inside its
    transaction with its task row inserted, until the other machine's try is there too, so the
    two decide at the same moment every time. A retry of the transaction (40001 under
    SERIALIZABLE, the YugabyteDB-readiness mode) goes on alone: the other is not coming back."""
    tries = 0

    async def add(extra: ExtraFn | None = None, *, priority: int | None = None) -> TaskID | None:
        assert extra is not None

        async def together(task_id: TaskID, tx: Tx) -> bool:
            nonlocal tries
            tries += 1
            if tries == 1:
                await asyncio.wait_for(both_inside.wait(), 30)
            return await extra(task_id, tx)

        return await add_task(db, name, together, added_by=0)

    return add


async def test_two_first_runs_at_once_add_one_live_instance(db: DB) -> None:
    for trial in range(TRIALS):
        name = f"tick{trial}"
        both_inside = asyncio.Barrier(2)
        adders = [singleton_adder(name, 60.0), singleton_adder(name, 60.0)]
        added = await asyncio.gather(*(adder(machine(db, name, both_inside)) for adder in adders))
        assert added == [None, None]  # the hooks themselves return nothing
        live = await db.select("SELECT id FROM harmony_task WHERE name = $1", name)
        assert len(live) == 1, f"trial {trial}: {len(live)} live instances"
        recorded = await db.query_value(
            "SELECT task_id FROM harmony_task_singletons WHERE task_name = $1", name
        )
        assert recorded == live[0]["id"]
