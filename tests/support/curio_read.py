"""Reading a Curio-shaped test schema (:mod:`support.curio_schema`) the way the console does:
a read-only session, one repeatable-read transaction per section, as the owner or as a role
that may only SELECT; and an owner connection for rows a test adds to the seed."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import asyncpg

from engine.harmonydb import DB, Tx, parse_url
from engine.snapshot.timing import TimedTx, Timing

from .curio_schema import CurioCluster

__all__ = ["owner", "read_with", "seeded_at", "select_only"]

T = TypeVar("T")


@contextlib.asynccontextmanager
async def owner(cluster: CurioCluster) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection as the schema's owner (to change rows the way Curio would)."""
    conn = await asyncpg.connect(parse_url(cluster.url).dsn)
    try:
        await conn.execute(f'SET search_path = "{cluster.schema}"')
        yield conn
    finally:
        await conn.close()


async def seeded_at(cluster: CurioCluster) -> datetime:
    """The instant the seed was written: its transaction's now(), which every pipeline row took
    as its create_time."""
    async with owner(cluster) as conn:
        created: datetime = await conn.fetchval("SELECT min(create_time) FROM sectors_sdr_pipeline")
    return created


@contextlib.asynccontextmanager
async def select_only(cluster: CurioCluster) -> AsyncIterator[str]:
    """The URL of a login role with USAGE on the schema and SELECT on its tables, nothing else."""
    role, password = f"harmony_ro_{secrets.token_hex(4)}", secrets.token_hex(8)
    admin = await asyncpg.connect(parse_url(cluster.url).dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await admin.execute(f'GRANT USAGE ON SCHEMA "{cluster.schema}" TO {role}')
        await admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{cluster.schema}" TO {role}')
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        host_part = parse_url(cluster.url).dsn.split("@", 1)[-1]
        yield f"postgresql://{role}:{password}@{host_part}"
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def read_with(
    cluster: CurioCluster, read: Callable[[TimedTx], Awaitable[T]], *, url: str | None = None
) -> tuple[T, Timing]:
    """``read`` in one read-only repeatable-read transaction (as the reader runs a section), as
    the owner or as ``url``'s role; with the statements it ran."""
    db = await DB.open(url or cluster.url, schema=cluster.schema, migrate=False, read_only=True)
    timing = Timing()
    try:

        async def run(tx: Tx) -> T:
            return await read(timing.wrap(tx))

        return await db.transaction(run, isolation="repeatable_read"), timing
    finally:
        await db.close()
