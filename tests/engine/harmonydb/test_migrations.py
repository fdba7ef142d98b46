"""Migrations: order, exactly once, checksums, bad names, atomic failure, concurrent starts."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.harmonydb import DB, MigrationError, load_migrations, migrate, migration_status
from engine.harmonydb.migrations import sql_dir
from support.cli import harmony
from support.probe import wait_until


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def test_files_run_in_filename_order_each_once(db: DB, tmp_path: Path) -> None:
    write(tmp_path, "20260102-second.sql", "INSERT INTO log_entries (name) VALUES ('second');")
    write(
        tmp_path,
        "20260101-first.sql",
        "CREATE TABLE log_entries (n SERIAL PRIMARY KEY, name TEXT);\n"
        "INSERT INTO log_entries (name) VALUES ('first');",
    )
    assert await migrate(db, load_migrations(tmp_path)) == [
        "20260101-first.sql",
        "20260102-second.sql",
    ]
    assert await migrate(db, load_migrations(tmp_path)) == []
    rows = await db.select("SELECT name FROM log_entries ORDER BY n")
    assert [r["name"] for r in rows] == ["first", "second"]


async def test_two_files_of_the_same_date_both_run_even_when_one_was_applied_earlier(
    db: DB, tmp_path: Path
) -> None:
    write(tmp_path, "20260730-a.sql", "CREATE TABLE a (x INT);")
    await migrate(db, load_migrations(tmp_path))
    write(tmp_path, "20260730-b.sql", "CREATE TABLE b (x INT);")  # Curio would skip this one
    assert await migrate(db, load_migrations(tmp_path)) == ["20260730-b.sql"]
    assert await db.query_value("SELECT count(*) FROM b") == 0


async def test_a_changed_applied_file_stops_startup_naming_the_file(db: DB, tmp_path: Path) -> None:
    write(tmp_path, "20260101-t.sql", "CREATE TABLE t (x INT);")
    await migrate(db, load_migrations(tmp_path))
    write(tmp_path, "20260101-t.sql", "CREATE TABLE t (x INT, y INT);")
    with pytest.raises(MigrationError, match=re.escape("20260101-t.sql was changed")) as caught:
        await migrate(db, load_migrations(tmp_path))
    assert caught.value.filename == "20260101-t.sql"
    status = await migration_status(db, load_migrations(tmp_path))
    assert status.changed == ["20260101-t.sql"]
    assert not status.current


@pytest.mark.parametrize(
    "name",
    [
        "2026-01-01-x.sql",
        "20261301-bad-month.sql",
        "foo.sql",
        "20260101_x.sql",
        "20260101-Upper.sql",
        "20260101-x.SQL",
        "20260101-x.sql.orig",
    ],
)
def test_a_badly_named_file_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, "20260101-good.sql", "SELECT 1;")
    write(tmp_path, name, "SELECT 1;")
    with pytest.raises(MigrationError, match="badly named") as caught:
        load_migrations(tmp_path)
    assert caught.value.filename == name


def test_a_file_with_its_own_transaction_control_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "20260101-x.sql", "BEGIN;\nCREATE TABLE x (a INT);\nCOMMIT;")
    with pytest.raises(MigrationError, match="BEGIN/COMMIT"):
        load_migrations(tmp_path)


def test_function_bodies_may_use_begin_and_end(tmp_path: Path) -> None:
    write(
        tmp_path,
        "20260101-f.sql",
        "CREATE FUNCTION f() RETURNS INT AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;",
    )
    assert [m.filename for m in load_migrations(tmp_path)] == ["20260101-f.sql"]


async def test_a_failing_file_leaves_nothing_half_applied(db: DB, tmp_path: Path) -> None:
    write(tmp_path, "20260101-ok.sql", "CREATE TABLE ok (x INT);")
    write(
        tmp_path,
        "20260102-broken.sql",
        "CREATE TABLE half (x INT);\nINSERT INTO half VALUES (1);\nSELEKT oops;",
    )
    with pytest.raises(MigrationError) as caught:
        await migrate(db, load_migrations(tmp_path))
    assert caught.value.filename == "20260102-broken.sql"
    assert caught.value.sqlstate == "42601"
    assert "nothing from it was applied" in str(caught.value)
    assert await db.query_value("SELECT to_regclass('half')") is None
    status = await migration_status(db, load_migrations(tmp_path))
    assert status.applied == ["20260101-ok.sql"]
    assert status.pending == ["20260102-broken.sql"]


async def test_many_processes_starting_at_once_apply_each_file_exactly_once(
    db: DB, tmp_path: Path
) -> None:
    await db.exec("CREATE TABLE applied_count (filename TEXT)")
    for day in range(1, 6):
        write(
            tmp_path,
            f"2026010{day}-step.sql",
            f"SELECT pg_sleep(0.05);\nINSERT INTO applied_count VALUES ('2026010{day}');",
        )
    migrations = load_migrations(tmp_path)
    starters = [
        await DB.open(db.url.dsn, schema=db.schema, migrate=False, max_size=2) for _ in range(8)
    ]
    try:
        results = await asyncio.gather(*(migrate(s, migrations) for s in starters))
    finally:
        for s in starters:
            await s.close()
    assert sorted(name for applied in results for name in applied) == [
        m.filename for m in migrations
    ]
    rows = await db.select(
        "SELECT filename, count(*) AS n FROM applied_count GROUP BY filename ORDER BY filename"
    )
    assert [r["n"] for r in rows] == [1] * 5
    assert await db.query_value("SELECT count(*) FROM harmony_schema_lock") == 0


async def test_an_expired_lease_of_a_dead_migrator_does_not_block(db: DB, tmp_path: Path) -> None:
    await db.exec(
        "INSERT INTO harmony_schema_lock (id, holder, expires_at) "
        "VALUES (1, 'dead-host:1:x', now() - interval '1 second')"
    )
    write(tmp_path, "20260101-x.sql", "CREATE TABLE x (a INT);")
    assert await migrate(db, load_migrations(tmp_path)) == ["20260101-x.sql"]


async def test_a_live_lease_makes_others_wait_then_give_up_clearly(db: DB, tmp_path: Path) -> None:
    await db.exec(
        "INSERT INTO harmony_schema_lock (id, holder, expires_at) "
        "VALUES (1, 'busy-host:1:y', now() + interval '1 hour')"
    )
    write(tmp_path, "20260101-x.sql", "CREATE TABLE x (a INT);")
    with pytest.raises(MigrationError, match="busy-host"):
        await migrate(db, load_migrations(tmp_path), wait_seconds=0.3)


async def test_every_shipped_migration_can_be_reapplied(db: DB) -> None:
    """Idempotency matters on YugabyteDB, where DDL is not transactional and a crash can
    re-run a file. Unlike Curio's test, this one actually re-applies every file."""
    for migration in load_migrations():
        async with db.connection() as conn:
            await conn.execute(migration.sql)


