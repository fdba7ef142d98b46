"""Curio's PoSt state: WindowPoSt deadlines per miner, what Curio scheduled and submitted for
them, and its WinningPoSt, with the chain's figures from a Lotus node when there is one.

Which miners: those with sealed sectors in ``sectors_meta`` (the sectors that must be proven)
and those the running nodes serve (``harmony_machine_details.miners``, written from the
``[[Addresses]] MinerAddresses`` of the layers each node runs, cmd/curio/tasks/tasks.go). The
config layers themselves are not read: a layer no node runs proves nothing.

Where the figures come from:

* with chain state (:mod:`.chain`): head, deadline windows, and the live / active / faulty /
  recovering counts of every deadline are Lotus's (``StateMinerPartitions``), as Curio's GUI
  shows them (web/api/webrpcporep/actor_summary.go);
* without it, the counts are what Curio last recorded in ``sectors_meta``: ``deadline`` and
  ``partition`` of each sector and its ``is_live`` / ``is_faulty`` flags, which the
  SectorMetadata task copies from the chain every 15 minutes
  (tasks/metadata/task_sector_expirations.go). Recoveries are not recorded there, and the
  head, deadline windows and power are unknown: :attr:`PostSnap.missing` says so, one line
  each.

``proven_partitions`` keeps our reader's meaning (partitions whose proof landed in the current
proving period) as far as the sources tell it: the open deadline's ``PostSubmissions`` from
Lotus (the chain clears them when the deadline closes), and, for the deadlines of the period,
the partitions Curio sent a proof message for (``wdpost_proofs.message_cid``, set by the
WdPostSubmit task once the message is pushed: tasks/window/submit_task.go).

Curio's WindowPoSt work is per partition (tasks/window): the WdPost task of each partition of
the open deadline is scheduled into ``wdpost_partition_tasks`` (compute_task.go
processHeadChange), its proof lands in ``wdpost_proofs``; recoveries are declared two deadlines
ahead through ``wdpost_recovery_tasks`` (recover_task.go). Curio never deletes those rows, so
each count is taken for the current proving period only. WinningPoSt: one ``mining_tasks`` row
per miner and epoch (tasks/winning/winning_task.go), ``won`` when elected, ``included`` once the
inclusion check looked (inclusion_check_task.go).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..format import duration
from ..model import PostDeadline, PostMiner, PostSnap
from ..timing import TimedTx
from .kept import Kept

if TYPE_CHECKING:
    # Annotations only: the chain watch imports the Lotus client (aiohttp, ~0.3 s), which the
    # console's start and every CLI command that reaches this module through the miners'
    # figures (engine.snapshot.miners) would otherwise pay for before their first frame.
    from .chain import ChainState, MinerChain

__all__ = [
    "DEADLINES",
    "MINER_LIMIT",
    "SectorCountCache",
    "read_post",
    "sector_size_of_proof",
]

#: deadlines per proving period (WPoStPeriodDeadlines: 48 on every Filecoin network)
DEADLINES = 48
#: miners shown at most
MINER_LIMIT = 100
#: WinningPoSt figures cover this window
WINNING_WINDOW = timedelta(hours=24)

#: sector sizes of RegisteredSealProof, by ``proof % 5`` (go-state-types abi: 2KiB, 8MiB,
#: 512MiB, 32GiB, 64GiB for V1 = 0-4, V1_1 = 5-9, V1_1 SyntheticPoRep = 10-14, V1_2 NiPoRep
#: = 15-19)
_SECTOR_SIZES = (2 << 10, 8 << 20, 512 << 20, 32 << 30, 64 << 30)
_MINER = re.compile(r"([ft])0(\d+)")

# Miners with sealed sectors: a skip scan over the primary key (sp_id, sector_num), one index
# probe per miner instead of a scan of every sector, with the seal proof of its first sector.
SECTOR_MINERS = """
WITH RECURSIVE sp (sp_id) AS (
    (SELECT sp_id FROM sectors_meta ORDER BY sp_id LIMIT 1)
    UNION ALL
    SELECT (SELECT m.sp_id FROM sectors_meta m WHERE m.sp_id > sp.sp_id
             ORDER BY m.sp_id LIMIT 1)
      FROM sp
     WHERE sp.sp_id IS NOT NULL
)
SELECT sp.sp_id,
       (SELECT m.reg_seal_proof FROM sectors_meta m WHERE m.sp_id = sp.sp_id
         ORDER BY m.sector_num LIMIT 1) AS seal_proof
  FROM sp
 WHERE sp.sp_id IS NOT NULL
 ORDER BY sp.sp_id
 LIMIT $1
