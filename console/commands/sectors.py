"""``harmony sectors pledge|list|status|history|expirations|resume``: CC sectors through the
sealing pipeline, and when they expire on chain.

On a Curio cluster (a foreign schema) ``list`` and ``history`` read Curio's pipeline and sealed
sectors (:mod:`.curio_sectors`); ``status`` is not supported there yet, ``pledge`` and
``resume`` are refused.

``status`` says the stage a sector is in as the console's sealing pane does (one definition,
:data:`engine.snapshot.pipeline.STATUS_WORDS`): "queued" only when the stage's task exists and
waits for a machine, "ready, no task yet" when its inputs are ready and the poller has not
added it. ``history`` prints the console's sealing history: finished sectors, newest first,
each stage's time (:mod:`engine.snapshot.sealing_history`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine.chain import (
    Miner,
    UnknownMiner,
    create_miner,
    get_miner,
    list_miners,
    parse_miner,
)
from engine.proofs import format_sector_size
from engine.storage import find_sector

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.snapshot.expirations import ExpirationsSnap
    from engine.tasks.seal.status import SectorView

# The sealing pipeline's modules are imported by the commands that use them, so `harmony` (and
# every other command) starts without loading the workload.

from .arguments import miner_address, non_negative_int, positive_int, sector_number
from .chain import parse_sector_size
from .common import (
    CLOCK,
    CommandError,
    add_json_flag,
    open_db,
    print_json,
    print_table,
    require_chain,
)
from .proving_format import epoch_time


def register(sub: argparse._SubParsersAction) -> None:
    sectors = sub.add_parser(
        "sectors",
        help="sectors: pledge CC sectors, list, status, resume a failed one",
        description="Sectors of the cluster's miners, from the sealing pipeline "
        "(sectors_sdr_pipeline) and the devnet chain.",
    )
    actions = sectors.add_subparsers(dest="sectors_command", metavar="ACTION", required=True)
    pledge = actions.add_parser(
        "pledge",
        help="start committed-capacity sectors (lotus-miner sectors pledge)",
        description="Start N CC sectors of the miner with sectors of --size (created if the "
        "chain has no such miner). With --auto K, keep K sectors sealing until the miner has "
        "--max-sectors instead (--auto 0 stops it).",
    )
    pledge.add_argument(
        "--count", type=positive_int, default=1, help="sectors to start (default 1)"
    )
    pledge.add_argument("--size", help="sector size: 2KiB, 8MiB or 512MiB")
    pledge.add_argument("--miner", type=miner_address, metavar="ADDRESS", help="f0<id>/t0<id>")
    pledge.add_argument("--auto", type=non_negative_int, metavar="K", help="keep K sectors sealing")
    pledge.add_argument(
        "--max-sectors",
        type=positive_int,
        default=16,
        help="stop auto-pledging at this many sectors",
    )
    pledge.set_defaults(run=run_pledge)
    ls = actions.add_parser("list", help="every sector with its state (lotus-miner layout)")
    ls.add_argument(
        "--miner", type=miner_address, metavar="ADDRESS", help="only this miner's sectors"
    )
    ls.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="at most N sectors (default: all; on a Curio cluster 1000)",
    )
    add_json_flag(ls)
    ls.set_defaults(run=run_list)
    status = actions.add_parser("status", help="one sector: commitments, messages, stages, log")
    status.add_argument("number", type=sector_number, metavar="SECTOR")
    status.add_argument("--miner", type=miner_address, metavar="ADDRESS")
    add_json_flag(status)
    status.set_defaults(run=run_status)
    history = actions.add_parser(
        "history",
        help="finished sectors, newest first, with each stage's time (the console's h view)",
        description="Sectors that finished sealing, newest (highest number) first, with the "
        "time each stage's task worked, the chain's wait for the seed, and the total, from "
        "the sector's recorded task attempts. --sector finds one by number.",
    )
    history.add_argument("--sector", type=sector_number, metavar="N", help="only sector N")
    history.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="at most N sectors (20)"
    )
    add_json_flag(history)
    history.set_defaults(run=run_history)
    exp = actions.add_parser(
        "expirations",
        help="live sectors per miner by when they expire (1, 7, 30 days, later)",
        description="Each miner's live sectors by when they expire, at the chain's head: "
        "within 1 day, 7 days, 30 days or later, with the soonest expiration epoch and how "
        "many sectors have expired (the Miners pane's 'Expiring' line). A day is one proving "
        "period: 2880 epochs on Filecoin, 480 (16 minutes) on the devnet, whose sector "
        "lifetimes are scaled to its days. A sector past its expiration epoch stays live until "
        "its deadline ends (the chain's cron then removes it): it counts as within 1 day. On a "
        "Curio cluster the expirations are sectors_meta's, at Lotus's head (--lotus-api, "
        "FULLNODE_API_INFO, or Curio's [Apis] ChainApiInfo), else at the head of Curio's "
        "newest WinningPoSt round.",
    )
    exp.add_argument("--miner", type=miner_address, metavar="ADDRESS", help="only this miner")
    exp.add_argument(
        "--lotus-api",
        metavar="API_INFO",
        default=argparse.SUPPRESS,
        help="on a Curio cluster, the Lotus node whose head places the sectors",
    )
    add_json_flag(exp)
    exp.set_defaults(run=run_expirations)
    resume = actions.add_parser(
        "resume",
        help="take a failed sector back into the pipeline (only before its PreCommit)",
    )
    resume.add_argument("number", type=sector_number, metavar="SECTOR")
    resume.add_argument("--miner", type=miner_address, metavar="ADDRESS")
    resume.set_defaults(run=run_resume)


async def _chain_epoch(db: DB) -> int:
    return (await require_chain(db)).epoch_at(CLOCK.now())


async def _miner(db: DB, text: str | None) -> Miner:
    from .proving import pick_miner

    return await pick_miner(db, text)


async def run_pledge(args: argparse.Namespace) -> int:
    size = parse_sector_size(args.size) if args.size else None
    if args.count < 1 and args.auto is None:
        raise CommandError("--count must be at least 1")
    db = await open_db(args)
    try:
        config = await require_chain(db)
        created = False
        if args.miner is not None:
            try:
                miner = await get_miner(db, parse_miner(args.miner))
            except (ValueError, UnknownMiner) as exc:
                raise CommandError(str(exc)) from None
            if size is not None and size != miner.sector_size:
                raise CommandError(
                    f"{miner.address} seals {format_sector_size(miner.sector_size)} sectors, "
                    f"not {format_sector_size(size)}"
                )
        else:
            miners = [m for m in await list_miners(db) if size in (None, m.sector_size)]
            if len(miners) > 1:
                names = ", ".join(m.address for m in miners)
                raise CommandError(f"several miners ({names}): choose one with --miner")
            if miners:
                miner = miners[0]
            else:
                epoch = max(0, config.epoch_at(CLOCK.now()))
                miner = await create_miner(db, config, size or 2048, epoch=epoch)
                created = True
        if created:
            print(
                f"created miner {miner.address} ({format_sector_size(miner.sector_size)} sectors)"
            )
        if args.auto is not None:
            from engine.tasks import set_auto_pledge

            await set_auto_pledge(db, miner.sp_id, args.auto, args.max_sectors)
            if args.auto > 0:
                print(
                    f"{miner.address}: keeping {args.auto} CC sector(s) sealing until it has "
                    f"{args.max_sectors}"
                )
            else:
                print(f"{miner.address}: auto-pledge stopped")
            return 0
        from engine.tasks import pledge_sectors

        numbers = await pledge_sectors(db, miner.sp_id, args.count)
    finally:
        await db.close()
    listed = ", ".join(map(str, numbers))
    print(f"{miner.address}: pledged {len(numbers)} CC sector(s): {listed}")
    return 0


def _view_json(v: SectorView) -> dict[str, Any]:
    return {
        "miner": v.miner,
        "sector": v.sector_number,
        "state": v.state,
        "on_chain": v.on_chain,
        "active": v.active,
        "chain_state": v.chain_state,
        "expiration": v.expiration_epoch,
        "deadline": v.deadline,
        "partition": v.partition,
        "failed_reason": v.failed_reason,
        "failed_reason_msg": v.failed_reason_msg,
    }


async def run_list(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_sectors import curio_sectors_list

            return await curio_sectors_list(db, args)
        config = await require_chain(db)
        epoch = config.epoch_at(CLOCK.now())
        sp_id = (await _miner(db, args.miner)).sp_id if args.miner else None
        from engine.tasks.seal.status import list_sectors

        rows = await list_sectors(db, epoch, sp_id=sp_id)
        statuses: dict[tuple[int, int], str] = {}
        if args.json:
            from engine.snapshot.pipeline import read_stage_statuses

            # the head the console's pane reads: the chain's last tipset, else the clock's
            (tip,) = await db.select("SELECT max(epoch) AS head FROM chain_tipsets")
            head = epoch if tip["head"] is None else tip["head"]
            in_flight = sum(1 for v in rows if v.row.get("after_sdr") is not None)
            statuses = await read_stage_statuses(db, head, CLOCK.now(), max(in_flight, 1))
    finally:
        await db.close()
    if args.limit is not None:
        rows = rows[: args.limit]
    if args.json:
        print_json(
            [
                {**_view_json(v), "stage_status": statuses.get((v.sp_id, v.sector_number), "")}
                for v in rows
            ]
        )
        return 0
    if not rows:
        print("no sectors yet (harmony sectors pledge --count 2)")
        return 0
    several = len({v.sp_id for v in rows}) > 1
    bt = config.profile.block_time

    def state(v: SectorView) -> str:
        return f"Failed: {v.failed_reason}" if v.state == "Failed" else v.state

    def yes(flag: bool) -> str:
        return "YES" if flag else "NO"

    headers = ["ID", "State", "OnChain", "Active", "Expiration", "Deadline", "Deals"]
    table = [
        [
            v.sector_number,
            state(v),
            yes(v.on_chain),
            yes(v.active),
            epoch_time(epoch, v.expiration_epoch, bt) if v.expiration_epoch else "n/a",
            f"{v.deadline}/{v.partition}" if v.deadline is not None else "",
            "CC",
        ]
        for v in rows
    ]
    if several:
        headers = ["Miner", *headers]
        table = [[v.miner, *row] for v, row in zip(rows, table, strict=True)]
    print_table(headers, table)
    return 0


def _hex(value: bytes | None) -> str:
    return bytes(value).hex() if value else ""


async def run_status(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False)
    try:
        epoch = await _chain_epoch(db)
        miner = await _miner(db, args.miner)
        from engine.snapshot.pipeline import (
            STATUS_WORDS,
            read_sector_strip,
            stage_status,
        )
        from engine.tasks.seal.status import list_sectors, sector_events

        (view,) = await list_sectors(db, epoch, sp_id=miner.sp_id, number=args.number) or [None]
        if view is None:
            raise CommandError(f"{miner.address} has no sector {args.number}")
        events = await sector_events(db, miner.sp_id, args.number)
        locations = await find_sector(db, miner.sp_id, args.number)
        # the head the console's sealing pane reads: the chain's last tipset, else the clock's
        (tip,) = await db.select("SELECT max(epoch) AS head FROM chain_tipsets")
        head = epoch if tip["head"] is None else tip["head"]
        strip = await read_sector_strip(db, miner.sp_id, args.number, head, CLOCK.now(), 0.0)
    finally:
        await db.close()
    r = view.row
    if args.json:
        print_json(
            {
                **_view_json(view),
                "stage": strip.stage if strip is not None else None,
                "stage_status": stage_status(strip) if strip is not None else None,
                "comm_d": r["tree_d_cid"],
                "comm_r": r["tree_r_cid"],
                "ticket": _hex(r["ticket_value"]),
                "ticket_epoch": r["ticket_epoch"],
                "seed": _hex(r["seed_value"]),
                "seed_epoch": r["seed_epoch"],
                "precommit_msg": r["precommit_msg_cid"],
                "commit_msg": r["commit_msg_cid"],
                "activation_epoch": r["activation_epoch"],
                "locations": [
                    {
                        "type": str(loc.file_type),
                        "storage_id": loc.storage_id,
                        "path": loc.local_path,
                    }
                    for loc in locations
                ],
                "events": [
                    {
                        "task_id": e.task_id,
                        "task": e.name,
                        "start": e.work_start.isoformat(),
                        "end": e.work_end.isoformat(),
                        "outcome": e.outcome,
                        "error": e.err,
                        "machine": e.host,
                    }
                    for e in events
                ],
            }
        )
        return 0
    print(f"SectorID:\t{args.number}")
    print(f"Miner:\t\t{miner.address}")
    print(f"Status:\t\t{view.state}")
    if strip is not None and strip.stage != "Done" and strip.state == "Sealing":
        print(f"Stage:\t\t{strip.stage}, {STATUS_WORDS[stage_status(strip)]}")
    print(f"CIDcommD:\t{r['tree_d_cid'] or ''}")
    print(f"CIDcommR:\t{r['tree_r_cid'] or ''}")
    print(f"Ticket:\t\t{_hex(r['ticket_value'])}")
    print(f"TicketH:\t{r['ticket_epoch'] if r['ticket_epoch'] is not None else ''}")
    print(f"Seed:\t\t{_hex(r['seed_value'])}")
    print(f"SeedH:\t\t{r['seed_epoch'] if r['seed_epoch'] is not None else ''}")
    print(f"Precommit:\t{r['precommit_msg_cid'] or ''}")
    print(f"Commit:\t\t{r['commit_msg_cid'] or ''}")
    print("Deals:\t\t[]")
    print(
        f"OnChain:\t{'YES' if view.on_chain else 'NO'} ({view.chain_state or 'not precommitted'})"
    )
    if view.deadline is not None:
        print(f"Deadline:\t{view.deadline}, partition {view.partition}")
    if view.state == "Failed":
        print(f"Failed:\t\t{view.failed_reason}: {view.failed_reason_msg}")
        print("\t\t(harmony sectors resume " + f"{args.number} --miner {miner.address})")
    if locations:
        print("--------\nStorage")
        for loc in locations:
            print(f"{str(loc.file_type).capitalize()}:\t{loc.local_path or loc.storage_id}")
    if events:
        print("--------\nEvent Log:")
        for i, e in enumerate(events):
            took = (e.work_end - e.work_start).total_seconds()
            line = f"{i}.\t{e.work_end.astimezone():%Y-%m-%d %H:%M:%S}\t{e.name}\t{e.outcome}"
            line += f"\t{took:.2f}s\t{e.host}"
            if e.err:
                line += f"\n\t\t{e.err}"
            print(line)
    return 0


async def run_resume(args: argparse.Namespace) -> int:
    from engine.tasks import ResumeRefused, SectorNotInPipeline, resume_sector

    db = await open_db(args)
    try:
        miner = await _miner(db, args.miner)
        try:
            resumed = await resume_sector(db, miner.sp_id, args.number)
        except (ResumeRefused, SectorNotInPipeline) as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()
    print(resumed.description)
    return 0


async def run_history(args: argparse.Namespace) -> int:
    from engine.snapshot.sealing_history import read_history

    from .sealing_history_format import print_history

    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_sectors import curio_sectors_history

            return await curio_sectors_history(db, args)
        from engine.snapshot.pipeline import HISTORY

        history = await read_history(db, HISTORY, CLOCK.now(), limit=args.limit, search=args.sector)
    finally:
        await db.close()
    return print_history("t0", history, json=args.json)


async def read_cli_expirations(
    db: DB, args: argparse.Namespace
) -> tuple[ExpirationsSnap, str | None]:
    """The buckets as the Miners pane reads them (:func:`read_expirations` at the head the pane
    uses), and a note on where a Curio cluster's head came from."""
    from engine.snapshot.expirations import read_curio_expirations, read_expirations

    if db.foreign:
        from .curio_proving import chain_state

        now = CLOCK.now()
        state, problem = await chain_state(db, getattr(args, "lotus_api", None), (), now)
        head = state.head_epoch if state is not None else None
        profile = state.profile() if state is not None else None
        snap = await read_curio_expirations(db, head, profile, now)
        note = None
        if head is None:
            why = problem or (state.error if state is not None else None) or "no Lotus node"
            note = (
                f"head epoch {snap.head_epoch} from Curio's newest WinningPoSt round ({why})"
                if snap.head_epoch is not None
                else f"the chain head is not known ({why}; no WinningPoSt round either)"
            )
        return snap, note
    config = await require_chain(db)
    # the head the console's pane reads: the chain's last tipset, else the clock's
    tip = await db.query_value("SELECT max(epoch) FROM chain_tipsets")
    head = config.epoch_at(CLOCK.now()) if tip is None else int(tip)
    profile = config.profile
    snap = await read_expirations(db, head, profile.epochs_per_day, profile.block_time)
    return snap, None


