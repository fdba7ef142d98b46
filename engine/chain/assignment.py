"""Which deadline and partition a newly activated sector goes to (builtin-actors
``deadline_assignment.rs`` and ``Deadline::add_sectors``).

Per sector, among the *mutable* deadlines (not open now and not opening within one challenge
window), the deadline that minimises, in order: partitions after compaction, partitions after
assignment, "full" (prefer a deadline whose last partition has room), then the fullest open
partition, then fewest live sectors, then the lowest index. Within the deadline the sector
fills the last partition if it has room, else opens the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .deadlines import new_deadline_info
from .profiles import ChainProfile

__all__ = ["DeadlineLoad", "assign_deadlines", "deadline_is_mutable"]


@dataclass
class DeadlineLoad:
    """Sectors already in one deadline: ``live`` (not terminated) and ``total`` (all)."""

    index: int
    live: int = 0
    total: int = 0


def deadline_is_mutable(
    profile: ChainProfile, period_start: int, deadline_idx: int, current_epoch: int
) -> bool:
    """Whether sectors may be added to a deadline now: its next occurrence opens at least one
    challenge window from now (so its PoSt never sees a sector added after its challenge)."""
    info = new_deadline_info(profile, period_start, deadline_idx, current_epoch).next_not_elapsed()
    return current_epoch < info.open - profile.wpost_challenge_window


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def assign_deadlines(
    profile: ChainProfile,
    partition_size: int,
    period_start: int,
    current_epoch: int,
    loads: dict[int, DeadlineLoad],
    count: int,
) -> list[tuple[int, int]]:
    """``(deadline, partition)`` for each of ``count`` new sectors, in order.

    ``loads`` maps deadline index to its current load (missing = empty); it is updated in place.
    """
    candidates = [
        d
        for d in range(profile.wpost_period_deadlines)
        if deadline_is_mutable(profile, period_start, d, current_epoch)
    ]
    if not candidates:
        raise ValueError("no deadline can take new sectors now")
    for d in candidates:
        loads.setdefault(d, DeadlineLoad(d))

    def key(load: DeadlineLoad) -> tuple[int, int, bool, int, int, int]:
        full = load.total % partition_size == 0
        return (
            _ceil_div(load.live + 1, partition_size),
            _ceil_div(load.total + 1, partition_size),
            full,
            0 if full else -load.total,
            load.live,
            load.index,
        )

    out = []
    for _ in range(count):
        best = min((loads[d] for d in candidates), key=key)
        out.append((best.index, best.total // partition_size))
        best.total += 1
        best.live += 1
    return out