"""

# The miners each running node serves, comma-joined addresses (f0… on mainnet, t0… elsewhere).
NODE_MINERS = """
SELECT miners
  FROM harmony_machine_details
 WHERE miners IS NOT NULL AND miners <> ''
 ORDER BY id
 LIMIT 1000
"""

# Per deadline, as Curio last recorded them: partitions holding live sectors, live and faulty
# sectors. Live = in the partition's LiveSectors; faulty only counted among live ones (the
# SectorMetadata task sets is_faulty for live sectors only).
SECTOR_COUNTS = """
SELECT sp_id, deadline,
       count(*) FILTER (WHERE live > 0) AS partitions,
       sum(live)::bigint AS live,
       sum(faulty)::bigint AS faulty
  FROM (SELECT sp_id, deadline, "partition",
               count(*) FILTER (WHERE is_live) AS live,
               count(*) FILTER (WHERE is_live AND is_faulty) AS faulty
          FROM sectors_meta
         WHERE sp_id = ANY ($1::bigint[]) AND deadline IS NOT NULL
           AND deadline >= 0 AND deadline < $2
         GROUP BY sp_id, deadline, "partition") per_partition
 GROUP BY sp_id, deadline
 ORDER BY sp_id, deadline
 LIMIT $3
"""

# Without a chain node: the newest proving period Curio scheduled WindowPoSt for, per miner
# (one index probe each on the identity key (sp_id, proving_period_start, ...)).
LATEST_PERIOD = """
SELECT p.sp_id, w.proving_period_start
  FROM unnest($1::bigint[]) AS p (sp_id)
  JOIN LATERAL (SELECT t.proving_period_start FROM wdpost_partition_tasks t
                 WHERE t.sp_id = p.sp_id
                 ORDER BY t.proving_period_start DESC LIMIT 1) w ON TRUE
 ORDER BY p.sp_id
 LIMIT $2
"""

# Curio's WindowPoSt work in one proving period per miner, in partitions per deadline.
WORK = """
SELECT x.sp_id, x.deadline,
       count(*) FILTER (WHERE x.kind = 'scheduled') AS scheduled,
       count(*) FILTER (WHERE x.kind = 'proof') AS computed,
       count(*) FILTER (WHERE x.kind = 'proof' AND x.sent) AS submitted,
       count(*) FILTER (WHERE x.kind = 'recovery') AS recoveries
  FROM (SELECT 'scheduled' AS kind, sp_id, proving_period_start, deadline_index AS deadline,
               FALSE AS sent
          FROM wdpost_partition_tasks
        UNION ALL
        SELECT 'proof', sp_id, proving_period_start, deadline, message_cid IS NOT NULL
          FROM wdpost_proofs
        UNION ALL
        SELECT 'recovery', sp_id, proving_period_start, deadline_index, FALSE
          FROM wdpost_recovery_tasks) x
  JOIN unnest($1::bigint[], $2::bigint[]) AS p (sp_id, period_start)
    ON p.sp_id = x.sp_id AND p.period_start = x.proving_period_start
 GROUP BY x.sp_id, x.deadline
 ORDER BY x.sp_id, x.deadline
 LIMIT $3
"""

# WinningPoSt since $2: elections run, blocks won, won blocks found not included, last win.
WINNING = """
SELECT sp_id,
       count(*) AS attempts,
       count(*) FILTER (WHERE won) AS wins,
       count(*) FILTER (WHERE won AND included IS FALSE) AS missed,
       max(epoch) FILTER (WHERE won) AS last_win
  FROM mining_tasks
 WHERE sp_id = ANY ($1::bigint[]) AND base_compute_time > $2
 GROUP BY sp_id
 ORDER BY sp_id
 LIMIT $3
