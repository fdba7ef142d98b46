"""An add whose COMMIT reply is lost: the DB layer sends it again, and the queue must hold
exactly what was reported added, with an adder's ``extra`` run once per committed add. Where
no retry can find out, the caller hears "may have been added", never a plain failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB, Tx
from engine.harmonytask import add_tasks
from engine.harmonytask.claims import AddOutcomeUnknown, add_task
from support.cli import harmony_argv

SIDE_TABLE = "CREATE TABLE side_rows (task_id BIGINT PRIMARY KEY)"


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    async with PgProxy.for_url(pg_url) as running:
        yield running


@pytest.fixture
async def proxied(proxy: PgProxy, pg_url: str, db: DB) -> AsyncIterator[DB]:
    """The test's schema, through the proxy."""
    through = await DB.open(proxy.url(pg_url), schema=db.schema, migrate=False)
    try:
        yield through
    finally:
        await through.close()


async def queue_ids(db: DB) -> list[int]:
    return [r["id"] for r in await db.select("SELECT id FROM harmony_task ORDER BY id")]


async def test_lost_commit_replies_add_exactly_what_was_reported(
    db: DB, proxied: DB, proxy: PgProxy
) -> None:
    await db.exec(SIDE_TABLE)
    rule = proxy.drop_reply("COMMIT", count=None, probability=0.5, seed=7)
    reported: list[int] = []
    for _ in range(5):
        reported += await add_tasks(proxied, "noop", 100)

    extra_calls: list[int] = []

    async def extra(task_id: int, tx: Tx) -> bool:
        extra_calls.append(task_id)
        await tx.exec("INSERT INTO side_rows (task_id) VALUES ($1)", task_id)
        return True

    for _ in range(20):
        task_id = await add_task(proxied, "adder", extra, added_by=0)
        assert task_id is not None
        reported.append(task_id)

    assert rule.fired >= 5  # replies really were lost after the server committed
    assert await queue_ids(db) == sorted(reported)
    # extra ran once per committed add: a re-sent add found its key and did not run it again
    sides = [r["task_id"] for r in await db.select("SELECT task_id FROM side_rows")]
    assert sorted(extra_calls) == sorted(sides) == sorted(reported[500:])


def lose_every_answer(proxy: PgProxy) -> None:
    """Drop the COMMIT reply of the next add, then the reply of every re-send that would find
    its key (``INSERT 0 0``: the key is there already; the first send inserts it)."""
    proxy.drop_reply("COMMIT")
    proxy.drop_reply("INSERT 0 0", count=None, sql_contains="harmony_task_adds")


async def test_an_add_whose_outcome_cannot_be_known_says_so(
    db: DB, proxied: DB, proxy: PgProxy
) -> None:
    lose_every_answer(proxy)
    calls: list[int] = []

    async def extra(task_id: int, tx: Tx) -> bool:
        calls.append(task_id)
        return True

    with pytest.raises(AddOutcomeUnknown):
        await add_task(proxied, "adder", extra, added_by=0)
    assert await queue_ids(db) == calls  # it did commit, once; nobody could say so


async def test_the_cli_says_may_have_been_added_when_it_cannot_know(
    db: DB, proxy: PgProxy, pg_url: str
) -> None:
    lose_every_answer(proxy)
    argv = harmony_argv(db, "task", "add", "noop", "--count", "100")
    argv[argv.index("--db") + 1] = proxy.url(pg_url)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd="/",
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    output = out.decode() + err.decode()
    assert proc.returncode != 0, output
    assert "may have been added: check `harmony task list`" in output, output
    assert "Traceback" not in output
    assert len(await queue_ids(db)) == 100


async def test_add_keys_older_than_any_retry_go_with_later_adds(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_task_adds (add_key, added_at) "
        "SELECT 'old-' || n, now() - interval '2 hours' FROM generate_series(1, 10) n"
    )
    await db.exec("INSERT INTO harmony_task_adds (add_key) VALUES ('recent')")
    await add_tasks(db, "noop", 1)  # takes its own key and prunes up to 8 old ones
    assert await db.query_value("SELECT count(*) FROM harmony_task_adds") == 1 + 2 + 1
    await add_tasks(db, "noop", 1)
    keys = [r["add_key"] for r in await db.select("SELECT add_key FROM harmony_task_adds")]
    assert len(keys) == 3 and "recent" in keys and not any(k.startswith("old-") for k in keys)
