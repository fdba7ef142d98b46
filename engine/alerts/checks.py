"""The alert checks on harmony's own schema (the devnet chain, our tables): each a small
function over the database returning what it finds now.

Every statement is bounded (a time window through a range index, a per-miner or per-type
``GROUP BY``, or a ``LIMIT``) and only SELECTs, so the same checks run under a SELECT-only role.
Where the console already shows a figure the checks read it the same way: missed deadlines are
the ``post-missed`` events of the Events pane (written by the chain's deadline cron), path
health is the storage list's rule (an error, or silent ``STALE_AFTER``), failed attempts are
the task history rows the Events pane lists, so an alert and the console never disagree.

Sources (Curio's alertmanager, alerts.go): WindowPost, WinningPost, TaskFailures (any sealing
or PoSt failure, or more than 5 per type or machine in 30 minutes), PermanentStorageSpace
(store space vs sectors not yet moved to storage, 2 x sector size + 200 MiB each),
MissingSectors (live sectors without a sealed or update file on any path), PendingMessages
(unexecuted for over an hour), ChainSync. Ours besides: sectors expiring within a week.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.proofs.sizes import UnsupportedSectorSize, sector_size_of_proof
from engine.snapshot.format import duration
from engine.snapshot.waits import NO_ROOM as WAITS_NO_ROOM
from engine.snapshot.waits import TaskNeeds, explain_tasks, type_needs
from engine.storage.filetypes import SectorFileType
from engine.storage.missing import MISSING_CHECK_EVERY
from engine.storage.placement import STALE_AFTER
from engine.storage.sectors import sector_file_path

from .model import AlertSettings, Finding, Severity

__all__ = ["CHECKS", "SEALING_AND_POST", "Check", "fmt_bytes", "numbers_text"]

#: Task types whose every final failure is an alert (Curio's ``sealingTasks`` plus PoSt).
SEALING_AND_POST = frozenset(
    {
        "SDR",
        "TreeD",
        "TreeRC",
        "PreCommitBatch",
        "PoRep",
        "Finalize",
        "MoveStorage",
        "CommitBatch",
        "WdPost",
        "WdPostSubmit",
        "WdPostRecover",
        "WinPost",
        "ParkPiece",
    }
)

#: Curio's permanentStorageCheck: sealed + unsealed + 200 MiB of cache per sector to finalize.
CACHE_ALLOWANCE = 200 << 20

CheckFn = Callable[[Any, AlertSettings, datetime], Awaitable[list[Finding]]]


@dataclass(frozen=True)
class Check:
    """A named check: ``fn(tx, settings, now)`` lists what it finds now."""

    name: str
    title: str
    fn: CheckFn


def miner(sp_id: int) -> str:
    return f"t0{sp_id}"


def fmt_bytes(n: int) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def numbers_text(numbers: list[int], total: int) -> str:
    """``1, 2, 3`` or ``1, 2, 3 and 7 more``."""
    shown = ", ".join(str(n) for n in numbers)
    return shown if total <= len(numbers) else f"{shown} and {total - len(numbers)} more"


# ------------------------------------------------------------------------------ WindowPoSt

#: A partition's newest missed deadline in the window, unless a proof for that deadline and
#: partition landed after it closed (the next proving period's): then it is fixed.
WDPOST_MISSED = """
WITH missed AS (
    SELECT e.sp_id, e.deadline, e."partition", max(e.at) AS at,
           (array_agg(e.message ORDER BY e.at DESC, e.id DESC))[1] AS message
      FROM cluster_events e
     WHERE e.kind = 'post-missed' AND e.at >= now() - make_interval(secs => $1)
       AND e.sp_id IS NOT NULL AND e.deadline IS NOT NULL
     GROUP BY e.sp_id, e.deadline, e."partition"
)
SELECT m.* FROM missed m
 WHERE NOT EXISTS (
        SELECT 1 FROM chain_post_submissions s, chain_config c
         WHERE c.id = 1 AND s.sp_id = m.sp_id AND s.deadline = m.deadline
           AND s."partition" = m."partition"
           AND c.genesis_time + make_interval(secs => s.landed_epoch * c.block_time) > m.at)
 ORDER BY m.sp_id, m.deadline, m."partition"
 LIMIT 1000
