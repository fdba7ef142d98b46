"""A Curio schema is recognised at connect and can never be changed through a DB: it is not
migrated (nothing at all is written: a pg_dump of it is byte-identical), every session to it is
read-only at the server, and only an explicit read-write transaction, refused in a read-only
session, can write."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from engine.harmonydb import (
    DB,
    ClusterKind,
    ForeignCluster,
    ReadOnlyError,
    Tx,
    classify,
    curio_ledger,
    migrate,
    parse_url,
)
from support.curio_schema import CURIO_MIGRATIONS, CurioCluster
from support.schema_dump import SchemaDump, dump_schema, pg_dump_for, server_major


@contextlib.asynccontextmanager
async def owner(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(parse_url(url).dsn)
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_schema(url: str, *ddl: str) -> AsyncIterator[str]:
    """An ``itest_`` schema holding ``ddl`` (run with it as search_path), dropped afterwards."""
    schema = f"itest_{secrets.token_hex(5)}"
    async with owner(url) as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path = "{schema}"')
        for statement in ddl:
            await conn.execute(statement)
    try:
        yield schema
    finally:
        async with owner(url) as conn:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def kind_of(url: str, schema: str) -> ClusterKind:
    async with owner(url) as conn:
        return await classify(conn, schema)


async def setting(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SHOW default_transaction_read_only"))


# --------------------------------------------------------------------------- classification


async def test_kinds_ours_curio_and_empty(db: DB, curio_db: CurioCluster, pg_url: str) -> None:
    assert await kind_of(pg_url, db.schema) is ClusterKind.OURS
    assert await kind_of(pg_url, curio_db.schema) is ClusterKind.CURIO
    assert await kind_of(pg_url, "itest_no_such_schema") is ClusterKind.EMPTY
    async with scratch_schema(pg_url) as empty:
        assert await kind_of(pg_url, empty) is ClusterKind.EMPTY
    assert db.cluster_kind is ClusterKind.OURS and not db.foreign


async def test_a_curio_schema_carrying_our_ledger_is_still_curio(
    curio_db: CurioCluster, pg_url: str
) -> None:
    """Harmony before this check created its ledger in any schema it was pointed at, then
    failed on Curio's tables: such a leftover must not make the schema look like ours."""
    async with owner(pg_url) as conn:
        await conn.execute(
            f'CREATE TABLE "{curio_db.schema}".harmony_schema_migrations (filename TEXT)'
        )
    assert await kind_of(pg_url, curio_db.schema) is ClusterKind.CURIO


async def test_a_table_merely_named_base_is_not_curio(pg_url: str) -> None:
    async with scratch_schema(pg_url, "CREATE TABLE base (id INT, name TEXT)") as schema:
        assert await kind_of(pg_url, schema) is ClusterKind.EMPTY


# --------------------------------------------------------------------------- never migrated


Dumper = Callable[[str], Awaitable[SchemaDump]]


@pytest.fixture
async def dumper(pg_url: str) -> Dumper:
    """``await dumper(schema)``: its structure and data, as pg_dump writes them."""
    pg_dump = pg_dump_for(await server_major(pg_url))
    if pg_dump is None:
        pytest.skip("no pg_dump as new as the server is installed")

    async def dump(schema: str) -> SchemaDump:
        return await dump_schema(pg_url, schema, pg_dump)

    return dump


async def test_open_with_migrate_refuses_and_writes_nothing(
    curio_db: CurioCluster, dumper: Dumper, pg_url: str
) -> None:
    before = await dumper(curio_db.schema)
    with pytest.raises(ForeignCluster, match="is a Curio cluster"):
        await DB.open(pg_url, schema=curio_db.schema)  # migrate=True is the default
    with pytest.raises(ForeignCluster):
        await DB.open(pg_url, schema=curio_db.schema, create_schema=True, migrate=True)
    after = await dumper(curio_db.schema)
    assert after == before
    assert "harmony_schema_migrations" not in after.structure


async def test_migrate_refuses_a_foreign_db_opened_without_migrating(
    curio_db: CurioCluster, dumper: Dumper, pg_url: str
) -> None:
    before = await dumper(curio_db.schema)
    db = await DB.open(pg_url, schema=curio_db.schema, migrate=False)
    try:
        assert db.cluster_kind is ClusterKind.CURIO and db.foreign
        with pytest.raises(ForeignCluster):
            await migrate(db)
    finally:
        await db.close()
    assert await dumper(curio_db.schema) == before


