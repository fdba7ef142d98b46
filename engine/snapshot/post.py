"""WindowPoSt deadlines per miner: the figures of ``proving info`` / ``proving deadlines``, the
48-cell grid flags of Curio's GUI, and the maintenance rule (when a machine may be taken away
without missing a WindowPoSt).

Counts come from the devnet chain tables (``chain_sectors``, ``chain_post_submissions``); the
deadline arithmetic is :mod:`engine.chain`'s, driven by the injected clock, so countdowns move
every second between refreshes without touching the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.chain import (
    DeadlineInfo,
    EpochClock,
    deadline_info_from_offset,
    new_deadline_info,
)
from engine.chain.config import profile_from_row

from .format import duration
from .model import PostDeadline, PostMiner, PostSnap

if TYPE_CHECKING:
    from engine.harmonydb import Tx

__all__ = [
    "DeadlineFigures",
    "DeadlineTimes",
    "PostCache",
    "PostRisk",
    "current_deadline",
    "deadline_figures",
    "deadline_times",
    "maintenance_risks",
    "next_non_empty",
    "read_post",
]

CHAIN = """
SELECT (SELECT max(epoch) FROM chain_tipsets) AS head,
       c.profile, c.genesis_time, c.block_time, c.wpost_challenge_window,
       c.wpost_period_deadlines, c.wpost_challenge_lookback, c.fault_declaration_cutoff,
       c.precommit_challenge_delay, c.message_delay_epochs, c.chain_finality
  FROM (SELECT 1) AS one
  LEFT JOIN chain_config c ON c.id = 1
"""

MINERS = """
SELECT sp_id, sector_size, proving_period_offset
  FROM chain_miners
 ORDER BY sp_id
 LIMIT 100
"""

# Live = active, faulty or recovering (precommitted and terminated sectors are not proven).
# Faulty counts recovering sectors too: they stay faulty until a proof includes them. Grouped by
# partition first, so "partitions with live sectors" needs no DISTINCT.
DEADLINES = """
SELECT sp_id, deadline,
       count(*) FILTER (WHERE live > 0) AS partitions,
       sum(live)::bigint AS live,
       sum(active)::bigint AS active,
       sum(faulty)::bigint AS faulty,
       sum(recovering)::bigint AS recovering
  FROM (SELECT sp_id, deadline, "partition",
               count(*) FILTER (WHERE state IN ('active', 'faulty', 'recovering')) AS live,
               count(*) FILTER (WHERE state = 'active') AS active,
               count(*) FILTER (WHERE state IN ('faulty', 'recovering')) AS faulty,
               count(*) FILTER (WHERE state = 'recovering') AS recovering
          FROM chain_sectors
         WHERE deadline IS NOT NULL AND sp_id = ANY ($1::bigint[])
         GROUP BY sp_id, deadline, "partition") per_partition
 GROUP BY sp_id, deadline
 ORDER BY sp_id, deadline
"""

SUBMISSIONS = """
SELECT s.sp_id, s.deadline, count(*) AS proven
  FROM chain_post_submissions s
  JOIN unnest($1::bigint[], $2::bigint[]) AS p (sp_id, period_start)
    ON p.sp_id = s.sp_id AND p.period_start = s.proving_period_start
 GROUP BY s.sp_id, s.deadline
 ORDER BY s.sp_id, s.deadline
