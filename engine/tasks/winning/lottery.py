"""The WinningPoSt lottery, each epoch, on every machine that runs ``WinPost``.

A miner wins epoch ``e`` when ``SHA256(ticket) / 2^256 < power_share × expected_winners``, with
``ticket = DrawRandomness(beacon(e), ElectionProofProduction, e, miner)`` (Filecoin draws an
election proof the same way, then counts wins with a Poisson CDF; one comparison is enough for
a devnet). Power is a miner's raw bytes in eligible sectors (active for at least the
WinningPoSt lookback); the sectors' activation epochs are re-read when the chain advances (or
every 60 s) and beacons are computed locally, so the lottery itself costs no query per epoch.
A win adds a ``WinPost`` task and its ``mining_tasks`` row (unique per miner and epoch, so the
machines that all drew the same win add it once).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.chain import Dst, draw_randomness, miner_entropy
from engine.harmonydb import Tx

from ..poller import Poller

if TYPE_CHECKING:
    from ..workload import Workload

__all__ = ["WINPOST", "Lottery", "wins"]

log = logging.getLogger(__name__)

WINPOST = "WinPost"

_POWER = """
SELECT m.sp_id, m.sector_size,
       COALESCE(array_agg(s.activation_epoch) FILTER (WHERE s.state = 'active'), '{}')
           AS activations
  FROM chain_miners m LEFT JOIN chain_sectors s ON s.sp_id = m.sp_id
 GROUP BY m.sp_id, m.sector_size ORDER BY m.sp_id
"""


def wins(beacon: bytes, epoch: int, sp_id: int, power: int, total: int, expected: float) -> bool:
    """Whether the miner with ``power`` of ``total`` wins ``epoch``."""
    if power <= 0 or total <= 0:
        return False
    ticket = draw_randomness(beacon, Dst.ELECTION_PROOF_PRODUCTION, epoch, miner_entropy(sp_id))
    draw = int.from_bytes(hashlib.sha256(ticket).digest(), "big") / 2**256
    return draw < min(1.0, power / total * expected)


class Lottery(Poller):
    min_gap = 0.0

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload, "lottery")
        self.db = workload.db
        #: per miner: sector size and the activation epochs of its active sectors
        self._sectors: dict[int, tuple[int, list[int]]] = {}
        self._read_at = -1e9
        self._last_epoch: int | None = None
        # Sector states change only when the chain advances: re-read then (or every 60 s).
        workload.chain.on_head(self._stale)

    def _stale(self, _head: int) -> None:
        self._read_at = -1e9

    def power(self, epoch: int, lookback: int) -> dict[int, int]:
        """Raw power per miner at ``epoch``: bytes in sectors active for ``lookback`` epochs."""
        return {
            sp: size * sum(1 for a in activations if a <= epoch - lookback)
            for sp, (size, activations) in self._sectors.items()
        }

    async def run_once(self) -> tuple[float, datetime | None]:
        chain = self.workload.chain
        config = await chain.wait_config()
        epoch = chain.epoch()
        if time.monotonic() - self._read_at > 60.0:
            rows = await self.db.select(_POWER)
            self._sectors = {r["sp_id"]: (r["sector_size"], r["activations"]) for r in rows}
            self._read_at = time.monotonic()
        if epoch >= 0 and epoch != self._last_epoch:
            self._last_epoch = epoch
            powers = self.power(epoch, config.winning_post_lookback)
            total = sum(powers.values())
            if total > 0:
                beacon = await chain.beacon(epoch)
                for sp_id, power in powers.items():
                    if wins(beacon, epoch, sp_id, power, total, config.expected_winners):
                        await self._add(sp_id, epoch)
        return 30.0, config.time_of(max(epoch, -1) + 1)

    async def _add(self, sp_id: int, epoch: int) -> None:
        async def extra(task_id: int, tx: Any) -> bool:
            assert isinstance(tx, Tx)
            await tx.exec(
                "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won) "
                "VALUES ($1, $2, $3, now(), TRUE)",
                task_id,
                sp_id,
                epoch,
            )
            return True

        added = await self.add(WINPOST, extra)
        if added is not None:
            log.info("t0%d won epoch %d: WinPost task %d", sp_id, epoch, added)
