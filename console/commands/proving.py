"""``harmony proving info|deadlines``: in the layouts of ``lotus-miner proving info`` and
``proving deadlines``, so operators who know those read them at a glance and their scripts keep
working.

On a Curio cluster (a foreign schema) both read the Curio read model's PoSt section, with chain
state from its Lotus node when one is named (:mod:`.curio_proving`)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime

from engine.chain import (
    ChainConfig,
    Miner,
    UnknownMiner,
    list_miners,
)
from engine.chain.proving import DeadlineRow, ProvingInfo, proving_deadlines, proving_info
from engine.harmonydb import DB, Tx
from engine.snapshot.model import PostSnap
from engine.snapshot.post import deadline_figures, read_post

from .arguments import miner_address
from .common import CLOCK, CommandError, add_json_flag, open_db, print_json, require_chain

_UNITS = (
    ("year", 365 * 86400 * 1_000_000),
    ("week", 7 * 86400 * 1_000_000),
    ("day", 86400 * 1_000_000),
    ("hour", 3600 * 1_000_000),
    ("minute", 60 * 1_000_000),
    ("second", 1_000_000),
    ("millisecond", 1000),
    ("microsecond", 1),
)


def durafmt(seconds: float, limit: int = 2) -> str:
    """Go's ``durafmt.Parse(d).LimitFirstN(2)``: "2 hours 59 minutes", "1 second"."""
    micros = round(abs(seconds) * 1_000_000)
    parts = []
    for name, size in _UNITS:
        n, micros = divmod(micros, size)
        if n:
            parts.append(f"{n} {name}{'' if n == 1 else 's'}")
    return " ".join(parts[:limit]) if parts else "0 seconds"


def epoch_time(current: int, epoch: int, block_time: float) -> str:
    """lotus ``cliutil.EpochTime``."""
    if current > epoch:
        return f"{epoch} ({durafmt((current - epoch) * block_time)} ago)"
    if current == epoch:
        return f"{epoch} (now)"
    return f"{epoch} (in {durafmt((epoch - current) * block_time)})"


def epoch_time_ts(info: ProvingInfo, epoch: int) -> str:
    """lotus ``cliutil.EpochTimeTs``: with the epoch's RFC822 time (local zone)."""
    when = info.time_of(epoch).astimezone().strftime("%d %b %y %H:%M %Z")
    current, bt = info.current_epoch, info.block_time
    if current > epoch:
        return f"{epoch} ({when}, {durafmt((current - epoch) * bt)} ago)"
    if current == epoch:
        return f"{epoch} ({when}, now)"
    return f"{epoch} ({when}, in {durafmt((epoch - current) * bt)})"


def format_info(info: ProvingInfo, *, address: str | None = None) -> str:
    """``address`` names the miner as its network does (default: the devnet's t0…)."""
    d, bt, cur = info.deadline, info.block_time, info.current_epoch
    return "\n".join(
        [
            f"Miner: {address or info.miner.address}",
            f"Current Epoch:           {cur}",
            f"Proving Period Boundary: {info.period_boundary}",
            f"Proving Period Start:    {epoch_time_ts(info, d.period_start)}",
            f"Next Period Start:       {epoch_time_ts(info, d.next_period_start)}",
            "",
            f"Faults:      {info.faults} ({info.fault_percent:.2f}%)",
            f"Recovering:  {info.recovering}",
            f"Deadline Index:       {d.index}",
            f"Deadline Sectors:     {info.deadline_sectors}",
            f"Deadline Open:        {epoch_time(cur, d.open, bt)}",
            f"Deadline Close:       {epoch_time(cur, d.close, bt)}",
            f"Deadline Challenge:   {epoch_time(cur, d.challenge, bt)}",
            f"Deadline FaultCutoff: {epoch_time(cur, d.fault_cutoff, bt)}",
        ]
    )


def format_deadlines(miner: Miner, rows: list[DeadlineRow]) -> str:
    """Go's tabwriter (minwidth 2, padding 2) over ``deadline open partitions sectors (faults)
    proven partitions``; the current row's last cell is followed by ``(current)``."""
    cells = [
        (
            [
                str(r.index),
                r.open_time.astimezone().strftime("%H:%M:%S"),
                str(r.partitions),
                f"{r.sectors} ({r.faults})",
                str(r.proven_partitions),
            ],
            r.current,
        )
        for r in rows
    ]
    return format_deadline_table(miner.address, cells)


def format_deadline_table(address: str, cells: list[tuple[list[str], bool]]) -> str:
    """The table of :func:`format_deadlines` from its cells, each row with its current flag."""
    header = ["deadline", "open", "partitions", "sectors (faults)", "proven partitions"]
    widths = [max(2, *(len(c[i]) for c in [header, *(r for r, _ in cells)])) + 2 for i in range(4)]
    lines = [f"Miner: {address}"]
    for row, current in [(header, False), *cells]:
        line = "".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
        # A tab-terminated last cell forms a column of its own: width + padding 2.
        lines.append(line + (row[4].ljust(len(row[4]) + 2) + "(current)" if current else row[4]))
    return "\n".join(lines)


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
