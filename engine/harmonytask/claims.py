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

A claim can be sent twice and still claim once. Its reply may be lost after the server
committed (a dropped connection, a frozen network); the DB layer then re-sends the statement,
and a plain re-send would claim a second batch while the first stays owned by this live machine,
which never heard of it and so never runs it, and nothing reclaims it (liveness is per machine).
Each claim call therefore carries a random token, written on the rows it claims; a re-send of
the call (the ``_AGAIN`` form) first looks for rows this machine already holds under that token
and, if there are any, returns them instead of claiming more. Adds are keyed the same way
(:func:`add_task`).

Only a re-send looks: the first send's token is new, so nothing can hold it yet, and the look is
not free. It reads every version of every row this machine has owned since the table was last
vacuumed (the owner index keeps them all), 0.4-0.5 ms of server time with ~5,000 of them, on
every claim, most of which find nothing to claim: it doubled the pickup latency of ``harmony
bench engine`` and cut its throughput by a fifth.

A claim never picks a task this machine still holds. A failed attempt's outcome commits (the
task is claimable again) before the attempt here has let go of its slot, when the reply of that
commit was lost and its re-send is still finding out; a claim in that window would take the task
a second time on the machine that has not finished with it. Each claim (and the peek before a
``can_accept``) names the ids the machine holds, and they are skipped: the task waits for its
next cycle, when the old attempt is gone.

The UPDATE finds the picked rows by primary key (``id = ANY(ARRAY(...))``): joined to the CTE
instead, the planner may hash-join it against a scan of the whole table once its statistics
show many tasks (a cached generic plan keeps that choice), a cost that grows with the queue.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, LiteralString, cast

from engine.harmonydb import AmbiguousCommit, HarmonyDBError, UniqueViolation

from .resend import resend

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

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
    #: seconds the task had waited when claimed (``claimed_at - posted_time``, both from the
    #: database's clock: aging never compares this machine's clock with the server's)
    waited: float = 0.0


class AddOutcomeUnknown(HarmonyDBError):
    """The connection was lost while an add's COMMIT was in flight and no re-send got an
    answer: the add may have committed or not, and nothing here can tell which. The caller
    must say so, not report a plain failure (an operator who adds again would add twice)."""


#: the columns every claim returns, as :class:`Claimed`
_RETURNING = """t.id, t.name, t.attempt, t.priority, t.posted_time, t.retries, t.claimed_at,
       extract(epoch FROM t.claimed_at - t.posted_time)::float8 AS waited"""

#: the machine check of every claim: a machine declared dead claims nothing, and neither does
#: one cordoned, draining or asked to restart (the flags its heartbeat reads: a claim that
#: starts after such a change committed takes nothing, not only the cycles after the next beat)
_LIVE = (
    "EXISTS (SELECT 1 FROM harmony_machines m WHERE m.id = $1 AND m.session = $2 "
    "AND NOT m.unschedulable AND m.restart_request IS NULL)"
)


def _again(token: str) -> str:
    """The rows an earlier send of this claim took under its ``token`` (its reply was lost)."""
    return f"""again AS (
    SELECT {_RETURNING}
      FROM harmony_task t
     WHERE t.owner_id = $1 AND t.claim_token = {token}
), """


def _take(token: str) -> str:
    """Take the picked rows under this claim's ``token``."""
    return f"""UPDATE harmony_task t
   SET owner_id = $1, attempt = t.attempt + 1, claimed_at = now(), update_time = now(),
       claim_token = {token}
 WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND t.owner_id IS NULL
RETURNING {_RETURNING}"""


def _take_again(token: str) -> str:
    """How an ``again`` form ends: what it took now and what an earlier send took (one of the
    two is empty: ``picked`` takes nothing when ``again`` found rows)."""
    return f"""), claimed AS (
{_take(token)}
)
SELECT * FROM claimed
UNION ALL
SELECT * FROM again
"""


#: nothing new is picked when ``again`` found rows
_NOT_AGAIN = "\n       AND NOT EXISTS (SELECT 1 FROM again)"