"""


@dataclass
class PostCache:
    """Per-deadline counts are re-read only when the chain moved (every change to
    ``chain_sectors`` and ``chain_post_submissions`` happens in the transaction that adds
    tipsets), the miners or their proving periods changed, or ``max_age`` seconds passed."""

    max_age: float = 30.0
    key: tuple[object, ...] | None = None
    read_at: datetime | None = None
    counts: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    proven: dict[tuple[int, int], int] = field(default_factory=dict)

    def fresh(self, key: tuple[object, ...], now: datetime) -> bool:
        return (
            key == self.key
            and self.read_at is not None
            and abs((now - self.read_at).total_seconds()) < self.max_age
        )


async def read_post(tx: Tx, now: datetime, cache: PostCache | None = None) -> PostSnap:
    chain = await tx.query_row(CHAIN)
    assert chain is not None
    head = chain["head"]
    if chain["profile"] is None:
        return PostSnap(None, None, head, ())
    profile = profile_from_row(chain)
    genesis: datetime = chain["genesis_time"]
    epoch = EpochClock(genesis, profile).epoch_at(now)
    miners = await tx.select(MINERS)
    if not miners:
        return PostSnap(profile, genesis, head, ())
    ids = [m["sp_id"] for m in miners]
    starts = [
        deadline_info_from_offset(profile, m["proving_period_offset"], epoch).period_start
        for m in miners
    ]
    key = (head, tuple(ids), tuple(starts))
    if cache is not None and head is not None and cache.fresh(key, now):
        counts, proven = cache.counts, cache.proven
    else:
        counts = {(r["sp_id"], r["deadline"]): r for r in await tx.select(DEADLINES, ids)}
        proven = {
            (r["sp_id"], r["deadline"]): int(r["proven"])
            for r in await tx.select(SUBMISSIONS, ids, starts)
        }
        if cache is not None:
            cache.key, cache.read_at, cache.counts, cache.proven = key, now, counts, proven
    out = []
    for m, start in zip(miners, starts, strict=True):
        sp = m["sp_id"]
        deadlines = []
        for i in range(profile.wpost_period_deadlines):
            c = counts.get((sp, i))
            deadlines.append(
                PostDeadline(
                    index=i,
                    partitions=int(c["partitions"]) if c else 0,
                    live=int(c["live"]) if c else 0,
                    active=int(c["active"]) if c else 0,
                    faulty=int(c["faulty"]) if c else 0,
                    recovering=int(c["recovering"]) if c else 0,
                    proven_partitions=proven.get((sp, i), 0),
                )
            )
        out.append(
            PostMiner(
                sp, int(m["sector_size"]), int(m["proving_period_offset"]), start, tuple(deadlines)
            )
        )
    return PostSnap(profile, genesis, head, tuple(out))


# --------------------------------------------------------------------------- pure helpers


def current_deadline(post: PostSnap, miner: PostMiner, now: datetime) -> DeadlineInfo | None:
    """The deadline open at ``now`` (by the epoch clock), or None without a chain."""
    if post.profile is None or post.genesis is None:
        return None
    epoch = EpochClock(post.genesis, post.profile).epoch_at(now)
    return deadline_info_from_offset(post.profile, miner.proving_period_offset, epoch)


def next_non_empty(
    post: PostSnap, miner: PostMiner, now: datetime
) -> tuple[DeadlineInfo, PostDeadline] | None:
    """The first deadline after the current one that holds live sectors (wrapping into the
    next period), or None when the miner has none."""
    current = current_deadline(post, miner, now)
    if current is None or post.profile is None:
        return None
    n = post.profile.wpost_period_deadlines
    for step in range(1, n + 1):
        index = (current.index + step) % n
        d = miner.deadlines[index]
        if d.empty:
            continue
        start = current.period_start + (
            post.profile.wpost_proving_period if current.index + step >= n else 0
        )
        return new_deadline_info(post.profile, start, index, current.current_epoch), d
    return None


@dataclass(frozen=True)
class DeadlineFigures:
    """One row of ``proving deadlines``, as the CLI and the PoSt pane both show it.

    ``proven_partitions`` counts the partitions whose proof landed in the *current* proving
    period: the deadlines already past this period keep theirs (so a missed one reads 0 of N),
    the current one counts as proofs land, later ones read 0. lotus-miner's column is the
    actor's ``PostSubmissions``, cleared when each deadline closes; ours keeps the past ones
    because "was it proven this period?" is what an operator asks, and the console and the CLI
    must print the same number."""

    index: int
    open_epoch: int
    open_time: datetime
    #: partitions holding a live sector, live sectors, faulty (recovering included), recovering
    partitions: int
    sectors: int
    faults: int
    recovering: int
    proven_partitions: int
    current: bool


def deadline_figures(post: PostSnap, miner: PostMiner, now: datetime) -> list[DeadlineFigures]:
    """Every deadline of ``miner`` in the proving period current at ``now`` (empty without a
    chain): the one definition of the figures ``proving deadlines`` and the PoSt pane print."""
    current = current_deadline(post, miner, now)
    if current is None or post.profile is None:
        return []
    clock = EpochClock(post.genesis, post.profile)  # type: ignore[arg-type]
    window = post.profile.wpost_challenge_window
    out = []
    for d in miner.deadlines:
        open_epoch = current.period_start + d.index * window
        out.append(
            DeadlineFigures(
                index=d.index,
                open_epoch=open_epoch,
                open_time=clock.time_of(open_epoch),
                partitions=d.partitions,
                sectors=d.live,
                faults=d.faulty,
                recovering=d.recovering,
                proven_partitions=d.proven_partitions,
                current=d.index == current.index,
            )
        )
    return out


@dataclass(frozen=True)
class DeadlineTimes:
    """Wall-clock times of one deadline's epochs (when each epoch begins)."""

    challenge: datetime
    open: datetime
    close: datetime
    fault_cutoff: datetime


