"""Typed database errors.

Every error keeps the SQLSTATE of the server error behind it, so callers branch on codes, never on
message text. Messages never carry credentials: connection URLs are redacted before they reach an
exception (see :func:`engine.harmonydb.config.redact_url`).
"""

from __future__ import annotations

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
UNIQUE_VIOLATION = "23505"
FEATURE_NOT_SUPPORTED = "0A000"
INVALID_PASSWORD = "28P01"
INVALID_AUTHORIZATION = "28000"
INVALID_CATALOG_NAME = "3D000"
INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"
IDLE_IN_TRANSACTION_TIMEOUT = "25P03"
ADMIN_SHUTDOWN = "57P01"
CANNOT_CONNECT_NOW = "57P03"

#: SQLSTATEs after which re-running the whole unit of work is safe and likely to succeed.
RETRYABLE_SQLSTATES = frozenset(
    {
        SERIALIZATION_FAILURE,
        DEADLOCK_DETECTED,
        IDLE_IN_TRANSACTION_TIMEOUT,
        ADMIN_SHUTDOWN,
        CANNOT_CONNECT_NOW,
        "57P02",
    }
)


class HarmonyDBError(Exception):
    """Base of every HarmonyDB error. ``sqlstate`` is None when no server error is behind it."""

    sqlstate: str | None

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ConfigError(HarmonyDBError):
    """The database configuration is unusable (malformed URL, bad schema name, ...)."""


class ConnectError(HarmonyDBError):
    """No connection could be opened (host unreachable, authentication failed, no database)."""


class AuthenticationError(ConnectError):
    """The server refused the credentials."""


class DatabaseMissingError(ConnectError):
    """The server answered but the database named in the URL does not exist."""


class EmbeddedServerError(HarmonyDBError):
    """The embedded PostgreSQL server could not be started or attached."""


class QueryError(HarmonyDBError):
    """The server rejected a statement; ``sqlstate`` says why."""


class UniqueViolation(QueryError):
    """SQLSTATE 23505. For adders it means "already added", which is not an error."""


class ReadOnlyError(QueryError):
    """A write was attempted through a read-only role or connection (25006 / 42501)."""


class ConnectionLost(HarmonyDBError):
    """The connection died during a call. Retried by the policy when that is provably safe
    (see :mod:`engine.harmonydb.db`); raised when retries run out, and at once as one of the
    subclasses below when a retry could do harm or would wait the bound out again."""


class AmbiguousCommit(ConnectionLost):
    """The connection was lost or timed out while a COMMIT, or an autocommit write statement,
    was in flight: the server may have committed it or not, and nothing on this side can know.

    Never retried by the DB layer (a retry would apply a committed write twice). A caller that
    made its write idempotent (a key or token the server recognises) may send it again; any
    other caller must report "may have happened", not "failed". ``timed_out`` says whether the
    reply was late (the link froze) rather than the connection visibly lost.
    """

    def __init__(
        self, message: str, *, sqlstate: str | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.timed_out = timed_out


class TimedOut(ConnectionLost):
    """No reply within the DB's bound (``Bounds.reply_timeout``): the link is frozen or the
    server is unreachable. The connection was dropped. Not retried: a retry would wait the
    whole bound again. A write that timed out raises :class:`AmbiguousCommit` instead."""


class RetriesExhausted(HarmonyDBError):
    """A retryable failure (40001, 40P01, lost connection) outlived the retry budget.

    ``sqlstate`` is the code of the last failure, ``attempts`` how many times the work ran.
    """

    def __init__(self, message: str, *, sqlstate: str | None, attempts: int) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.attempts = attempts


class TransactionMisuse(HarmonyDBError):
    """A non-transaction call was made inside a transaction, or a finished transaction was used.

    Calling ``db.exec`` inside ``db.transaction`` would run on another connection, outside the
    transaction, and can deadlock against it: it is always a bug, so it fails loudly.
    """


class MigrationError(HarmonyDBError):
    """A migration file is badly named, changed after it was applied, or failed to apply."""

    def __init__(
        self, message: str, *, filename: str | None = None, sqlstate: str | None = None
    ) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.filename = filename


class ITestSchemaRefused(HarmonyDBError):
    """``delete_all`` was asked to drop a schema that is not a test schema."""