@functools.cache
def claim_by_type_sql(types: int, *, again: bool = False) -> LiteralString:
    """The claim of up to ``n`` pending tasks of each of ``types`` task types, best first, none
    of the held ``$4``, under the token ``$3``; the types and their limits are the pairs
    ``$5, $6``, ``$7, $8``, ... ``again``: the re-send after a lost reply (the rows this
    machine already holds under the token, the first send having committed, are returned as
    they are, and nothing new is claimed).

    The pairs are a VALUES list, one text per number of types, not two arrays unnested: the
    planner then knows how many types there are, so the plan it caches for the statement (a
    generic plan) costs what a plan for the values would, and PostgreSQL keeps it. With the
    arrays it estimated ten types, found every generic plan dearer than a planned one, and
    planned each claim anew: 0.13-0.16 ms of server time per claim against 0.01.
    """
    values = ", ".join(f"(${5 + 2 * i}::text, ${6 + 2 * i}::int)" for i in range(types))
    pick = f"""picked AS (
    SELECT c.id
      FROM (VALUES {values}) AS lim(name, n)
      CROSS JOIN LATERAL (
          SELECT t.id FROM harmony_task t
           WHERE t.name = lim.name AND t.owner_id IS NULL AND t.failed_at IS NULL
             AND (t.retry_after IS NULL OR t.retry_after <= now())
             AND t.id <> ALL($4::bigint[])
           ORDER BY t.priority DESC, t.posted_time, t.id
           LIMIT lim.n
             FOR UPDATE SKIP LOCKED
      ) c
     WHERE {_LIVE}"""
    if again:
        sql = f"\nWITH {_again('$3')}{pick}{_NOT_AGAIN}\n{_take_again('$3')}"
    else:
        sql = f"\nWITH {pick}\n)\n{_take('$3')}\n"
    return cast(LiteralString, sql)  # literal text and parameter numbers: nothing a caller wrote


#: up to ``$4`` of the ids ``$3`` still pending and not held (``$6``), in that order of preference
_PICK_IDS = f"""picked AS (
    SELECT t.id
      FROM harmony_task t
      JOIN unnest($3::bigint[]) WITH ORDINALITY AS x(id, ord) ON x.id = t.id
     WHERE t.owner_id IS NULL AND t.failed_at IS NULL
       AND (t.retry_after IS NULL OR t.retry_after <= now())
       AND t.id <> ALL($6::bigint[])
       AND {_LIVE}"""

_PICK_IDS_END = """
     ORDER BY x.ord
     LIMIT $4
       FOR UPDATE OF t SKIP LOCKED
"""

# A claim's first send: its token (``$5``) is new, so there is no earlier send to look for.
CLAIM_IDS = f"""
WITH {_PICK_IDS}{_PICK_IDS_END})
{_take("$5")}
"""

# A re-send after a lost reply: the rows this machine already holds under the claim's token
# (the first send committed) are returned as they are, and nothing new is claimed.
CLAIM_IDS_AGAIN = f"""
WITH {_again("$5")}{_PICK_IDS}{_NOT_AGAIN}{_PICK_IDS_END}{_take_again("$5")}"""

PEEK = """
SELECT id FROM harmony_task
 WHERE name = $1 AND owner_id IS NULL AND failed_at IS NULL
   AND (retry_after IS NULL OR retry_after <= now())
   AND id <> ALL($3::bigint[])
 ORDER BY priority DESC, posted_time, id
 LIMIT $2
"""

RELEASE = """
UPDATE harmony_task
   SET owner_id = NULL, claimed_at = NULL, update_time = now(),
       retry_after = CASE WHEN $4::float8 > 0 THEN now() + make_interval(secs => $4) END
 WHERE id = $1 AND owner_id = $2 AND attempt = $3
"""

# How long the oldest claimable task of each type has waited, in seconds by the server's clock:
# a machine whose clock is off by minutes would otherwise see every task as starving (or none),
# and idle a core holding work back for it.
OLDEST_PENDING = """
SELECT name, extract(epoch FROM now() - min(posted_time))::float8 AS waited
  FROM harmony_task
 WHERE name = ANY($1::text[]) AND owner_id IS NULL AND failed_at IS NULL
   AND (retry_after IS NULL OR retry_after <= now())
 GROUP BY name
"""

#: how long an add's key is kept: far longer than any re-send of that add can come (the retry
#: policy and the re-sends give up within seconds), short enough that a busy adder's keys stay
#: few (200 adds/s keep 120,000 small rows)
ADD_KEY_RETENTION = 600.0

# Taking the key first means a re-sent add whose first attempt is still in flight on the
# server waits for it here (the unique index) instead of adding beside it. A few keys past
# retention go with each add, so the table stays as small as ten minutes of adds without a
# clean-up job; SKIP LOCKED keeps concurrent adds from queueing on the same old keys.
TAKE_ADD_KEY = """
WITH pruned AS (
    DELETE FROM harmony_task_adds
     WHERE add_key IN (SELECT add_key FROM harmony_task_adds
                        WHERE added_at < now() - make_interval(secs => $2)
                        ORDER BY added_at
                        LIMIT 8
                          FOR UPDATE SKIP LOCKED)
)
INSERT INTO harmony_task_adds (add_key) VALUES ($1)
ON CONFLICT (add_key) DO NOTHING
RETURNING add_key
"""


def new_token() -> str:
    """A claim token or add key: random, so two machines' (or two calls') never collide."""
    return secrets.token_hex(12)


