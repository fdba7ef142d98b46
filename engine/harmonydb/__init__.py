"""HarmonyDB: schema-managed, retrying, leak-free access to PostgreSQL and YugabyteDB.

Public API::

    db = await connect(url_or_None, data_dir=...)   # embedded server when url is None
    await db.exec(sql, *args) -> rows affected
    await db.select(sql, *args, into=Dataclass) -> list
    await db.query_row(sql, *args, into=...) -> row | None
    async with db.iterate(sql, *args) as rows: async for row in rows: ...
    await db.transaction(fn)        # fn(tx) -> T, commits only on `await tx.commit()`

A foreign cluster (a Curio schema: ``db.cluster_kind`` is ``ClusterKind.CURIO``) is never
migrated and every session to it is read-only (see cluster_kind.py).

A lost connection is retried only where nothing can have committed; a COMMIT or autocommit
write whose reply was lost raises AmbiguousCommit (a ConnectionLost), a frozen link TimedOut
within ``Bounds.reply_timeout`` (see db.py's docstring for exactly what is retried).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .bounds import DEFAULT_BOUNDS, Bounds
from .cluster_kind import ClusterKind, ForeignCluster, classify, curio_ledger
from .config import DatabaseURL, parse_url, redact_url
from .db import DB, Iteration, Tx
from .embedded import EmbeddedPostgres, default_data_dir, install_sigterm_exit, start_embedded
from .errors import (
    AmbiguousCommit,
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectionLost,
    DatabaseMissingError,
    EmbeddedServerError,
    HarmonyDBError,
    ITestSchemaRefused,
    MigrationError,
    QueryError,
    ReadOnlyError,
    RetriesExhausted,
    TimedOut,
    TransactionMisuse,
    UniqueViolation,
)
from .itest import itest_db, new_itest_id
from .migrations import MigrationStatus, load_migrations, migrate, migration_status
from .retry import RetryPolicy

__all__ = [
    "DB",
    "DEFAULT_BOUNDS",
    "AmbiguousCommit",
    "AuthenticationError",
    "Bounds",
    "ClusterKind",
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "DatabaseMissingError",
    "DatabaseURL",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "ForeignCluster",
    "HarmonyDBError",
    "ITestSchemaRefused",
    "Iteration",
    "MigrationError",
    "MigrationStatus",
    "QueryError",
    "ReadOnlyError",
    "RetriesExhausted",
    "RetryPolicy",
    "TimedOut",
    "TransactionMisuse",
    "Tx",
    "UniqueViolation",
    "classify",
    "connect",
    "curio_ledger",
    "default_data_dir",
    "install_sigterm_exit",
    "itest_db",
    "load_migrations",
    "migrate",
    "migration_status",
    "new_itest_id",
    "parse_url",
    "redact_url",
    "start_embedded",
]


async def connect(
    url: str | None = None, *, data_dir: Path | None = None, **open_kwargs: Any
) -> DB:
    """Open the cluster database: ``url`` if given, else the embedded server in ``data_dir``.

    The embedded server is started (or attached to) in a thread, so the event loop keeps
    running; this process stays registered with it until exit.
    """
    embedded: EmbeddedPostgres | None = None
    if url is None:
        embedded = await asyncio.to_thread(start_embedded, data_dir)
        url = embedded.uri
    db = await DB.open(url, **open_kwargs)
    db.embedded = embedded
    return db
