"""Counters of what one engine did, for benchmarks and tests (not persisted anywhere)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

__all__ = ["Stats", "Tally"]


class Tally(enum.StrEnum):
    #: claim statements sent
    CLAIMS = "claims"
    #: tasks those statements claimed
    CLAIMED = "claimed"
    #: completions recorded
    DONE = "done"
    #: failed attempts (recorded or not)
    FAILED = "failed"
    #: results discarded because another machine owned the task by then
    FENCED = "fenced"
    #: self-check statements sent (skipped while the machine provably owns nothing)
    SELF_CHECKS = "self_checks"


@dataclass
class Stats:
    claims: int = 0
    claimed: int = 0
    done: int = 0
    failed: int = 0
    fenced: int = 0
    self_checks: int = 0

    def count(self, tally: Tally, n: int = 1) -> None:
        setattr(self, tally.value, getattr(self, tally.value) + n)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
