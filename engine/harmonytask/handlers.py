"""A registered task type as the engine keeps it: the type, its static details, its limiters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .task import Limiter, TaskType, TaskTypeDetails, accepts_everything

__all__ = ["Handler", "build_handlers"]


@dataclass
class Handler:
    """A registered task type and its per-machine limiters."""

    task: TaskType
    details: TaskTypeDetails
    #: the type's own (``details.max``; maybe shared with other types)
    limiter: Limiter
    #: keeps the default ``can_accept``: claimed by type, without looking at candidates first
    accepts_all: bool
    #: monotonic time of the last IAmBored call; None before the first
    last_bored: float | None = None
    #: the operator's cap on this machine (``--max-tasks``), counted beside ``limiter``
    cap: Limiter | None = None

    @property
    def name(self) -> str:
        return self.details.name

    @property
    def limiters(self) -> tuple[Limiter, ...]:
        return (self.limiter,) if self.cap is None else (self.limiter, self.cap)

    def headroom(self) -> int:
        """How many more of this type may start here: the tighter of its limiters."""
        return min(limiter.headroom() for limiter in self.limiters)


def build_handlers(
    tasks: Sequence[TaskType], max_tasks: Mapping[str, int] | None = None
) -> dict[str, Handler]:
    """One handler per task type, by name; a name registered twice is an error. ``max_tasks``
    caps types on this machine (entries for types not registered are ignored)."""
    handlers: dict[str, Handler] = {}
    caps = max_tasks or {}
    for task in tasks:
        details = task.type_details()
        if details.name in handlers:
            raise ValueError(f"task type {details.name!r} registered twice")
        limiter = details.max if isinstance(details.max, Limiter) else Limiter(details.max)
        cap = Limiter(caps[details.name]) if details.name in caps else None
        handlers[details.name] = Handler(task, details, limiter, accepts_everything(task), cap=cap)
    return handlers
