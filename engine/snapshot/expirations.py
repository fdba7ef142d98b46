"""Sector expirations per miner: how many live sectors expire within a day, a week, a month or
later, the soonest expiration, and how many have expired; for the Miners pane, ``harmony
sectors expirations`` and the ``sectors-expiring`` alert alike (one definition:
:func:`read_expirations` and :func:`expiration_line`).

The buckets are in the chain's days, a day being one proving period (Filecoin: 2880 epochs of
30 s, a calendar day; the devnet: 480 epochs of 2 s, 16 minutes, its scaled day, the unit of its
sector lifetime policy, see :mod:`engine.chain.expiration`):

* ``day``: expiring within one proving period (this includes sectors past their expiration
  epoch that wait for the end of their deadline, when the chain's cron expires them);
* ``week``: after that, within 7 days; ``month``: after that, within 30 days; ``later``;
* ``unknown``: live sectors without a recorded expiration (chains older than expirations);
* ``expired``: sectors that left the live set at their expiration (on our chain
  ``termination = 'expired'``; in Curio's ``sectors_meta``, not live and past the expiration:
  the catalogue does not say why a sector left, so an early termination after its expiration
  epoch counts too).

Sources: our devnet's ``chain_sectors``; Curio's ``sectors_meta`` (``expiration_epoch`` and
``is_live``, kept from the chain by its SectorMetadata task, Curio's
``tasks/metadata/task_sector_expirations.go``). The head epoch is the chain's (our last tipset,
or Lotus's head in Curio mode); without one nothing can be placed in a bucket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .format import duration

if TYPE_CHECKING:
    from engine.chain import ChainProfile

__all__ = [
    "BUCKET_DAYS",
    "CURIO_EXPIRATIONS",
    "EXPIRATIONS",
    "ExpirationBuckets",
    "ExpirationsCache",
    "ExpirationsSnap",
    "curio_head_estimate",
    "expiration_line",
    "read_curio_expirations",
    "read_expirations",
]

#: the bucket bounds in days (proving periods): within 1, 7 and 30; the rest is "later"
BUCKET_DAYS = (1, 7, 30)
#: miners per read (the Miners pane's bound)
MINER_LIMIT = 1000


class _Tx(Protocol):
    async def select(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...


def _counts(source: str) -> str:
    """The per-miner bucket counts over ``source`` (sp_id, expiration_epoch, live, expired).
    $1 head epoch, $2 epochs per day, $3 miner limit."""
    return f"""
SELECT sp_id,
       count(*) FILTER (WHERE live AND expiration_epoch - $1 <= $2) AS day,
       count(*) FILTER (WHERE live AND expiration_epoch - $1 > $2
                          AND expiration_epoch - $1 <= 7 * $2) AS week,
       count(*) FILTER (WHERE live AND expiration_epoch - $1 > 7 * $2
                          AND expiration_epoch - $1 <= 30 * $2) AS month,
       count(*) FILTER (WHERE live AND expiration_epoch - $1 > 30 * $2) AS later,
       count(*) FILTER (WHERE live AND expiration_epoch IS NULL) AS unknown,
       count(*) FILTER (WHERE expired) AS expired,
       min(expiration_epoch) FILTER (WHERE live) AS soonest
  FROM ({source}) s
 GROUP BY sp_id
 ORDER BY sp_id
 LIMIT $3
"""


#: our devnet chain: live = active, faulty or recovering (not precommitted, not terminated)
EXPIRATIONS = _counts(
    "SELECT sp_id, expiration_epoch, state IN ('active', 'faulty', 'recovering') AS live, "
    "termination IS NOT DISTINCT FROM 'expired' AS expired FROM chain_sectors "
    "WHERE state <> 'precommitted'"
)

#: Curio's catalogue (read-only)
CURIO_EXPIRATIONS = _counts(
    "SELECT sp_id, expiration_epoch, is_live AS live, "
    "(NOT is_live AND expiration_epoch <= $1) IS TRUE AS expired FROM sectors_meta"
)


@dataclass(frozen=True)
class ExpirationBuckets:
    """One miner's sectors by when they expire (see the module docstring)."""

    sp_id: int
    day: int
    week: int
    month: int
    later: int
    unknown: int
    expired: int
    #: the soonest expiration epoch of a live sector
    soonest: int | None

    @property
    def live(self) -> int:
        return self.day + self.week + self.month + self.later + self.unknown

    def figures(self) -> dict[str, Any]:
        """Plain values (what ``harmony sectors expirations --json`` prints per miner)."""
        return {
            "sp_id": self.sp_id,
            "within_1_day": self.day,
            "within_7_days": self.week,
            "within_30_days": self.month,
            "later": self.later,
            "unknown": self.unknown,
            "expired": self.expired,
            "soonest_epoch": self.soonest,
        }


@dataclass(frozen=True)
class ExpirationsSnap:
    """Every miner's buckets at ``head_epoch``; ``read`` is False until first read (the
    Miners pane's list)."""

    head_epoch: int | None
    #: epochs per day (the chain's proving period), seconds per epoch
    epochs_per_day: int | None
    block_time: float | None
    miners: tuple[ExpirationBuckets, ...]
    read: bool = True

    @classmethod
    def empty(cls) -> ExpirationsSnap:
        return cls(None, None, None, (), read=False)

    def miner(self, sp_id: int) -> ExpirationBuckets | None:
        return next((m for m in self.miners if m.sp_id == sp_id), None)

    def seconds_until(self, epoch: int) -> float | None:
        if self.head_epoch is None or self.block_time is None:
            return None
        return (epoch - self.head_epoch) * self.block_time


