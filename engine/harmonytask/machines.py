"""Machine registration, heartbeats, and declaring silent machines dead.

Liveness is per machine, not per task: a task is taken from a machine only when that machine
stops heartbeating, never because the task has run "too long": a lease per task has to guess
how long work may take, and every guess that is too short hands a live job to a second machine,
so it runs twice (sealing work for hours, side effects included). The timeout is seconds, not
Curio's 10 minutes, and every process has a session token:

* a heartbeat updates the row only if the session still matches, so a machine that was declared
  dead (session cleared by a peer) or replaced learns it on its next heartbeat;
* the same statement declares other silent machines dead and returns their tasks to the queue,
  with a ``lost`` history row per attempt (Curio's FK ``SET NULL`` records nothing);
* a restarted process with the same identity takes its row over (same id) and re-adopts its
  tasks, but only once the previous process is provably gone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, LiteralString

from engine.process_identity import ProcessIdentity

from .claims import Claimed
from .errors import MachineIdentityInUse
from .outcomes import Outcome
from .resend import resend

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

#: A setting's text that PostgreSQL can cast to float8 without an error (no NaN, no infinity,
#: no overflow): anything else is read as missing, as :mod:`.settings` reads it.
_NUMBER = r"^\s*([0-9]{1,30}\.?[0-9]{0,30}|\.[0-9]{1,30})([eE][-+]?[0-9]{1,2})?\s*$"

HEARTBEAT = f"""
WITH cfg AS (
    -- The cluster's machine timeout, read in the heartbeat itself (no second statement per
    -- beat), so a changed value judges peers from this beat on; $10 when missing or unusable.
    SELECT (SELECT value FROM harmony_settings WHERE name = 'machine_timeout') AS setting
), timeout AS (
    SELECT coalesce(CASE WHEN setting ~ '{_NUMBER}'
                         THEN CASE WHEN setting::float8 > 0 THEN setting::float8 END END,
                    $10::float8) AS secs
      FROM cfg
), me AS (
    UPDATE harmony_machines
       SET last_contact = now(), cpu = $3, ram = $4, gpu = $5,
           cpu_load = $6, ram_used = $7, gpu_used = $8
     WHERE id = $1 AND session = $2
    RETURNING unschedulable, restart_request, drain_requested_at, drained_at
), dead AS (
    UPDATE harmony_machines
       SET session = NULL, lost_at = now()
     WHERE $9::bool AND session IS NOT NULL AND id <> $1
       AND last_contact < now() - make_interval(secs => (SELECT secs FROM timeout))
    RETURNING id, host_and_port, last_contact
), orphans AS (
    SELECT t.id, t.claimed_at, t.owner_id, m.host_and_port
      FROM harmony_task t JOIN harmony_machines m ON m.id = t.owner_id
     WHERE $9::bool AND (m.session IS NULL OR m.id IN (SELECT id FROM dead))
       FOR UPDATE OF t SKIP LOCKED
), lost AS (
    UPDATE harmony_task t
       SET owner_id = NULL, claimed_at = NULL, update_time = now()
      FROM orphans o
     WHERE t.id = o.id
    RETURNING t.id, t.name, t.posted_time, t.attempt, o.owner_id, o.claimed_at, o.host_and_port
), hist AS (
    -- machine_id: the machine that lost the attempt (the row's owner before the reap)
    INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, err,
                                      completed_by_host_and_port, outcome, machine_id, attempt)
    SELECT id, name, posted_time, coalesce(claimed_at, now()), now(), FALSE,
           'lost: machine ' || host_and_port || ' stopped heartbeating', host_and_port,
           '{Outcome.LOST}', owner_id, attempt
      FROM lost
), dead_events AS (
    -- one event per machine declared dead, in this statement: only a live session is cleared,
    -- so a beat sent twice finds none the second time
    INSERT INTO cluster_events (kind, machine_id, machine, message)
    SELECT 'machine-dead', id, host_and_port,
           'no heartbeat since ' || to_char(last_contact AT TIME ZONE 'UTC', 'HH24:MI:SS')
           || ' UTC; declared dead by machine ' || $1::int
           || ', ' || (SELECT count(*) FROM lost l WHERE l.owner_id = dead.id)
           || ' running task(s) returned to the queue'
      FROM dead
)
SELECT me.*, (SELECT count(*) FROM dead) AS declared_dead, (SELECT count(*) FROM lost) AS reclaimed,
       (SELECT setting FROM cfg) AS machine_timeout_setting
  FROM me