"""


async def wdpost_missed(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(WDPOST_MISSED, s.recent):
        sp, dl, part = r["sp_id"], r["deadline"], r["partition"]
        out.append(
            Finding(
                "wdpost-missed",
                f"{miner(sp)} dl{dl} p{part}",
                Severity.CRITICAL,
                f"{miner(sp)} deadline {dl} partition {part} closed at "
                f"{r['at']:%Y-%m-%d %H:%M:%S} UTC without a landed WindowPoSt ({r['message']}). "
                "Check that machines running WdPost and WdPostSubmit are up (`harmony machine "
                "list`) and that the partition's sector files are readable (`harmony storage "
                "find SECTOR`); it clears when a proof for this deadline lands.",
                {"miner": sp, "deadline": dl, "partition": part},
            )
        )
    return out


FAULTY = """
SELECT sp_id,
       count(*) FILTER (WHERE state = 'faulty') AS faulty,
       count(*) FILTER (WHERE state = 'recovering') AS recovering,
       (array_agg(sector_number ORDER BY sector_number))[1:$1] AS numbers
  FROM chain_sectors
 WHERE state IN ('faulty', 'recovering')
 GROUP BY sp_id
 ORDER BY sp_id
"""


async def sectors_faulty(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(FAULTY, s.list_limit):
        sp, faulty, recovering = r["sp_id"], int(r["faulty"]), int(r["recovering"])
        what = [f"{faulty} faulty"] if faulty else []
        what += [f"{recovering} recovering"] if recovering else []
        out.append(
            Finding(
                "sectors-faulty",
                miner(sp),
                Severity.WARNING,
                f"{miner(sp)} has {' and '.join(what)} sector(s) "
                f"({numbers_text(list(r['numbers']), faulty + recovering)}): faulty sectors earn "
                "no power and are fined each day. Make their files readable, then they are "
                "declared recovered and proven at their next deadline (`harmony proving "
                "info`).",
                {"miner": sp, "sectors": list(r["numbers"])},
            )
        )
    return out


#: The newest landed proof of each partition: sectors it had to skip could not be read.
UNREADABLE = """
SELECT * FROM (
    SELECT DISTINCT ON (sp_id, deadline, "partition")
           sp_id, deadline, "partition", skipped_sectors, landed_epoch, message_cid
      FROM chain_post_submissions
     ORDER BY sp_id, deadline, "partition", proving_period_start DESC
) newest
 WHERE cardinality(skipped_sectors) > 0
 ORDER BY sp_id, deadline, "partition"
 LIMIT 1000
"""


async def partition_unreadable(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(UNREADABLE):
        sp, dl, part = r["sp_id"], r["deadline"], r["partition"]
        skipped = sorted(r["skipped_sectors"])
        out.append(
            Finding(
                "partition-unreadable",
                f"{miner(sp)} dl{dl} p{part}",
                Severity.WARNING,
                f"{miner(sp)} deadline {dl} partition {part}: the last WindowPoSt (epoch "
                f"{r['landed_epoch']}) skipped {len(skipped)} sector(s) it could not read "
                f"({numbers_text(skipped[: s.list_limit], len(skipped))}); they are faulty. "
                "Find their files (`harmony storage find SECTOR`) and fix the path.",
                {"miner": sp, "deadline": dl, "partition": part, "sectors": skipped[:100]},
            )
        )
    return out


#: Live sectors expire within this many days (proving periods; 480 epochs on the devnet): an
#: operator has a week to extend the ones to keep.
EXPIRING_DAYS = 7

#: Live sectors expiring within EXPIRING_DAYS of the head, per miner ($1 days, $2 list limit).
EXPIRING = """
SELECT s.sp_id, count(*) AS n, min(s.expiration_epoch) AS soonest, h.head,
       c.wpost_proving_period AS day,
       (array_agg(s.sector_number ORDER BY s.expiration_epoch, s.sector_number))[1:$2]
           AS numbers
  FROM chain_config c
  JOIN LATERAL (SELECT max(epoch) AS head FROM chain_tipsets) h ON h.head IS NOT NULL
  JOIN chain_sectors s ON s.state IN ('active', 'faulty', 'recovering')
       AND s.expiration_epoch <= h.head + $1 * c.wpost_proving_period
 WHERE c.id = 1
 GROUP BY s.sp_id, h.head, c.wpost_proving_period
 ORDER BY s.sp_id
 LIMIT 1000
