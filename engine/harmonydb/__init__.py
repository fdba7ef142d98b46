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

The exports load on first use (:mod:`engine.lazy`): a command that only needs an error class
or a URL parser does not import asyncpg and psutil, and the console draws its first frame
before it does.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "bounds": ["DEFAULT_BOUNDS", "Bounds"],
        "cluster_kind": ["ClusterKind", "ForeignCluster", "classify", "curio_ledger"],
        "config": ["DatabaseURL", "parse_url", "redact_url"],
        "connect": ["connect"],
        "db": ["DB", "Iteration", "Tx"],
        "embedded": [
            "EmbeddedPostgres",
            "default_data_dir",
            "install_sigterm_exit",
            "start_embedded",
        ],
        "errors": [
            "AmbiguousCommit",
            "AuthenticationError",
            "ConfigError",
            "ConnectError",
            "ConnectionLost",
            "DatabaseMissingError",
            "EmbeddedServerError",
            "HarmonyDBError",
            "ITestSchemaRefused",
            "MigrationError",
            "QueryError",
            "ReadOnlyError",
            "RetriesExhausted",
            "TimedOut",
            "TransactionMisuse",
            "UniqueViolation",
        ],
        "itest": ["itest_db", "new_itest_id"],
        "migrations": ["MigrationStatus", "load_migrations", "migrate", "migration_status"],
        "retry": ["RetryPolicy"],
    },
)
