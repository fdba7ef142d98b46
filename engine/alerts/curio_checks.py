"""The alert checks on a Curio cluster's schema, read-only: the ones whose data is in Curio's
own tables (its columns differ from ours: no ``outcome`` in task history, one heartbeat per
path, ``sectors_meta`` for the sectors' chain state, one ``mining_tasks`` row per epoch).

Sectors expiring soon are read from ``sectors_meta.expiration_epoch`` against the head of
Curio's newest WinningPoSt round (``mining_tasks``). So is the window of the sectors a
WindowPoSt skipped (as Curio's wdPostCheck finds them, in each partition's latest proof over a
proving period), each proof's ``wdpost_proofs.proof_params`` decoded by
:mod:`engine.curio.post_params`.

Three checks need the chain as well, from the Lotus node Curio uses (:data:`CURIO_LOTUS_CHECKS`,
given the console's :class:`~engine.snapshot.curio.chain.ChainState`): a WindowPoSt deadline
closed without a proof whose message landed successfully (the deadlines and their partitions
from Lotus, the proofs from Curio's ``wdpost_proofs`` and ``message_waits``, as Curio's own
wdPostCheck), sectors declared recovering (the partitions' ``RecoveringSectors``;
``sectors_meta`` records faults only), and a Lotus node behind the chain (Curio's
chainSyncCheck: the head's timestamp 5 epochs or more behind). Without a Lotus node they are
not evaluated, and the callers say so.

Each message says what to do with Curio's own tools: its CLI (``curio cli storage …``,
``sptool``), its web UI's pages (``/pages/…`` on the GUI address, port 4701 by default), and the
Lotus CLI for the node and the message pool. Nothing is stored: ``harmony alerts list`` and the
console evaluate these live, and acknowledging or muting is Curio's own (its web UI keeps them
in its ``alert_history``/``alert_mutes`` tables, which harmony never writes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.curio.post_params import PostParamsError, decode_post_params
from engine.snapshot.expirations import (
    FILECOIN_EPOCHS_PER_DAY,
    curio_head_estimate,
)
from engine.snapshot.format import duration
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
    path_trouble,
)
from .checks import space_needed as _space_needed
from .model import AlertSettings, Finding, Severity

if TYPE_CHECKING:
    from engine.snapshot.curio.chain import ChainState, MinerChain

__all__ = [
    "CURIO_CHECKS",
    "CURIO_LOTUS_CHECKS",
    "LotusCheck",
    "lotus_checks_skipped",
    "lotus_checks_text",
]

#: Curio's web UI (its ``[Subsystems] GuiAddress``, 0.0.0.0:4701 by default)
WEB_UI = "Curio's web UI"


def sector_page(sp_id: int, number: int) -> str:
    return f"/pages/sector/?sp=f0{sp_id}&id={number}"


def partition_page(sp_id: int, deadline: int, partition: int) -> str:
    return f"/pages/partition/?sp=f0{sp_id}&deadline={deadline}&partition={partition}"


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
                    f"{numbers_text(ids, len(rows))}); last error: {(rows[0]['err'] or '?')[:300]}."
                    f" Curio has deleted them: see their attempts in {WEB_UI} "
                    f"(/pages/task/?name={name}) and the machine's log, fix the cause; a "
                    "sector's sealing task is retried from the pipeline page "
                    "(/pages/pipeline_porep/, Resume All).",
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
                    f"{n} tasks failed for good on {host} in the last {window} (more than "
                    f"{s.failure_count}). Look at that node: its log, its tasks in {WEB_UI}; "
                    f"cordon it if it keeps failing (`curio cli --machine {host} cordon`).",
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
            f"storage path {r['storage_id']}: {path_trouble(r['heartbeat_err'], r['age'])}; "
            "nothing is placed on it and its sectors may not be provable. "
            + (
                "Fix the disk or mount on the node that has it; its next heartbeat clears this."
                if r["heartbeat_err"]
                else "Is the Curio node that has it running (`curio cli storage list`, "
                "/pages/storage_paths/ in the web UI)? Start it, or detach the path there if "
                "it is gone (`curio cli --machine HOST:PORT storage detach --really-do-it PATH`)."
            ),
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
            f"fit on any store path ({fmt_bytes(missing)} more needed, "
            f"{fmt_bytes(sum(paths))} available on {len(paths)} path(s)). Attach a store path "
            "on a Curio node (`curio cli --machine HOST:PORT storage attach --store PATH`) or "
            "free room (/pages/storage_paths/ in the web UI), or sealed sectors will wait.",
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
            f"({numbers_text(list(r['numbers']), int(r['n']))}): faulty sectors earn no power "
            "and are fined each day. Find why their files cannot be read (`curio cli storage "
            f"find f0{r['sp_id']} SECTOR`, {WEB_UI}'s "
            f"{sector_page(r['sp_id'], r['numbers'][0])}); once readable, Curio's "
            "WdPostRecover declares them recovered and their next WindowPoSt proves them "
            "(`sptool proving faults`).",
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
            f"path ({numbers_text(list(r['numbers']), int(r['n']))}): they cannot be proven "
            "and will fault at their deadline. Re-attach the path that held them, or redeclare "
            "it on the node that has it (`curio cli --machine HOST:PORT storage redeclare "
            f"--all`); `curio cli storage find f0{r['sp_id']} SECTOR` says where Curio looks.",
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
            f"{r['mined_cid'] or '(none)'}: the reward is lost. Check the WinPost node's "
            "timing (its log: how late after the epoch began it submitted) and its Lotus node's "
            "sync and peers (`lotus sync status`, `lotus net peers`).",
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
            "expected every epoch): are its WinPost nodes up? Curio adds the tasks on a node "
            "with EnableWinningPost; see /pages/task/?name=WinPost in the web UI.",
            {"miner": r["sp_id"]},
        )
        for r in await tx.select(CURIO_MINING_GAP, s.recent, s.interval)
    ]
    return out


#: Curio's ``message_waits.created_at`` is a UTC wall clock stored through the writing
#: session's zone (``DEFAULT TIMEZONE('UTC', NOW())`` into a ``timestamptz``), and Curio's own
#: pending-messages alert reads its wall-clock fields back as UTC. Under a database whose
#: default zone is not UTC the stored instant is off by the zone's offset (east of UTC a
#: message just sent would read as hours old), so the instant is rebuilt the same way: the
#: wall clock in the zone Curio's sessions use ($2), read as UTC.
CURIO_PENDING = """
SELECT signed_message_cid FROM message_waits
 WHERE executed_tsk_cid IS NULL
   AND (created_at AT TIME ZONE $2) AT TIME ZONE 'UTC' < now() - make_interval(secs => $1)
 ORDER BY created_at LIMIT 100
