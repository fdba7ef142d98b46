"""Chain state from a Lotus node for the Curio read model (placeholder: to be written)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChainState:
    """What Lotus said at one moment (placeholder)."""

    error: str | None = None


class ChainWatch:
    """Follows a Lotus node in the background (placeholder)."""

    def latest(self, now: datetime) -> ChainState | None:
        raise NotImplementedError

    def follow(self, miners: Iterable[int]) -> None:
        raise NotImplementedError