"""


def expiring_finding(sp: int, n: int, soonest: int, days: int, numbers: list[int]) -> Finding:
    """The sectors-expiring alert (both backends word it alike; the epochs are the chain's)."""
    return Finding(
        "sectors-expiring",
        miner(sp),
        Severity.WARNING,
        f"{miner(sp)}: {n} live sector(s) expire within {days} days, the soonest at epoch "
        f"{soonest} (sectors {numbers_text(numbers, n)}). At its expiration a sector leaves its "
        "partition: no longer proven, its power gone. Extend the ones to keep before then "
        "(ExtendSectorExpiration2: `sptool sectors extend`, `lotus-miner sectors extend`), or "
        "let them expire (acknowledge or mute this alert); see `harmony sectors expirations`.",
        {"miner": sp, "epoch": soonest, "sectors": numbers},
    )


async def sectors_expiring(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        expiring_finding(
            r["sp_id"], int(r["n"]), int(r["soonest"]), EXPIRING_DAYS, list(r["numbers"])
        )
        for r in await tx.select(EXPIRING, EXPIRING_DAYS, s.list_limit)
    ]


# ----------------------------------------------------------------------------- WinningPoSt

NOT_INCLUDED = """
SELECT sp_id, epoch, mined_cid FROM mining_tasks
 WHERE won AND included IS FALSE AND base_compute_time >= now() - make_interval(secs => $1)
 ORDER BY base_compute_time DESC LIMIT 100
"""


async def block_not_included(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "block-not-included",
            f"{miner(r['sp_id'])} epoch {r['epoch']}",
            Severity.CRITICAL,
            f"{miner(r['sp_id'])} won epoch {r['epoch']} but its block "
            f"{r['mined_cid'] or '(none)'} is not in the chain: the reward is lost. Check the "
            "WinPost machines' timing and their chain node.",
            {"miner": r["sp_id"], "epoch": r["epoch"]},
        )
        for r in await tx.select(NOT_INCLUDED, s.recent)
    ]


#: Won epochs (a mining_tasks row) whose block was never mined, two minutes on: no WinPost
#: machine ran the task. A WinPost that ran and recorded its block lost (``included`` false)
#: is block-not-included's, not a gap. (Our devnet adds rows only for wins; Curio adds one per
#: epoch and its check counts them, see curio_checks.)
NOT_MINED = """
SELECT m.sp_id, count(*) AS n, (array_agg(m.epoch ORDER BY m.epoch DESC))[1:$2] AS epochs
  FROM mining_tasks m
 WHERE m.won AND m.mined_cid IS NULL AND m.included IS NOT FALSE
   AND m.base_compute_time >= now() - make_interval(secs => $1)
   AND m.base_compute_time < now() - interval '2 minutes'
 GROUP BY m.sp_id ORDER BY m.sp_id
"""


