"""``harmony proving check DEADLINE``: ``lotus-miner proving check`` for our cluster.

Every live sector of the deadline (or of ``--partition N``) is read from its storage paths and
its vanilla proof generated and verified for a fresh random challenge, through the code the
WindowPoSt task itself uses (:func:`engine.tasks.window.check.check_provable`), so "good" means
the next WindowPoSt will prove it. It submits, declares and writes nothing (``--read-only`` and
a SELECT-only role suffice). Output: lotus's table (``deadline partition sector status``, status
``good`` or ``bad (reason)``) or ``--json``; the exit status is 1 when a sector is bad.

On a Curio cluster it refuses: Curio's sectors are sealed by Filecoin's proofs (Poseidon trees,
SNARK-sized caches), which this process's proofs code does not read; Curio checks its own
sectors when it proves (``CheckProvable`` before each WindowPoSt), and ``curio``'s own tooling
is where to ask it.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Awaitable, Callable

from engine.chain import Miner
from engine.harmonydb import DB
from engine.tasks.window.check import NoSuchPartition, SectorCheck, check_provable

from .arguments import miner_address
from .common import CommandError, add_json_flag, open_db, print_json, print_table

__all__ = ["add_check", "format_status"]

#: Deadlines per proving period (Filecoin's, and the devnet's): ``DEADLINE`` is checked against
#: the chain's profile when one is loaded, else against this.
DEADLINES = 48

PickMiner = Callable[[DB, str | None], Awaitable[Miner]]


def _index(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def add_check(actions: argparse._SubParsersAction, pick_miner: PickMiner) -> None:
    """Add ``check`` to ``harmony proving``; ``pick_miner`` resolves ``--miner`` (the one
    ``proving info`` uses, passed in so the two modules do not import each other)."""
    check = actions.add_parser(
        "check",
        help="check that a deadline's sectors are provable now (reads their files; sends nothing)",
        description=(
            "Read every live sector of DEADLINE (or one partition) from its storage paths, "
            "generate and verify its WindowPoSt vanilla proof for a fresh random challenge, "
            "and report good or bad (with the reason: missing file, unreadable, corrupt, "
            "wrong CommR) per sector, like `lotus-miner proving check`. Sectors whose files "
            "are on another host are proven by that host (/remote), as WindowPoSt does. "
            "Nothing is submitted or written. Exit status: 0 all good, 1 some sector bad."
        ),
    )
    check.add_argument("deadline", type=_index, metavar="DEADLINE", help="deadline index (0-47)")
    check.add_argument(
        "--miner",
        type=miner_address,
        metavar="ADDRESS",
        help="f0<id>/t0<id> (default: the only one)",
    )
    check.add_argument(
        "--partition", type=_index, metavar="N", help="only this partition of the deadline"
    )
    check.add_argument("--only-bad", action="store_true", help="print only bad sectors")
    speed = check.add_mutually_exclusive_group()
    speed.add_argument(
        "--slow",
        action="store_true",
        help="generate and verify each sector's vanilla proof (the default; lotus's flag)",
    )
    speed.add_argument(
        "--fast",
        action="store_true",
        help="only check the files: present, sized, the cache matching the sector's CommR; "
        "open no challenged leaf (misses damage inside the replica)",
    )
    check.add_argument(
        "--faulty", action="store_true", help="only check sectors the chain has as faulty"
    )
    check.add_argument(
        "--storage-id", metavar="ID", help="only check sectors with a file in this storage path"
    )
    add_json_flag(check)
    check.set_defaults(run=functools.partial(run_check, pick_miner=pick_miner))


def format_status(check: SectorCheck) -> str:
    """lotus's status cell: ``good`` or ``bad (reason)``."""
    return "good" if check.ok else f"bad ({check.reason})"


async def run_check(args: argparse.Namespace, pick_miner: PickMiner) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            raise CommandError(
                f"schema {args.schema!r} is a Curio cluster: `harmony proving check` reads "
                "sectors sealed by harmony's own proofs, and Curio's are sealed by Filecoin's "
                "(Poseidon trees), which this process cannot verify; Curio checks each sector "
                "before it proves it. Nothing was read or changed"
            )
        miner = await pick_miner(db, args.miner)
        deadlines = await _deadlines(db)
        if args.deadline >= deadlines:
            raise CommandError(f"deadline {args.deadline} does not exist (0-{deadlines - 1})")
        try:
            checks = await check_provable(
                db,
                miner.sp_id,
                args.deadline,
                partition=args.partition,
                only_bad=args.only_bad,
                slow=not args.fast,
                faulty=args.faulty,
                storage_id=args.storage_id,
            )
        except NoSuchPartition as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()
    bad = sum(not c.ok for c in checks)
    if args.json:
        print_json(
            {
                "miner": miner.address,
                "deadline": args.deadline,
                "bad": bad,
                "sectors": [
                    {
                        "deadline": c.deadline,
                        "partition": c.partition,
                        "sector": c.sector,
                        "state": c.state,
                        "ok": c.ok,
                        "status": "good" if c.ok else "bad",
                        "kind": c.kind,
                        "reason": c.reason or None,
                    }
                    for c in checks
                ],
            }
        )
    else:
        print_table(
            ["deadline", "partition", "sector", "status"],
            [(c.deadline, c.partition, c.sector, format_status(c)) for c in checks],
        )
        if not checks and not args.only_bad:
            print(
                f"{miner.address}: no sector to check in deadline {args.deadline}", file=sys.stderr
            )
    return 1 if bad else 0


async def _deadlines(db: DB) -> int:
    from engine.chain import load_chain

    config = await load_chain(db)
    return DEADLINES if config is None else config.profile.wpost_period_deadlines
