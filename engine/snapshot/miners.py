"""Miners: one summary per miner, like ``lotus-miner info``, for the console's Miners pane and
``harmony miner info`` alike (one definition: :func:`miner_infos` over a snapshot).

Per miner: its sectors by state (in the sealing pipeline: sealing, failed, sealed; on chain:
live, active, faulty, recovering), its raw and quality-adjusted power, WinningPoSt in the last
24 hours (elections, blocks won, won blocks the chain did not include, the win rate), faults and
recoveries, and the next deadline that holds sectors, with when it opens.

Where the figures come from:

* sectors: the pipeline summary (``sectors_sdr_pipeline``) and the PoSt section's per-deadline
  counts, both already in every snapshot;
* power: on our devnet, the chain's own rule (``StateMinerPower`` in
  :mod:`engine.chain.lotus_view`: raw = quality-adjusted = sector size x active sectors, CC
  sectors only), filled in by :class:`OwnMinerFigures`; on a Curio cluster, Lotus's
  ``StateMinerPower`` when a Lotus node is known, else not known (None);
* WinningPoSt: ``mining_tasks`` (both schemas), with Curio's statement and 24 h window
  (:data:`engine.snapshot.curio.post.WINNING`); our reader reads it only while miners are shown
  (the ``"miners"`` list), at most every ``every`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from .curio.post import MINER_LIMIT, WINNING, WINNING_WINDOW
from .format import countdown
from .model import ClusterSnapshot, PostMiner, PostSnap
from .post import current_deadline, deadline_times, next_non_empty

__all__ = [
    "MinerInfo",
    "NextDeadline",
    "OwnMinerFigures",
    "deadline_text",
    "info_lines",
    "miner_infos",
    "rate_text",
    "size_text",
]


class _Tx(Protocol):
    async def select(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class NextDeadline:
    """The next deadline after the open one that holds live sectors."""

    index: int
    live: int
    opens_at: datetime

    def opens_in(self, now: datetime) -> float:
        return (self.opens_at - now).total_seconds()


@dataclass(frozen=True)
class MinerInfo:
    """One miner's summary (see the module docstring)."""

    sp_id: int
    address: str
    sector_size: int
    #: sectors in the sealing pipeline: still sealing, failed there, sealed (done)
    sealing: int
    sealing_failed: int
    sealed: int
    #: sealing sectors per stage bucket (BUCKETS' names), the buckets with any
    stages: tuple[tuple[str, int], ...]
    #: on chain: live (active, faulty or recovering), active, faulty (recovering included),
    #: recovering
    live: int
    active: int
    faulty: int
    recovering: int
    #: bytes; None when not known (a Curio cluster without a Lotus node)
    raw_power: int | None
    qa_power: int | None
    #: WinningPoSt in the last 24 h
    elections: int
    blocks_won: int
    blocks_missed: int
    last_win_epoch: int | None
    #: the deadline open now (None without a chain clock) and the next one with sectors
    current_deadline: int | None
    next_deadline: NextDeadline | None

    @property
    def win_rate(self) -> float | None:
        """Blocks won per election (None before the first election)."""
        return self.blocks_won / self.elections if self.elections else None

    def figures(self) -> dict[str, Any]:
        """The figures as plain values (what ``harmony miner info --json`` prints)."""
        nd = self.next_deadline
        return {
            "miner": self.address,
            "sector_size": self.sector_size,
            "sealing": self.sealing,
            "sealing_failed": self.sealing_failed,
            "sealed": self.sealed,
            "stages": dict(self.stages),
            "live": self.live,
            "active": self.active,
            "faulty": self.faulty,
            "recovering": self.recovering,
            "raw_power": self.raw_power,
            "qa_power": self.qa_power,
            "elections_24h": self.elections,
            "blocks_won_24h": self.blocks_won,
            "blocks_missed_24h": self.blocks_missed,
            "win_rate": self.win_rate,
            "last_win_epoch": self.last_win_epoch,
            "current_deadline": self.current_deadline,
            "next_deadline": None if nd is None else nd.index,
            "next_deadline_sectors": None if nd is None else nd.live,
            "next_deadline_opens_at": None if nd is None else nd.opens_at.isoformat(),
        }


