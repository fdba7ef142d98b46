"""``harmony storage move SECTOR --to PATH_ID``: move a sector's files to another path.

Through :func:`engine.storage.move_sector`, crash-safe: the source stays the declared copy until
the new one is whole, fsynced and declared. Files on another host are read from its storage
server (``harmony run`` serving there); the destination must be attached on this host.
"""

from __future__ import annotations

import argparse

from engine.storage import (
    StorageError,
    move_sector,
    parse_types,
    sector_name,
    size_str,
)

from .arguments import miner_address
from .common import CommandError, open_db, print_json
from .storage_find import sector_miner

__all__ = ["register"]


def register(actions: argparse._SubParsersAction) -> None:
    m = actions.add_parser(
        "move",
        help="move a sector's files to another storage path (crash-safe)",
        description="Move the sector's files of --types to the storage path --to, attached "
        "on this host. A copy is written under a temporary name, fsynced, renamed and declared "
        "before the old one is undeclared and deleted: interrupted at any point, one whole "
        "declared copy remains. Files on another host are read from its storage server.",
    )
    m.add_argument("sector", type=int, metavar="SECTOR", help="the sector number")
    m.add_argument("--to", required=True, metavar="PATH_ID", help="destination storage ID")
    m.add_argument(
        "--types",
        default="sealed,cache",
        metavar="TYPE,...",
        help="file types to move (default sealed,cache; e.g. unsealed,sealed,cache)",
    )
    m.add_argument("--miner", type=miner_address, metavar="ADDRESS", help="f0<id>/t0<id>")
    m.add_argument(
        "--seal", action="store_true", help="the destination is a sealing path (not a store)"
    )
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(run=run_move)


async def run_move(args: argparse.Namespace) -> int:
    try:
        types = parse_types(args.types)
    except ValueError as exc:
        raise CommandError(f"--types: {exc}") from None
    if not types:
        raise CommandError("--types: no file type given")
    db = await open_db(args)
    try:
        miner = await sector_miner(db, args.miner, args.sector)
        results = await move_sector(db, miner, args.sector, types, dest=args.to, seal=args.seal)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()
    name = sector_name(miner, args.sector)
    if args.json:
        print_json(
            [
                {
                    "sector": name,
                    "type": str(r.file_type),
                    "from": r.src_storage_id,
                    "to": r.dst_storage_id,
                    "bytes": r.bytes,
                    "path": str(r.path),
                }
                for r in results
            ]
        )
        return 0
    for r in results:
        if r.src_storage_id == r.dst_storage_id:
            print(f"{name} {r.file_type}: already on {r.dst_storage_id}")
        else:
            print(
                f"{name} {r.file_type}: moved {r.src_storage_id} -> {r.dst_storage_id} "
                f"({size_str(r.bytes)}) at {r.path}"
            )
    return 0
