"""The stock hands out each schema once, fully migrated, and leaves none behind."""

from __future__ import annotations

import asyncio

import asyncpg

from engine.harmonydb import DB
from engine.harmonydb.migrations import load_migrations, migration_status
from support.schema_stock import SchemaStock


async def schemas_named(url: str, names: set[str]) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])", list(names)
        )
    finally:
        await conn.close()
    return {r["nspname"] for r in rows}


async def test_each_schema_is_handed_out_once_migrated_and_the_rest_dropped(pg_url: str) -> None:
    stock = SchemaStock(pg_url, ahead=2)
    try:
        first, second = [await asyncio.to_thread(stock.take) for _ in range(2)]
        assert first and second and first != second
        db = await DB.open(pg_url, schema=first, migrate=False)
        try:
            status = await migration_status(db)
        finally:
            await db.delete_all()
        assert status.current and len(status.applied) == len(load_migrations())
    finally:
        await asyncio.to_thread(stock.close)
    made = stock._made
    assert made >= {first, second}
    assert await schemas_named(pg_url, made - {first}) == {second}  # taken, the test's to drop
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'DROP SCHEMA "{second}" CASCADE')
    finally:
        await conn.close()
