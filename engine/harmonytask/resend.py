"""Sending a write again when its reply was lost, for writes made safe to send twice.

A reply can be lost after the server committed (a dropped connection, a frozen network). The DB
layer then cannot vouch for the write and gives up on it
(:class:`~engine.harmonydb.AmbiguousCommit`); re-sending a plain write would apply it twice. The
engine's writes that matter are built to be re-sent instead: a claim carries a token, an add a
key, an outcome write names its attempt; a re-send returns what the first send did. This module
holds the one loop that re-sends them, under the DB's own retry policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from engine.harmonydb import AmbiguousCommit

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["resend"]

T = TypeVar("T")


async def resend(
    db: DB, first: Callable[[], Awaitable[T]], again: Callable[[], Awaitable[T]] | None = None
) -> T:
    """``await first()``; when the DB layer gave up on it because the connection was lost while
    it may have committed (:class:`AmbiguousCommit`), ``await again()`` (default: ``first``)
    under the DB's retry policy until it answers. ``again`` is the form of the write that also
    recognises its own earlier commit. What the DB layer already retried to exhaustion, or a
    timeout, is raised as it is: a database that is down or a frozen link is not waited on
    twice."""
    policy = db.retry_policy
    call = first
    for attempt in range(policy.attempts):
        try:
            return await call()
        except AmbiguousCommit as exc:
            # Not after a reply that timed out: the link is frozen, and a re-send would only
            # wait the whole bound again.
            if attempt + 1 == policy.attempts or exc.timed_out:
                raise
        call = again or first
        await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")