"""


def sector_size_of_proof(proof: int | None) -> int:
    """Bytes of a RegisteredSealProof's sectors; 0 for one this table does not know."""
    if proof is None or not 0 <= proof < 4 * len(_SECTOR_SIZES):
        return 0
    return _SECTOR_SIZES[proof % len(_SECTOR_SIZES)]


@dataclass
class SectorCountCache(Kept["dict[tuple[int, int], _Counts]"]):
    """Curio's per-deadline sector counts, kept between refreshes.

    They change only when Curio's SectorMetadata task copies the chain into ``sectors_meta``
    (every 15 minutes), and counting them scans every sector of the miners read without a
    Lotus node (about 0.3 µs a sector: 150 ms for 500,000). A refresh re-counts when the
    miners change or ``max_age`` seconds passed on the caller's clock.
    """

    max_age: float = 60.0


@dataclass(frozen=True)
class _Counts:
    partitions: int = 0
    live: int = 0
    active: int = 0
    faulty: int = 0
    recovering: int = 0


async def read_post(
    tx: TimedTx,
    now: datetime,
    chain: ChainState | None,
    *,
    cache: SectorCountCache | None = None,
) -> PostSnap:
    """The PoSt section (see the module docstring); ``now`` is the caller's clock (the
    WinningPoSt window, the age of ``cache``d counts)."""
    sector_miners = {
        int(r["sp_id"]): r["seal_proof"] for r in await tx.select(SECTOR_MINERS, MINER_LIMIT)
    }
    served, db_prefix = _node_miners(r["miners"] for r in await tx.select(NODE_MINERS))
    ids = sorted(set(sector_miners) | served)[:MINER_LIMIT]
    missing = _chain_missing(chain, now)
    usable = chain if chain is not None and chain.has_data else None
    prefix = (usable.address_prefix if usable else None) or db_prefix or "t0"
    if not ids:
        return PostSnap(
            profile=usable.profile() if usable else None,
            genesis=usable.genesis if usable else None,
            head_epoch=usable.head_epoch if usable else None,
            miners=(),
            missing=tuple(missing),
        )

    from_chain: dict[int, MinerChain] = {}
    for sp in ids:
        m = usable.miner(sp) if usable else None
        if m is not None and m.error is None and m.deadline is not None:
            from_chain[sp] = m
        elif usable is not None:
            why = f"Lotus: {m.error}" if m is not None and m.error else "not read from Lotus yet"
            missing.append(
                f"{prefix}{sp}: {why}; its deadlines are Curio's last record "
                "(recoveries, deadline windows and power unknown)"
            )
    from_db = [sp for sp in ids if sp not in from_chain]

    # The period each miner's Curio work is counted in: the chain's current one, else the
    # newest Curio scheduled.
    periods = {sp: m.deadline.period_start for sp, m in from_chain.items() if m.deadline}
    if from_db:
        for r in await tx.select(LATEST_PERIOD, from_db, len(from_db)):
            periods[int(r["sp_id"])] = int(r["proving_period_start"])
    work: dict[tuple[int, int], dict[str, int]] = {}
    if periods:
        keys = sorted(periods)
        for r in await tx.select(WORK, keys, [periods[k] for k in keys], len(keys) * DEADLINES * 2):
            work[(int(r["sp_id"]), int(r["deadline"]))] = {
                k: int(r[k]) for k in ("scheduled", "computed", "submitted", "recoveries")
            }
    db_counts: dict[tuple[int, int], _Counts] = {}
    if from_db and cache is not None and cache.fresh(tuple(from_db), now):
        db_counts = cache.value or {}
    elif from_db:
        for r in await tx.select(SECTOR_COUNTS, from_db, DEADLINES, len(from_db) * DEADLINES):
            live, faulty = int(r["live"]), int(r["faulty"])
            # Active here = live and not faulty (Curio records no "unproven" flag).
            db_counts[(int(r["sp_id"]), int(r["deadline"]))] = _Counts(
                int(r["partitions"]), live, live - faulty, faulty, 0
            )
        if cache is not None:
            cache.keep(tuple(from_db), now, db_counts)
    winning = {
        int(r["sp_id"]): r for r in await tx.select(WINNING, ids, now - WINNING_WINDOW, len(ids))
    }

    miners: list[PostMiner] = []
    for sp in ids:
        mc = from_chain.get(sp)
        period_start = periods.get(sp)
        deadlines = []
        for i in range(len(mc.deadlines) if mc is not None else DEADLINES):
            if mc is not None:
                d = mc.deadlines[i]
                counts = _Counts(d.live_partitions, d.live, d.active, d.faulty, d.recovering)
            else:
                counts = db_counts.get((sp, i), _Counts())
            w = work.get((sp, i), {})
            landed = 0
            if mc is not None and mc.deadline is not None and i == mc.deadline.index:
                landed = mc.deadlines[i].post_submissions
            deadlines.append(
                PostDeadline(
                    index=i,
                    partitions=counts.partitions,
                    live=counts.live,
                    active=counts.active,
                    faulty=counts.faulty,
                    recovering=counts.recovering,
                    proven_partitions=max(landed, w.get("submitted", 0)),
                    scheduled=w.get("scheduled", 0),
                    computed=w.get("computed", 0),
                    submitted=w.get("submitted", 0),
                    recoveries_declared=w.get("recoveries", 0),
                )
            )
        win = winning.get(sp)
        info = mc.deadline if mc is not None else None
        miners.append(
            PostMiner(
                sp_id=sp,
                sector_size=(mc.sector_size if mc is not None and mc.sector_size else 0)
                or sector_size_of_proof(sector_miners.get(sp)),
                proving_period_offset=(
                    info.period_start % info.wpost_proving_period if info is not None else 0
                ),
                period_start=period_start if period_start is not None else 0,
                deadlines=tuple(deadlines),
                address_prefix=prefix,
                raw_power=mc.raw_power if mc is not None else None,
                qa_power=mc.qa_power if mc is not None else None,
                winning_attempts=int(win["attempts"]) if win else 0,
                winning_wins=int(win["wins"]) if win else 0,
                winning_missed=int(win["missed"]) if win else 0,
                last_win_epoch=(
                    int(win["last_win"]) if win and win["last_win"] is not None else None
                ),
            )
        )
    return PostSnap(
        profile=usable.profile() if usable else None,
        genesis=usable.genesis if usable else None,
        head_epoch=usable.head_epoch if usable else None,
        miners=tuple(miners),
        missing=tuple(missing),
    )


