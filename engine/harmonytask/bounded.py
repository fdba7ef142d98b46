"""Waiting on database work with a bound that holds even when the database does not answer.

A database whose traffic is frozen (a partition that drops packets, a stalled proxy, a paused
server) leaves a statement waiting forever: no error, no reply. Worse, cancelling it is not
enough: the driver then tries to cancel on the server (a new connection, frozen too) and returning
the connection to its pool waits for that. So a bound here gives the work ``seconds`` on the
engine's clock, cancels it, waits a short moment more for it to end, and then goes on without it:
a stuck coroutine is abandoned (it ends when the process does), never awaited forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from engine.clock import Clock

__all__ = ["ABANDON_AFTER", "Unfinished", "bounded"]

T = TypeVar("T")

#: Real seconds a cancelled piece of work may take to end before it is left behind.
ABANDON_AFTER = 1.0


class Unfinished(TimeoutError):
    """The work did not finish within its bound (it was cancelled, perhaps left running)."""


async def bounded(clock: Clock, seconds: float, work: Awaitable[T]) -> T:
    """``await work`` for at most ``seconds`` on ``clock``; raise :class:`Unfinished` after.

    The work's own exceptions propagate unchanged.
    """
    job = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((job, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not job.done():
            job.cancel()
            # Give it a moment to end cleanly; a driver stuck cancelling on a frozen server is
            # left behind (retrieving its result later keeps asyncio quiet about it).
            await asyncio.wait((job,), timeout=ABANDON_AFTER)
            job.add_done_callback(_consume)
    if job.cancelled() or not job.done():
        raise Unfinished(f"no answer within {seconds:.3g}s")
    return job.result()


def _consume(job: asyncio.Future[object]) -> None:
    if not job.cancelled():
        job.exception()
