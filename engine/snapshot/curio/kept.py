"""A figure one refresh read and the next ones reuse while it is fresh.

Curio's schema has no incremental form for its costliest figures (the day's task totals, the
failed and stuck sectors, sector counts per deadline and per path): each is a scan, and each
moves far slower than the console refreshes. One rule for all of them: re-read when ``max_age``
seconds passed on the caller's clock (or it stepped back), or when what the figure was read
for (its ``key``: the miners, a limit, a threshold) changed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["Kept"]

T = TypeVar("T")


@dataclass
class Kept(Generic[T]):
    max_age: float
    key: Hashable = None
    read_at: datetime | None = None
    value: T | None = None

    def fresh(self, key: Hashable, now: datetime) -> bool:
        """The kept value may stand for a read of ``key`` at ``now``."""
        return (
            self.read_at is not None
            and key == self.key
            and 0 <= (now - self.read_at).total_seconds() < self.max_age
        )

    def keep(self, key: Hashable, now: datetime, value: T) -> T:
        self.key, self.read_at, self.value = key, now, value
        return value
