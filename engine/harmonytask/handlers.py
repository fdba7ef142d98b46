"""A registered task type as the engine keeps it: the type, its static details, its limiter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .task import Limiter, TaskType, TaskTypeDetails, accepts_everything

__all__ = ["Handler", "build_handlers"]


@dataclass
class Handler:
    """A registered task type and its per-machine limiter."""

    task: TaskType
    details: TaskTypeDetails
    limiter: Limiter
    #: keeps the default ``can_accept``: claimed by type, without looking at candidates first
    accepts_all: bool
    #: monotonic time of the last IAmBored call; None before the first
    last_bored: float | None = None

    @property
    def name(self) -> str:
        return self.details.name


def build_handlers(tasks: Sequence[TaskType]) -> dict[str, Handler]:
    """One handler per task type, by name; a name registered twice is an error."""
    handlers: dict[str, Handler] = {}
    for task in tasks:
        details = task.type_details()
        if details.name in handlers:
            raise ValueError(f"task type {details.name!r} registered twice")
        limiter = details.max if isinstance(details.max, Limiter) else Limiter(details.max)
        handlers[details.name] = Handler(task, details, limiter, accepts_everything(task))
    return handlers