def miner_infos(snap: ClusterSnapshot, now: datetime | None = None) -> list[MinerInfo]:
    """Every miner the snapshot knows (PoSt section first, then any only the pipeline names),
    ordered by id. ``now`` places the deadlines (the snapshot's time when None)."""
    at = now or snap.taken_at
    post = snap.post
    summaries = {s.sp_id: s for s in snap.pipeline.summaries}
    miners = {m.sp_id: m for m in post.miners}
    prefix = post.miners[0].address_prefix if post.miners else "t0"
    out = []
    for sp_id in sorted(miners.keys() | summaries.keys()):
        m = miners.get(sp_id)
        s = summaries.get(sp_id)
        counts = s.counts if s is not None else {}
        current = current_deadline(post, m, at) if m is not None else None
        following = next_non_empty(post, m, at) if m is not None else None
        nxt = None
        if following is not None:
            info, deadline = following
            nxt = NextDeadline(deadline.index, deadline.live, deadline_times(post, info).open)
        out.append(
            MinerInfo(
                sp_id=sp_id,
                address=m.address if m is not None else f"{prefix}{sp_id}",
                sector_size=m.sector_size if m is not None else 0,
                sealing=sum(counts.values()),
                sealing_failed=s.failed if s is not None else 0,
                sealed=s.done if s is not None else 0,
                stages=tuple((b, n) for b, n in counts.items() if n),
                live=m.live if m is not None else 0,
                active=sum(d.active for d in m.deadlines) if m is not None else 0,
                faulty=m.faulty if m is not None else 0,
                recovering=m.recovering if m is not None else 0,
                raw_power=m.raw_power if m is not None else None,
                qa_power=m.qa_power if m is not None else None,
                elections=m.winning_attempts if m is not None else 0,
                blocks_won=m.winning_wins if m is not None else 0,
                blocks_missed=m.winning_missed if m is not None else 0,
                last_win_epoch=m.last_win_epoch if m is not None else None,
                current_deadline=current.index if current is not None else None,
                next_deadline=nxt,
            )
        )
    return out


class OwnMinerFigures:
    """What our reader adds to its PoSt section's miners: power by the devnet chain's rule, and
    WinningPoSt from ``mining_tasks`` (read at every refresh while miners are shown, so the
    pane says what ``harmony miner info`` says; at most every ``every`` seconds when that is
    set; kept in between)."""

    def __init__(self, every: float = 0.0) -> None:
        self.every = every
        self._rows: dict[int, dict[str, Any]] = {}
        self._at: datetime | None = None

    async def read(self, tx: _Tx, post: PostSnap, now: datetime) -> None:
        """Re-read the WinningPoSt counts if they are due (call only while miners are shown)."""
        if not post.miners:
            return
        if self._at is not None and 0 <= (now - self._at).total_seconds() < self.every:
            return
        ids = [m.sp_id for m in post.miners]
        rows = await tx.select(WINNING, ids, now - WINNING_WINDOW, MINER_LIMIT)
        self._rows, self._at = {r["sp_id"]: r for r in rows}, now

    def apply(self, post: PostSnap) -> PostSnap:
        """``post`` with each miner's power and the WinningPoSt counts last read."""
        return replace(post, miners=tuple(self._miner(m) for m in post.miners))

    def _miner(self, m: PostMiner) -> PostMiner:
        power = m.sector_size * sum(d.active for d in m.deadlines)
        w = self._rows.get(m.sp_id)
        return replace(
            m,
            raw_power=power,
            qa_power=power,
            winning_attempts=int(w["attempts"]) if w else 0,
            winning_wins=int(w["wins"]) if w else 0,
            winning_missed=int(w["missed"]) if w else 0,
            last_win_epoch=w["last_win"] if w else None,
        )


def size_text(size: int | None) -> str:
    """Bytes as ``lotus-miner info`` writes power: ``32 GiB``, ``1.5 TiB``; ``not known``."""
    if size is None:
        return "not known"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} EiB"


def rate_text(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def info_lines(info: MinerInfo, now: datetime) -> list[str]:
    """The summary in lines, as ``harmony miner info`` prints it and the Miners pane shows the
    selected miner's (one wording for both)."""
    size = f" ({size_text(info.sector_size)} sectors)" if info.sector_size else ""
    stages = ", ".join(f"{b} {n}" for b, n in info.stages)
    sealing = f"{info.sealing} sealing" + (f" ({stages})" if stages else "")
    lines = [
        f"Miner: {info.address}{size}",
        f"Power: {size_text(info.raw_power)} raw, {size_text(info.qa_power)} quality-adjusted",
        f"Sectors: {sealing}, {info.sealing_failed} failed, {info.sealed} sealed",
        f"  on chain: {info.live} live ({info.active} active, {info.faulty} faulty, "
        f"{info.recovering} recovering)",
        f"Faults: {info.faulty}, recoveries: {info.recovering}",
        f"WinningPoSt (24 h): {info.elections} elections, {info.blocks_won} won, "
        f"{info.blocks_missed} missed, win rate {rate_text(info.win_rate)}"
        + (f", last win at epoch {info.last_win_epoch}" if info.last_win_epoch is not None else ""),
    ]
    lines.append(f"Deadline: {deadline_text(info, now)}")
    return lines


def deadline_text(info: MinerInfo, now: datetime) -> str:
    """``3 open; next with sectors: 5 in 00:30:00 (12:30:00 UTC)``, or why not known."""
    if info.current_deadline is None:
        return "not known (no chain head)"
    text = f"{info.current_deadline} open"
    nd = info.next_deadline
    if nd is None:
        return f"{text}; no deadline holds sectors"
    left = nd.opens_in(now)
    when = "opening now" if left < 1 else f"in {countdown(left).strip()}"
    return f"{text}; next with sectors: {nd.index} {when} ({nd.opens_at:%H:%M:%S} UTC)"
