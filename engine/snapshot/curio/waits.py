"""Why a task waits on a Curio cluster: :mod:`engine.snapshot.waits`' answers, with Curio's
rules (read from its Go code, filecoin-project/curio):

* ``no-machine`` / ``cordoned``: the machines whose ``harmony_machine_details.tasks`` name the
  type, alive by Curio's own ``LOOKS_DEAD_TIMEOUT`` (:mod:`.machines`); ``unschedulable`` or a
  ``restart_request`` takes no new work (``harmony/harmonytask``);
* ``storage``: Curio's ``TaskStorage.HasCapacity`` (``lib/ffi/task_storage.go``) asks
  ``StorageBestAlloc`` (``lib/paths/db_index.go``) for a path with ``available >=`` the space the
  type's files take, a heartbeat younger than ``SkippedHeartbeatThresh`` and no
  ``heartbeat_err``, on a seal path for sealing. SDR allocates its cache on a seal path, sized
  for the sector size its ``TypeDetails`` fix (32 GiB: Curio notes it cannot know the task's
  own there), so that is what is checked here;
* ``backoff``: a retried task within its type's ``RetryWait`` after ``update_time``
  (:data:`.tasks.RETRY_WAITS`, the rule ``harmony task list`` applies there);
* ``queued`` / ``next``: Curio's poller takes a type's unowned tasks by ``update_time``.

Not judged here: resources (a Curio type's cost is in its Go code, not in the database) and
which node a path is local to (Curio keeps that in each node's memory). A task Curio gave up on
is deleted, so it is ``gone``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.harmonytask.machine_state import MachineState
from engine.storage import SectorFileType
from engine.storage.units import size_str

from ..format import duration
from ..waits import AHEAD_CAP, NO_ROOM, Wait
from .machines import DEAD_AFTER, curio_machine_state
from .tasks import RETRY_WAITS

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["CURIO_SDR_SECTOR_SIZE", "SKIPPED_HEARTBEAT", "explain_curio_tasks"]

#: the sector size Curio's SDR TypeDetails size its storage check for (tasks/seal/task_sdr.go)
CURIO_SDR_SECTOR_SIZE = 32 << 30
#: Curio's paths.SkippedHeartbeatThresh (5 x its 10 s heartbeat)
SKIPPED_HEARTBEAT = 50.0

TASKS = """
SELECT t.id, t.name, t.owner_id, t.retries, t.update_time, m.host_and_port AS owner,
       EXTRACT(EPOCH FROM now() - t.update_time)::float8 AS queued_for
  FROM harmony_task t LEFT JOIN harmony_machines m ON m.id = t.owner_id
 WHERE t.id = ANY($1::bigint[])
"""

MACHINES = """
SELECT m.id, m.host_and_port, coalesce(m.unschedulable, FALSE) AS unschedulable,
       m.restart_request, coalesce(d.tasks, '') AS tasks,
       EXTRACT(EPOCH FROM now() - m.last_contact)::float8 AS contact_age
  FROM harmony_machines m LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
 ORDER BY m.id
 LIMIT 1000
"""

#: Curio's poller order: a type's unowned tasks by update_time (idx_harmony_task_unowned_by_name)
AHEAD = """
SELECT count(*) FROM (
  SELECT 1 FROM harmony_task
   WHERE name = $1 AND owner_id IS NULL AND id <> $3
     AND (update_time, id) < ($2, $3)
   LIMIT $4) x
"""

#: StorageBestAlloc's rule, counted: seal paths, and those of them that qualify
SEAL_PATHS = """
SELECT count(*) FILTER (WHERE can_seal) AS seal,
       count(*) FILTER (WHERE can_seal AND last_heartbeat > now() - make_interval(secs => $2)
                          AND heartbeat_err IS NULL) AS fresh,
       count(*) FILTER (WHERE can_seal AND available >= $1
                          AND last_heartbeat > now() - make_interval(secs => $2)
                          AND heartbeat_err IS NULL) AS fits,
       max(available) FILTER (WHERE can_seal AND heartbeat_err IS NULL
                                AND last_heartbeat > now() - make_interval(secs => $2))
           AS most_free
  FROM storage_path
