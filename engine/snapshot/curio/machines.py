"""Curio's machines: ``harmony_machines`` with ``harmony_machine_details``, and the tasks they run.

What Curio's rows mean (read from its Go code, filecoin-project/curio at e0294b0f):

* A machine registers by upserting its row with ``last_contact = CURRENT_TIMESTAMP`` and then
  bumps ``last_contact`` once a minute (``harmony/resources/resources.go``, ``Register``). The
  next machine to start deletes every row silent for longer than ``LOOKS_DEAD_TIMEOUT`` (10 min,
  ``CleanupMachines``: ``last_contact < CURRENT_TIMESTAMP - LOOKS_DEAD_TIMEOUT``), so a row
  silent that long is a dead machine nobody has cleaned up yet.
* ``unschedulable`` is the operator's cordon and ``restart_request`` asks the node to exit (code
  100) once nothing it owns runs; it then clears both (``harmony/harmonytask/harmonytask.go``,
  ``checkNodeFlags``; set from the GUI in ``web/api/webrpc/cluster.go``). Curio has no drain.
* Details are upserted at start-up with comma-joined ``tasks``, ``layers`` and ``miners``
  (``cmd/curio/tasks/tasks.go``); a blank ``machine_name`` shows as the address, as Curio's GUI
  does (``ClusterMachines``).
* A task is claimed by ``UPDATE harmony_task SET owner_id = $1`` and nothing else
  (``harmony/harmonytask/task_type_handler.go``, ``considerWork``): Curio records no claim time.
  ``update_time`` is when the task last entered the queue (posted, or released after a failure
  or a preemption: ``recordCompletion``), which is what Curio's GUI counts a task's time from
  (``ClusterTaskSummary``). A running task's ``elapsed`` is measured from it, so it is an upper
  bound of the attempt's run time, and ``claimed_at`` is None.
* The database holds no live load: ``cpu``, ``ram`` and ``gpu`` are the capacity the node
  probed at start-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.harmonytask.machine_state import MachineState

from ..model import MachineSnap, RunningTaskSnap
from ..timing import TimedTx

#: Curio bumps ``last_contact`` once a minute (harmony/resources/resources.go): a machine is
#: stale after two missed beats and a half
STALE_AFTER = 150.0
#: ...and looks dead after Curio's own LOOKS_DEAD_TIMEOUT (10 min; the next machine to start
#: deletes its row)
DEAD_AFTER = 600.0

__all__ = ["DEAD_AFTER", "STALE_AFTER", "curio_machine_state", "read_machines"]

#: Machines with their details and the number of tasks each owns. Curio's GUI shows every row of
#: harmony_machines; 1000 is far above any cluster's size, and bounds the list all the same.
MACHINES = """
SELECT m.id, m.host_and_port,
       coalesce(nullif(d.machine_name, ''), m.host_and_port) AS name,
       m.cpu, m.ram, m.gpu, m.last_contact,
       coalesce(m.unschedulable, FALSE) AS unschedulable, m.restart_request,
       d.startup_time, d.version, d.tasks, d.layers, d.miners,
       coalesce(r.n, 0)::int AS running
  FROM harmony_machines m
  LEFT JOIN harmony_machine_details d ON d.machine_id = m.id
  LEFT JOIN (SELECT owner_id, count(*) AS n FROM harmony_task
              WHERE owner_id IS NOT NULL GROUP BY owner_id) r ON r.owner_id = m.id
 ORDER BY coalesce(nullif(d.machine_name, ''), m.host_and_port), m.id
 LIMIT 1000
"""

#: Claimed tasks, the longest-queued first. ``retries`` counts failed attempts (a preemption
#: does not count: recordCompletion); Curio keeps no attempt number.
RUNNING = """
SELECT id, name, owner_id, update_time, posted_time, retries
  FROM harmony_task
 WHERE owner_id IS NOT NULL
 ORDER BY update_time, id
 LIMIT $1
"""


def curio_machine_state(
    *,
    restart_request: datetime | None,
    unschedulable: bool,
    contact_age: float,
    dead_after: float,
) -> MachineState:
    """A Curio machine's state, with the precedence of our
    :data:`~engine.harmonytask.machine_state.MACHINE_STATE_SQL` (a machine that is gone is
    DEAD whatever flags its row still holds; a restart request wins over a cordon, which the
    GUI requires before it offers a restart anyway).

    DEAD is Curio's own rule (``CleanupMachines``): silent for longer than ``dead_after``
    (``LOOKS_DEAD_TIMEOUT``). Curio has no drain and no clean sign-off (a stopped node's row
    stays until it looks dead), so neither DRAINING, DRAINED nor OFFLINE occurs.
    """
    if contact_age > dead_after:
        return MachineState.DEAD
    if restart_request is not None:
        return MachineState.RESTARTING
    if unschedulable:
        return MachineState.CORDONED
    return MachineState.ACTIVE


def _split(joined: str | None) -> tuple[str, ...]:
    """Curio's comma-joined lists (the GUI trims stray commas too)."""
    return tuple(part.strip() for part in (joined or "").split(",") if part.strip())


def _age(now: datetime, ts: datetime) -> float:
    return max(0.0, (now - ts).total_seconds())


def _machine(
    r: dict[str, Any], now: datetime, stale_after: float, dead_after: float
) -> MachineSnap:
    age = _age(now, r["last_contact"])
    state = curio_machine_state(
        restart_request=r["restart_request"],
        unschedulable=r["unschedulable"],
        contact_age=age,
        dead_after=dead_after,
    )
    return MachineSnap(
        id=r["id"],
        host_and_port=r["host_and_port"],
        name=r["name"],
        state=state,
        cpu=r["cpu"],
        ram=r["ram"],
        gpu=r["gpu"],
        cpu_load=None,
        ram_used=None,
        gpu_used=None,
        last_contact=r["last_contact"],
        contact_age=age,
        stale=state.alive and age > stale_after,
        startup_time=r["startup_time"],
        version=r["version"],
        tasks=_split(r["tasks"]),
        running=r["running"],
        layers=_split(r["layers"]),
        miners=_split(r["miners"]),
        reports_load=False,
    )


def _running(r: dict[str, Any], now: datetime) -> RunningTaskSnap:
    return RunningTaskSnap(
        id=r["id"],
        name=r["name"],
        owner_id=r["owner_id"],
        claimed_at=None,  # Curio records no claim time (see the module docstring)
        posted_time=r["posted_time"],
        # Curio has no attempt counter: retries (failed attempts so far) + 1 is this attempt's
        # number, not counting preemptions, which leave retries alone
        attempt=r["retries"] + 1,
        retries=r["retries"],
        elapsed=_age(now, r["update_time"]),
    )


async def read_machines(
    tx: TimedTx, now: datetime, *, stale_after: float, dead_after: float, running_limit: int
) -> tuple[tuple[MachineSnap, ...], tuple[RunningTaskSnap, ...]]:
    """Every machine (ordered by name, then id) and up to ``running_limit`` claimed tasks (the
    longest-queued first), measured against ``now`` (aware; never the server's clock).

    ``stale_after``: seconds without a beat after which a live machine is marked stale (Curio
    beats once a minute); ``dead_after``: seconds after which it is DEAD (Curio's
    ``LOOKS_DEAD_TIMEOUT``).
    """
    machines = await tx.select(MACHINES)
    running = await tx.select(RUNNING, running_limit)
    return (
        tuple(_machine(r, now, stale_after, dead_after) for r in machines),
        tuple(_running(r, now) for r in running),
    )
