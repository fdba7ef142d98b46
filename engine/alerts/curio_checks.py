"""The alert checks on a Curio cluster's schema, read-only: the ones whose data is in Curio's
own tables (its columns differ from ours: no ``outcome`` in task history, one heartbeat per
path, ``sectors_meta`` for the sectors' chain state, one ``mining_tasks`` row per epoch).

Sectors expiring soon are read from ``sectors_meta.expiration_epoch`` against the head of
Curio's newest WinningPoSt round (``mining_tasks``; the alert task has no Lotus node).

Not here, because the data is on the chain, not in the database: WindowPoSt deadlines without
a landed proof and the chain's sync (Curio reads those from its Lotus node). Nothing is stored:
``harmony alerts list`` evaluates these live, and acknowledging or muting is Curio's own
(its web UI keeps them in its ``alert_history``/``alert_mutes`` tables, which harmony never
writes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.snapshot.expirations import FILECOIN_EPOCHS_PER_DAY, curio_head_estimate
from engine.snapshot.format import duration
from engine.storage.listing import health_text
from engine.storage.placement import STALE_AFTER

from .checks import (
    EXPIRING_DAYS,
    SEALING_AND_POST,
    Check,
    expiring_finding,
    fmt_bytes,
    miner,
    missing_space,
    numbers_text,
)
from .checks import space_needed as _space_needed
from .model import AlertSettings, Finding, Severity

__all__ = ["CURIO_CHECKS"]

#: Curio's taskFailureCheck: per task in the window, failed if no attempt succeeded and the task
#: is gone from harmony_task (Curio deletes a task when it fails for good).
CURIO_FAILURES = """
WITH per_task AS (
    SELECT h.name, h.task_id, bool_or(h.result) AS succeeded,
           (array_agg(h.completed_by_host_and_port ORDER BY h.work_end DESC, h.id DESC))[1]
               AS machine,
           (array_agg(h.err ORDER BY h.work_end DESC, h.id DESC))[1] AS err
      FROM harmony_task_history h
     WHERE h.work_end >= now() - make_interval(secs => $1)
     GROUP BY h.name, h.task_id
)
SELECT p.name, p.machine, p.task_id, p.err FROM per_task p
 WHERE NOT p.succeeded AND NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.id = p.task_id)
 ORDER BY p.task_id DESC
 LIMIT 10000
"""


async def curio_task_failures(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    by_type: dict[str, list[Any]] = {}
    by_machine: dict[str, int] = {}
    for r in await tx.select(CURIO_FAILURES, s.failure_window):
        by_type.setdefault(r["name"], []).append(r)
        by_machine[r["machine"]] = by_machine.get(r["machine"], 0) + 1
    out = []
    window = duration(s.failure_window)
    for name, rows in sorted(by_type.items()):
        if name in SEALING_AND_POST or len(rows) > s.failure_count:
            ids = [r["task_id"] for r in rows[: s.list_limit]]
            out.append(
                Finding(
                    "task-failed",
                    name,
                    Severity.CRITICAL if name in SEALING_AND_POST else Severity.WARNING,
                    f"{len(rows)} {name} task(s) failed for good in the last {window} (ids "
                    f"{numbers_text(ids, len(rows))}); last error: {(rows[0]['err'] or '?')[:300]}",
                    {"task_type": name, "task_ids": ids},
                )
            )
    for host, n in sorted(by_machine.items()):
        if n > s.failure_count:
            out.append(
                Finding(
                    "task-failure-rate",
                    f"machine {host}",
                    Severity.WARNING,
                    f"{n} tasks failed for good on {host} in the last {window}",
                    {"machine": host},
                )
            )
    return out


CURIO_PATHS = """
SELECT storage_id, heartbeat_err, EXTRACT(EPOCH FROM now() - last_heartbeat)::float8 AS age
  FROM storage_path
 WHERE heartbeat_err IS NOT NULL OR last_heartbeat IS NULL
    OR last_heartbeat < now() - make_interval(secs => $1)
 ORDER BY storage_id LIMIT 1000
"""


async def curio_storage_paths(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "storage-path",
            r["storage_id"],
            Severity.WARNING,
            f"storage path {r['storage_id']}: "
            f"{'its disk check failed' if r['heartbeat_err'] else 'its heartbeat is stale'} "
            f"({health_text(r['heartbeat_err'], r['age'])}); check the Curio node that has it.",
            {"path": r["storage_id"]},
        )
        for r in await tx.select(CURIO_PATHS, STALE_AFTER)
    ]


CURIO_STORE = "SELECT available FROM storage_path WHERE can_store ORDER BY available DESC"
CURIO_TO_FINALIZE = """
SELECT reg_seal_proof FROM sectors_sdr_pipeline
 WHERE NOT after_move_storage AND NOT failed LIMIT 100000
"""


async def curio_storage_space(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    paths = [int(r["available"] or 0) for r in await tx.select(CURIO_STORE)]
    needs = [_space_needed(None, r["reg_seal_proof"]) for r in await tx.select(CURIO_TO_FINALIZE)]
    missing, unplaced = missing_space(paths, needs)
    if not missing:
        return []
    return [
        Finding(
            "storage-space",
            "store paths",
            Severity.WARNING,
            f"insufficient storage space for sealing sectors: {unplaced} of {len(needs)} do not "
            f"fit on any store path ({fmt_bytes(missing)} more needed)",
            {},
        )
    ]


CURIO_FAULTY = """
SELECT sp_id, count(*) AS n, (array_agg(sector_num ORDER BY sector_num))[1:$1] AS numbers
  FROM sectors_meta WHERE is_faulty AND is_live
 GROUP BY sp_id ORDER BY sp_id
