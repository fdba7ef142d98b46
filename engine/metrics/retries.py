"""Counting the DB layer's retries without touching it: its retry policy is asked for a delay
once before every re-run (:func:`engine.harmonydb.retry.run_with_retry`) and before every
re-send after a lost reply (:func:`engine.harmonytask.resend.resend`), so a policy that counts
those calls counts the retries, whatever the statement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from engine.harmonydb.retry import RetryPolicy

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["CountingRetryPolicy", "count_retries"]


@dataclass(frozen=True)
class CountingRetryPolicy(RetryPolicy):
    """The same attempts and delays as the policy it wraps; ``on_retry`` is called before
    each retry's wait."""

    on_retry: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        self.on_retry()
        return super().delay(attempt)


def count_retries(db: DB, on_retry: Callable[[], None]) -> None:
    """Have ``db`` call ``on_retry`` before each retry, its policy otherwise unchanged."""
    policy = db.retry_policy
    base = {f.name: getattr(policy, f.name) for f in fields(RetryPolicy)}
    db.retry_policy = CountingRetryPolicy(**base, on_retry=on_retry)
