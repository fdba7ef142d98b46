"""The operator's changes to the cluster: cordon, uncordon, drain a machine; restart a task.

Each is one call of the engine's admin API on the actions' own pool (see
:mod:`console.connection`). :func:`perform` returns what to tell the operator, or raises
:class:`ActionFailed` with the reason; the app runs it in its one admin worker, one at a time,
with the keys that would start another greyed meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from engine.harmonydb import DB, HarmonyDBError
from engine.harmonytask import EngineError, cordon, drain, restart_task, uncordon

from .feed import one_line

__all__ = ["MACHINE_ACTIONS", "ActionFailed", "AdminAction", "MachineAction", "perform"]

MachineAction = Literal["cordon", "uncordon", "drain"]

MACHINE_ACTIONS: dict[str, Callable[[DB, int], Awaitable[None]]] = {
    "cordon": cordon,
    "uncordon": uncordon,
    "drain": drain,
}
PAST = {"cordon": "cordoned", "uncordon": "uncordoned", "drain": "draining"}


class ActionFailed(Exception):
    """The database or the engine refused; the message says why, in one line."""


@dataclass(frozen=True)
class AdminAction:
    """One change: ``kind`` is a machine action or ``"restart"`` (of a task)."""

    kind: MachineAction | Literal["restart"]
    #: a machine id, or a task id for ``restart``
    target: int
    #: how the operator knows the machine (its label); unused for tasks
    label: str = ""


async def perform(db: DB, action: AdminAction) -> str:
    """Run ``action``; what happened, for a notification."""
    try:
        if action.kind == "restart":
            name = await restart_task(db, action.target)
            return f"task {action.target} ({name}) restarted"
        await MACHINE_ACTIONS[action.kind](db, action.target)
        return f"{action.label}: {PAST[action.kind]}"
    except (HarmonyDBError, EngineError) as exc:
        what = (
            f"restart of task {action.target}"
            if action.kind == "restart"
            else f"{action.kind} {action.label}"
        )
        raise ActionFailed(f"{what} failed: {one_line(exc)}") from exc
