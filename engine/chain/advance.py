"""Advancing the chain: materialise every epoch up to now, executing what each epoch holds.

One call (one transaction, serialised on the ``chain_config`` row) takes the chain from its
head to the target epoch. Epoch by epoch it runs the end-of-deadline cron of deadlines closing
then, and executes the messages due then, in pool order; then it writes the tipsets with their
beacons. The result is the same however many epochs one call covers, so the chain can be
advanced rarely when nothing is due: a message lands at its landing epoch, a PoSt that landed
in time counts, whether the advance runs every epoch or every thirty seconds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .actor import Execution, apply_message, deadline_cron, sync_sectors_meta
from .beacon import BeaconCache, beacon_range
from .cids import object_cid
from .errors import ChainNotInitialised
from .miners import Miner

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .config import ChainConfig

__all__ = ["AdvanceResult", "LandedMessage", "advance_chain", "busy_deadlines", "next_close"]

log = logging.getLogger(__name__)

MAX_EPOCHS_PER_ADVANCE = 5000


@dataclass(frozen=True)
class LandedMessage:
    cid: str
    sp_id: int
    method: str
    epoch: int
    exit_code: int
    receipt: str


@dataclass(frozen=True)
class AdvanceResult:
    previous_head: int
    head: int
    landed: list[LandedMessage] = field(default_factory=list)
    #: sectors the cron changed (missed PoSt, expired faults)
    cron_changed: int = 0
    #: the next epoch something is due (a message lands, a deadline with sectors closes)
    next_due: int | None = None

    @property
    def advanced(self) -> bool:
        return self.head > self.previous_head


#: One advance at a time: the config row's lock. The head is read by the next statement, not
#: joined here: under READ COMMITTED a statement's snapshot is taken before it waits for the
#: lock, so a head read with it was the one from before the advance it waited for, and the
#: epochs that advance wrote were written again (23505 on chain_tipsets, which no retry
#: clears). Under the snapshot levels the transaction's snapshot is older still; there the
#: tipsets' chain_turn trigger makes the waiter fail with 40001 and run again.
_TURN = "SELECT id FROM chain_config WHERE id = 1 FOR UPDATE"
_HEAD = "SELECT epoch, beacon FROM chain_tipsets ORDER BY epoch DESC LIMIT 1"

_PENDING = """
SELECT cid, sp_id, method, land_epoch, CASE WHEN land_epoch <= $1 THEN params END AS params
  FROM chain_messages WHERE landed_epoch IS NULL
 ORDER BY land_epoch, submitted_at, cid
"""

_MINERS = """
SELECT m.sp_id, m.sector_size, m.reg_seal_proof, m.proving_period_offset, m.created_epoch,
       COALESCE(array_agg(DISTINCT s.deadline) FILTER (WHERE s.deadline IS NOT NULL), '{}')
           AS busy
  FROM chain_miners m
  LEFT JOIN chain_sectors s ON s.sp_id = m.sp_id
       AND s.state IN ('active', 'faulty', 'recovering')
 GROUP BY m.sp_id ORDER BY m.sp_id
"""

_LAND = """
WITH m AS (
    UPDATE chain_messages SET landed_epoch = $2, exit_code = $3, receipt = $4 WHERE cid = $1
    RETURNING cid
)
UPDATE message_waits SET executed_tsk_cid = $5, executed_tsk_epoch = $2, executed_msg_cid = $1,
       executed_msg_data = $6::jsonb, executed_rcpt_exitcode = $3,
       executed_rcpt_return = $7, executed_rcpt_gas_used = $8
 WHERE signed_message_cid = $1
