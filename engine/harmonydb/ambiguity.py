"""When a lost connection leaves the outcome of a write unknown.

A reply can be lost after the server committed (a dropped packet, a frozen link, a client
timeout). Re-sending such a write is the classic way to do something twice: a claim takes a
second batch while the first stays owned by a machine that never heard of it; an add adds
twice. So the DB layer retries a lost call only when the work provably did not commit:

* the statement was never sent (the pool could not connect, or the connection was already
  closed when the call began);
* the server itself said it aborted the statement (SQLSTATE 57P01/57P02/57P03: it is shutting
  down; it sends that error instead of a result, so nothing of the statement committed);
* the statement was read-only (:func:`is_read_only`), or inside a transaction block that had not
  reached COMMIT (the server rolls an unfinished transaction back when its connection dies);
* the caller declared the statement idempotent (``idempotent=True``).

Everything else, a COMMIT in flight or an autocommit write in flight, is
:class:`AmbiguousCommit`.
"""

from __future__ import annotations

import re

import asyncpg

from .errors import AmbiguousCommit, ConnectionLost, TimedOut

#: the server's own word that it aborted the statement because it is going away
SERVER_ABORTED = frozenset({"57P01", "57P02", "57P03"})

_COMMENTS_AND_LITERALS = re.compile(
    r"--[^\n]*|/\*.*?\*/|\$([A-Za-z_]*)\$.*?\$\1\$|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.S
)
_ROW_LOCKS = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.I)
_WRITES = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|MERGE|COPY|CALL|NOTIFY|nextval|setval|pg_notify)\b", re.I
)
_READ_VERBS = frozenset({"SELECT", "WITH", "VALUES", "SHOW", "TABLE", "EXPLAIN"})


def is_read_only(sql: str) -> bool:
    """Whether an autocommit statement is safe to send twice: a query that changes nothing.

    Conservative by construction: comments and literals are removed first, and any word that
    may write (INSERT, UPDATE, DELETE, MERGE, COPY, CALL, NOTIFY, nextval, setval, pg_notify)
    makes it a write, so a mistake costs a retry, never a double write. A function with side
    effects called from a SELECT is the one thing this cannot see: its caller passes
    ``idempotent=False``.
    """
    text = _ROW_LOCKS.sub(" ", _COMMENTS_AND_LITERALS.sub(" ", sql))
    words = text.replace("(", " ").split(None, 1)
    if not words or words[0].upper() not in _READ_VERBS:
        return False
    return _WRITES.search(text) is None


def never_sent(exc: BaseException) -> bool:
    """The driver refused the call before sending anything: its connection was already closed."""
    cause = exc.__cause__
    return isinstance(cause, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(
        cause
    )


def server_aborted(exc: ConnectionLost) -> bool:
    return exc.sqlstate in SERVER_ABORTED and not isinstance(exc, TimedOut)


def ambiguous(exc: ConnectionLost, what: str) -> AmbiguousCommit:
    """The error to raise instead of ``exc`` when ``what`` (a COMMIT, a write) may have
    committed."""
    timed_out = isinstance(exc, TimedOut)
    how = "no reply came within the bound" if timed_out else "the connection was lost"
    return AmbiguousCommit(
        f"{how} while {what} was in flight: it may have committed or not ({exc})",
        sqlstate=exc.sqlstate,
        timed_out=timed_out,
    )


def after_loss(exc: ConnectionLost, sql: str, *, idempotent: bool | None) -> ConnectionLost:
    """The error an autocommit call raises after losing its connection mid-call."""
    if isinstance(exc, AmbiguousCommit) or never_sent(exc) or server_aborted(exc):
        return exc
    safe = is_read_only(sql) if idempotent is None else idempotent
    if safe:
        return exc
    return ambiguous(exc, "a write")
