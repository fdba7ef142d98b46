"""HarmonyDB: the one way the cluster talks to PostgreSQL or YugabyteDB.

Design points, each a lesson from Curio's harmonydb (which retries only 40001, differently per
call and sometimes without bound, and guards transactions with a stack-scanning heuristic):

* Every call borrows a pooled connection for exactly as long as it needs it; cursors and
  transactions are scoped by ``async with`` or a closure, so nothing leaks on errors or cancels.
* One retry policy (:mod:`.retry`) for 40001, 40P01 and lost connections, on every entry point;
  a transaction closure is re-run as a whole. Exactly what is retried after a lost connection:

  - a transaction (closure or statements) that had not sent COMMIT: re-run as a whole;
  - an autocommit call (``exec``/``select``/``query_row``/``query_value``) that is read-only
    (:func:`.ambiguity.is_read_only`), or declared ``idempotent=True``, or that the server
    aborted with 57P01/57P02/57P03, or whose connection was closed before it was sent;
  - opening or taking a pooled connection (nothing was sent yet).

  Never retried: a COMMIT, or an autocommit write, that was in flight when the connection was
  lost or timed out. The server may have committed it, so a re-send could apply it twice: it
  raises :class:`AmbiguousCommit` (a :class:`ConnectionLost`) at once, for the caller to resend
  an idempotent write or to report "may have happened". Nor a :class:`TimedOut` call: the link
  is frozen, and a retry would only wait the whole bound again.
* Every wait is bounded (:mod:`.bounds`): a server-side ``statement_timeout``, a client-side
  reply timeout a little above it, TCP keepalive and ``TCP_USER_TIMEOUT``, connect and
  pool-acquire timeouts, a bounded close. A connection that timed out, was lost or whose call
  was cancelled is dropped, never handed out again half-read.
* A ``ContextVar`` marks "inside a transaction": a non-transaction call made there would run on a
  different connection, outside the transaction, so it raises :class:`TransactionMisuse`.
* SQL text is typed ``LiteralString``: a type checker rejects SQL assembled from runtime strings,
  so values travel only as parameters.
* A foreign cluster (a Curio schema, :mod:`.cluster_kind`) is recognised at open: it is never
  migrated (``migrate=True`` raises :class:`ForeignCluster` before anything is written), and
  every connection to it, pooled or LISTEN, starts with ``default_transaction_read_only`` on, so
  a write anywhere in the code is refused by the server. The one way to write is an explicit
  ``begin(read_write=True)`` (an operator's action), refused in a ``read_only`` session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, LiteralString, TypeVar, overload
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from .ambiguity import after_loss, ambiguous
from .bounds import DEFAULT_BOUNDS, Bounds, configure_connection
from .cluster_kind import ClusterKind, ForeignCluster, classify
from .config import DatabaseURL, check_schema_name, parse_url
from .errors import (
    INVALID_AUTHORIZATION,
    INVALID_CATALOG_NAME,
    INVALID_PASSWORD,
    READ_ONLY_TRANSACTION,
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectionLost,
    DatabaseMissingError,
    HarmonyDBError,
    ITestSchemaRefused,
    QueryError,
    ReadOnlyError,
    TimedOut,
    TransactionMisuse,
)
from .passfile import password_for
from .retry import DEFAULT_POLICY, RetryPolicy, run_with_retry
from .rows import convert
from .translate import translated

log = logging.getLogger(__name__)

T = TypeVar("T")
Args = tuple[Any, ...]

_current_tx: ContextVar[Tx | None] = ContextVar("harmonydb_current_tx", default=None)

ITEST_SCHEMA_PREFIX = "itest_"


def _rows_affected(status: str) -> int:
    """asyncpg returns the command tag ("UPDATE 3", "INSERT 0 1"); the last number is the count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class DB:
    """A pool of connections to one schema, with typed, retried, leak-free calls.

    Create with :meth:`DB.open` (or :func:`engine.harmonydb.connect`, which also starts the
    embedded server when no URL is configured). Close with :meth:`close`.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        url: DatabaseURL,
        schema: str,
        retry: RetryPolicy,
        read_only: bool,
        server_version: str,
        bounds: Bounds = DEFAULT_BOUNDS,
        cluster_kind: ClusterKind = ClusterKind.OURS,
    ) -> None:
        self._pool = pool
        self.bounds = bounds
        self.url = url
        self.schema = schema
        self.retry_policy = retry
        #: the session was opened read-only on request (``--read-only``): not even an explicit
        #: read-write transaction is allowed
        self.read_only = read_only
        #: whose schema this is, read at open (:mod:`.cluster_kind`)
        self.cluster_kind = cluster_kind
        self.server_version = server_version
        self.is_yugabyte = "-YB-" in server_version
        self._notify_supported: bool | None = None
        self._default_timezone: str | None = None
        self._closed = False
        self.on_close: list[Callable[[], Any]] = []
        #: the embedded server handle when this DB runs on one (set by ``connect``)
        self.embedded: Any = None
        #: statements sent through this DB (retries included), for benchmarks and diagnostics
        self.statements = 0

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        schema: str = "harmony",
        migrate: bool = True,
        read_only: bool = False,
        application_name: str = "harmony",
        min_size: int = 1,
        max_size: int = 10,
        retry: RetryPolicy = DEFAULT_POLICY,
        connect_timeout: float | None = None,
        create_schema: bool = True,
        bounds: Bounds = DEFAULT_BOUNDS,
        statement_timeout: float | None = None,
    ) -> DB:
        """Open a pool, make sure the schema exists, and apply pending migrations.

        ``bounds`` (or just ``statement_timeout`` / ``connect_timeout``) limit every wait; see
        :class:`Bounds`. Raises :class:`ConnectError` subclasses with one-line, password-free
        messages.

        A foreign (Curio) schema is never migrated: with ``migrate`` (and not ``read_only``)
        this raises :class:`ForeignCluster`, having sent nothing but catalog reads; without, the
        DB opens with every session read-only (``cluster_kind`` says which kind it found).
        """
        parsed = parse_url(url)
        check_schema_name(schema)
        if statement_timeout is not None:
            bounds = bounds.with_statement_timeout(statement_timeout)
        if connect_timeout is not None:
            bounds = replace(bounds, connect_timeout=connect_timeout)
        settings = {
            **bounds.server_settings(),
            "search_path": schema,
            "application_name": application_name[:63],
            "timezone": "UTC",
        }
        if read_only:
            settings["default_transaction_read_only"] = "on"
        if create_schema and not read_only:
            await _ensure_schema(parsed, schema, bounds)

        pool, version, kind = await _open_pool(
            parsed, schema, settings, bounds, min_size=min_size, max_size=max_size
        )
        if kind.foreign and not read_only:
            # The pool's sessions were opened read-write and have only read the catalog: close
            # them before anything else is sent, and open read-only ones instead.
            await pool.close()
            if migrate:
                raise ForeignCluster(schema)
            settings["default_transaction_read_only"] = "on"
            pool, version, kind = await _open_pool(
                parsed, schema, settings, bounds, min_size=min_size, max_size=max_size
            )
        db = cls(
            pool,
            url=parsed,
            schema=schema,
            retry=retry,
            read_only=read_only,
            server_version=str(version),
            bounds=bounds,
            cluster_kind=kind,
        )
        try:
            # Probed once here, never from inside a transaction: a commit that needed a second
            # pooled connection to find out would deadlock a one-connection pool.
            db._notify_supported = await db._probe_notify()
        except BaseException:
            await pool.close()
            raise
        if migrate and not read_only and not kind.foreign:
            from .migrations import migrate as apply_migrations

            try:
                await apply_migrations(db)
            except BaseException:
                await db.close()
                raise
        return db

    @property
    def foreign(self) -> bool:
        """A foreign (Curio) cluster: every session is read-only (see :meth:`open`)."""
        return self.cluster_kind.foreign

    async def close(self) -> None:
        """Close every pooled connection, within the reply bound (a frozen link cannot hold a
        shutdown: what does not close in time is terminated). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for hook in self.on_close:
            result = hook()
            if asyncio.iscoroutine(result):
                await result
        try:
            await asyncio.wait_for(self._pool.close(), self.bounds.reply_timeout)
        except TimeoutError:
            log.warning(
                "database connections did not close within %.0fs; terminated",
                self.bounds.reply_timeout,
            )
            self._pool.terminate()

    async def delete_all(self) -> None:
        """Drop this test database's schema and close the pool (ITestID teardown).

        Refuses any schema not named ``itest_…``: a test fixture pointed at a real cluster must
        not be able to destroy it.
        """
        if not self.schema.startswith(ITEST_SCHEMA_PREFIX) or len(self.schema) <= len(
            ITEST_SCHEMA_PREFIX
        ):
            raise ITestSchemaRefused(
                f"refusing to drop schema {self.schema!r}: not an itest_ schema"
            )
        await self.close()
        conn = await _raw_connect(self.url, self.bounds)
        try:
            with translated():
                # identifier validated by check_schema_name + prefix check above
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await conn.close()

    # ------------------------------------------------------------------ plain calls

    async def exec(
        self,
        sql: LiteralString,
        *args: Any,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> int:
        """Run one statement in autocommit mode; return the number of rows affected.

        Every plain call takes these two keywords: ``idempotent`` says whether sending the
        statement twice does no harm (None: only if it is read-only, see the module docstring),
        which decides whether a lost connection is retried or raises :class:`AmbiguousCommit`;
        ``reply_timeout`` bounds this call's wait for its reply (default: the DB's reply bound).
        """
        self._guard("exec")

        async def work() -> int:
            self.statements += 1
            async with self._acquire() as conn:
                with _in_flight(sql, idempotent):
                    status = await conn.execute(sql, *args, timeout=reply_timeout)
            return _rows_affected(status)

        return await run_with_retry(work, self.retry_policy, what="exec")

    @overload
    async def select(
        self,
        sql: LiteralString,
        *args: Any,
        into: type[T],
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> list[T]: ...
    @overload
    async def select(
        self,
        sql: LiteralString,
        *args: Any,
        into: None = None,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> list[dict[str, Any]]: ...
    async def select(
        self,
        sql: LiteralString,
        *args: Any,
        into: type[Any] | None = None,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> list[Any]:
        """All rows, as ``into`` dataclasses (matched by column name) or as dicts."""
        self._guard("select")

        async def work() -> list[Any]:
            self.statements += 1
            async with self._acquire() as conn:
                with _in_flight(sql, idempotent):
                    records = await conn.fetch(sql, *args, timeout=reply_timeout)
            return [convert(r, into) for r in records]

        return await run_with_retry(work, self.retry_policy, what="select")

    @overload
    async def query_row(
        self,
        sql: LiteralString,
        *args: Any,
        into: type[T],
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> T | None: ...
    @overload
    async def query_row(
        self,
        sql: LiteralString,
        *args: Any,
        into: None = None,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> dict[str, Any] | None: ...
    async def query_row(
        self,
        sql: LiteralString,
        *args: Any,
        into: type[Any] | None = None,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> Any:
        """The first row or None."""
        self._guard("query_row")

        async def work() -> Any:
            self.statements += 1
            async with self._acquire() as conn:
                with _in_flight(sql, idempotent):
                    record = await conn.fetchrow(sql, *args, timeout=reply_timeout)
            return None if record is None else convert(record, into)

        return await run_with_retry(work, self.retry_policy, what="query_row")

    async def query_value(
        self,
        sql: LiteralString,
        *args: Any,
        idempotent: bool | None = None,
        reply_timeout: float | None = None,
    ) -> Any:
        """The first column of the first row, or None."""
        self._guard("query_value")

        async def work() -> Any:
            self.statements += 1
            async with self._acquire() as conn:
                with _in_flight(sql, idempotent):
                    return await conn.fetchval(sql, *args, timeout=reply_timeout)

        return await run_with_retry(work, self.retry_policy, what="query_value")

    def iterate(
        self, sql: LiteralString, *args: Any, into: type[Any] | None = None, prefetch: int = 500
    ) -> Iteration:
        """Stream rows through a server-side cursor without loading them all.

        Use as ``async with db.iterate(sql) as rows: async for row in rows: ...``: leaving the
        block, by exhaustion, ``break`` or an exception, closes the cursor, ends its read-only
        transaction and returns the connection.
        """
        self._guard("iterate")
        return Iteration(self, sql, args, into, prefetch, tx=None)

    # ------------------------------------------------------------------ transactions

    async def transaction(
        self,
        fn: Callable[[Tx], Awaitable[T]],
        *,
        retry: bool = True,
        isolation: str | None = None,
        read_write: bool = False,
    ) -> T:
        """Run ``fn(tx)`` in a transaction and return its result.

        The transaction commits only if ``fn`` calls ``await tx.commit()``; returning without
        it, or raising, rolls back. BEGIN is sent lazily with the first statement, which keeps
        transactions short and serialization conflicts rare. With ``retry`` (the default) the
        whole closure re-runs on 40001, 40P01 or a connection lost before COMMIT, so ``fn`` must
        not have side effects outside the database that cannot be repeated. A connection lost
        during COMMIT raises :class:`AmbiguousCommit`, never re-runs ``fn``.

        ``read_write`` makes it an explicit read-write transaction (see :meth:`begin`).
        """
        self._guard("transaction")

        async def attempt() -> T:
            async with self.begin(isolation=isolation, read_write=read_write) as tx:
                return await fn(tx)

        if not retry:
            return await attempt()
        return await run_with_retry(attempt, self.retry_policy, what="transaction")

    @contextlib.asynccontextmanager
    async def begin(
        self, *, isolation: str | None = None, read_write: bool = False
    ) -> AsyncIterator[Tx]:
        """A transaction as a block, not retried: ``async with db.begin() as tx: …``.

        As with :meth:`transaction`, only an explicit ``await tx.commit()`` commits.

        ``read_write`` starts it with ``SET TRANSACTION READ WRITE``: on a foreign cluster, whose
        sessions are read-only, that is the only way to write, kept for an operator's confirmed
        action. A session opened ``read_only`` refuses it (:class:`ReadOnlyError`) before
        anything is sent.
        """
        self._guard("begin")
        if read_write and self.read_only:
            raise ReadOnlyError(
                f"schema {self.schema!r} was opened read-only: no read-write transaction",
                sqlstate=READ_ONLY_TRANSACTION,
            )
        tx = Tx(self, isolation, read_write=read_write)
        token = _current_tx.set(tx)
        try:
            yield tx
        finally:
            _current_tx.reset(token)
            await tx.finish()

    # ------------------------------------------------------------------ notifications

    def channel(self, name: str) -> str:
        """The server-wide channel name for ``name`` in this schema.

        NOTIFY channels are per database, not per schema: prefixing the schema keeps test
        schemas (and separate clusters sharing a database) from waking each other.
        """
        full = f"{self.schema}__{name}"
        if len(full) > 63 or not full.replace("_", "a").isalnum():
            raise ConfigError(f"bad channel name {name!r}")
        return full

    async def notify_supported(self) -> bool:
        """Whether this server delivers LISTEN/NOTIFY (PostgreSQL yes; YugabyteDB only when
        ``yb_enable_listen_notify`` is on). Probed once per DB."""
        if self._notify_supported is None:
            self._notify_supported = await self._probe_notify()
        return self._notify_supported

    async def _probe_notify(self) -> bool:
        async with self._acquire() as conn:
            if self.is_yugabyte:
                flag = await conn.fetchval(
                    "SELECT current_setting('yb_enable_listen_notify', true)"
                )
                if str(flag).lower() not in ("on", "true"):
                    return False
            try:
                await conn.execute("LISTEN harmony_probe; UNLISTEN harmony_probe")
            except asyncpg.exceptions.PostgresError as exc:
                # 0A000 on YugabyteDB without the flag; a standby or a pooler in transaction
                # mode refuses differently. Any refusal means: poll instead.
                log.info(
                    "server refuses LISTEN (%s, SQLSTATE %s): polling for work", exc, exc.sqlstate
                )
                return False
        return True

    async def notify(self, name: str, payload: str = "") -> None:
        """Send a wake-up hint outside a transaction; a no-op where NOTIFY is unsupported."""
        self._guard("notify")
        if not await self.notify_supported():
            return
        # a wake-up sent twice wakes listeners twice: harmless, so a lost one is re-sent
        await self.exec("SELECT pg_notify($1, $2)", self.channel(name), payload, idempotent=True)

    async def default_timezone(self) -> str:
        """The time zone a session gets when it names none (the server's, the database's or
        the role's ``TimeZone``): the zone another system's sessions, Curio's among them,
        read and write wall-clock times in. harmony's own sessions ask for UTC, so a
        connection of its own asks, once per DB."""
        if self._default_timezone is None:
            conn = await _raw_connect(self.url, self.bounds, timezone=None, read_only=True)
            try:
                with translated():
                    self._default_timezone = str(await conn.fetchval("SHOW TimeZone"))
            finally:
                await conn.close()
        return self._default_timezone

    async def listen_connection(self) -> asyncpg.Connection:
        """A dedicated connection (not from the pool) for LISTEN; the caller closes it."""
        return await _raw_connect(
            self.url, self.bounds, search_path=self.schema, read_only=self.read_only or self.foreign
        )

    # ------------------------------------------------------------------ internals

    def _guard(self, what: str) -> None:
        if self._closed:
            raise TransactionMisuse(f"{what} called on a closed DB")
        current = _current_tx.get()
        if current is not None and current._db is self:
            raise TransactionMisuse(
                f"cannot use a non-transaction call ({what}) inside a transaction: use the tx"
            )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection held for the block, for what the statement API cannot say: a
        script of many statements (``conn.execute(sql)`` without arguments uses the simple
        query protocol), DDL, a transaction of its own around them. Migrations use it.

        Nothing here is retried and asyncpg's errors come through untranslated: application
        queries belong in :meth:`exec`, :meth:`select` and :meth:`transaction`.
        """
        self._guard("connection")
        async with self._acquire() as conn:
            try:
                yield conn
            finally:
                await _restore_session(conn, self.bounds.reply_timeout)

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await self._take()
        try:
            yield conn
        except BaseException as exc:
            if isinstance(exc, ConnectionLost | asyncio.CancelledError):
                # Its state is unknown (a reply may still be on the way, a cancel request
                # pending): asyncpg would wait for that on release, up to the whole bound
                # again on a frozen link. A new connection is cheaper than that wait.
                _drop(conn)
            raise
        finally:
            await _give_back(self._pool, conn)

    async def _take(self) -> asyncpg.Connection:
        """A pooled connection, within the reply bound (all of them may be stuck in calls)."""
        try:
            with translated():
                return await self._pool.acquire(timeout=self.bounds.reply_timeout)
        except TimedOut:
            bounds = self.bounds
            raise TimedOut(
                "no database connection free or opened in time (connect bound "
                f"{bounds.connect_timeout:g}s, wait for a free one {bounds.reply_timeout:g}s)"
            ) from None

    @property
    def pool_size(self) -> int:
        return self._pool.get_size()


class Tx:
    """An open transaction. Statements run on one connection; BEGIN goes out with the first."""

    def __init__(self, db: DB, isolation: str | None, *, read_write: bool = False) -> None:
        self._db = db
        self._isolation = isolation
        self._read_write = read_write
        self._conn: asyncpg.Connection | None = None
        self._transaction: Any = None
        self._done = False
        self._committed = False
        self._broken = False
        self._notifications: dict[str, str] = {}
        self.statements = 0

    @property
    def committed(self) -> bool:
        return self._committed

    @property
    def holds_connection(self) -> bool:
        """False until the first statement: BEGIN (and the connection) are taken lazily."""
        return self._conn is not None

    async def _connection(self) -> asyncpg.Connection:
        if self._done:
            raise TransactionMisuse("transaction already finished")
        if self._conn is None:
            self._conn = await self._db._take()
            with self._watch():
                self._transaction = self._conn.transaction(isolation=self._isolation)
                await self._transaction.start()
                if self._read_write:
                    # first in the transaction, as PostgreSQL requires; overrides the
                    # session's default_transaction_read_only for this transaction only
                    await self._conn.execute("SET TRANSACTION READ WRITE")
        self.statements += 1
        self._db.statements += 1
        return self._conn

    @contextlib.contextmanager
    def _watch(self) -> Iterator[None]:
        """Translate driver errors; a lost or cancelled connection is marked broken, so ending
        the transaction drops it instead of waiting on a rollback that cannot arrive."""
        try:
            with translated():
                yield
        except (ConnectionLost, asyncio.CancelledError):
            self._broken = True
            raise

    async def exec(self, sql: LiteralString, *args: Any) -> int:
        conn = await self._connection()
        with self._watch():
            return _rows_affected(await conn.execute(sql, *args))

    async def select(
        self, sql: LiteralString, *args: Any, into: type[Any] | None = None
    ) -> list[Any]:
        conn = await self._connection()
        with self._watch():
            records = await conn.fetch(sql, *args)
        return [convert(r, into) for r in records]

    async def query_row(self, sql: LiteralString, *args: Any, into: type[Any] | None = None) -> Any:
        conn = await self._connection()
        with self._watch():
            record = await conn.fetchrow(sql, *args)
        return None if record is None else convert(record, into)

    async def query_value(self, sql: LiteralString, *args: Any) -> Any:
        conn = await self._connection()
        with self._watch():
            return await conn.fetchval(sql, *args)

    def iterate(
        self, sql: LiteralString, *args: Any, into: type[Any] | None = None, prefetch: int = 500
    ) -> Iteration:
        """A server-side cursor inside this transaction (closed when its block ends)."""
        return Iteration(self._db, sql, args, into, prefetch, tx=self)

    def notify(self, name: str, payload: str = "") -> None:
        """Queue one NOTIFY per channel, sent just before COMMIT and only if the commit happens.

        However many rows a transaction adds, listeners get one wake-up: NOTIFY takes a global
        lock at commit, so one per row would serialise busy writers.
        """
        self._notifications[name] = payload

    async def commit(self) -> None:
        """Commit now. Statements after this raise :class:`TransactionMisuse`.

        A connection lost (or a reply timed out) while COMMIT was in flight raises
        :class:`AmbiguousCommit`: the transaction may have committed or not. A serialization
        failure or deadlock reported at COMMIT is a rollback, raised as such (and retried by
        :meth:`DB.transaction`).
        """
        if self._done:
            raise TransactionMisuse("transaction already finished")
        if self._conn is not None:
            with self._watch():
                if self._notifications and await self._db.notify_supported():
                    for name, payload in self._notifications.items():
                        await self._conn.execute(
                            "SELECT pg_notify($1, $2)", self._db.channel(name), payload
                        )
            try:
                with self._watch():
                    await self._transaction.commit()
            except ConnectionLost as exc:
                await self._release()
                raise ambiguous(exc, "COMMIT") from exc
        self._committed = True
        await self._release()

    async def rollback(self) -> None:
        """Roll back now (also what happens when the block ends without :meth:`commit`)."""
        if self._done:
            return
        if self._conn is not None and not self._broken:
            with contextlib.suppress(Exception):
                await self._transaction.rollback()
        await self._release()

    async def finish(self) -> None:
        if not self._done:
            await self.rollback()

    async def _release(self) -> None:
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._broken:
                _drop(conn)
            await _give_back(self._db._pool, conn)


class Iteration:
    """Rows from a server-side cursor; an async context manager and async iterator."""

    def __init__(
        self,
        db: DB,
        sql: LiteralString,
        args: Args,
        into: type[Any] | None,
        prefetch: int,
        tx: Tx | None,
    ) -> None:
        self._db, self._sql, self._args, self._into = db, sql, args, into
        self._prefetch, self._tx = prefetch, tx
        self._stack = contextlib.AsyncExitStack()
        self._cursor: Any = None
        self._iter: Any = None

    async def __aenter__(self) -> Iteration:
        try:
            if self._tx is not None:
                conn = await self._tx._connection()
            else:
                conn = await self._stack.enter_async_context(self._db._acquire())
                transaction = conn.transaction(readonly=True)
                with translated():
                    await transaction.start()
                self._stack.push_async_callback(_rollback_quietly, transaction)
            with translated():
                self._cursor = conn.cursor(self._sql, *self._args, prefetch=self._prefetch)
                self._iter = self._cursor.__aiter__()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        # the block's error reaches the connection's context: a lost one is dropped, not reused
        await self._stack.__aexit__(*exc)

    def __aiter__(self) -> Iteration:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            raise TransactionMisuse(
                "iterate() must be used as `async with db.iterate(...) as rows`"
            )
        with translated():
            record = await self._iter.__anext__()
        return convert(record, self._into)


def _session_attrs(url: DatabaseURL, settings: dict[str, str]) -> dict[str, str]:
    """``target_session_attrs=primary`` for a read-only session whose URL asks for
    ``read-write``: asyncpg judges "read-write" by the session's ``default_transaction_read_only``,
    which a read-only session (``--read-only``, a Curio cluster) sets itself, so it would refuse
    every host of a failover URL. What the URL means, the server that takes writes, is the
    primary (not in hot standby)."""
    if settings.get("default_transaction_read_only") != "on":
        return {}
    query = dict(parse_qsl(urlsplit(url.dsn).query))
    wanted = query.get("target_session_attrs") or os.environ.get("PGTARGETSESSIONATTRS")
    return {"target_session_attrs": "primary"} if wanted == "read-write" else {}


def _passfile_password(url: DatabaseURL) -> dict[str, str]:
    """``password=`` for asyncpg when the passfile holds one (read with libpq's escapes)."""
    password = password_for(url)
    return {} if password is None else {"password": password}


#: releases still under way after their caller was cancelled (the loop keeps only weak refs)
_releasing: set[asyncio.Future[None]] = set()


def _released(release: asyncio.Future[None]) -> None:
    _releasing.discard(release)
    if not release.cancelled():
        release.exception()  # retrieved: a failed release only means the connection closed


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection: nothing to send.

    asyncpg's default reset is a round trip at every release (``RESET ALL``, ``UNLISTEN *``,
    ``CLOSE ALL``, advisory unlocks), which doubled the cost of every plain statement: 0.14 ms
    against 0.03 for ``SELECT 1`` on a local server, and a claim's share of a task's pickup.
    Nothing the statement API or :class:`Tx` sends changes the session beyond its transaction
    (no session ``SET``, no LISTEN on pooled connections: that has its own, no advisory locks,
    no cursors outside a transaction), and asyncpg still rolls back a transaction left open
    before calling this. :meth:`DB.connection` hands out a raw connection whose block may
    change the session, so it resets the session itself before the release."""


async def _restore_session(conn: asyncpg.Connection, bound: float) -> None:
    """Undo what a raw connection's block changed in its session (migrations set
    ``statement_timeout``), as asyncpg's default release would (see :func:`_keep_session`),
    whether the block ended well or not. A connection that cannot be reset is closed: it must
    not go back to the pool with a changed session."""
    try:
        await conn.reset(timeout=bound)
    except Exception:
        _drop(conn)
    except BaseException:
        _drop(conn)
        raise


async def _give_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Return a connection to the pool, even when the caller is cancelled meanwhile.

    asyncpg shields its release from the caller's cancel, but on Python 3.11 a cancelled
    caller leaves the shielded release's failure unretrieved ("Task exception was never
    retrieved ... TimeoutError" on a frozen link). Shielding our own task around it keeps
    one waiter on it, whose outcome :func:`_released` takes."""
    release = asyncio.ensure_future(pool.release(conn))
    _releasing.add(release)
    release.add_done_callback(_released)
    with contextlib.suppress(Exception):
        await asyncio.shield(release)


def _drop(conn: asyncpg.Connection) -> None:
    """Close a connection at once (one that closed itself is already back in the pool)."""
    with contextlib.suppress(asyncpg.exceptions.InterfaceError):
        conn.terminate()


@contextlib.contextmanager
def _in_flight(sql: str, idempotent: bool | None) -> Iterator[None]:
    """Translate driver errors of an autocommit call; a lost write becomes AmbiguousCommit."""
    try:
        with translated():
            yield
    except ConnectionLost as exc:
        new = after_loss(exc, sql, idempotent=idempotent)
        if new is exc:
            raise
        raise new from exc


async def _rollback_quietly(transaction: Any) -> None:
    with contextlib.suppress(Exception):
        await transaction.rollback()


async def _open_pool(
    url: DatabaseURL,
    schema: str,
    settings: dict[str, str],
    bounds: Bounds,
    *,
    min_size: int,
    max_size: int,
) -> tuple[asyncpg.Pool, str, ClusterKind]:
    """A pool with ``settings`` on every session; the server's version and the schema's kind,
    read on its first connection. Raises :class:`ConfigError` when the schema does not exist."""

    async def init(conn: asyncpg.Connection) -> None:
        configure_connection(conn, bounds)

    try:
        pool = await asyncpg.create_pool(
            url.dsn,
            **_passfile_password(url),
            **_session_attrs(url, settings),
            min_size=min_size,
            max_size=max_size,
            timeout=bounds.connect_timeout,
            command_timeout=bounds.reply_timeout,
            server_settings=settings,
            init=init,
            reset=_keep_session,
        )
    except BaseException as exc:
        raise _connect_error(exc, url) from None
    try:
        # Translated like every other call: a link cut here (even while the connection goes
        # back to the pool) is a ConnectionLost the caller may retry, not a driver error.
        with translated():
            async with pool.acquire() as conn:
                version = await conn.fetchval("SELECT version()")
                exists = await conn.fetchval(
                    "SELECT 1 FROM pg_namespace WHERE nspname = $1", schema
                )
                kind = await classify(conn, schema)
    except BaseException:
        pool.terminate()  # close() would wait for the broken connection's reply
        raise
    if not exists:
        await pool.close()
        raise ConfigError(f"schema {schema!r} does not exist in {url.redacted}")
    return pool, str(version), kind


async def _raw_connect(
    url: DatabaseURL,
    bounds: Bounds,
    *,
    search_path: str | None = None,
    read_only: bool = False,
    timezone: str | None = "UTC",
) -> asyncpg.Connection:
    """A connection outside the pool, with the same bounds (a LISTEN connection idles for
    hours: keepalive is what finds it dead); ``timezone`` None leaves the session's zone to the
    server's settings."""
    settings = bounds.server_settings()
    if timezone is not None:
        settings["timezone"] = timezone
    if search_path:
        settings["search_path"] = search_path
    if read_only:
        settings["default_transaction_read_only"] = "on"
    try:
        conn = await asyncpg.connect(
            url.dsn,
            **_passfile_password(url),
            **_session_attrs(url, settings),
            timeout=bounds.connect_timeout,
            command_timeout=bounds.reply_timeout,
            server_settings=settings,
        )
    except BaseException as exc:
        raise _connect_error(exc, url) from None
    configure_connection(conn, bounds)
    return conn


async def _ensure_schema(url: DatabaseURL, schema: str, bounds: Bounds) -> None:
    """CREATE SCHEMA IF NOT EXISTS, tolerating a role that may not create but finds it there."""
    conn = await _raw_connect(url, bounds)
    try:
        with translated():  # a cut link is a ConnectionLost, as for every other call
            exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
            try:
                if not exists:  # identifier validated by check_schema_name
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            except asyncpg.exceptions.UniqueViolationError:
                pass  # a concurrent CREATE SCHEMA won the race: the schema exists, the goal
            except asyncpg.exceptions.PostgresError as exc:
                raise QueryError(
                    f"cannot create schema {schema!r}: {exc}", sqlstate=exc.sqlstate
                ) from None
    except BaseException:
        _drop(conn)  # close() would wait for a broken link's goodbye
        raise
    else:
        with contextlib.suppress(Exception):
            await conn.close(timeout=bounds.reply_timeout)


def _connect_error(exc: BaseException, url: DatabaseURL) -> BaseException:
    """One-line errors for the ways a connection fails, without any part of the credentials:
    not the password, not the user name (server messages that name the role are scrubbed)."""
    if isinstance(exc, HarmonyDBError | asyncio.CancelledError | KeyboardInterrupt):
        return exc
    where = ", ".join(url.hosts)
    state = getattr(exc, "sqlstate", None)
    text = url.scrub(str(exc))
    if state == INVALID_PASSWORD:
        return AuthenticationError(f"password authentication failed at {where}", sqlstate=state)
    if state == INVALID_AUTHORIZATION:
        return AuthenticationError(f"access refused at {where}: {text}", sqlstate=state)
    if state == INVALID_CATALOG_NAME:
        return DatabaseMissingError(
            f"database {url.database!r} does not exist on {where}", sqlstate=state
        )
    if isinstance(exc, asyncpg.exceptions.PostgresError):
        return ConnectError(f"cannot connect to {where}: {text}", sqlstate=state)
    if isinstance(exc, TimeoutError):
        return ConnectError(f"cannot reach PostgreSQL at {where}: timed out")
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot reach PostgreSQL at {where}: unknown host")
    if isinstance(exc, OSError):
        reason = (os.strerror(exc.errno) if exc.errno else None) or text or type(exc).__name__
        return ConnectError(f"cannot reach PostgreSQL at {where}: {reason}")
    if isinstance(exc, asyncpg.exceptions.InterfaceError | ValueError):
        return ConfigError(f"unusable database URL {url.redacted!r}: {text}")
    return ConnectError(f"cannot connect to {where}: {type(exc).__name__}: {text}")


def application_name() -> str:
    """Default application name: program and pid, so pg_stat_activity tells processes apart."""
    return f"harmony:{os.getpid()}"
