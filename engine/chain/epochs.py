"""The epoch clock: epoch ``e`` begins at ``genesis + e * block_time``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .profiles import ChainProfile


@dataclass(frozen=True)
class EpochClock:
    genesis: datetime
    profile: ChainProfile

    def epoch_at(self, when: datetime) -> int:
        """The epoch in progress at ``when`` (negative before genesis)."""
        return math.floor((when - self.genesis).total_seconds() / self.profile.block_time)

    def time_of(self, epoch: int) -> datetime:
        """When ``epoch`` begins."""
        return self.genesis + timedelta(seconds=epoch * self.profile.block_time)
