"""``harmony sectors list`` on a Curio cluster, read-only, in ``lotus-miner sectors list``'s layout
(and ``sectors history``: the console's sealing history, read from Curio's schema).

Two sources, as Curio itself has them:

* sectors still in the pipeline (``sectors_sdr_pipeline``): the Curio read model's strips
  (:func:`engine.snapshot.curio.pipeline.read_pipeline`): their stage with Curio's labels, failed
  with its reason, stuck (a stage task Curio gave up on, or too long in one stage), and the chain
  state the database knows;
* sealed sectors (``sectors_meta``, written when the commit message is sent; ``is_live`` /
  ``is_faulty`` copied from the chain by Curio's SectorMetadata task every 15 minutes): one row
  each, with the words the read model's chain state uses (terminated, faulty, active).

A sector in both (committed, not yet moved or garbage-collected from the pipeline) is listed
once, from the pipeline. Curio's miners can hold millions of sectors: the list is limited
(``--limit``), ordered by miner and number, and says when more exist.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.chain import parse_miner
from engine.snapshot.curio.machines import read_machines
from engine.snapshot.curio.pipeline import read_pipeline
from engine.snapshot.curio.reader import DEAD_AFTER, STALE_AFTER
from engine.snapshot.pipeline import stage_status
from engine.snapshot.timing import Timing

from .common import CLOCK, CommandError, print_json, print_table

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import MachineSnap, PipelineSnap, SectorStrip

__all__ = ["DEFAULT_LIMIT", "curio_sectors_history", "curio_sectors_list"]

#: sectors listed when no --limit is given
DEFAULT_LIMIT = 1000
#: a stage this long without progress is stuck (the console's default)
STUCK_AFTER = 12 * 3600.0

# Sealed sectors Curio recorded, in key order. The chain state is the read model's
# (pipeline.py _CHAIN_STATE): not live = terminated, faulty, else active.
SEALED = """
SELECT sp_id, sector_num, expiration_epoch, deadline, "partition", is_cc,
       CASE WHEN NOT is_live THEN 'terminated' WHEN is_faulty THEN 'faulty' ELSE 'active' END
           AS chain_state
  FROM sectors_meta
 WHERE ($1::bigint IS NULL OR sp_id = $1)
 ORDER BY sp_id, sector_num
 LIMIT $2
