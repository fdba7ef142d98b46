"""The operator's changes to the cluster: the machine actions, restarting a failed task and
resuming a failed sector (:func:`engine.tasks.seal.pipeline.resume_sector`, our own cluster only:
Curio's sectors are read-only here).

Each is one call of an engine API on the actions' own pool (see :mod:`console.connection`):
on our own cluster the engine's admin API (cordon, uncordon, drain; restart a task), on a Curio
cluster :mod:`engine.curio`'s, with Curio's semantics (cordon, uncordon, request and abort a
restart; each one explicit read-write transaction on a session that is otherwise read-only).
Which of them a cluster offers, and on which machine, is :func:`console.offers.offer`'s to say,
so the panes and screens ask it instead of knowing the kinds of cluster.

:func:`perform` returns what to tell the operator, or raises :class:`ActionFailed` with the
reason; the app runs it in its one admin worker, one at a time, with the keys that would start
another greyed meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.curio import CurioActionError
from engine.curio import abort_restart as curio_abort_restart
from engine.curio import cordon as curio_cordon
from engine.curio import request_restart as curio_request_restart
from engine.curio import uncordon as curio_uncordon
from engine.harmonydb import HarmonyDBError
from engine.harmonytask import EngineError, cordon, drain, restart_task, uncordon

from .feed import one_line
from .offers import MachineAction

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["CURIO_ACTIONS", "MACHINE_ACTIONS", "ActionFailed", "AdminAction", "perform"]

#: our own cluster's machine actions (engine.harmonytask's admin API; the keys are
#: :data:`console.offers.HARMONY_MACHINE_ACTIONS`)
MACHINE_ACTIONS: dict[str, Callable[[DB, int], Awaitable[None]]] = {
    "cordon": cordon,
    "uncordon": uncordon,
    "drain": drain,
}


async def _curio_drain(db: DB, machine_id: int) -> object:
    """Curio has no drain: ``d`` cordons, and the console then shows the running tasks end."""
    return await curio_cordon(db, machine_id)


#: a Curio cluster's (engine.curio: Curio's own statements, cmd/curio/rpc and web/api/webrpc;
#: the keys are those of :data:`console.offers.CURIO_STATES`)
CURIO_ACTIONS: dict[str, Callable[[DB, int], Awaitable[object]]] = {
    "cordon": curio_cordon,
    "uncordon": curio_uncordon,
    "drain": _curio_drain,
    "request_restart": curio_request_restart,
    "abort_restart": curio_abort_restart,
}

PAST = {
    "cordon": "cordoned",
    "uncordon": "uncordoned",
    "drain": "draining",
    "request_restart": "restart requested (it exits once idle)",
    "abort_restart": "restart request withdrawn",
}
CURIO_PAST = {**PAST, "drain": "cordoned (Curio has no drain: its running tasks go on)"}


class ActionFailed(Exception):
    """The database or the engine refused; the message says why, in one line."""


@dataclass(frozen=True)
class AdminAction:
    """One change: ``kind`` is a machine action, ``"restart"`` (of a task) or ``"resume"`` (of
    a sector)."""

    kind: MachineAction | Literal["restart", "resume"]
    #: a machine id, a task id for ``restart``, a sector number for ``resume``
    target: int
    #: how the operator knows the machine or sector (its label); unused for tasks
    label: str = ""
    #: the sector's miner, for ``resume``
    sp_id: int = 0


async def perform(db: DB, action: AdminAction, *, cluster: str = "harmony") -> str:
    """Run ``action`` with the semantics of ``cluster`` (the kind ``db`` was found to be at
    connect: "harmony" or "curio"); what happened, for a notification."""
    try:
        if cluster == "curio":
            if action.kind not in CURIO_ACTIONS:
                raise ActionFailed(f"{action.kind} is not offered on a Curio cluster")
            await CURIO_ACTIONS[action.kind](db, action.target)
            return f"{action.label}: {CURIO_PAST[action.kind]}"
        if action.kind == "restart":
            name = await restart_task(db, action.target)
            return f"task {action.target} ({name}) restarted"
        if action.kind == "resume":
            return await _resume(db, action)
        if action.kind not in MACHINE_ACTIONS:
            raise ActionFailed(f"{action.kind} is a Curio action; this cluster is harmony's")
        await MACHINE_ACTIONS[action.kind](db, action.target)
        return f"{action.label}: {PAST[action.kind]}"
    except (HarmonyDBError, EngineError, CurioActionError) as exc:
        what = (
            f"restart of task {action.target}"
            if action.kind == "restart"
            else f"{action.kind.replace('_', ' ')} {action.label}"
        )
        raise ActionFailed(f"{what} failed: {one_line(exc)}") from exc


async def _resume(db: DB, action: AdminAction) -> str:
    """Resume a failed sector; the engine refuses (in its transaction) what is not safe."""
    from engine.tasks.seal.pipeline import ResumeRefused, SectorNotInPipeline, resume_sector

    try:
        resumed = await resume_sector(db, action.sp_id, action.target)
    except (ResumeRefused, SectorNotInPipeline) as exc:
        raise ActionFailed(f"resume {action.label} refused: {exc}") from exc
    return resumed.description
