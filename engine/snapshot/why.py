"""Why tasks wait, on whichever cluster the database is: ours (:mod:`.waits`) or a Curio one
(:mod:`.curio.waits`, Curio's rules). The CLI and the console's task and sector views ask here,
so each prints the same line for the same task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .curio.waits import explain_curio_tasks
from .waits import SECTOR_TASKS, Wait, explain_tasks

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["sector_why", "why_waiting"]


async def why_waiting(db: DB, task_ids: Sequence[int]) -> dict[int, Wait]:
    """Every id of ``task_ids`` answered (see :func:`.waits.explain_tasks`)."""
    if db.foreign:
        return await explain_curio_tasks(db, task_ids)
    return await explain_tasks(db, task_ids)


async def sector_why(db: DB, sp_id: int, sector: int) -> list[Wait]:
    """Why the sector's stage tasks that are not running wait (its ``task_id_*`` columns, in
    ``sectors_sdr_pipeline`` on either kind of cluster)."""
    row = await db.query_row(SECTOR_TASKS, sp_id, sector)
    if row is None:
        return []
    ids = sorted({int(v) for v in row.values() if v is not None})
    return [w for w in (await why_waiting(db, ids)).values() if w.waiting]