async def winpost_gap(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "winpost-gap",
            miner(r["sp_id"]),
            Severity.CRITICAL,
            f"{miner(r['sp_id'])} won {r['n']} epoch(s) ({numbers_text(list(r['epochs']), r['n'])}"
            ") without mining a block: no machine ran its WinPost task in time. Start a "
            "machine with WinPost (`harmony run --tasks WinPost,...`) and check "
            "`harmony task list`.",
            {"miner": r["sp_id"], "epochs": list(r["epochs"])},
        )
        for r in await tx.select(NOT_MINED, s.recent, s.list_limit)
    ]


# --------------------------------------------------------------------------- task failures

FAILED_TASKS = """
SELECT name, count(*) AS n, (array_agg(id ORDER BY id DESC))[1:$1] AS ids,
       (array_agg(last_error ORDER BY failed_at DESC))[1] AS last_error
  FROM harmony_task
 WHERE failed_at IS NOT NULL
 GROUP BY name ORDER BY name
"""


async def task_failed(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(FAILED_TASKS, s.list_limit):
        name, n = r["name"], int(r["n"])
        ids = list(r["ids"])
        out.append(
            Finding(
                "task-failed",
                name,
                Severity.CRITICAL if name in SEALING_AND_POST else Severity.WARNING,
                f"{n} {name} task(s) failed for good (ids {numbers_text(ids, n)}); last error: "
                f"{(r['last_error'] or '?')[:300]}. Fix the cause, then `harmony task restart "
                "ID` (or remove them).",
                {"task_type": name, "task_ids": ids},
            )
        )
    return out


#: Failed, retried and lost attempts in the window (the Events pane's task-* events).
FAILURE_COUNTS = """
SELECT grouping(name) AS by_machine, name, completed_by_host_and_port AS machine,
       count(*) AS n, (array_agg(err ORDER BY work_end DESC))[1] AS last_error
  FROM harmony_task_history
 WHERE outcome IN ('retry', 'failed', 'lost') AND work_end >= now() - make_interval(secs => $1)
 GROUP BY GROUPING SETS ((name), (completed_by_host_and_port))
HAVING count(*) > $2
 ORDER BY 1, 2, 3
 LIMIT 200
"""


async def task_failure_rate(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    window = duration(s.failure_window)
    for r in await tx.select(FAILURE_COUNTS, s.failure_window, s.failure_count):
        last = (r["last_error"] or "?")[:200]
        if r["by_machine"]:
            host = r["machine"]
            out.append(
                Finding(
                    "task-failure-rate",
                    f"machine {host}",
                    Severity.WARNING,
                    f"{r['n']} failed task attempts on {host} in the last {window} (more than "
                    f"{s.failure_count}); last error: {last}. Look at the machine (`harmony "
                    "machine list`, its log); cordon it if it keeps failing.",
                    {"machine": host},
                )
            )
        else:
            out.append(
                Finding(
                    "task-failure-rate",
                    f"type {r['name']}",
                    Severity.WARNING,
                    f"{r['n']} failed {r['name']} attempts in the last {window} (more than "
                    f"{s.failure_count}); last error: {last}. See `harmony events --kind "
                    "failures`.",
                    {"task_type": r["name"]},
                )
            )
    return out


# -------------------------------------------------------------------------------- storage

STORE_PATHS = """
SELECT storage_id, available FROM storage_path WHERE can_store ORDER BY available DESC
"""

TO_FINALIZE = """
SELECT p.sp_id, p.sector_number, p.reg_seal_proof, m.sector_size
  FROM sectors_sdr_pipeline p LEFT JOIN chain_miners m ON m.sp_id = p.sp_id
 WHERE NOT p.after_move_storage AND NOT p.failed
 ORDER BY p.sp_id, p.sector_number
 LIMIT 100000
"""


def space_needed(sector_size: int | None, reg_seal_proof: int) -> int:
    if sector_size is None:
        try:
            sector_size = sector_size_of_proof(reg_seal_proof)
        except UnsupportedSectorSize:
            sector_size = 64 << 30  # Curio's assumption for a proof it does not know
    return 2 * sector_size + CACHE_ALLOWANCE


def missing_space(paths: list[int], needs: list[int]) -> tuple[int, int]:
    """Curio's fit: each sector takes room from the first store path that still has it.
    Returns (bytes that fit nowhere, sectors that fit nowhere)."""
    free = list(paths)
    missing = unplaced = 0
    for need in needs:
        for i, room in enumerate(free):
            if need <= room:
                free[i] -= need
                break
        else:
            missing += need
            unplaced += 1
    return missing, unplaced


async def storage_space(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    paths = [int(r["available"] or 0) for r in await tx.select(STORE_PATHS)]
    sectors = await tx.select(TO_FINALIZE)
    if not sectors:
        return []
    needs = [space_needed(r["sector_size"], r["reg_seal_proof"]) for r in sectors]
    missing, unplaced = missing_space(paths, needs)
    if not missing:
        return []
    return [
        Finding(
            "storage-space",
            "store paths",
            Severity.WARNING,
            f"not enough long-term storage for the sectors being sealed: {unplaced} of "
            f"{len(sectors)} will not fit on any store path ({fmt_bytes(missing)} more needed, "
            f"{fmt_bytes(sum(paths))} available on {len(paths)} path(s)). Attach a store path "
            "(`harmony storage attach --store DIR`) or free room, or sealed sectors will wait.",
            {},
        )
    ]


#: Live sectors that cannot be proven: no sealed (or update) file on any path, or a cache
#: declared only where it is gone. A declared file counts unless the storage heartbeat of a host
#: reaching its path found it gone from disk (``missing_since``, :mod:`engine.storage.missing`):
#: a file deleted by hand is noticed without anyone redeclaring, its declaration kept. One index
#: range read of sector_location per live sector ($1 list limit).
NO_SEALED_FILE = """
SELECT s.sp_id, count(*) AS n,
       (array_agg(s.sector_number ORDER BY s.sector_number))[1:$1] AS numbers,
       count(*) FILTER (WHERE f.gone) AS n_gone,
       (array_agg(s.sector_number ORDER BY s.sector_number) FILTER (WHERE f.gone))[1:$1] AS gone
  FROM chain_sectors s
  CROSS JOIN LATERAL (
        SELECT coalesce(bool_or(l.sector_filetype IN (2, 8) AND l.missing_since IS NULL), FALSE)
                   AS sealed,
               coalesce(bool_or(l.sector_filetype IN (4, 16)), FALSE)
                   AND NOT coalesce(bool_or(l.sector_filetype IN (4, 16)
                                            AND l.missing_since IS NULL), FALSE) AS no_cache,
               coalesce(bool_or(l.missing_since IS NOT NULL), FALSE) AS gone
          FROM sector_location l
         WHERE l.miner_id = s.sp_id AND l.sector_num = s.sector_number
           AND l.sector_filetype IN (2, 4, 8, 16)) f
 WHERE s.state IN ('active', 'faulty', 'recovering') AND (NOT f.sealed OR f.no_cache)
 GROUP BY s.sp_id ORDER BY s.sp_id
"""

#: Where the first of a miner's gone files were, as the heartbeat that saw it gone reaches it.
GONE_FILES = """
SELECT l.sector_num, l.sector_filetype, l.storage_id, l.missing_since, h.hostname, h.local_path
  FROM sector_location l
  LEFT JOIN LATERAL (SELECT hostname, local_path FROM storage_path_hosts h
                      WHERE h.storage_id = l.storage_id ORDER BY hostname LIMIT 1) h ON TRUE
 WHERE l.miner_id = $1 AND l.sector_num = ANY($2::bigint[]) AND l.missing_since IS NOT NULL
 ORDER BY l.sector_num, l.sector_filetype, l.storage_id
 LIMIT 4
"""


def _gone_text(r: Any, sp: int) -> str:
    ft = SectorFileType(r["sector_filetype"])
    where = f"path {r['storage_id']}"
    if r["hostname"] is not None:
        file = sector_file_path(Path(r["local_path"]), ft, sp, int(r["sector_num"]))
        where += f", {r['hostname']}:{file}"
    return f"{ft} of sector {r['sector_num']} ({where}; gone since {r['missing_since']:%H:%M} UTC)"


async def sector_no_sealed_file(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(NO_SEALED_FILE, s.list_limit):
        sp, n, n_gone = r["sp_id"], int(r["n"]), int(r["n_gone"])
        numbers = list(r["numbers"])
        text = (
            f"{miner(sp)}: {n} live sector(s) have no sealed file on any storage path "
            f"({numbers_text(numbers, n)}): they cannot be proven and will fault at their "
            "deadline."
        )
        if n_gone:
            gone = await tx.select(GONE_FILES, sp, list(r["gone"]))
            files = "; ".join(_gone_text(g, sp) for g in gone[:3])
            shown = {g["sector_num"] for g in gone[:3]}
            more = "; ..." if len(gone) > 3 or n_gone > len(shown) else ""
            text += (
                f" Declared, but found gone from disk by the storage heartbeat ({n_gone}): "
                f"{files}{more}. Restore the files there (the host's next look, "
                f"within {duration(MISSING_CHECK_EVERY)}, clears this), or, if they are lost "
                "for good, forget them with `harmony storage redeclare --drop-missing` on that "
                "host."
            )
        if n > n_gone:
            text += (
                f" Declared on no path ({n - n_gone}): re-attach the path that held them, or "
                "run `harmony storage redeclare` on the host that has their files."
            )
        out.append(
            Finding(
                "sector-no-file",
                miner(sp),
                Severity.CRITICAL,
                text,
                {"miner": sp, "sectors": numbers},
            )
        )
    return out


PATH_HOSTS = """
SELECT h.storage_id, h.hostname, h.heartbeat_err,
       EXTRACT(EPOCH FROM now() - h.last_heartbeat)::float8 AS age
  FROM storage_path_hosts h
 WHERE h.heartbeat_err IS NOT NULL OR h.last_heartbeat IS NULL
    OR h.last_heartbeat < now() - make_interval(secs => $1)
 ORDER BY h.storage_id, h.hostname
 LIMIT 1000
"""


def path_trouble(error: str | None, age: float | None) -> str:
    """What is wrong with a storage path, in words: its disk check's error, or how long it has
    been silent (the storage list's "Stale (29075615s ago)" reads badly in a sentence)."""
    if error is not None:
        return f"its disk check failed ({error})"
    if age is None:
        return "it has sent no heartbeat yet"
    return f"its heartbeat is stale (the last one {duration(age)} ago)"


async def storage_path_unhealthy(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    out = []
    for r in await tx.select(PATH_HOSTS, STALE_AFTER):
        sid, host = r["storage_id"], r["hostname"]
        what = path_trouble(r["heartbeat_err"], r["age"])
        if r["heartbeat_err"] is not None:
            todo = "Fix the disk or mount; the next heartbeat clears this."
        else:
            todo = (
                f"Is a harmony machine running on {host}? Start one, or detach the path "
                "there if it is gone (`harmony storage detach`)."
            )
        out.append(
            Finding(
                "storage-path",
                f"{sid} on {host}",
                Severity.WARNING,
                f"storage path {sid} on {host}: {what}; nothing is placed on it and its sectors "
                f"may not be provable. {todo}",
                {"path": sid, "host": host},
            )
        )
    return out


#: How many pending tasks of each type that writes sector files the storage-no-room check
#: explains: the next ones a machine would claim (the claim order's index). Each costs a few
#: statements (:func:`engine.snapshot.waits.explain_tasks`), so an evaluation asks about at most
#: the sealing stages times this many tasks, however long the queue.
NO_ROOM_SAMPLE = 5

NEXT_PENDING = """
SELECT t.id, t.name FROM unnest($1::text[]) AS n(name)
 CROSS JOIN LATERAL (SELECT id, name FROM harmony_task
                      WHERE name = n.name AND owner_id IS NULL AND failed_at IS NULL
                        AND posted_time < now() - make_interval(secs => $3)
                      ORDER BY priority DESC, posted_time, id LIMIT $2) t
 ORDER BY t.name, t.id
"""

#: Pending tasks of other types (ones the explanation does not know) whose last attempt was
#: given back for lack of storage: the placement's own reason is in that history row.
NO_ROOM = """
SELECT t.name, count(*) AS n, (array_agg(t.id ORDER BY t.id))[1:$1] AS ids,
       (array_agg(h.err ORDER BY h.id DESC))[1] AS reason
  FROM (SELECT id, name FROM harmony_task
         WHERE owner_id IS NULL AND failed_at IS NULL AND name <> ALL($2::text[])
         ORDER BY id LIMIT 10000) t
  JOIN LATERAL (SELECT h.id, h.outcome, h.err FROM harmony_task_history h
                 WHERE h.task_id = t.id ORDER BY h.id DESC LIMIT 1) h ON TRUE
 WHERE h.outcome = 'released' AND h.err LIKE 'storage not available%'
 GROUP BY t.name ORDER BY t.name
"""


def _file_writing_types() -> dict[str, TaskNeeds]:
    """The shipped types whose tasks need room for new sector files, or their inputs on the
    claiming host: the ones a storage wait can hold back."""
    from engine.tasks.seal.pipeline import STAGE_BY_TASK

    out = {}
    for name in sorted(STAGE_BY_TASK):
        needs = type_needs(name)
        if needs is not None and (needs.writes or (needs.reads and not needs.reads_remotely)):
            out[name] = needs
    return out


async def sealing_no_path(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    """Sealing work no storage path can hold. The scheduler turns such a task down before any
    claim (its ``has_capacity``), so nothing is written about it: the check asks the very
    explanation ``harmony task list --why`` prints, for the next few pending tasks of each type
    that writes sector files among those added more than ``no_room_after`` ago. Other types
    are found by their last attempt, given back because the reservation at the claim failed."""
    types = _file_writing_types()
    pending = await tx.select(NEXT_PENDING, list(types), NO_ROOM_SAMPLE, s.no_room_after)
    waits = await explain_tasks(tx, [int(r["id"]) for r in pending]) if pending else {}
    asked: dict[str, int] = {}
    for r in pending:
        asked[r["name"]] = asked.get(r["name"], 0) + 1
    out = []
    for name in sorted(asked):
        held = sorted(
            (w for w in waits.values() if w.name == name and w.kind == "storage"),
            key=lambda w: w.task_id,
        )
        if not held:
            continue
        ids = [w.task_id for w in held]
        reason = held[0].text.removeprefix(WAITS_NO_ROOM)
        k = len(held)
        count = (
            f"{k} of the next {NO_ROOM_SAMPLE} {name} tasks"
            if asked[name] >= NO_ROOM_SAMPLE
            else f"{k} {name} task(s)"
        )
        if "fits nowhere" in reason:
            flag = "--seal" if types[name].seal else "--store"
            todo = (
                f"Attach a {flag[2:]} path with room (`harmony storage attach {flag} DIR`), or "
                "free space or raise the limit on one; if the paths are only full of sectors in "
                "flight, this clears as those move on."
            )
        else:
            todo = f"Run {name} on a machine of the host that has the files (`harmony run`)."
        out.append(
            Finding(
                "storage-no-room",
                name,
                Severity.WARNING,
                f"{count} wait because no storage path can hold their files (tasks "
                f"{numbers_text(ids[: s.list_limit], k)}): {reason}. {todo}",
                {"task_type": name, "task_ids": ids},
            )
        )
    for r in await tx.select(NO_ROOM, s.list_limit, list(types)):
        out.append(
            Finding(
                "storage-no-room",
                r["name"],
                Severity.WARNING,
                f"{r['n']} {r['name']} task(s) wait because no storage path can hold their "
                f"files (tasks {numbers_text(list(r['ids']), int(r['n']))}): {r['reason']}. "
                "Attach a seal path with room (`harmony storage attach --seal DIR`) or free "
                "space.",
                {"task_type": r["name"], "task_ids": list(r["ids"])},
            )
        )
    return out


# ----------------------------------------------------------------------- messages, chain

STUCK = """
SELECT sp_id, count(*) AS n, min(submitted_at) AS oldest,
       (array_agg(method || ' ' || cid ORDER BY submitted_at))[1:$2] AS messages
  FROM chain_messages
 WHERE landed_epoch IS NULL AND submitted_at < now() - make_interval(secs => $1)
 GROUP BY sp_id ORDER BY sp_id
"""


async def message_stuck(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    return [
        Finding(
            "message-stuck",
            miner(r["sp_id"]),
            Severity.WARNING,
            f"{r['n']} message(s) of {miner(r['sp_id'])} unconfirmed for more than "
            f"{duration(s.message_stuck)} (oldest sent {r['oldest']:%Y-%m-%d %H:%M:%S} UTC): "
            f"{'; '.join(r['messages'])}. Is the chain advancing (`harmony chain status`)?",
            {"miner": r["sp_id"]},
        )
        for r in await tx.select(STUCK, s.message_stuck, s.list_limit)
    ]


HEAD = """
SELECT t.epoch, t.created_at, EXTRACT(EPOCH FROM now() - t.created_at)::float8 AS age,
       c.block_time
  FROM chain_config c
  JOIN LATERAL (SELECT epoch, created_at FROM chain_tipsets ORDER BY epoch DESC LIMIT 1) t
    ON TRUE
 WHERE c.id = 1
"""


async def chain_head_stale(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    r = await tx.query_row(HEAD)
    if r is None or r["age"] is None or r["age"] <= max(s.head_stale, 3 * r["block_time"]):
        return []
    return [
        Finding(
            "chain-stalled",
            "devnet chain",
            Severity.CRITICAL,
            f"the devnet chain has not advanced for {duration(r['age'])} (head epoch "
            f"{r['epoch']}, made {r['created_at']:%Y-%m-%d %H:%M:%S} UTC): no messages land, "
            "no deadline is proven. Is any machine running ChainTick (`harmony machine list`)?",
            {"epoch": r["epoch"]},
        )
    ]


CHECKS: tuple[Check, ...] = (
    Check("wdpost-missed", "WindowPoSt deadline closed without a landed proof", wdpost_missed),
    Check("sectors-faulty", "faulty and recovering sectors", sectors_faulty),
    Check("partition-unreadable", "partition sectors a proof could not read", partition_unreadable),
    Check("sectors-expiring", "live sectors expiring within 7 days", sectors_expiring),
    Check("block-not-included", "won block not included", block_not_included),
    Check("winpost-gap", "won epoch with no block mined", winpost_gap),
    Check("task-failed", "tasks failed for good", task_failed),
    Check("task-failure-rate", "many failures per task type or machine", task_failure_rate),
    Check("storage-space", "store space for the sectors being sealed", storage_space),
    Check("sector-no-file", "live sectors with no sealed file", sector_no_sealed_file),
    Check("storage-path", "path heartbeat stale or disk check failed", storage_path_unhealthy),
    Check("storage-no-room", "sealing work no storage path can hold", sealing_no_path),
    Check("message-stuck", "messages unconfirmed too long", message_stuck),
    Check("chain-stalled", "chain head not advancing", chain_head_stale),
)