async def claim_by_type(
    db: DB,
    machine_id: int,
    session: str,
    limits: dict[str, int],
    held: Collection[TaskID] = (),
) -> list[Claimed]:
    """Claim up to ``limits[name]`` pending tasks of each type, best first, in one statement,
    none of those whose attempts this machine still ``held``. Sent again after a lost reply,
    it returns the rows the first send claimed."""
    pairs = [value for name, n in limits.items() for value in (name, n)]
    args = (machine_id, session, new_token(), list(held), *pairs)
    first, again = claim_by_type_sql(len(limits)), claim_by_type_sql(len(limits), again=True)
    return await resend(
        db,
        lambda: db.select(first, *args, into=Claimed),
        lambda: db.select(again, *args, into=Claimed),
    )


async def peek(db: DB, name: str, limit: int, held: Collection[TaskID] = ()) -> list[TaskID]:
    """Pending ids of one type, best first, without locking, none of the ``held``: candidates
    for ``can_accept``."""
    return [r["id"] for r in await db.select(PEEK, name, limit, list(held))]


async def claim_ids(
    db: DB,
    machine_id: int,
    session: str,
    ids: list[TaskID],
    limit: int,
    held: Collection[TaskID] = (),
) -> list[Claimed]:
    """Claim the given ids (in that order of preference) that are still pending and not
    ``held`` here. Sent again after a lost reply, it returns the rows the first send claimed."""
    token = new_token()
    args = (machine_id, session, ids, limit, token, list(held))
    return await resend(
        db,
        lambda: db.select(CLAIM_IDS, *args, into=Claimed),
        lambda: db.select(CLAIM_IDS_AGAIN, *args, into=Claimed),
    )


async def release(
    db: DB, task_id: TaskID, machine_id: int, attempt: int, back_off: float = 0.0
) -> bool:
    """Give a claimed task back without counting a failure (e.g. it does not fit after all).
    Fenced: a no-op if this attempt no longer owns the task, which also makes it safe to send
    again after a lost reply (the answer is then False even if the first send released it)."""
    return await resend(db, lambda: db.exec(RELEASE, task_id, machine_id, attempt, back_off)) == 1


async def oldest_pending(db: DB, names: list[str]) -> dict[str, float]:
    """Seconds the oldest claimable task of each type has waited, by the database's clock
    (types with none pending are absent)."""
    rows = await db.select(OLDEST_PENDING, names)
    return {r["name"]: r["waited"] for r in rows}


async def take_add_key(tx: Tx, key: str) -> list[TaskID] | None:
    """Inside an add's transaction, before it adds anything: None if ``key`` is new (this
    transaction now holds it), else the ids an earlier, committed send of this add added."""
    if await tx.query_value(TAKE_ADD_KEY, key, ADD_KEY_RETENTION) is not None:
        return None
    ids = await tx.query_value("SELECT task_ids FROM harmony_task_adds WHERE add_key = $1", key)
    return list(ids or [])


async def record_add_key(tx: Tx, key: str, ids: Sequence[TaskID]) -> None:
    """What the add under ``key`` added, committed with it."""
    await tx.exec("UPDATE harmony_task_adds SET task_ids = $2 WHERE add_key = $1", key, list(ids))


async def keyed_transaction(
    db: DB, key: str, fn: Callable[[Tx], Awaitable[list[TaskID]]]
) -> list[TaskID]:
    """Run an add once, however often it is sent: ``fn(tx)`` adds and returns the new ids
    (without committing) and runs only if no earlier send under ``key`` committed; a send
    that finds the key returns the ids recorded then. Raises :class:`AddOutcomeUnknown` when
    the connection was lost and no retry could find out whether the add committed."""

    async def once(tx: Tx) -> list[TaskID]:
        earlier = await take_add_key(tx, key)
        if earlier is not None:
            return earlier
        ids = await fn(tx)
        if ids:
            await record_add_key(tx, key, ids)
            await tx.commit()
        return ids

    in_doubt = False

    async def send() -> list[TaskID]:
        nonlocal in_doubt
        try:
            return await db.transaction(once)
        except AmbiguousCommit:
            in_doubt = True  # from now on, only a send that answers can tell
            raise

    try:
        return await resend(db, send)
    except HarmonyDBError as exc:
        if in_doubt:
            raise AddOutcomeUnknown(
                f"the connection was lost while the add was being committed: {exc}",
                sqlstate=exc.sqlstate,
            ) from exc
        raise


async def add_task(
    db: DB,
    name: str,
    extra: ExtraFn | None,
    *,
    added_by: int,
    priority: int = 0,
    key: str | None = None,
) -> TaskID | None:
    """Insert a task and its domain rows in one transaction, with one wake-up for listeners.

    ``extra(task_id, tx)`` returning False drops the task; a unique violation inside it means
    the work was already added (the de-duplication convention of Curio's adders) and returns
    None rather than raising. The add is keyed (``key``, random by default): sent again after
    a lost reply, it returns the task its first send added, and ``extra`` runs once per
    committed add.
    """

    async def insert(tx: Tx) -> list[TaskID]:
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
                    return []
            except UniqueViolation:
                return []
        tx.notify("task", name)
        return [task_id]

    ids = await keyed_transaction(db, key or new_token(), insert)
    return ids[0] if ids else None