"""


async def curio_pending_messages(db: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    exists = await db.query_value("SELECT to_regclass('message_waits') IS NOT NULL")
    if not exists:
        return []
    rows = await db.select(CURIO_PENDING, s.message_stuck, await db.default_timezone())
    if not rows:
        return []
    cids = [r["signed_message_cid"] for r in rows]
    return [
        Finding(
            "message-stuck",
            "message_waits",
            Severity.WARNING,
            f"{len(cids)} message(s) pending execution for more than "
            f"{duration(s.message_stuck)}: {', '.join(cids[: s.list_limit])}. Look each up on "
            "the Lotus node: still in its pool (`lotus mpool pending --local`), replace it "
            "with a higher fee (`lotus mpool replace --auto CID`); landed (`lotus state "
            "search-msg CID`), the Curio node waiting for it is not recording that: is one "
            "running?",
            {},
        )
    ]


#: Curio's windowPostFinalityBuffer: a deadline closed this many epochs ago is judged
WDPOST_FINALITY = 5

#: The latest proof Curio recorded for each of a miner's deadline partitions among the
#: deadlines that closed in ($1, $2] (Close is submit_by_epoch).
CURIO_RECENT_PROOFS = """
SELECT DISTINCT ON (sp_id, deadline, "partition")
       sp_id, proving_period_start, deadline, "partition", submit_by_epoch, proof_params
  FROM wdpost_proofs
 WHERE submit_by_epoch > $1 AND submit_by_epoch <= $2
 ORDER BY sp_id, deadline, "partition", proving_period_start DESC
 LIMIT 1000
