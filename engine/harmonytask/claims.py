"""Adding, claiming and releasing tasks: the statements that make claims unique.

Every claim is **one statement**: a CTE that picks rows with ``FOR UPDATE SKIP LOCKED`` and an
UPDATE that sets the owner and bumps ``attempt``, the fencing token every later write of that
attempt is checked against. One statement means no window between "this row is free" and "it is
mine" for another machine to slip into, and no transaction held open across a round trip; the
locked subquery is a CTE because a ``SKIP LOCKED`` subquery inlined into the UPDATE may be
re-evaluated and lock more rows than it returns. YugabyteDB retries a transaction's first
statement transparently on a conflict, so a single-statement claim is also the shape that never
surfaces a serialization error there. A claim also
checks that the claiming machine's session is current, so a machine that was declared dead can
never take work it would then hold forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.harmonydb import DB, Tx, UniqueViolation

from .task import ExtraFn, TaskID


@dataclass(frozen=True)
class Claimed:
    """A task this machine now owns, for attempt number ``attempt``."""

    id: TaskID
    name: str
    attempt: int
    priority: int
    posted_time: datetime
    retries: int
    claimed_at: datetime


CLAIM_BY_TYPE = """
WITH lim AS (
    SELECT * FROM unnest($3::text[], $4::int[]) AS l(name, n)
), picked AS (
    SELECT c.id
      FROM lim
      CROSS JOIN LATERAL (
          SELECT t.id FROM harmony_task t
           WHERE t.name = lim.name AND t.owner_id IS NULL AND t.failed_at IS NULL
             AND (t.retry_after IS NULL OR t.retry_after <= now())
           ORDER BY t.priority DESC, t.posted_time, t.id
           LIMIT lim.n
             FOR UPDATE SKIP LOCKED
      ) c
     WHERE EXISTS (SELECT 1 FROM harmony_machines m WHERE m.id = $1 AND m.session = $2)
)
UPDATE harmony_task t
   SET owner_id = $1, attempt = t.attempt + 1, claimed_at = now(), update_time = now()
  FROM picked
 WHERE t.id = picked.id AND t.owner_id IS NULL
RETURNING t.id, t.name, t.attempt, t.priority, t.posted_time, t.retries, t.claimed_at
"""

CLAIM_IDS = """
WITH picked AS (
    SELECT t.id
      FROM harmony_task t
      JOIN unnest($3::bigint[]) WITH ORDINALITY AS x(id, ord) ON x.id = t.id
     WHERE t.owner_id IS NULL AND t.failed_at IS NULL
       AND (t.retry_after IS NULL OR t.retry_after <= now())
       AND EXISTS (SELECT 1 FROM harmony_machines m WHERE m.id = $1 AND m.session = $2)
     ORDER BY x.ord
     LIMIT $4
       FOR UPDATE OF t SKIP LOCKED
)
UPDATE harmony_task t
   SET owner_id = $1, attempt = t.attempt + 1, claimed_at = now(), update_time = now()
  FROM picked
 WHERE t.id = picked.id AND t.owner_id IS NULL
RETURNING t.id, t.name, t.attempt, t.priority, t.posted_time, t.retries, t.claimed_at
"""

PEEK = """
SELECT id FROM harmony_task
 WHERE name = $1 AND owner_id IS NULL AND failed_at IS NULL
   AND (retry_after IS NULL OR retry_after <= now())
 ORDER BY priority DESC, posted_time, id
 LIMIT $2
"""

RELEASE = """
UPDATE harmony_task
   SET owner_id = NULL, claimed_at = NULL, update_time = now(),
       retry_after = CASE WHEN $4::float8 > 0 THEN now() + make_interval(secs => $4) END
 WHERE id = $1 AND owner_id = $2 AND attempt = $3
"""

OLDEST_PENDING = """
SELECT name, min(posted_time) AS oldest
  FROM harmony_task
 WHERE name = ANY($1::text[]) AND owner_id IS NULL AND failed_at IS NULL
   AND (retry_after IS NULL OR retry_after <= now())
 GROUP BY name
"""


async def claim_by_type(
    db: DB, machine_id: int, session: str, limits: dict[str, int]
) -> list[Claimed]:
    """Claim up to ``limits[name]`` pending tasks of each type, best first, in one statement."""
    names = list(limits)
    return await db.select(
        CLAIM_BY_TYPE, machine_id, session, names, [limits[n] for n in names], into=Claimed
    )


async def peek(db: DB, name: str, limit: int) -> list[TaskID]:
    """Pending ids of one type, best first, without locking: candidates for ``can_accept``."""
    return [r["id"] for r in await db.select(PEEK, name, limit)]


async def claim_ids(
    db: DB, machine_id: int, session: str, ids: list[TaskID], limit: int
) -> list[Claimed]:
    """Claim the given ids (in that order of preference) that are still pending."""
    return await db.select(CLAIM_IDS, machine_id, session, ids, limit, into=Claimed)


async def release(
    db: DB, task_id: TaskID, machine_id: int, attempt: int, back_off: float = 0.0
) -> bool:
    """Give a claimed task back without counting a failure (e.g. it does not fit after all).
    Fenced: a no-op if this attempt no longer owns the task."""
    return await db.exec(RELEASE, task_id, machine_id, attempt, back_off) == 1


async def oldest_pending(db: DB, names: list[str]) -> dict[str, datetime]:
    rows = await db.select(OLDEST_PENDING, names)
    return {r["name"]: r["oldest"] for r in rows}


async def add_task(
    db: DB,
    name: str,
    extra: ExtraFn | None,
    *,
    added_by: int,
    priority: int = 0,
) -> TaskID | None:
    """Insert a task and its domain rows in one transaction, with one wake-up for listeners.

    ``extra(task_id, tx)`` returning False drops the task; a unique violation inside it means
    the work was already added (the de-duplication convention of Curio's adders) and returns
    None rather than raising.
    """

    async def insert(tx: Tx) -> TaskID | None:
        task_id: TaskID = await tx.query_value(
            "INSERT INTO harmony_task (name, added_by, posted_time, priority) "
            "VALUES ($1, $2, now(), $3) RETURNING id",
            name,
            added_by,
            priority,
        )
        if extra is not None:
            try:
                if not await extra(task_id, tx):
                    return None
            except UniqueViolation:
                return None
        tx.notify("task", name)
        await tx.commit()
        return task_id

    return await db.transaction(insert)