async def run_expirations(args: argparse.Namespace) -> int:
    from engine.snapshot.expirations import expiration_line

    db = await open_db(args, migrate=False, foreign=True)
    try:
        snap, note = await read_cli_expirations(db, args)
    finally:
        await db.close()
    miners = list(snap.miners)
    if args.miner:
        sp_id = parse_miner(args.miner)
        miners = [m for m in miners if m.sp_id == sp_id]
    if args.json:
        print_json(
            {
                "head_epoch": snap.head_epoch,
                "epochs_per_day": snap.epochs_per_day,
                "note": note,
                "miners": [m.figures() for m in miners],
            }
        )
        return 0
    if note:
        print(note)
    if snap.head_epoch is None:
        print("no expirations can be placed without the chain head")
        return 0
    if not miners:
        print(f"no sectors on chain at epoch {snap.head_epoch}")
        return 0
    day = snap.epochs_per_day
    print(f"at epoch {snap.head_epoch}; a day is {day} epochs (one proving period)")
    print_table(
        ["Miner", "<=1 day", "<=7 days", "<=30 days", "Later", "Unknown", "Expired", "Soonest"],
        [
            [
                f"t0{m.sp_id}",
                m.day,
                m.week,
                m.month,
                m.later,
                m.unknown,
                m.expired,
                "-" if m.soonest is None else m.soonest,
            ]
            for m in miners
        ],
    )
    for m in miners:
        print(f"t0{m.sp_id}: {expiration_line(snap, m.sp_id)}")
    return 0
