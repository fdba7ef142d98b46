"""``harmony proving info|deadlines``: in the layouts of ``lotus-miner proving info`` and
``proving deadlines``, so operators who know those read them at a glance and their scripts keep
working.

On a Curio cluster (a foreign schema) both read the Curio read model's PoSt section, with chain
state from its Lotus node when one is named (:mod:`.curio_proving`)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from engine.chain import (
    ChainConfig,
    Miner,
    UnknownMiner,
    list_miners,
)
from engine.chain.proving import DeadlineRow, proving_deadlines, proving_info
from engine.snapshot.post import deadline_figures, read_post

from .arguments import miner_address
from .common import CLOCK, CommandError, add_json_flag, open_db, print_json, require_chain
from .proving_check import add_check
from .proving_format import format_deadlines, format_info

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import PostSnap


def register(sub: argparse._SubParsersAction) -> None:
    proving = sub.add_parser(
        "proving", help="WindowPoSt state of a miner: info, deadlines (lotus-miner's layout)"
    )
    actions = proving.add_subparsers(dest="proving_command", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="current proving period and deadline, faults")
    info.add_argument(
        "--miner",
        type=miner_address,
        metavar="ADDRESS",
        help="f0<id>/t0<id> (default: the only one)",
    )
    _lotus_option(info)
    add_json_flag(info)
    info.set_defaults(run=run_info)
    dls = actions.add_parser("deadlines", help="the 48 deadlines: partitions, sectors, faults")
    dls.add_argument(
        "--miner",
        type=miner_address,
        metavar="ADDRESS",
        help="f0<id>/t0<id> (default: the only one)",
    )
    dls.add_argument(
        "--all", action="store_true", help="count all partitions and sectors, not only live ones"
    )
    _lotus_option(dls)
    add_json_flag(dls)
    dls.set_defaults(run=run_deadlines)
    add_check(actions, pick_miner)


def _lotus_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a value given before the command (the console's global --lotus-api) stays.
    parser.add_argument(
        "--lotus-api",
        metavar="API_INFO",
        default=argparse.SUPPRESS,
        help="on a Curio cluster, the Lotus node for head, deadline windows, recoveries and "
        "power (TOKEN:/ip4/HOST/tcp/PORT/http; default: FULLNODE_API_INFO, then Curio's "
        "[Apis] ChainApiInfo layers; without one, what the database holds)",
    )


async def pick_miner(db: DB, text: str | None) -> Miner:
    """The miner named by ``--miner``, or the cluster's only one."""
    from engine.chain import get_miner, parse_miner

    if text is not None:
        try:
            return await get_miner(db, parse_miner(text))
        except (ValueError, UnknownMiner) as exc:
            raise CommandError(str(exc)) from None
    miners = await list_miners(db)
    if not miners:
        raise CommandError("no miners on this chain yet (harmony chain create-miner)")
    if len(miners) > 1:
        names = ", ".join(m.address for m in miners)
        raise CommandError(f"several miners ({names}): choose one with --miner")
    return miners[0]


async def chain_and_miner(db: DB, miner_text: str | None) -> tuple[ChainConfig, Miner, int]:
    """The chain, the miner asked for (see :func:`pick_miner`) and the current epoch."""
    config = await require_chain(db)
    miner = await pick_miner(db, miner_text)
    return config, miner, config.epoch_at(CLOCK.now())


async def run_info(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_proving import curio_info

            return await curio_info(db, args)
        config, miner, epoch = await chain_and_miner(db, args.miner)
        info = await proving_info(db, config, miner.sp_id, epoch)
    finally:
        await db.close()
    if args.json:
        d = info.deadline
        print_json(
            {
                "miner": miner.address,
                "current_epoch": info.current_epoch,
                "proving_period_boundary": info.period_boundary,
                "proving_period_start": d.period_start,
                "next_period_start": d.next_period_start,
                "faults": info.faults,
                "fault_percent": info.fault_percent,
                "recovering": info.recovering,
                "live_sectors": info.live,
                "deadline_index": d.index,
                "deadline_sectors": info.deadline_sectors,
                "deadline_open": d.open,
                "deadline_close": d.close,
                "deadline_challenge": d.challenge,
                "deadline_fault_cutoff": d.fault_cutoff,
            }
        )
        return 0
    print(format_info(info))
    return 0


async def read_deadlines(db: DB, miner: Miner, now: datetime) -> list[DeadlineRow]:
    """``proving deadlines`` from the console's read model (:func:`deadline_figures`), so the
    CLI and the PoSt pane print the same partitions, sectors, faults and proven partitions."""

    async def read(tx: Tx) -> PostSnap:
        return await read_post(tx, now)

    post = await db.transaction(read, isolation="repeatable_read")
    snap = next((m for m in post.miners if m.sp_id == miner.sp_id), None)
    if snap is None:
        raise CommandError(f"{miner.address}: not in the chain's miners")
    return [
        DeadlineRow(
            index=f.index,
            open_epoch=f.open_epoch,
            open_time=f.open_time,
            partitions=f.partitions,
            sectors=f.sectors,
            faults=f.faults,
            proven_partitions=f.proven_partitions,
            proven_this_period=f.proven_partitions,
            current=f.current,
        )
        for f in deadline_figures(post, snap, now)
    ]


async def run_deadlines(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_proving import curio_deadlines

            return await curio_deadlines(db, args)
        now = CLOCK.now()
        config, miner = await require_chain(db), await pick_miner(db, args.miner)
        if args.all:
            # Terminated sectors and their partitions are not in the read model: counted here;
            # proven partitions keep the read model's meaning (this period's proofs).
            rows = [
                replace(r, proven_partitions=r.proven_this_period)
                for r in await proving_deadlines(
                    db, config, miner.sp_id, config.epoch_at(now), all_partitions=True
                )
            ]
        else:
            rows = await read_deadlines(db, miner, now)
    finally:
        await db.close()
    if args.json:
        print_json(
            [
                {
                    "deadline": r.index,
                    "open_epoch": r.open_epoch,
                    "open": r.open_time.isoformat(),
                    "partitions": r.partitions,
                    "sectors": r.sectors,
                    "faults": r.faults,
                    "proven_partitions": r.proven_partitions,
                    "proven_this_period": r.proven_this_period,
                    "current": r.current,
                }
                for r in rows
            ]
        )
        return 0
    print(format_deadlines(miner, rows))
    return 0