"""


@dataclass(frozen=True)
class Flags:
    """Operator requests read back at each heartbeat."""

    unschedulable: bool
    restart_request: datetime | None
    drain_requested_at: datetime | None
    drained_at: datetime | None


@dataclass(frozen=True)
class Beat:
    flags: Flags | None  # None: this session no longer owns the row (declared dead/replaced)
    declared_dead: int
    reclaimed: int
    #: ``harmony_settings.machine_timeout`` as the beat read it (None: missing, or no row)
    machine_timeout_setting: str | None = None


def new_session() -> str:
    return secrets.token_hex(12)


async def register(
    db: DB,
    host_and_port: str,
    *,
    session: str,
    cpu: float,
    ram: int,
    gpu: float,
    machine_timeout: float,
    tasks: list[str],
    machine_name: str,
    version: str,
    hostname: str | None = None,
    process: ProcessIdentity | None = None,
) -> int:
    """Insert or take over this identity's machine row; return its id.

    Taking over is allowed when the row's session is gone (declared dead, or left cleanly),
    when it has been silent past the cluster's machine timeout, or when the process that holds
    it has provably exited (same boot and PID namespace as this one, and its PID no longer runs
    with the recorded start time: a restart within the timeout). Otherwise another live process
    has this identity, perhaps in another container with the same hostname, and this one is
    refused. ``process`` is this process (default: the current one).
    """
    me = process or ProcessIdentity.current(hostname)

    async def upsert(tx: Tx) -> int:
        row = await tx.query_row(
            "SELECT id, session, hostname, pid, boot_id, pid_namespace, process_start, "
            "last_contact < now() - make_interval(secs => $2) AS silent "
            "FROM harmony_machines WHERE host_and_port = $1 FOR UPDATE",
            host_and_port,
            machine_timeout,
        )
        if row is None:
            machine_id = await tx.query_value(
                "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, hostname, "
                "pid, boot_id, pid_namespace, process_start) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                host_and_port,
                round(cpu),
                ram,
                gpu,
                session,
                me.hostname,
                me.pid,
                me.boot_id,
                me.pid_namespace,
                me.start_time,
            )
        else:
            holder = ProcessIdentity(
                hostname=row["hostname"],
                pid=row["pid"],
                boot_id=row["boot_id"],
                pid_namespace=row["pid_namespace"],
                start_time=row["process_start"],
            )
            previous_gone = (
                row["session"] is None
                or row["session"] == session  # this registration, sent before: its reply was lost
                or row["silent"]
                or me.proves_gone(holder)
            )
            if not previous_gone:
                elsewhere = (
                    "" if me.sees_the_same_pids_as(holder) else " (another host, boot or container)"
                )
                raise MachineIdentityInUse(
                    f"machine identity {host_and_port!r} is in use by live process "
                    f"{row['pid']} on {row['hostname']}{elsewhere}; give this one another "
                    "name (--name)"
                )
            machine_id = row["id"]
            await tx.exec(
                "UPDATE harmony_machines SET session = $2, hostname = $3, pid = $4, "
                "cpu = $5, ram = $6, gpu = $7, last_contact = now(), lost_at = NULL, "
                "drained_at = NULL, boot_id = $8, pid_namespace = $9, process_start = $10 "
                "WHERE id = $1",
                machine_id,
                session,
                me.hostname,
                me.pid,
                round(cpu),
                ram,
                gpu,
                me.boot_id,
                me.pid_namespace,
                me.start_time,
            )
        if row is None or row["session"] != session:
            # joined: once per process (a re-sent registration carries the same session)
            await tx.exec(
                "INSERT INTO cluster_events (kind, machine_id, machine, message) "
                "VALUES ('machine-joined', $1, $2, $3)",
                machine_id,
                host_and_port,
                f"{machine_name} joined (version {version}, {len(tasks)} task "
                f"type{'' if len(tasks) == 1 else 's'})"
                if row is None
                else f"{machine_name} rejoined (version {version})",
            )
        await tx.exec(
            "INSERT INTO harmony_machine_details (machine_id, tasks, layers, startup_time, "
            "machine_name, version) VALUES ($1, $2, '', now(), $3, $4) "
            "ON CONFLICT (machine_id) DO UPDATE SET tasks = EXCLUDED.tasks, "
            "startup_time = EXCLUDED.startup_time, machine_name = EXCLUDED.machine_name, "
            "version = EXCLUDED.version",
            machine_id,
            ",".join(tasks),
            machine_name,
            version,
        )
        await tx.commit()
        return int(machine_id)

    return await resend(db, lambda: db.transaction(upsert))


REOWN = f"""
WITH old AS (
    SELECT id, claimed_at, attempt FROM harmony_task WHERE owner_id = $1 FOR UPDATE
), t AS (
    UPDATE harmony_task t
       SET attempt = t.attempt + 1, claimed_at = now(), update_time = now()
      FROM old
     WHERE t.id = old.id
    RETURNING t.id, t.name, t.attempt, t.priority, t.posted_time, t.retries, t.claimed_at,
              old.claimed_at AS previous_start, old.attempt AS previous_attempt
), hist AS (
    INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, err,
                                      completed_by_host_and_port, outcome, machine_id, attempt)
    SELECT id, name, posted_time, coalesce(previous_start, now()), now(), FALSE,
           'lost: machine restarted', $2, '{Outcome.LOST}', $1, previous_attempt
      FROM t
)
SELECT id, name, attempt, priority, posted_time, retries, claimed_at,
       extract(epoch FROM claimed_at - posted_time)::float8 AS waited
  FROM t