def _node_miners(rows: Iterable[str]) -> tuple[set[int], str | None]:
    """Actor ids in the nodes' comma-joined ``miners``, and the network prefix they are
    written with (Curio writes ``address.String()``: f0… on a mainnet build, t0… otherwise)."""
    ids: set[int] = set()
    prefix: str | None = None
    for text in rows:
        for part in text.split(","):
            match = _MINER.fullmatch(part.strip())
            if match is None:
                continue  # not an ID address (Curio writes only those)
            ids.add(int(match.group(2)))
            prefix = prefix or f"{match.group(1)}0"
    return ids, prefix


def _chain_missing(chain: ChainState | None, now: datetime) -> list[str]:
    """What the section cannot know for lack of chain state, one line each."""
    if chain is None:
        return [
            "no chain state from a Lotus node (none given, or its first answer has not come):"
            " head epoch, deadline windows, recoveries and power unknown; sectors and faults"
            " as Curio's SectorMetadata task last recorded them"
        ]
    if not chain.has_data:
        return [
            f"Lotus: {chain.error or 'no answer yet'}: head epoch, deadline windows,"
            " recoveries and power unknown; sectors and faults as Curio last recorded them"
        ]
    if chain.error is not None:
        age = chain.age(now) or 0.0
        return [f"Lotus: {chain.error} (chain figures from {duration(age)} ago)"]
    return []
