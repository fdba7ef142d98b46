"""``harmony chain init|status|create-miner``: the cluster's devnet chain."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from engine.chain import (
    PROFILES,
    ChainConfigConflict,
    create_miner,
    init_chain,
    list_miners,
)
from engine.proofs import SEALABLE_SIZES, UnsupportedSectorSize, format_sector_size
from engine.proofs import parse_sector_size as parse_size

from .arguments import actor_id, positive_number
from .common import (
    CLOCK,
    CREATES_CLUSTER,
    CommandError,
    add_json_flag,
    open_db,
    print_json,
    print_table,
    require_chain,
)


def register(sub: argparse._SubParsersAction) -> None:
    chain = sub.add_parser(
        "chain",
        help="the devnet chain: init, status, create-miner",
        description="The cluster's devnet chain lives in the database: epochs from a genesis "
        "time, a beacon hash chain, a message pool and miner actors. One per cluster.",
    )
    actions = chain.add_subparsers(dest="chain_command", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create the cluster's chain (once)",
        description="Create the chain. devnet: 2 s epochs and 10-epoch deadlines (a proving "
        "period of 16 minutes); mainnet: Filecoin's 30 s epochs, 2880-epoch periods. "
        + CREATES_CLUSTER,
    )
    init.add_argument("--profile", choices=sorted(PROFILES), default="devnet")
    init.add_argument("--block-time", type=positive_number, metavar="SECONDS", help="epoch length")
    init.add_argument(
        "--genesis",
        metavar="TIME",
        help="when epoch 0 begins: ISO 8601 (UTC if no zone), unix seconds, or 'now' (default)",
    )
    init.add_argument(
        "--expected-winners",
        type=float,
        metavar="N",
        help="expected block winners per epoch (devnet 0.05, mainnet 5)",
    )
    init.set_defaults(run=run_init)
    status = actions.add_parser("status", help="profile, epochs, message pool and miners")
    add_json_flag(status)
    status.set_defaults(run=run_status)
    miner = actions.add_parser("create-miner", help="create a miner actor")
    miner.add_argument(
        "--size", default="2KiB", help="sector size: 2KiB, 8MiB or 512MiB (default 2KiB)"
    )
    miner.add_argument(
        "--id", type=actor_id, metavar="ACTOR_ID", help="default: the next from 1000"
    )
    miner.set_defaults(run=run_create_miner)


def parse_genesis(text: str | None) -> datetime | None:
    if text is None or text == "now":
        return None
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--genesis {text!r}: expected ISO 8601 (2026-01-01T00:00:00Z), unix seconds or now"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_sector_size(text: str) -> int:
    try:
        size = parse_size(text)
    except (UnsupportedSectorSize, ValueError) as exc:
        raise CommandError(f"bad sector size {text!r}: {exc}") from None
    if size not in SEALABLE_SIZES:
        names = ", ".join(format_sector_size(s) for s in SEALABLE_SIZES)
        raise CommandError(f"the devnet seals {names} sectors, not {format_sector_size(size)}")
    return size


async def run_init(args: argparse.Namespace) -> int:
    genesis = parse_genesis(args.genesis)
    db = await open_db(args, create=True)
    try:
        config, created = await init_chain(
            db,
            PROFILES[args.profile],
            block_time=args.block_time,
            genesis=genesis,
            expected_winners=args.expected_winners,
        )
    except ChainConfigConflict as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()
    p = config.profile
    what = "created" if created else "already exists:"
    print(
        f"chain {what} {p.name}, genesis {config.genesis_time.isoformat()}, "
        f"{p.block_time:g} s epochs, deadlines of {p.wpost_challenge_window} epochs, "
        f"proving period {p.wpost_proving_period} epochs"
    )
    return 0


async def run_status(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False)
    try:
        config = await require_chain(db)
        head = await db.query_value("SELECT max(epoch) FROM chain_tipsets")
        pending = await db.query_value(
            "SELECT count(*) FROM chain_messages WHERE landed_epoch IS NULL"
        )
        miners = await list_miners(db)
        counts = {
            (r["sp_id"], r["state"]): r["n"]
            for r in await db.select(
                "SELECT sp_id, state, count(*) AS n FROM chain_sectors GROUP BY sp_id, state"
            )
        }
    finally:
        await db.close()
    epoch = config.epoch_at(CLOCK.now())
    states = ("precommitted", "active", "faulty", "recovering", "terminated")
    rows = [
        {
            "miner": m.address,
            "sector_size": format_sector_size(m.sector_size),
            "proving_period_offset": m.proving_period_offset,
            **{s: counts.get((m.sp_id, s), 0) for s in states},
        }
        for m in miners
    ]
    if args.json:
        print_json(
            {
                "profile": config.profile.name,
                "genesis": config.genesis_time.isoformat(),
                "block_time": config.profile.block_time,
                "epoch": epoch,
                "head": head,
                "pending_messages": pending,
                "miners": rows,
            }
        )
        return 0
    print(f"Profile:          {config.profile.name} ({config.profile.block_time:g} s epochs)")
    print(f"Genesis:          {config.genesis_time.isoformat()}")
    print(f"Current Epoch:    {epoch}")
    print(f"Materialised To:  {head if head is not None else '-'}")
    print(f"Message Pool:     {pending} pending")
    print()
    if not rows:
        print("no miners yet (harmony chain create-miner, or harmony sectors pledge)")
        return 0
    print_table(
        ["MINER", "SECTOR SIZE", "OFFSET", *[s.upper() for s in states]],
        [
            [r["miner"], r["sector_size"], r["proving_period_offset"], *[r[s] for s in states]]
            for r in rows
        ],
    )
    return 0


async def run_create_miner(args: argparse.Namespace) -> int:
    size = parse_sector_size(args.size)
    db = await open_db(args)
    try:
        config = await require_chain(db)
        epoch = max(0, config.epoch_at(CLOCK.now()))
        try:
            miner = await create_miner(db, config, size, epoch=epoch, sp_id=args.id)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()
    print(
        f"created miner {miner.address} ({format_sector_size(size)} sectors, proving period "
        f"offset {miner.proving_period_offset})"
    )
    return 0
