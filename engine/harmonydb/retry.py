"""One retry policy for every call: bounded attempts, exponential backoff, full jitter.

Curio retries 40001 in some calls and not others, some without bound, and never 40P01 or lost
connections, so the same transient error fails one call and hangs another. Here a single policy
covers serialization failures, deadlocks and lost connections for every entry point; a
transaction is re-run as a whole. A lost connection is retried only where the work provably did
not commit; where it may have (:class:`AmbiguousCommit`) the caller decides.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import (
    RETRYABLE_SQLSTATES,
    AmbiguousCommit,
    ConnectionLost,
    HarmonyDBError,
    RetriesExhausted,
    TimedOut,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and delays for retryable failures.

    With the defaults the worst case sleeps about 6 s in total, long enough to ride out a
    PostgreSQL restart or a YugabyteDB leader change, short enough that a caller hears of a
    real outage quickly.
    """

    attempts: int = 10
    base_delay: float = 0.005
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)] spreads out retry herds."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(0, ceiling)


DEFAULT_POLICY = RetryPolicy()

T = TypeVar("T")


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE behind an asyncpg or HarmonyDB error, if any."""
    if isinstance(exc, HarmonyDBError):
        return exc.sqlstate
    return getattr(exc, "sqlstate", None)


def is_retryable(exc: BaseException) -> bool:
    """Serialization failure, deadlock, server shutdown, or a lost connection whose work
    provably did not commit.

    Only HarmonyDB's own typed errors qualify: the DB layer translates asyncpg and socket errors
    where it calls the driver, so an ``OSError`` raised by a caller's own code inside a
    transaction closure is never mistaken for a lost connection and re-run. Never retried:
    :class:`AmbiguousCommit` (the work may have committed: a re-run could apply it twice) and
    :class:`TimedOut` (a re-run would wait the whole bound again).
    """
    if isinstance(exc, AmbiguousCommit | TimedOut):
        return False
    if isinstance(exc, ConnectionLost):
        return True
    return isinstance(exc, HarmonyDBError) and exc.sqlstate in RETRYABLE_SQLSTATES


async def run_with_retry(
    work: Callable[[], Awaitable[T]],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    what: str = "database call",
) -> T:
    """Run ``work`` until it succeeds, fails with a non-retryable error, or attempts run out."""
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        try:
            return await work()
        except BaseException as exc:
            if not is_retryable(exc):
                raise
            last = exc
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    assert last is not None
    state = sqlstate_of(last)
    raise RetriesExhausted(
        f"{what} failed {policy.attempts} times; last error: {type(last).__name__}"
        f"{f' (SQLSTATE {state})' if state else ''}: {last}",
        sqlstate=state,
        attempts=policy.attempts,
    ) from last