"""

_MINER = re.compile(r"([ft])0\d+")


@dataclass(frozen=True)
class _Sector:
    sp_id: int
    number: int
    state: str
    on_chain: bool
    active: bool
    chain_state: str | None
    expiration: int | None
    deadline: int | None
    partition: int | None
    #: "CC" (no deals), "deals", or "" where the pipeline row does not say
    deals: str = ""
    failed_reason: str = ""
    failed_reason_msg: str = ""
    stuck: bool = False
    in_pipeline: bool = False
    #: the status of the stage it is in, as the console's strip says it ("": done)
    stage_status: str = ""


def _prefix(machines: tuple[MachineSnap, ...]) -> str:
    """f0 on mainnet, t0 elsewhere: as the nodes write their miners (Curio writes
    ``address.String()``); t0 when no node names one."""
    for m in machines:
        for miner in m.miners:
            match = _MINER.fullmatch(miner.strip())
            if match is not None:
                return f"{match.group(1)}0"
    return "t0"


def _from_strip(s: SectorStrip, meta: dict[str, Any] | None) -> _Sector:
    from engine.tasks.seal.status import CHAIN_STATES

    if s.state == "Failed":
        state = "Failed"
    elif s.stage == "Done":
        state = CHAIN_STATES.get(s.chain_state or "", "Sealed")
    else:
        state = s.stage
    return _Sector(
        sp_id=s.sp_id,
        number=s.sector_number,
        state=state,
        on_chain=s.chain_state not in (None, "precommitted"),
        active=s.chain_state == "active",
        chain_state=s.chain_state,
        expiration=meta["expiration_epoch"] if meta else None,
        deadline=meta["deadline"] if meta else None,
        partition=meta["partition"] if meta else None,
        deals=("CC" if meta["is_cc"] else "deals") if meta else "",
        failed_reason=s.failed_reason,
        failed_reason_msg=s.failed_msg,
        stuck=s.stuck,
        in_pipeline=True,
        stage_status=stage_status(s) if s.stage != "Done" else "",
    )


def _from_meta(r: dict[str, Any]) -> _Sector:
    from engine.tasks.seal.status import CHAIN_STATES

    return _Sector(
        sp_id=r["sp_id"],
        number=r["sector_num"],
        state=CHAIN_STATES[r["chain_state"]],
        on_chain=True,
        active=r["chain_state"] == "active",
        chain_state=r["chain_state"],
        expiration=r["expiration_epoch"],
        deadline=r["deadline"],
        partition=r["partition"],
        deals="CC" if r["is_cc"] else "deals",
    )


async def curio_sectors_list(db: DB, args: argparse.Namespace) -> int:
    now = CLOCK.now()
    limit = args.limit or DEFAULT_LIMIT
    sp_id: int | None = None
    if args.miner is not None:
        try:
            sp_id = parse_miner(args.miner)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    timing = Timing()

    async def read(tx: Tx) -> tuple[PipelineSnap, list[Any], tuple[MachineSnap, ...]]:
        ttx = timing.wrap(tx)
        pipeline = await read_pipeline(
            ttx,
            now,
            head_epoch=None,
            stuck_after=STUCK_AFTER,
            sector_limit=limit + 1,
            problem_limit=0,
        )
        sealed = await ttx.select(SEALED, sp_id, limit + 1)
        machines, _ = await read_machines(
            ttx, now, stale_after=STALE_AFTER, dead_after=DEAD_AFTER, running_limit=0
        )
        return pipeline, sealed, machines

    pipeline, sealed, machines = await db.transaction(read, isolation="repeatable_read")
    prefix = _prefix(machines)
    more = len(pipeline.sectors) > limit or len(sealed) > limit
    meta = {(r["sp_id"], r["sector_num"]): dict(r) for r in sealed}
    found: dict[tuple[int, int], _Sector] = {}
    for s in pipeline.sectors[:limit]:
        if sp_id in (None, s.sp_id):
            found[(s.sp_id, s.sector_number)] = _from_strip(s, meta.get((s.sp_id, s.sector_number)))
    for key, r in meta.items():
        found.setdefault(key, _from_meta(r))
    rows = [found[k] for k in sorted(found)]
    more = more or len(rows) > limit
    rows = rows[:limit]
    if args.json:
        print_json(
            [
                {
                    "miner": f"{prefix}{v.sp_id}",
                    "sector": v.number,
                    "state": v.state,
                    "on_chain": v.on_chain,
                    "active": v.active,
                    "chain_state": v.chain_state,
                    "expiration": v.expiration,
                    "deadline": v.deadline,
                    "partition": v.partition,
                    "failed_reason": v.failed_reason,
                    "failed_reason_msg": v.failed_reason_msg,
                    "stuck": v.stuck,
                    "in_pipeline": v.in_pipeline,
                    "stage_status": v.stage_status,
                    "deals": v.deals,
                }
                for v in rows
            ]
        )
        return 0
    if not rows:
        print("no sectors in this Curio cluster")
        return 0

    def state(v: _Sector) -> str:
        text = f"Failed: {v.failed_reason}" if v.state == "Failed" else v.state
        return f"{text} (stuck)" if v.stuck else text

    def yes(flag: bool) -> str:
        return "YES" if flag else "NO"

    headers = ["ID", "State", "OnChain", "Active", "Expiration", "Deadline", "Deals"]
    table = [
        [
            v.number,
            state(v),
            yes(v.on_chain),
            yes(v.active),
            v.expiration if v.expiration is not None else "n/a",
            f"{v.deadline}/{v.partition}" if v.deadline is not None else "",
            v.deals,
        ]
        for v in rows
    ]
    if len({v.sp_id for v in rows}) > 1:
        headers = ["Miner", *headers]
        table = [[f"{prefix}{v.sp_id}", *row] for v, row in zip(rows, table, strict=True)]
    print_table(headers, table)
    if more:
        print(f"(the first {limit} sectors; --limit N shows more)")
    print(
        "Expiration in epochs (no chain head here); states of sealed sectors as Curio's "
        "SectorMetadata task last recorded them"
    )
    return 0


async def curio_sectors_history(db: DB, args: argparse.Namespace) -> int:
    """``sectors history`` on a Curio cluster: the console's sealing history (Curio's
    statements, :data:`engine.snapshot.curio.pipeline.HISTORY`), miners named as its nodes
    name them."""
    from engine.snapshot.curio.pipeline import HISTORY
    from engine.snapshot.sealing_history import SealingHistory, read_history

    from .sealing_history_format import print_history

    now = CLOCK.now()

    async def read(tx: Tx) -> tuple[SealingHistory, tuple[MachineSnap, ...]]:
        ttx = Timing().wrap(tx)
        history = await read_history(ttx, HISTORY, now, limit=args.limit, search=args.sector)
        machines, _ = await read_machines(
            ttx, now, stale_after=STALE_AFTER, dead_after=DEAD_AFTER, running_limit=0
        )
        return history, machines

    history, machines = await db.transaction(read, isolation="repeatable_read")
    return print_history(_prefix(machines), history, json=args.json)
