"""The operator's actions on a Curio cluster change exactly what Curio's own code changes.

Each action runs on the seeded Curio schema (support.curio_schema: seal-1 schedulable, gpu-1
cordoned, post-1 with a restart request and not cordoned) through a DB that is read-only at the
server, as every session to a foreign cluster is. The whole ``harmony_machines`` table is
compared before and after (only the intended columns of the intended row differ), and then,
with the intended change put back by the schema's owner, a ``pg_dump`` of the whole schema is
identical to the one taken before: nothing else was written anywhere. (An UPDATE moves the
row within its table's heap, and ``pg_dump`` writes rows in heap order, so that comparison
takes the rows of each table as a set: :func:`support.curio_changes.canonical`.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.curio import (
    CurioActionRefused,
    CurioMachineNotFound,
    abort_restart,
    cordon,
    find_machine,
    list_machine_rows,
    request_restart,
    uncordon,
)
from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB, Bounds
from support.curio_changes import changes, curio_dumper, machine_rows
from support.curio_read import curio_session, owner, select_only
from support.curio_schema import CurioCluster
from support.schema_dump import SchemaDump

Dumper = Callable[[], Awaitable[SchemaDump]]


@pytest.fixture
async def curio(curio_db: CurioCluster) -> AsyncIterator[DB]:
    """A session on the Curio schema, as harmony opens it: foreign, read-only at the server."""
    async with curio_session(curio_db) as db:
        assert db.foreign
        yield db


@pytest.fixture
async def dump(curio_db: CurioCluster) -> Dumper:
    return await curio_dumper(curio_db, rows_as_sets=True)


def ids(curio_db: CurioCluster) -> tuple[int, int, int]:
    assert curio_db.seed is not None
    seal, gpu, post = curio_db.seed.machines.values()
    return seal, gpu, post


async def put_back(cluster: CurioCluster, machine_id: int, values: dict[str, Any]) -> None:
    """Undo an action's intended change as the owner (column names are this file's own)."""
    async with owner(cluster) as conn:
        for column, value in values.items():
            assert column in ("unschedulable", "restart_request")
            await conn.execute(
                f"UPDATE harmony_machines SET {column} = $1 WHERE id = $2", value, machine_id
            )


async def test_cordon_sets_only_unschedulable(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    seal, _, _ = ids(curio_db)
    before_dump, before = await dump(), await machine_rows(curio_db)
    result = await cordon(curio, seal)
    after = await machine_rows(curio_db)
    assert changes(before, after) == {seal: {"unschedulable": (False, True)}}
    assert result.changed and result.machine.unschedulable and result.machine.id == seal
    assert result.machine.name == "seal-1" and result.machine.restart_request is None
    assert await dump() != before_dump  # the comparison sees a changed row
    await put_back(curio_db, seal, {"unschedulable": False})
    assert await dump() == before_dump


async def test_uncordon_clears_only_unschedulable_and_keeps_a_restart_request(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    _, gpu, post = ids(curio_db)
    before_dump, before = await dump(), await machine_rows(curio_db)
    await uncordon(curio, gpu)
    assert changes(before, await machine_rows(curio_db)) == {gpu: {"unschedulable": (True, False)}}
    await put_back(curio_db, gpu, {"unschedulable": True})
    assert await dump() == before_dump
    # post-1: restart requested; cordoned here by the owner, then uncordoned by the action
    await put_back(curio_db, post, {"unschedulable": True})
    requested = before[post]["restart_request"]
    assert requested is not None
    result = await uncordon(curio, post)
    assert not result.machine.unschedulable and result.machine.restart_request == requested
    assert changes(before, await machine_rows(curio_db)) == {}


async def test_restart_is_requested_only_on_a_cordoned_machine(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    seal, gpu, _ = ids(curio_db)
    before_dump, before = await dump(), await machine_rows(curio_db)
    with pytest.raises(CurioActionRefused, match="only requested on a cordoned machine"):
        await request_restart(curio, seal)
    assert await dump() == before_dump

    asked = datetime.now(UTC)
    result = await request_restart(curio, gpu)
    after = await machine_rows(curio_db)
    diff = changes(before, after)
    assert list(diff) == [gpu] and list(diff[gpu]) == ["restart_request"]
    old, new = diff[gpu]["restart_request"]
    # the server's NOW(), as Curio's statement sets it (same host, so the clocks agree)
    assert old is None and abs(new - asked) < timedelta(seconds=30)
    assert result.changed and result.machine.restart_request == new
    assert result.machine.unschedulable  # the cordon stays until the node restarts
    await put_back(curio_db, gpu, {"restart_request": None})
    assert await dump() == before_dump


async def test_abort_restart_clears_only_restart_request(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    _, _, post = ids(curio_db)
    before_dump, before = await dump(), await machine_rows(curio_db)
    requested = before[post]["restart_request"]
    result = await abort_restart(curio, post)
    assert changes(before, await machine_rows(curio_db)) == {
        post: {"restart_request": (requested, None)}
    }
    assert result.changed and result.machine.restart_request is None
    await put_back(curio_db, post, {"restart_request": requested})
    assert await dump() == before_dump


async def test_an_action_already_in_effect_writes_nothing(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    """Cordon a cordoned machine, uncordon a schedulable one, restart one whose restart is
    pending (its time is kept), abort where none is: each says unchanged, the dump is equal."""
    seal, gpu, post = ids(curio_db)
    before_dump = await dump()
    rows = await machine_rows(curio_db)
    for action, machine_id in (
        (cordon, gpu),
        (uncordon, seal),
        (request_restart, post),
        (abort_restart, seal),
    ):
        result = await action(curio, machine_id)
        assert not result.changed, action.__name__
        assert result.machine.restart_request == rows[machine_id]["restart_request"]
    assert await dump() == before_dump


async def test_an_unknown_machine_is_refused(
    curio: DB, curio_db: CurioCluster, dump: Dumper
) -> None:
    before_dump = await dump()
    for action in (cordon, uncordon, request_restart, abort_restart):
        with pytest.raises(CurioMachineNotFound, match="no machine with id 999999"):
            await action(curio, 999_999)
    assert await dump() == before_dump


async def test_a_read_only_session_is_refused_before_anything_is_sent(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    _, gpu, _ = ids(curio_db)
    before_dump = await dump()
    async with curio_session(curio_db, read_only=True) as db:
        for action in (cordon, uncordon, request_restart, abort_restart):
            with pytest.raises(CurioActionRefused, match=r"read-only \(--read-only\)"):
                await action(db, gpu)
    assert await dump() == before_dump


async def test_a_select_only_role_is_refused_cleanly(curio_db: CurioCluster, dump: Dumper) -> None:
    seal, gpu, post = ids(curio_db)
    before_dump = await dump()
    async with select_only(curio_db) as url, curio_session(curio_db, url=url) as db:
        assert db.foreign
        # it can still find machines (a read)
        assert (await find_machine(db, "gpu-1")).id == gpu
        for action, machine_id in (
            (cordon, seal),
            (uncordon, gpu),
            (request_restart, gpu),
            (abort_restart, post),
        ):
            with pytest.raises(CurioActionRefused, match="may only read"):
                await action(db, machine_id)
    assert await dump() == before_dump


async def test_find_machine_by_id_address_or_name(curio: DB, curio_db: CurioCluster) -> None:
    seal, gpu, post = ids(curio_db)
    assert (await find_machine(curio, str(gpu))).id == gpu
    assert (await find_machine(curio, "10.0.0.13:12300")).id == post
    found = await find_machine(curio, "seal-1")
    assert found.id == seal and found.host_and_port == "10.0.0.11:12300"
    assert [m.id for m in await list_machine_rows(curio)] == sorted((seal, gpu, post))
    with pytest.raises(CurioMachineNotFound, match="no machine 'nope'"):
        await find_machine(curio, "nope")
    # Curio does not keep machine_name unique: a shared name is refused, the id still works
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE harmony_machine_details SET machine_name = 'seal-1' WHERE machine_id = $1",
            post,
        )
    with pytest.raises(CurioMachineNotFound, match="2 machines are named 'seal-1'"):
        await find_machine(curio, "seal-1")
    assert (await find_machine(curio, str(post))).id == post


async def test_running_tasks_are_counted_from_owner_id(curio: DB, curio_db: CurioCluster) -> None:
    """What a restart waits for: the tasks the machine owns (Curio's own count)."""
    async with owner(curio_db) as conn:
        owned = {
            row["owner_id"]: row["n"]
            for row in await conn.fetch(
                "SELECT owner_id, count(*) AS n FROM harmony_task "
                "WHERE owner_id IS NOT NULL GROUP BY owner_id"
            )
        }
    assert owned, "the seed has running tasks"
    for machine in await list_machine_rows(curio):
        assert machine.running == owned.get(machine.id, 0)


async def test_a_lost_commit_reply_is_settled_by_reading_the_row_back(
    curio_db: CurioCluster,
) -> None:
    """The reply to the action's COMMIT is lost after the server committed: the action is not
    sent again (it would ask for a restart twice); the row read back shows it took effect."""
    _, gpu, _ = ids(curio_db)
    before = await machine_rows(curio_db)
    async with PgProxy.for_url(curio_db.url) as proxy:
        db = await DB.open(
            proxy.url(curio_db.url),
            schema=curio_db.schema,
            migrate=False,
            bounds=Bounds(statement_timeout=0.5, command_timeout=1.0),
        )
        try:
            rule = proxy.drop_reply("COMMIT")
            result = await request_restart(db, gpu)
            assert rule.fired == 1
        finally:
            await db.close()
    after = await machine_rows(curio_db)
    assert changes(before, after).keys() == {gpu}
    assert result.changed and result.machine.restart_request == after[gpu]["restart_request"]