"""


async def curio_partition_unreadable(tx: Any, s: AlertSettings, now: datetime) -> list[Finding]:
    """Curio's wdPostCheck's skipped sectors: each partition's latest proof's ``proof_params``
    decoded, and every posted partition whose ``Skipped`` bitfield is not empty.

    Latest over a proving period (a day of epochs: each deadline once) and judged
    WDPOST_FINALITY epochs after its close, as Curio judges them, the head being Curio's newest
    WinningPoSt round (none yet: nothing to judge by). Curio itself looks back only its 30-min
    FullAlertInterval, for it sends each alert once; here the console shows what is true now,
    so the alert stays until the partition's next proof skips nothing (the fix proven), as
    partition-unreadable does on our own chain. A proof that does not decode is said as such,
    and the other proofs are still read."""
    head = await curio_head_estimate(tx, now)
    if head is None:
        return []
    # a period back from the judged edge: a deadline's previous proof counts until the next
    # one is judged
    oldest = max(head - WDPOST_FINALITY - FILECOIN_EPOCHS_PER_DAY - 1, 0)
    out = []
    for r in await tx.select(CURIO_RECENT_PROOFS, oldest, head - WDPOST_FINALITY):
        sp, close = int(r["sp_id"]), int(r["submit_by_epoch"])
        try:
            if r["proof_params"] is None:
                raise PostParamsError("no proof params recorded")
            params = decode_post_params(r["proof_params"])
        except PostParamsError as e:
            dl, part = int(r["deadline"]), int(r["partition"])
            out.append(
                Finding(
                    "partition-unreadable",
                    f"{miner(sp)} dl{dl} p{part}",
                    Severity.WARNING,
                    f"{miner(sp)} deadline {dl} partition {part}: the WindowPoSt proof Curio "
                    f"recorded for the deadline closed at epoch {close} does not decode ({e}), "
                    "so whether it skipped sectors is unknown (Curio's own WindowPost alert "
                    "fails on it too). See the partition's sectors in "
                    f"{WEB_UI} ({partition_page(sp, dl, part)}) "
                    "and the miner's faults (`sptool proving faults`).",
                    {"miner": sp, "deadline": dl, "partition": part},
                )
            )
            continue
        dl = params.deadline
        for p in params.partitions:
            if not p.skipped:
                continue
            numbers = list(p.skipped_sectors)
            out.append(
                Finding(
                    "partition-unreadable",
                    f"{miner(sp)} dl{dl} p{p.index}",
                    Severity.WARNING,
                    f"{miner(sp)} deadline {dl} partition {p.index}: its WindowPoSt (the "
                    f"deadline closed at epoch {close}) skipped {p.skipped} sector(s) it could "
                    f"not read ({numbers_text(numbers[: s.list_limit], p.skipped)}); they are "
                    "faulty: no power, and fined each day. Find their files (`curio cli "
                    f"storage find f0{sp} SECTOR`, {WEB_UI}'s {sector_page(sp, numbers[0])}) "
                    "and fix the path or its node; `curio test window-post here --deadline "
                    f"{dl} --partition {p.index}` proves the partition without sending it. Once "
                    "they are readable Curio's WdPostRecover declares them recovered and the "
                    "next WindowPoSt proves them (`sptool proving faults`).",
                    {"miner": sp, "deadline": dl, "partition": p.index, "sectors": numbers},
                )
            )
    return out


# ----------------------------------------------------------------- with the Lotus node

LotusCheckFn = Callable[[Any, AlertSettings, datetime, "ChainState"], Awaitable[list[Finding]]]


@dataclass(frozen=True)
class LotusCheck:
    """A Curio check that needs the chain from its Lotus node as well: ``fn(tx, settings, now,
    chain)``. :meth:`given` binds the chain state read for one evaluation."""

    name: str
    title: str
    fn: LotusCheckFn

    def given(self, chain: ChainState) -> Check:
        return Check(self.name, self.title, functools.partial(self.fn, chain=chain))


#: Curio's chainSyncCheck: a head this many epochs behind the clock is behind
BEHIND_EPOCHS = 5


def _usable(chain: ChainState) -> list[MinerChain]:
    """The miners Lotus answered for, with their deadlines; none while the node fails (the
    lotus-behind alert says so)."""
    if not chain.ok:
        return []
    return [m for m in chain.miners if m.error is None and m.deadline and m.deadlines]


def _expected_proofs(chain: ChainState, lookback: float) -> list[tuple[int, int, int, int, int]]:
    """(sp_id, proving period start, deadline, partition, close epoch) of every partition that
    needed a proof in a deadline closed in the last ``lookback`` seconds and at least
    WDPOST_FINALITY epochs before the head (Curio's wdPostCheck), at most one proving period
    back. A partition counts if it has sectors that are proven or faulty now (active or
    faulty): one whose sectors are all still unproven was added after its deadline closed
    (Curio fills partitions of closed deadlines), and owed no proof then."""
    head, delay = chain.head_epoch, chain.block_delay
    if head is None or not delay:
        return []
    oldest = head - math.ceil(lookback / delay) - 1
    newest = head - WDPOST_FINALITY
    out = []
    for m in _usable(chain):
        info = m.deadline
        assert info is not None
        if info.current_epoch < info.period_start:  # the first period has not started
            continue
        n, window = info.wpost_period_deadlines, info.wpost_challenge_window
        index, start, close = info.index, info.period_start, info.open
        for _ in range(n - 1):
            index -= 1
            if index < 0:
                index, start = n - 1, start - info.wpost_proving_period
            if close <= oldest:
                break
            if close <= newest and index < len(m.deadlines):
                for part, counts in enumerate(m.deadlines[index].partitions):
                    if counts.active + counts.faulty > 0:
                        out.append((m.sp_id, start, index, part, close))
            close -= window
    return out


#: The proofs Curio recorded for the expected partitions, and what became of their messages:
#: the expected ones without a proof whose message executed with exit code 0.
CURIO_WDPOST = """
WITH expected(sp_id, pps, deadline, part, close_epoch) AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
)
SELECT e.sp_id, e.pps, e.deadline, e.part, e.close_epoch,
       p.sp_id IS NOT NULL AS recorded, p.message_cid,
       w.signed_message_cid IS NOT NULL AS tracked, w.executed_tsk_cid,
       w.executed_tsk_epoch, w.executed_rcpt_exitcode
  FROM expected e
  LEFT JOIN wdpost_proofs p
         ON p.sp_id = e.sp_id AND p.proving_period_start = e.pps
        AND p.deadline = e.deadline AND p."partition" = e.part
  LEFT JOIN message_waits w ON w.signed_message_cid = p.message_cid
 WHERE w.executed_rcpt_exitcode IS DISTINCT FROM 0 OR w.executed_tsk_cid IS NULL
 ORDER BY e.sp_id, e.close_epoch, e.part
 LIMIT 1000