def test_shipped_migrations_are_found_and_validly_named() -> None:
    names = [m.filename for m in load_migrations()]
    assert names == sorted(p.name for p in Path(str(sql_dir())).glob("*.sql"))
    assert names[0] == "20261123-01-harmony-core.sql"


async def test_fresh_schema_has_curios_tables(db: DB) -> None:
    for table in (
        "harmony_machines",
        "harmony_machine_details",
        "harmony_task",
        "harmony_task_history",
        "harmony_task_singletons",
        "harmony_config",
    ):
        assert await db.query_value("SELECT to_regclass($1)::text", table) == table


async def test_concurrent_processes_migrate_a_fresh_schema_once(pg_url: str) -> None:
    """Four `harmony db migrate` processes race on an empty schema."""
    from engine.harmonydb import itest_db, new_itest_id

    schema = f"itest_{new_itest_id()}"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "console",
            "--db",
            pg_url,
            "--schema",
            schema,
            "db",
            "migrate",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
        )
        for _ in range(4)
    ]
    outputs = [await p.communicate() for p in procs]
    db = await itest_db(pg_url, itest_id=schema.removeprefix("itest_"), migrate=False)
    try:
        assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
        applied = [
            line
            for out, _ in outputs
            for line in out.decode().splitlines()
            if line.startswith("applied ")
        ]
        shipped = [m.filename for m in load_migrations()]
        assert sorted(applied) == sorted(f"applied {name}" for name in shipped)
        assert (await migration_status(db)).current
    finally:
        await db.delete_all()


async def test_a_changed_migration_stops_the_cli_with_one_line(db: DB) -> None:

    first = load_migrations()[0].filename
    await db.exec("UPDATE harmony_schema_migrations SET checksum = 'x' WHERE filename = $1", first)
    for command in (["db", "migrate"], ["db", "status"], ["task", "list"]):
        result = await harmony(db, *command)
        assert result.returncode == 1, command
        if command == ["db", "status"]:
            assert f"CHANGED  {first}" in result.stdout
        else:
            assert result.stderr.count("\n") == 1
            assert result.stderr.startswith(f"harmony: error: migration {first} was changed")