def deadline_times(post: PostSnap, info: DeadlineInfo) -> DeadlineTimes:
    assert post.genesis is not None and post.profile is not None
    clock = EpochClock(post.genesis, post.profile)
    return DeadlineTimes(
        clock.time_of(info.challenge),
        clock.time_of(info.open),
        clock.time_of(info.close),
        clock.time_of(info.fault_cutoff),
    )


@dataclass(frozen=True)
class PostRisk:
    """A deadline with live sectors that is open now, or opens before ``until``."""

    sp_id: int
    deadline: int
    live: int
    open_now: bool
    opens_in: float
    closes_in: float
    fault_cutoff_in: float
    #: the miner's address as the network writes it (f0… on mainnet)
    address: str = ""

    def describe(self) -> str:
        miner = self.address or f"t0{self.sp_id}"
        who = f"{miner} deadline {self.deadline} ({self.live} live sectors)"
        if self.open_now:
            # Under a second left reads "closing now", never "closes in 0s".
            left = "closing now" if self.closes_in < 1 else f"closes in {duration(self.closes_in)}"
            return f"{who}: open now, {left}"
        cutoff = (
            "fault cutoff passed"
            if self.fault_cutoff_in <= 0
            else f"fault cutoff in {duration(self.fault_cutoff_in)}"
        )
        return f"{who}: opens in {duration(self.opens_in)}, {cutoff}"


def maintenance_risks(post: PostSnap, now: datetime, horizon: float) -> list[PostRisk]:
    """The maintenance rule (lotus-docs' maintenance page): do not take a machine away while a
    deadline with live sectors is open, or before one that opens within ``horizon`` seconds
    (the expected time for the machine to finish its work). An open deadline may not be proven
    yet, and a proof missed there faults its sectors; empty deadlines need no proof."""
    risks: list[PostRisk] = []
    until = now + timedelta(seconds=max(horizon, 0.0))
    for miner in post.miners:
        current = current_deadline(post, miner, now)
        if current is None:
            continue
        candidates: Iterable[tuple[DeadlineInfo, PostDeadline]] = []
        here = miner.deadlines[current.index]
        if not here.empty and current.is_open:
            candidates = [(current, here)]
        nxt = next_non_empty(post, miner, now)
        if nxt is not None:
            candidates = [*candidates, nxt]
        for info, d in candidates:
            t = deadline_times(post, info)
            open_now = info.is_open
            if not open_now and t.open > until:
                continue
            risks.append(
                PostRisk(
                    miner.sp_id,
                    info.index,
                    d.live,
                    open_now,
                    (t.open - now).total_seconds(),
                    (t.close - now).total_seconds(),
                    (t.fault_cutoff - now).total_seconds(),
                    miner.address,
                )
            )
    return risks