"""


def _what_went_wrong(r: Any) -> str:
    """Curio's wdPostCheck's classification: how far the proof got."""
    cid = (r["message_cid"] or "").strip()
    if not r["recorded"]:
        return "no WindowPoSt proof was recorded (its WdPost task did not finish)"
    if not cid:
        return "a proof was computed but never sent (no message; its WdPostSubmit did not run)"
    if not r["tracked"]:
        return f"its message {cid} is not in message_waits (nothing tracked whether it landed)"
    if r["executed_tsk_cid"] is None:
        return f"its message {cid} has not landed"
    if r["executed_rcpt_exitcode"] is None:
        return f"its message {cid} landed at epoch {r['executed_tsk_epoch']} without a receipt"
    return (
        f"its message {cid} failed on chain at epoch {r['executed_tsk_epoch']} with exit code "
        f"{r['executed_rcpt_exitcode']}"
    )


async def curio_wdpost_missed(
    tx: Any, s: AlertSettings, now: datetime, chain: ChainState
) -> list[Finding]:
    """Deadlines closed in the last day (``s.recent``) without a proof that landed."""
    expected = _expected_proofs(chain, s.recent)
    if not expected:
        return []
    columns = [list(c) for c in zip(*expected, strict=True)]
    out = []
    for r in await tx.select(CURIO_WDPOST, *columns):
        sp, dl, part = int(r["sp_id"]), int(r["deadline"]), int(r["part"])
        out.append(
            Finding(
                "wdpost-missed",
                f"{miner(sp)} dl{dl} p{part}",
                Severity.CRITICAL,
                f"{miner(sp)} deadline {dl} partition {part} closed at epoch "
                f"{r['close_epoch']} without a landed WindowPoSt: {_what_went_wrong(r)}. Its "
                "sectors are faulty now. Check that nodes with EnableWindowPost are up and "
                f"their WdPost and WdPostSubmit tasks succeed ({WEB_UI}: /pages/task/?name="
                f"WdPost), that the partition's sectors are readable "
                f"({partition_page(sp, dl, part)}; `curio test window-post here --deadline {dl} "
                f"--partition {part}` computes its proof without sending it) and that the "
                "wallet sending the proofs has funds.",
                {"miner": sp, "deadline": dl, "partition": part},
            )
        )
    return out


async def curio_recovering(
    tx: Any, s: AlertSettings, now: datetime, chain: ChainState
) -> list[Finding]:
    """Per miner, the sectors its partitions have in ``RecoveringSectors`` now."""
    out = []
    for m in _usable(chain):
        if not m.recovering:
            continue
        where = [d.index for d in m.deadlines if d.recovering]
        deadlines = numbers_text(where[: s.list_limit], len(where))
        out.append(
            Finding(
                "sectors-recovering",
                miner(m.sp_id),
                Severity.WARNING,
                f"{miner(m.sp_id)} has {m.recovering} sector(s) declared recovering (of "
                f"{m.faulty} faulty) in deadline(s) {deadlines}"
                ": they earn no power until their deadline's next WindowPoSt proves them, and "
                "fault again if it cannot read them. Keep their files readable until then "
                f"(/pages/deadline/?sp=f0{m.sp_id}&deadline={where[0]} in {WEB_UI}; "
                "`sptool proving faults`).",
                {"miner": m.sp_id, "deadline": where[0]},
            )
        )
    return out


async def curio_lotus_behind(
    tx: Any, s: AlertSettings, now: datetime, chain: ChainState
) -> list[Finding]:
    """Curio's chainSyncCheck: the head's timestamp at least 5 epochs before the time it was
    read; and a node that stopped answering (nothing from Lotus can be judged then)."""
    if chain.error is not None:
        age = chain.age(now)
        last = "never" if age is None else f"{duration(age)} ago"
        return [
            Finding(
                "lotus-behind",
                "Lotus node",
                Severity.CRITICAL,
                f"the Lotus node does not answer ({chain.error}); its head was last read "
                f"{last}. Curio's WindowPoSt and WinningPoSt need it, and "
                f"{lotus_checks_text()} cannot be evaluated until it answers. Is it running "
                "and reachable with its token (FULLNODE_API_INFO, Curio's [Apis] ChainApiInfo)?",
                {},
            )
        ]
    if chain.head_time is None or chain.read_at is None or not chain.block_delay:
        return []
    behind = (chain.read_at - chain.head_time).total_seconds()
    if behind < BEHIND_EPOCHS * chain.block_delay:
        return []
    return [
        Finding(
            "lotus-behind",
            "Lotus node",
            Severity.CRITICAL,
            f"the Lotus node is {duration(behind)} behind: its head, epoch {chain.head_epoch}, "
            f"is from {chain.head_time:%Y-%m-%d %H:%M:%S} UTC. Curio works from that head: "
            "WindowPoSt proofs and WinningPoSt blocks are late or lost while it syncs. Check "
            "its sync and peers (`lotus sync status`, `lotus sync wait`, `lotus net peers`) and "
            "its machine (disk, CPU).",
            {"epoch": chain.head_epoch},
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
    Check(
        "partition-unreadable",
        "sectors a recent WindowPoSt skipped (wdpost_proofs)",
        curio_partition_unreadable,
    ),
)


#: The Curio checks that need the chain from a Lotus node (see :class:`LotusCheck`).
CURIO_LOTUS_CHECKS: tuple[LotusCheck, ...] = (
    LotusCheck(
        "wdpost-missed",
        "WindowPoSt deadline closed without a landed proof (with Lotus)",
        curio_wdpost_missed,
    ),
    LotusCheck("sectors-recovering", "sectors declared recovering (Lotus)", curio_recovering),
    LotusCheck("lotus-behind", "the Lotus node behind the chain or failing", curio_lotus_behind),
)


def lotus_checks_text(checks: tuple[LotusCheck, ...] = CURIO_LOTUS_CHECKS) -> str:
    """``wdpost-missed, sectors-recovering and lotus-behind``: what a caller without a Lotus
    node says it did not evaluate."""
    names = [c.name for c in checks]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def lotus_checks_skipped(why: str) -> str:
    """What the CLI and the console say when the checks needing a Lotus node did not run."""
    return f"{lotus_checks_text()} not evaluated: they need a Lotus node ({why})"