# ------------------------------------------------------------------ the lease

#: a migrator that takes the lease and then sits in its migration until killed
HOLDER = """
import asyncio, sys
from pathlib import Path
from engine.harmonydb import DB, load_migrations, migrate

async def main() -> None:
    db = await DB.open(sys.argv[1], schema=sys.argv[2], migrate=False)
    await migrate(db, load_migrations(Path(sys.argv[3])))

asyncio.run(main())
"""


async def _start_holder(db: DB, tmp_path: Path) -> asyncio.subprocess.Process:
    """A real migrator process, holding the lease while its (endless) migration runs."""
    slow = tmp_path / "slow"
    slow.mkdir()
    write(slow, "20260101-slow.sql", "SELECT pg_sleep(61);")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        db.url.dsn,
        db.schema,
        str(slow),
        cwd=Path(__file__).resolve().parents[3],
    )

    async def holding() -> bool:
        holder = await db.query_value("SELECT holder FROM harmony_schema_lock WHERE id = 1")
        return bool(holder) and holder.startswith(f"{socket.gethostname()}:{child.pid}:")

    await wait_until(holding, within=20, what="the child migrator to take the lease")
    return child


async def _end_orphan_sleep(db: DB) -> None:
    """The killed migrator's backend sleeps on until it notices; end it now."""
    await db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE query LIKE '%pg_sleep(61)%' AND pid <> pg_backend_pid()"
    )


async def test_a_lease_whose_holder_was_killed_on_this_host_is_broken_at_once(
    db: DB, tmp_path: Path
) -> None:
    child = await _start_holder(db, tmp_path)
    child.send_signal(signal.SIGKILL)
    await asyncio.wait_for(child.wait(), 10)
    fast = tmp_path / "fast"
    fast.mkdir()
    try:
        write(fast, "20260101-fast.sql", "CREATE TABLE after_kill (a INT);")
        started = time.monotonic()
        applied = await migrate(db, load_migrations(fast), lease_seconds=60)
        took = time.monotonic() - started
    finally:
        await _end_orphan_sleep(db)
    assert applied == ["20260101-fast.sql"]
    assert took < 10, f"waited {took:.1f}s for a dead migrator's 60 s lease"
    assert await db.query_value("SELECT count(*) FROM harmony_schema_lock") == 0


async def test_a_lease_whose_holder_is_alive_on_this_host_is_waited_for(
    db: DB, tmp_path: Path
) -> None:
    child = await _start_holder(db, tmp_path)
    fast = tmp_path / "fast"
    fast.mkdir()
    try:
        write(fast, "20260101-fast.sql", "CREATE TABLE while_alive (a INT);")
        with pytest.raises(MigrationError, match=f":{child.pid}:"):
            await migrate(db, load_migrations(fast), wait_seconds=1)
    finally:
        child.kill()
        await asyncio.wait_for(child.wait(), 10)
        await _end_orphan_sleep(db)


async def test_failed_renewals_never_fail_a_migration_that_succeeded(
    db: DB, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal blocked past the statement bound (here by a lock on the lease table) is a
    database error in the renewer: retried and logged, and the lease, expired meanwhile, is
    said to be lost. The migration itself succeeds and says so."""
    migrator = await DB.open(db.url.dsn, schema=db.schema, migrate=False, statement_timeout=0.3)
    write(tmp_path, "20260101-slow.sql", "SELECT pg_sleep(1.5); CREATE TABLE renewed (a INT);")
    try:
        running = asyncio.create_task(
            migrate(migrator, load_migrations(tmp_path), lease_seconds=0.6)
        )

        async def migrating() -> bool:
            return bool(
                await db.query_value(
                    "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(1.5)%'"
                )
            )

        await wait_until(migrating, within=10, what="the migration to start")
        async with db.begin() as tx:
            await tx.exec("LOCK TABLE harmony_schema_lock IN ACCESS EXCLUSIVE MODE")
            await asyncio.sleep(1.0)
        assert await asyncio.wait_for(running, 30) == ["20260101-slow.sql"]
    finally:
        await migrator.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("lease renewal failed" in m for m in messages), messages
    assert any("lost: it expired while renewals failed" in m for m in messages), messages
    assert await db.query_value("SELECT count(*) FROM renewed") == 0