"""


def _label(m: Any) -> str:
    return f"#{m['id']} {m['host_and_port']}"


async def _sdr_storage(db: DB) -> str | None:
    needed = SectorFileType.CACHE.overhead(CURIO_SDR_SECTOR_SIZE, sealing=True)
    r = await db.query_row(SEAL_PATHS, needed, SKIPPED_HEARTBEAT)
    if r is None or r["fits"]:
        return None
    if not r["seal"]:
        why = "no seal path is attached"
    elif not r["fresh"]:
        why = f"no seal path has a fresh heartbeat without error ({r['seal']} seal path(s))"
    else:
        most = int(r["most_free"] or 0)
        why = f"no seal path has that much available (most: {size_str(most)})"
    return (
        f"Curio's SDR asks for {size_str(needed)} on a seal path (its cache, sized for a "
        f"{size_str(CURIO_SDR_SECTOR_SIZE)} sector): {why}"
    )


async def explain_curio_tasks(db: DB, task_ids: Sequence[int]) -> dict[int, Wait]:
    """Why each of ``task_ids`` on a Curio cluster is not running (every id is answered)."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    rows = {r["id"]: r for r in await db.select(TASKS, ids)}
    machines = await db.select(MACHINES)
    out: dict[int, Wait] = {}
    for task_id in ids:
        row = rows.get(task_id)
        if row is None:
            out[task_id] = Wait(
                task_id,
                "",
                "gone",
                "not in the queue: it finished, or Curio gave up on it (its history says)",
            )
            continue
        out[task_id] = await _explain(db, row, machines)
    return out


async def _explain(db: DB, row: Any, machines: list[Any]) -> Wait:
    task_id, name = int(row["id"]), str(row["name"])

    def wait(kind: str, text: str) -> Wait:
        return Wait(task_id, name, kind, text)

    if row["owner_id"] is not None:
        owner = row["owner"] or f"machine #{row['owner_id']}"
        return wait("running", f"running on {owner}")
    states = {
        m["id"]: curio_machine_state(
            restart_request=m["restart_request"],
            unschedulable=m["unschedulable"],
            contact_age=float(m["contact_age"]),
            dead_after=DEAD_AFTER,
        )
        for m in machines
    }
    runners = [m for m in machines if name in [t.strip() for t in m["tasks"].split(",")]]
    alive = [m for m in runners if states[m["id"]].alive]
    if not alive:
        gone = f" ({', '.join(f'{_label(m)} looks dead' for m in runners[:3])})" if runners else ""
        return wait(
            "no-machine",
            f"no live Curio node runs {name}{gone}: start one with a layer that enables it",
        )
    active = [m for m in alive if states[m["id"]] == MachineState.ACTIVE]
    if not active:
        said = ", ".join(f"{_label(m)} is {states[m['id']]}" for m in alive[:3])
        return wait(
            "cordoned",
            f"every live Curio node that runs {name} takes no new work ({said}): uncordon one",
        )
    if name == "SDR":
        reason = await _sdr_storage(db)
        if reason is not None:
            return wait("storage", f"{NO_ROOM}{reason}")
    retries = int(row["retries"])
    rule = RETRY_WAITS.get(name)
    if retries and rule is not None:
        left = rule.seconds(retries) - float(row["queued_for"])
        if left > 0:
            return wait(
                "backoff",
                f"retry wait: claimable again in {duration(left)} after {retries} failed "
                f"attempt{'s' if retries != 1 else ''} (Curio's RetryWait for {name})",
            )
    ahead = int(await db.query_value(AHEAD, name, row["update_time"], task_id, AHEAD_CAP) or 0)
    n = len(active)
    runs = f"{n} schedulable Curio node{' runs' if n == 1 else 's run'} {name}"
    if ahead:
        count = f"{ahead}+" if ahead >= AHEAD_CAP else str(ahead)
        return wait("queued", f"queued behind {count} other {name} task(s); {runs}")
    return wait("next", f"next in line: {runs}; its next poll takes it")