"""


async def readopt(db: DB, machine_id: int, host_and_port: str) -> list[Claimed]:
    """Tasks this identity owned before a restart, each under a new attempt (the old attempt
    is recorded as lost: whatever it was doing, it will not report back)."""
    return await db.select(REOWN, machine_id, host_and_port, into=Claimed)


async def heartbeat(
    db: DB,
    machine_id: int,
    session: str,
    *,
    cpu: float,
    ram: int,
    gpu: float,
    cpu_load: float,
    ram_used: int,
    gpu_used: float,
    reap: bool,
    machine_timeout: float,
    reply_timeout: float | None = None,
) -> Beat:
    """Report in (see :data:`HEARTBEAT`). ``reply_timeout`` bounds the wait for the reply
    (None: the DB's bound)."""
    # A beat sent twice does no harm (the same report; peers found dead again are none).
    row = await resend(
        db,
        lambda: db.query_row(
            HEARTBEAT,
            machine_id,
            session,
            round(cpu),
            ram,
            gpu,
            cpu_load,
            ram_used,
            gpu_used,
            reap,
            machine_timeout,
            reply_timeout=reply_timeout,
        ),
    )
    if row is None:
        return Beat(None, 0, 0)
    flags = Flags(
        row["unschedulable"],
        row["restart_request"],
        row["drain_requested_at"],
        row["drained_at"],
    )
    return Beat(
        flags, int(row["declared_dead"]), int(row["reclaimed"]), row["machine_timeout_setting"]
    )


async def mark_drained(db: DB, machine_id: int, session: str) -> None:
    # The event goes with the change, in one statement; sent again it finds drained_at set.
    await _exec_again_safe(
        db,
        "WITH d AS (UPDATE harmony_machines SET drained_at = now() WHERE id = $1 "
        "AND session = $2 AND drain_requested_at IS NOT NULL AND drained_at IS NULL "
        "RETURNING id, host_and_port, drain_requested_at) "
        "INSERT INTO cluster_events (kind, machine_id, machine, message) "
        "SELECT 'machine-drained', id, host_and_port, 'drained: no task runs there "
        "any more (drain requested at ' || to_char(drain_requested_at AT TIME ZONE 'UTC', "
        "'HH24:MI:SS') || ' UTC)' FROM d",
        machine_id,
        session,
    )


async def clear_restart(db: DB, machine_id: int, session: str) -> None:
    """Before exiting for a restart: the next process starts schedulable (Curio's rule)."""
    await _exec_again_safe(
        db,
        "UPDATE harmony_machines SET restart_request = NULL, unschedulable = FALSE, "
        "drain_requested_at = NULL, drained_at = NULL WHERE id = $1 AND session = $2",
        machine_id,
        session,
    )


async def unregister(db: DB, machine_id: int, session: str) -> None:
    """Leave the cluster: the row stays (history and the console refer to it) but no longer
    counts as alive; anything still owned is returned by the next peer heartbeat."""
    await _exec_again_safe(
        db,
        "WITH gone AS (UPDATE harmony_machines SET session = NULL WHERE id = $1 "
        "AND session = $2 RETURNING id, host_and_port) "
        "INSERT INTO cluster_events (kind, machine_id, machine, message) "
        "SELECT 'machine-left', id, host_and_port, 'left the cluster cleanly' FROM gone",
        machine_id,
        session,
    )


async def _exec_again_safe(db: DB, sql: LiteralString, *args: object) -> int:
    """An update that sets the same values whenever it is sent (conditional on this session),
    so one whose reply was lost is simply sent again."""
    return await resend(db, lambda: db.exec(sql, *args))
