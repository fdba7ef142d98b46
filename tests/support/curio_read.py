"""Reading a Curio-shaped test schema (:mod:`support.curio_schema`) the way the console does:
a read-only session, one repeatable-read transaction per section, as the owner or as a role
that may only SELECT; and an owner connection for rows a test adds to the seed."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from engine.harmonydb import DB, Tx, parse_url
from engine.snapshot.timing import TimedTx, Timing

from .curio_schema import CurioCluster

__all__ = [
    "ROLES",
    "connect_as",
    "curio_session",
    "owner",
    "owner_exec",
    "read_with",
    "seeded_at",
    "select_only",
]

T = TypeVar("T")

#: who a test connects as: the schema's owner, or a role that may only SELECT (:func:`connect_as`)
ROLES = ("owner", "select-only role")


@contextlib.asynccontextmanager
async def owner(cluster: CurioCluster) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection as the schema's owner (to change rows the way Curio would)."""
    conn = await asyncpg.connect(parse_url(cluster.url).dsn)
    try:
        await conn.execute(f'SET search_path = "{cluster.schema}"')
        yield conn
    finally:
        await conn.close()


async def owner_exec(cluster: CurioCluster, *statements: tuple[Any, ...]) -> None:
    """Run ``(sql, *args)`` statements in the Curio schema as its owner, in one transaction."""
    async with owner(cluster) as conn, conn.transaction():
        for sql, *args in statements:
            await conn.execute(sql, *args)


async def seeded_at(cluster: CurioCluster) -> datetime:
    """The instant the seed was written: its transaction's now(), which every pipeline row took
    as its create_time (and 20 s after seal-1's last beat)."""
    async with owner(cluster) as conn:
        created: datetime = await conn.fetchval("SELECT min(create_time) FROM sectors_sdr_pipeline")
    return created


@contextlib.asynccontextmanager
async def select_only(
    cluster: CurioCluster, *, unreadable: tuple[str, ...] = ()
) -> AsyncIterator[str]:
    """The URL of a login role with USAGE on the schema and SELECT on its tables, nothing else
    (and not even SELECT on the ``unreadable`` tables); dropped afterwards."""
    role, password = f"harmony_ro_{secrets.token_hex(4)}", secrets.token_hex(8)
    admin = await asyncpg.connect(parse_url(cluster.url).dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await admin.execute(f'GRANT USAGE ON SCHEMA "{cluster.schema}" TO {role}')
        await admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{cluster.schema}" TO {role}')
        for table in unreadable:
            # identifiers from the test's own constants
            await admin.execute(f'REVOKE SELECT ON "{cluster.schema}"."{table}" FROM {role}')
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        host_part = parse_url(cluster.url).dsn.split("@", 1)[-1]
        yield f"postgresql://{role}:{password}@{host_part}"
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


@contextlib.asynccontextmanager
async def connect_as(cluster: CurioCluster, role: str) -> AsyncIterator[str]:
    """The URL to connect with as one of :data:`ROLES` (for a fixture parametrized by them)."""
    if role == "owner":
        yield cluster.url
        return
    assert role == "select-only role", role
    async with select_only(cluster) as url:
        yield url


@contextlib.asynccontextmanager
async def curio_session(
    cluster: CurioCluster, *, url: str | None = None, read_only: bool = False
) -> AsyncIterator[DB]:
    """harmony's DB on the Curio schema, as the owner or as ``url``'s role: foreign (so
    read-only at the server unless an operator's action asks), and ``read_only`` as
    ``--read-only`` makes it."""
    db = await DB.open(
        url or cluster.url, schema=cluster.schema, migrate=False, read_only=read_only
    )
    try:
        yield db
    finally:
        await db.close()


async def read_with(
    cluster: CurioCluster, read: Callable[[TimedTx], Awaitable[T]], *, url: str | None = None
) -> tuple[T, Timing]:
    """``read`` in one read-only repeatable-read transaction (as the reader runs a section), as
    the owner or as ``url``'s role; with the statements it ran."""
    timing = Timing()

    async def run(tx: Tx) -> T:
        return await read(timing.wrap(tx))

    async with curio_session(cluster, url=url, read_only=True) as db:
        return await db.transaction(run, isolation="repeatable_read"), timing