async def read_expirations(
    tx: _Tx,
    head_epoch: int | None,
    epochs_per_day: int | None,
    block_time: float | None,
    *,
    curio: bool = False,
) -> ExpirationsSnap:
    """Every miner's buckets at ``head_epoch`` (none without a head or a day length)."""
    if head_epoch is None or not epochs_per_day:
        return ExpirationsSnap(head_epoch, epochs_per_day, block_time, ())
    rows = await tx.select(
        CURIO_EXPIRATIONS if curio else EXPIRATIONS, head_epoch, epochs_per_day, MINER_LIMIT
    )
    miners = tuple(
        ExpirationBuckets(
            sp_id=int(r["sp_id"]),
            day=int(r["day"]),
            week=int(r["week"]),
            month=int(r["month"]),
            later=int(r["later"]),
            unknown=int(r["unknown"]),
            expired=int(r["expired"]),
            soonest=None if r["soonest"] is None else int(r["soonest"]),
        )
        for r in rows
    )
    return ExpirationsSnap(head_epoch, epochs_per_day, block_time, miners)


class ExpirationsCache:
    """What a reader keeps between refreshes: read while the Miners pane is shown, at most every
    ``every`` seconds, the last read kept in between. The buckets move by epochs (30 s on
    Filecoin) while the read is one aggregate over every sector (measured on the 2-core dev VM:
    about 27 ms for 10,000 devnet sectors, 190 ms for 100,000), so not at every refresh."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self.snap = ExpirationsSnap.empty()
        self._at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self._at is None or not 0 <= (now - self._at).total_seconds() < self.every

    async def read(
        self, now: datetime, fetch: Callable[[], Awaitable[ExpirationsSnap]]
    ) -> ExpirationsSnap:
        """``fetch()`` (one of the ``read_*`` functions) if due, else the last read."""
        if self.due(now) or self.snap.head_epoch is None:
            self.snap = await fetch()
            self._at = now
        return self.snap


def expiration_line(snap: ExpirationsSnap, sp_id: int) -> str:
    """One line for the miner (the Miners pane's summary, ``harmony sectors expirations``):
    ``Expiring: 2 ≤1d, 0 ≤7d, 5 ≤30d, 40 later; soonest epoch 1234 (in 1h02m); 3 expired``."""
    if not snap.read:
        return "Expiring: not read yet"
    if snap.head_epoch is None or not snap.epochs_per_day:
        return "Expiring: not known (no chain head)"
    b = snap.miner(sp_id)
    if b is None:
        return "Expiring: no sectors on chain"
    text = f"Expiring: {b.day} ≤1d, {b.week} ≤7d, {b.month} ≤30d, {b.later} later"
    if b.unknown:
        text += f", {b.unknown} unknown"
    if b.soonest is not None:
        left = snap.seconds_until(b.soonest)
        if left is None:
            when = ""
        elif left <= 0:  # passed: it expires when its deadline ends
            when = " (due at its deadline's end)"
        else:
            when = f" (in {duration(left)})"
        text += f"; soonest epoch {b.soonest}{when}"
    if b.expired:
        text += f"; {b.expired} expired"
    return text


#: Curio's newest WinningPoSt round (it adds one per miner and epoch): the head it worked on,
#: and when, where no Lotus node is at hand (the alert task reads only the database)
CURIO_HEAD = """
SELECT epoch, EXTRACT(EPOCH FROM $1::timestamptz - base_compute_time)::float8 AS age
  FROM mining_tasks ORDER BY base_compute_time DESC, epoch DESC LIMIT 1
"""

#: Filecoin's epoch (mainnet and calibnet) and day
FILECOIN_BLOCK_TIME = 30.0
FILECOIN_EPOCHS_PER_DAY = 2880


async def curio_head_estimate(tx: _Tx, now: datetime) -> int | None:
    """The chain head a Curio cluster works at ``now`` (the caller's clock: the console's,
    frozen in its screenshots), from its newest ``mining_tasks`` round plus the 30 s epochs
    since (None before its first round)."""
    # The age in SQL: Curio's column is a timestamp without time zone (its migration
    # 20231110-mining_tasks), which the server reads in the session's zone, as it would now().
    rows = await tx.select(CURIO_HEAD, now)
    if not rows:
        return None
    age = max(float(rows[0]["age"] or 0.0), 0.0)
    return int(rows[0]["epoch"]) + int(age // FILECOIN_BLOCK_TIME)


async def read_curio_expirations(
    tx: _Tx, head_epoch: int | None, profile: ChainProfile | None, now: datetime
) -> ExpirationsSnap:
    """A Curio cluster's buckets from ``sectors_meta``: at Lotus's head and with its day when a
    node is known, else at :func:`curio_head_estimate` with Filecoin's (30 s, 2880 epochs)."""
    if head_epoch is None:
        head_epoch = await curio_head_estimate(tx, now)
    day = profile.epochs_per_day if profile is not None else FILECOIN_EPOCHS_PER_DAY
    block_time = profile.block_time if profile is not None else FILECOIN_BLOCK_TIME
    return await read_expirations(tx, head_epoch, day, block_time, curio=True)