"""


def tipset_cid(epoch: int, beacon: bytes) -> str:
    return object_cid("tipset", {"epoch": epoch, "beacon": beacon.hex()})


def next_close(config: ChainConfig, miner: Miner, busy: set[int], after: int) -> int | None:
    """The first epoch > ``after`` at which one of the ``busy`` deadlines closes."""
    if not busy:
        return None
    profile = config.profile
    info = miner.deadline(config, after)  # its close is > after
    for j in range(profile.wpost_period_deadlines):
        if (info.index + j) % profile.wpost_period_deadlines in busy:
            return info.close + j * profile.wpost_challenge_window
    return None


async def busy_deadlines(db: DB | Tx) -> dict[int, tuple[Miner, set[int]]]:
    """Each miner with the deadlines whose end-of-deadline cron has work: sectors a PoSt must
    prove, and faulty sectors (only the cron terminates them after the fault max age, so a
    deadline whose sectors are all faulty must still be visited)."""
    out = {}
    for row in await db.select(_MINERS):
        busy = set(row.pop("busy"))
        out[row["sp_id"]] = (Miner(**row), busy)
    return out


async def advance_chain(
    db: DB,
    config: ChainConfig,
    target: int,
    *,
    beacons: BeaconCache | None = None,
    max_epochs: int = MAX_EPOCHS_PER_ADVANCE,
) -> AdvanceResult:
    """Materialise epochs up to ``target`` (at most ``max_epochs`` of them)."""
    cache = beacons or BeaconCache()

    async def work(tx: Tx) -> AdvanceResult:
        if await tx.query_value(_TURN) is None:
            raise ChainNotInitialised()
        row = await tx.query_row(_HEAD)
        head = row["epoch"] if row is not None else -1
        head_beacon = bytes(row["beacon"]) if row is not None else config.genesis_seed
        end = min(target, head + max_epochs)
        if end <= head:
            return AdvanceResult(head, head)
        fresh = dict(
            zip(range(head + 1, end + 1), beacon_range(head_beacon, head, end), strict=True)
        )

        async def beacon(epoch: int) -> bytes:
            if epoch in fresh:
                return fresh[epoch]
            return await cache.get(tx, config, epoch)

        pending = await tx.select(_PENDING, end)
        due = [m for m in pending if m["land_epoch"] <= end]
        later = [m["land_epoch"] for m in pending if m["land_epoch"] > end]
        miners = await busy_deadlines(tx)
        ex = Execution(tx, config, {sp: m for sp, (m, _) in miners.items()}, beacon)
        window = config.profile.wpost_challenge_window
        landed: list[LandedMessage] = []
        cron_changed = 0
        by_epoch: dict[int, list[dict[str, object]]] = {}
        for msg in due:  # a message the chain already passed executes at the next epoch
            by_epoch.setdefault(max(msg["land_epoch"], head + 1), []).append(msg)
        epoch = head
        while epoch < end:
            epoch += 1
            for miner, busy in miners.values():
                if (epoch - miner.proving_period_offset) % window == 0:
                    closing = miner.deadline(config, epoch - 1)
                    if closing.index in busy and closing.close == epoch:
                        changed = await deadline_cron(
                            ex, miner, closing.period_start, closing.index, epoch
                        )
                        cron_changed += len(changed)
            for msg in by_epoch.get(epoch, []):
                receipt = await apply_message(ex, msg, epoch)
                params = msg["params"]
                size = len(params) if isinstance(params, str) else 0
                await tx.exec(
                    _LAND,
                    msg["cid"],
                    epoch,
                    receipt.exit_code,
                    receipt.text,
                    tipset_cid(epoch, fresh[epoch]),
                    json.dumps({"to": f"t0{msg['sp_id']}", "method": msg["method"]}),
                    receipt.text.encode(),
                    1_000_000 + 100 * size,
                )
                landed.append(
                    LandedMessage(
                        str(msg["cid"]),
                        int(msg["sp_id"]),  # type: ignore[call-overload]
                        str(msg["method"]),
                        epoch,
                        receipt.exit_code,
                        receipt.text,
                    )
                )
                if receipt.ok and ex.touched:
                    # activations may fill deadlines whose cron now matters in this advance
                    for sp_id, (_m, busy) in miners.items():
                        if sp_id in ex.touched:
                            busy.update(
                                r["deadline"]
                                for r in await tx.select(
                                    "SELECT DISTINCT deadline FROM chain_sectors WHERE "
                                    "sp_id = $1 AND state IN ('active', 'faulty', "
                                    "'recovering')",
                                    sp_id,
                                )
                            )
                if not receipt.ok:
                    log.warning(
                        "message %s (%s of t0%s) failed at epoch %d: exit %d, %s",
                        msg["cid"],
                        msg["method"],
                        msg["sp_id"],
                        epoch,
                        receipt.exit_code,
                        receipt.text,
                    )
            if ex.touched:
                await sync_sectors_meta(ex)
        epochs = sorted(fresh)
        await tx.exec(
            "INSERT INTO chain_tipsets (epoch, beacon) "
            "SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            epochs,
            [fresh[e] for e in epochs],
        )
        closes = [
            c
            for miner, busy in miners.values()
            if (c := next_close(config, miner, busy, end)) is not None
        ]
        next_due = min([*later, *closes], default=None)
        tx.notify("chain", f"h:{end}:{'' if next_due is None else next_due}")
        await tx.commit()
        for e in epochs[-64:]:
            cache.remember(e, fresh[e])
        return AdvanceResult(head, end, landed, cron_changed, next_due)

    return await db.transaction(work)
