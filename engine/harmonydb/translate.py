"""Where HarmonyDB calls the driver, driver errors become typed HarmonyDB errors.

Translating at the call site (not around a whole closure) is what lets the retry policy tell a
lost connection from an ``OSError`` raised by the caller's own code.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from .errors import (
    INSUFFICIENT_PRIVILEGE,
    READ_ONLY_TRANSACTION,
    UNIQUE_VIOLATION,
    ConnectionLost,
    HarmonyDBError,
    QueryError,
    ReadOnlyError,
    TimedOut,
    UniqueViolation,
)

_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})

_LOST = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
    socket.gaierror,
    TimeoutError,
    OSError,
)


def translate(exc: BaseException) -> BaseException:
    """The HarmonyDB error for a driver error; anything else is returned unchanged."""
    if isinstance(exc, HarmonyDBError):
        return exc
    if isinstance(exc, asyncpg.exceptions.PostgresError):
        state = exc.sqlstate
        server = exc.__cause__
        if state == "08003" and isinstance(server, asyncpg.exceptions.PostgresError):
            # asyncpg's "closed in the middle of operation" after the server's own FATAL error
            # (57P01: it terminated the session): the server's code says what happened.
            state = server.sqlstate or state
        message = f"{exc.__class__.__name__}: {exc}"
        if state and (state.startswith("08") or state in _SHUTDOWN_STATES):
            # class 08 = connection exception; 57P0x = the server is shutting down or restarting
            return ConnectionLost(f"connection lost: {exc}", sqlstate=state)
        if state == UNIQUE_VIOLATION:
            return UniqueViolation(message, sqlstate=state)
        if state in (READ_ONLY_TRANSACTION, INSUFFICIENT_PRIVILEGE):
            return ReadOnlyError(message, sqlstate=state)
        return QueryError(message, sqlstate=state)
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        text = str(exc)
        if "closed" in text or "lost" in text or "another operation" in text:
            return ConnectionLost(f"connection lost: {text}")
        return exc  # driver misuse (wrong argument count, bad type): a bug, not a DB condition
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # The driver's protocol state no longer matches the conversation (a reply it did not
        # expect, a connection that failed mid-message): nothing more can be trusted on this
        # connection, and whether its statement ran is unknown, as on a lost connection.
        return ConnectionLost(f"connection lost: {exc}")
    if isinstance(exc, TimeoutError):
        return TimedOut("no reply from the database within the bound: connection dropped")
    if isinstance(exc, _LOST):
        return ConnectionLost(f"connection lost: {type(exc).__name__}: {exc}")
    return exc


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise driver errors raised inside the block as HarmonyDB errors."""
    try:
        yield
    except BaseException as exc:
        new = translate(exc)
        if new is exc:
            raise
        raise new from exc
