"""The self-check: tasks this machine owns in the database but is not running.

Liveness is per machine, so a task owned by a live, heartbeating machine is never taken back by
its peers. If the machine itself lost track of it, nobody runs it until the machine restarts:
a claim whose reply was lost (the server committed, the client retried and never saw the first
batch), a claim that raced a peer's reap, an outcome write that gave up on an unreachable
database. Every few heartbeats the machine compares the tasks its id owns with the attempts it
runs, and gives back the difference, fenced by attempt, with a ``released`` history row.

The caller runs it while no claim cycle is in progress (the scheduler's ``exclusive``): between
a claim statement and the attempt occupying its slot, a task is legitimately owned and not yet
running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .outcomes import Outcome, record_returned

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from .task import TaskID

log = logging.getLogger(__name__)

__all__ = ["REASON", "release_strays"]

OWNED_HERE = "SELECT id, attempt FROM harmony_task WHERE owner_id = $1"

REASON = "released: owned by a live machine that was not running it (self-check)"


async def release_strays(
    db: DB, machine_id: int, host_and_port: str, running: Mapping[TaskID, int]
) -> list[TaskID]:
    """Give back every task ``machine_id`` owns whose attempt is not in ``running`` (task id to
    the attempt running here). Returns the ids given back."""
    rows = await db.select(OWNED_HERE, machine_id)
    released: list[TaskID] = []
    for row in rows:
        task_id, attempt = row["id"], row["attempt"]
        if running.get(task_id) == attempt:
            continue
        if await record_returned(
            db, task_id, machine_id, attempt, REASON, Outcome.RELEASED, host_and_port
        ):
            released.append(task_id)
    if released:
        log.warning(
            "self-check: %d task(s) owned by this machine were not running here; returned them "
            "to the queue: %s",
            len(released),
            ", ".join(map(str, released[:20])),
        )
    return released
