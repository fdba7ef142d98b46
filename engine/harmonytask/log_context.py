"""The task an asyncio task is running, for log records: ``task id`` and ``type``.

The runner sets it at the start of each attempt's own asyncio task (whose context is a copy,
so it ends with the attempt and never leaks into the engine's loops); a log formatter reads it
(``--log-format json`` writes ``task_id`` and ``task_type``). The engine knows nothing of how
logs are written.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["TaskRef", "current_task", "enter_task"]


@dataclass(frozen=True)
class TaskRef:
    id: int
    type: str


_CURRENT: ContextVar[TaskRef | None] = ContextVar("harmony_task", default=None)


def enter_task(task_id: int, task_type: str) -> None:
    """From here on in this asyncio task (and those it starts), records carry this task."""
    _CURRENT.set(TaskRef(task_id, task_type))


def current_task() -> TaskRef | None:
    return _CURRENT.get()