"""


async def curio_faulty(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "sectors-faulty",
            miner(r["sp_id"]),
            Severity.WARNING,
            f"{miner(r['sp_id'])} has {r['n']} faulty sector(s) "
            f"({numbers_text(list(r['numbers']), int(r['n']))})",
            {"miner": r["sp_id"], "sectors": list(r["numbers"])},
        )
        for r in await tx.select(CURIO_FAULTY, s.list_limit)
    ]


CURIO_NO_FILE = """
SELECT m.sp_id, count(*) AS n, (array_agg(m.sector_num ORDER BY m.sector_num))[1:$1] AS numbers
  FROM sectors_meta m
 WHERE m.is_live
   AND NOT EXISTS (SELECT 1 FROM sector_location l
                    WHERE l.miner_id = m.sp_id AND l.sector_num = m.sector_num
                      AND l.sector_filetype IN (2, 8))
 GROUP BY m.sp_id ORDER BY m.sp_id
"""


async def curio_no_file(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "sector-no-file",
            miner(r["sp_id"]),
            Severity.CRITICAL,
            f"{miner(r['sp_id'])}: {r['n']} live sector(s) have no sealed file on any storage "
            f"path ({numbers_text(list(r['numbers']), int(r['n']))})",
            {"miner": r["sp_id"], "sectors": list(r["numbers"])},
        )
        for r in await tx.select(CURIO_NO_FILE, s.list_limit)
    ]


#: Live sectors of sectors_meta expiring by $2 ($1 list limit).
CURIO_EXPIRING = """
SELECT sp_id, count(*) AS n, min(expiration_epoch) AS soonest,
       (array_agg(sector_num ORDER BY expiration_epoch, sector_num))[1:$1] AS numbers
  FROM sectors_meta
 WHERE is_live AND expiration_epoch <= $2
 GROUP BY sp_id ORDER BY sp_id
 LIMIT 1000
"""


async def curio_expiring(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    """Sectors expiring within a week of the head; the head is Curio's newest WinningPoSt round
    (the database has no other: without one, nothing can be said)."""
    head = await curio_head_estimate(tx, now)
    if head is None:
        return []
    horizon = head + EXPIRING_DAYS * FILECOIN_EPOCHS_PER_DAY
    return [
        expiring_finding(
            r["sp_id"], int(r["n"]), int(r["soonest"]), EXPIRING_DAYS, list(r["numbers"])
        )
        for r in await tx.select(CURIO_EXPIRING, s.list_limit, horizon)
    ]


CURIO_NOT_INCLUDED = """
SELECT sp_id, epoch, mined_cid FROM mining_tasks
 WHERE won AND included IS FALSE AND base_compute_time >= now() - make_interval(secs => $1)
 ORDER BY base_compute_time DESC LIMIT 100
"""

#: Curio adds a mining task per miner and epoch: a miner whose newest is old has a gap.
CURIO_MINING_GAP = """
SELECT sp_id, max(base_compute_time) AS newest,
       EXTRACT(EPOCH FROM now() - max(base_compute_time))::float8 AS age
  FROM mining_tasks
 WHERE base_compute_time >= now() - make_interval(secs => $1)
 GROUP BY sp_id
HAVING max(base_compute_time) < now() - make_interval(secs => $2)
 ORDER BY sp_id
"""


async def curio_winning(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = [
        Finding(
            "block-not-included",
            f"{miner(r['sp_id'])} epoch {r['epoch']}",
            Severity.CRITICAL,
            f"epoch {r['epoch']}: does not contain {miner(r['sp_id'])}'s block "
            f"{r['mined_cid'] or '(none)'}",
            {"miner": r["sp_id"], "epoch": r["epoch"]},
        )
        for r in await tx.select(CURIO_NOT_INCLUDED, s.recent)
    ]
    out += [
        Finding(
            "winpost-gap",
            miner(r["sp_id"]),
            Severity.CRITICAL,
            f"no WinningPoSt task for {miner(r['sp_id'])} for {duration(r['age'])} (one is "
            "expected every epoch): are its WinPost machines up?",
            {"miner": r["sp_id"]},
        )
        for r in await tx.select(CURIO_MINING_GAP, s.recent, s.interval)
    ]
    return out


CURIO_PENDING = """
SELECT signed_message_cid, created_at FROM message_waits
 WHERE executed_tsk_cid IS NULL AND created_at < now() - make_interval(secs => $1)
 ORDER BY created_at LIMIT 100
"""


async def curio_pending_messages(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    exists = await tx.query_value("SELECT to_regclass('message_waits') IS NOT NULL")
    if not exists:
        return []
    rows = await tx.select(CURIO_PENDING, s.message_stuck)
    if not rows:
        return []
    cids = [r["signed_message_cid"] for r in rows]
    return [
        Finding(
            "message-stuck",
            "message_waits",
            Severity.WARNING,
            f"{len(cids)} message(s) pending execution for more than "
            f"{duration(s.message_stuck)}: {', '.join(cids[: s.list_limit])}",
            {},
        )
    ]


CURIO_CHECKS: tuple[Check, ...] = (
    Check("task-failed", "tasks failed for good (Curio's TaskFailures)", curio_task_failures),
    Check("storage-path", "storage path heartbeat stale or failed", curio_storage_paths),
    Check("storage-space", "store space for the sectors being sealed", curio_storage_space),
    Check("sectors-faulty", "faulty sectors (sectors_meta)", curio_faulty),
    Check("sectors-expiring", "live sectors expiring within 7 days", curio_expiring),
    Check("sector-no-file", "live sectors with no sealed file", curio_no_file),
    Check("block-not-included", "WinningPoSt: not included, gaps", curio_winning),
    Check("message-stuck", "messages pending execution", curio_pending_messages),
)
