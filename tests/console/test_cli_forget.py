"""`harmony machine forget NAME`: a departed or dead machine's row goes (details with it); a
live machine, or one that still owns tasks, is refused and stays."""

from __future__ import annotations

import json

from engine.harmonydb import DB
from engine.harmonytask import builtin_tasks
from support.cli import harmony


async def machine_names(db: DB) -> list[str]:
    return [
        r["host_and_port"] for r in await db.select("SELECT host_and_port FROM harmony_machines")
    ]


async def test_a_departed_machine_is_forgotten_with_its_details(db: DB, engines) -> None:
    engine = await engines(builtin_tasks(db), "old-box")
    machine_id = engine.machine_id
    await engine.stop_now()  # leaves: session cleared, row and details stay
    assert await db.query_value(
        "SELECT count(*) FROM harmony_machine_details WHERE machine_id = $1", machine_id
    )
    result = await harmony(db, "machine", "forget", "old-box")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"forgot machine old-box (id {machine_id}): it had left the cluster, last seen "
    )
    assert await machine_names(db) == []
    assert not await db.query_value(
        "SELECT count(*) FROM harmony_machine_details WHERE machine_id = $1", machine_id
    )
    listed = json.loads((await harmony(db, "machine", "list", "--json")).stdout)
    assert listed == []


async def test_a_live_machine_is_refused(db: DB, engines) -> None:
    await engines(builtin_tasks(db), "busy-box")
    result = await harmony(db, "machine", "forget", "busy-box")
    assert result.returncode == 1
    assert result.stderr.startswith("harmony: error: machine busy-box is alive (it reported in ")
    assert "stop it first" in result.stderr
    assert await machine_names(db) == ["busy-box"]


async def test_a_machine_silent_past_the_timeout_is_forgotten(db: DB) -> None:
    # Still holding a session (no peer ran to declare it dead), but silent for a minute.
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, last_contact) "
        "VALUES ('frozen', 1, 1, 0, 'abc', now() - interval '60 seconds')"
    )
    result = await harmony(db, "machine", "forget", "frozen")
    assert result.returncode == 0, result.stderr
    assert "it was silent, last seen a minute ago" in result.stdout
    assert await machine_names(db) == []


async def test_a_silent_machine_within_the_timeout_is_alive(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, last_contact) "
        "VALUES ('late', 1, 1, 0, 'abc', now() - interval '3 seconds')"
    )
    result = await harmony(db, "machine", "forget", "late")
    assert result.returncode == 1
    assert "machine late is alive" in result.stderr
    assert await machine_names(db) == ["late"]


async def test_a_dead_machine_that_owns_tasks_is_refused(db: DB) -> None:
    machine_id = await db.query_value(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, lost_at) "
        "VALUES ('dead-box', 1, 1, 0, NULL, now()) RETURNING id"
    )
    await db.exec(
        "INSERT INTO harmony_task (name, added_by, posted_time, owner_id, claimed_at, attempt) "
        "VALUES ('noop', 0, now(), $1, now(), 1)",
        machine_id,
    )
    result = await harmony(db, "machine", "forget", "dead-box")
    assert result.returncode == 1
    assert result.stderr.startswith("harmony: error: machine dead-box still owns 1 task(s)")
    assert await machine_names(db) == ["dead-box"]
    assert await db.query_value("SELECT owner_id FROM harmony_task") == machine_id

    await db.exec("UPDATE harmony_task SET owner_id = NULL, claimed_at = NULL")
    result = await harmony(db, "machine", "forget", str(machine_id))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"forgot machine dead-box (id {machine_id}): it had been declared dead, last seen "
    )


async def test_an_unknown_machine(db: DB) -> None:
    result = await harmony(db, "machine", "forget", "nobody")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "harmony: error: no machine 'nobody' (see `harmony machine list`)"
    )
