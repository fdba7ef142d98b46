"""Periodic clean-up: task history retention and long-gone machines.

Nothing in Curio deletes history (curio #149); on a busy cluster the table only grows. Here every
engine runs a bounded clean-up every few minutes. It is idempotent and cheap when there is
nothing to do (an index range probe), so several engines doing it costs nothing extra.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from .config import EngineConfig

log = logging.getLogger(__name__)

DELETE_HISTORY = """
DELETE FROM harmony_task_history
 WHERE id IN (SELECT id FROM harmony_task_history
               WHERE work_end < now() - make_interval(secs => $1)
               LIMIT $2)
"""

#: The cluster's events (migration 20261203-02) are kept as long as task history.
DELETE_EVENTS = """
DELETE FROM cluster_events
 WHERE id IN (SELECT id FROM cluster_events
               WHERE at < now() - make_interval(secs => $1)
               LIMIT $2)
"""

FORGET_MACHINES = """
DELETE FROM harmony_machines m
 WHERE m.session IS NULL
   AND m.last_contact < now() - make_interval(secs => $1)
   AND NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.owner_id = m.id)
"""


async def housekeeping(db: DB, config: EngineConfig, *, batch: int = 10_000) -> dict[str, int]:
    """Delete expired history (in batches, so no transaction grows large) and forget machines
    that left long ago. Returns how many rows went."""
    deleted = 0
    if config.history_retention is not None:
        while True:
            n = await db.exec(DELETE_HISTORY, config.history_retention, batch)
            deleted += n
            if n < batch:
                break
        while await db.exec(DELETE_EVENTS, config.history_retention, batch) >= batch:
            pass
    forgotten = await db.exec(FORGET_MACHINES, config.forget_machines_after)
    if deleted or forgotten:
        log.info(
            "housekeeping: %d history rows past retention, %d departed machines removed",
            deleted,
            forgotten,
        )
    return {"history": deleted, "machines": forgotten}