async def test_a_read_only_foreign_open_with_migrate_simply_opens(
    curio_db: CurioCluster, pg_url: str
) -> None:
    db = await DB.open(pg_url, schema=curio_db.schema, read_only=True)
    try:
        assert db.foreign
        assert await curio_ledger(db) == [name[:8] for name in CURIO_MIGRATIONS]
    finally:
        await db.close()


# --------------------------------------------------------------------------- read-only sessions


async def test_every_session_to_a_foreign_cluster_is_read_only(
    curio_db: CurioCluster, pg_url: str
) -> None:
    db = await DB.open(pg_url, schema=curio_db.schema, migrate=False, min_size=3, max_size=3)
    try:
        async with contextlib.AsyncExitStack() as stack:
            held = [await stack.enter_async_context(db.connection()) for _ in range(3)]
            assert [await setting(conn) for conn in held] == ["on"] * 3
        # asyncpg's RESET ALL on release goes back to the session's start-up value: still on
        assert await db.query_value("SHOW default_transaction_read_only") == "on"
        listen = await db.listen_connection()
        try:
            assert await setting(listen) == "on"
        finally:
            await listen.close()
        with pytest.raises(ReadOnlyError):
            await db.exec("UPDATE harmony_machines SET unschedulable = TRUE")
        with pytest.raises(ReadOnlyError):
            await db.exec("CREATE TABLE harmony_schema_migrations (filename TEXT)")

        async def claim(tx: Tx) -> None:
            await tx.exec("UPDATE harmony_task SET owner_id = 1 WHERE owner_id IS NULL")
            await tx.commit()

        with pytest.raises(ReadOnlyError):
            await db.transaction(claim)
    finally:
        await db.close()
    assert curio_db.seed is not None
    async with owner(pg_url) as conn:
        cordoned = await conn.fetchval(
            f'SELECT count(*) FROM "{curio_db.schema}".harmony_machines WHERE unschedulable'
        )
        unowned = await conn.fetchval(
            f'SELECT count(*) FROM "{curio_db.schema}".harmony_task WHERE owner_id IS NULL'
        )
    assert (cordoned, unowned) == (1, len(curio_db.seed.pending))  # as seeded


async def test_our_own_sessions_stay_read_write(db: DB) -> None:
    assert await db.query_value("SHOW default_transaction_read_only") == "off"


async def test_an_explicit_read_write_transaction_is_the_one_way_to_write(
    curio_db: CurioCluster, pg_url: str
) -> None:
    """What an operator's confirmed action (built later) will use; nothing else can write."""
    assert curio_db.seed is not None
    machine = curio_db.seed.machines["10.0.0.11:12300"]
    db = await DB.open(pg_url, schema=curio_db.schema, migrate=False)
    try:
        async with db.begin(read_write=True) as tx:
            await tx.exec("UPDATE harmony_machines SET unschedulable = TRUE WHERE id = $1", machine)
            await tx.commit()
        assert await db.query_value(
            "SELECT unschedulable FROM harmony_machines WHERE id = $1", machine
        )
        # the session's default is untouched by it
        assert await db.query_value("SHOW default_transaction_read_only") == "on"
    finally:
        await db.close()
    read_only = await DB.open(pg_url, schema=curio_db.schema, read_only=True)
    try:
        with pytest.raises(ReadOnlyError, match="opened read-only"):
            async with read_only.begin(read_write=True):
                pass
        with pytest.raises(ReadOnlyError):
            await read_only.transaction(lambda tx: asyncio.sleep(0), read_write=True)
    finally:
        await read_only.close()


async def test_a_select_only_role_tells_a_curio_schema(curio_db: CurioCluster, pg_url: str) -> None:
    role, password = f"harmony_ro_{secrets.token_hex(4)}", secrets.token_hex(8)
    async with owner(pg_url) as conn:
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await conn.execute(f'GRANT USAGE ON SCHEMA "{curio_db.schema}" TO {role}')
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    try:
        host_part = parse_url(pg_url).dsn.split("@", 1)[-1]
        url = f"postgresql://{role}:{password}@{host_part}"
        # USAGE alone, not even SELECT on the ledger: the catalog still tells
        db = await DB.open(url, schema=curio_db.schema, migrate=False, create_schema=False)
        try:
            assert db.cluster_kind is ClusterKind.CURIO
        finally:
            await db.close()
    finally:
        async with owner(pg_url) as conn:
            await conn.execute(f"DROP OWNED BY {role}")
            await conn.execute(f"DROP ROLE {role}")
