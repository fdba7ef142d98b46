"""What ``proving info`` and ``proving deadlines`` show (lotus ``cli/spcli/proving.go``), read
from the devnet chain tables, with the chain's counting rules.

* live sectors = not terminated; faulty = in the fault set (faulty or recovering, as Filecoin
  keeps recovering sectors among the faults until they are proven); recovering.
* a deadline's "proven partitions" is Filecoin's ``PartitionsPoSted``: the partitions proven in
  the deadline's current challenge window, so it is non-zero only for the open deadline (the
  set is cleared when a deadline ends). ``proven_this_period`` counts every deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .deadlines import DeadlineInfo, new_deadline_info
from .miners import Miner, get_miner

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .config import ChainConfig

__all__ = ["DeadlineRow", "ProvingInfo", "proving_deadlines", "proving_info"]


@dataclass(frozen=True)
class ProvingInfo:
    miner: Miner
    current_epoch: int
    deadline: DeadlineInfo
    live: int
    faults: int
    recovering: int
    deadline_sectors: int
    genesis: datetime
    block_time: float

    @property
    def period_boundary(self) -> int:
        return self.deadline.period_start % self.deadline.profile.wpost_proving_period

    @property
    def fault_percent(self) -> float:
        """Lotus computes ``float64(faults * 100 / proving)``: integer division first."""
        return float(self.faults * 100 // self.live) if self.live else 0.0

    def time_of(self, epoch: int) -> datetime:
        return self.genesis + timedelta(seconds=epoch * self.block_time)


@dataclass(frozen=True)
class DeadlineRow:
    index: int
    open_epoch: int
    open_time: datetime
    #: partitions holding a live sector (every partition with ``all``)
    partitions: int
    #: live sectors (every sector with ``all``)
    sectors: int
    faults: int
    proven_partitions: int
    proven_this_period: int
    current: bool


_COUNTS = """
SELECT deadline, "partition",
       count(*) AS total,
       count(*) FILTER (WHERE state <> 'terminated') AS live,
       count(*) FILTER (WHERE state IN ('faulty', 'recovering')) AS faulty,
       count(*) FILTER (WHERE state = 'recovering') AS recovering
  FROM chain_sectors
 WHERE sp_id = $1 AND deadline IS NOT NULL
 GROUP BY deadline, "partition"
"""


async def proving_info(db: DB | Tx, config: ChainConfig, sp_id: int, epoch: int) -> ProvingInfo:
    """``proving info`` of one miner at ``epoch`` (the current deadline, next if elapsed)."""
    miner = await get_miner(db, sp_id)
    info = miner.deadline(config, epoch).next_not_elapsed()
    live = faults = recovering = current = 0
    for row in await db.select(_COUNTS, sp_id):
        live += row["live"]
        faults += row["faulty"]
        recovering += row["recovering"]
        if row["deadline"] == info.index:
            current += row["live"]
    return ProvingInfo(
        miner,
        epoch,
        info,
        live,
        faults,
        recovering,
        current,
        config.genesis_time,
        config.profile.block_time,
    )


async def proving_deadlines(
    db: DB | Tx, config: ChainConfig, sp_id: int, epoch: int, *, all_partitions: bool = False
) -> list[DeadlineRow]:
    """One row per deadline (``proving deadlines [--all]``)."""
    miner = await get_miner(db, sp_id)
    profile = config.profile
    current = miner.deadline(config, epoch).next_not_elapsed()
    counts: dict[int, list[dict[str, int]]] = {}
    for row in await db.select(_COUNTS, sp_id):
        counts.setdefault(row["deadline"], []).append(row)
    proven = {
        (r["proving_period_start"], r["deadline"]): r["n"]
        for r in await db.select(
            "SELECT proving_period_start, deadline, count(*) AS n FROM chain_post_submissions "
            "WHERE sp_id = $1 AND proving_period_start >= $2 "
            "GROUP BY proving_period_start, deadline",
            sp_id,
            current.period_start,
        )
    }
    out = []
    for index in range(profile.wpost_period_deadlines):
        parts = counts.get(index, [])
        if all_partitions:
            partitions = len(parts)
            sectors = sum(p["total"] for p in parts)
        else:
            # lotus-miner counts a partition only if it has live sectors (a partition whose
            # sectors are all terminated still exists, but only ``--all`` shows it).
            partitions = sum(1 for p in parts if p["live"] > 0)
            sectors = sum(p["live"] for p in parts)
        open_epoch = current.open + (index - current.index) * profile.wpost_challenge_window
        this = new_deadline_info(profile, current.period_start, index, epoch)
        posted = proven.get((this.period_start, index), 0)
        out.append(
            DeadlineRow(
                index=index,
                open_epoch=open_epoch,
                open_time=config.time_of(open_epoch),
                partitions=partitions,
                sectors=sectors,
                faults=sum(p["faulty"] for p in parts),
                proven_partitions=posted if index == current.index else 0,
                proven_this_period=posted,
                current=index == current.index,
            )
        )
    return out
