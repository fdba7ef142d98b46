"""``harmony storage find SECTOR``: where a sector's files are (``lotus-miner storage find``).

One block per storage path holding any of the sector's files, in Curio's layout: the types it
holds, whether the path seals and stores, its local directory when attached on this host
(else "Remote"), and the URLs other hosts read it at (``http://…/remote``, or ``file://`` for a
host serving none).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine.storage import SectorFileType, find_sector, format_types, get_path, sector_name

from .arguments import miner_address
from .common import CommandError, open_db, print_json

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["register", "sector_miner"]


def register(actions: argparse._SubParsersAction) -> None:
    f = actions.add_parser(
        "find",
        help="where a sector's files are: paths, hosts and URLs",
        description="List every storage path holding a file of the sector, as `lotus-miner "
        "storage find` does: its types, seal/store use, the local directory on this host or "
        "'Remote', and the URLs its hosts serve it at.",
    )
    f.add_argument("sector", type=int, metavar="SECTOR", help="the sector number")
    f.add_argument(
        "--miner",
        type=miner_address,
        metavar="ADDRESS",
        help="f0<id>/t0<id> (default: the only miner with a sector of that number)",
    )
    f.add_argument("--json", action="store_true", help="machine-readable output")
    f.set_defaults(run=run_find)


async def sector_miner(db: DB, text: str | None, sector: int) -> int:
    """The miner asked for, or the only one with files of ``sector`` declared."""
    if text is not None:
        from engine.chain import parse_miner

        return parse_miner(text)
    rows = await db.select(
        "SELECT DISTINCT miner_id FROM sector_location WHERE sector_num = $1 ORDER BY miner_id",
        sector,
    )
    if not rows:
        raise CommandError(f"no file of sector {sector} is declared on any storage path")
    if len(rows) > 1:
        names = ", ".join(f"t0{r['miner_id']}" for r in rows)
        raise CommandError(f"several miners have a sector {sector} ({names}): choose with --miner")
    return int(rows[0]["miner_id"])


async def run_find(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False)
    try:
        miner = await sector_miner(db, args.miner, args.sector)
        found = await find_sector(db, miner, args.sector)
        paths: dict[str, dict[str, Any]] = {}
        for loc in found:
            entry = paths.get(loc.storage_id)
            if entry is None:
                row = await get_path(db, loc.storage_id)
                entry = paths[loc.storage_id] = {
                    "storage_id": loc.storage_id,
                    "types": SectorFileType(0),
                    "primary": SectorFileType(0),
                    "can_seal": row.can_seal,
                    "can_store": row.can_store,
                    "local_path": str(loc.local_path.parent.parent) if loc.local_path else None,
                    "urls": loc.urls,
                }
            entry["types"] |= loc.file_type
            if loc.is_primary:
                entry["primary"] |= loc.file_type
    finally:
        await db.close()
    name = sector_name(miner, args.sector)
    if not paths:
        raise CommandError(f"no file of {name} is declared on any storage path")
    ordered = sorted(paths.values(), key=lambda e: e["storage_id"])
    if args.json:
        print_json(
            {
                "miner": f"t0{miner}",
                "sector": args.sector,
                "name": name,
                "locations": [
                    {
                        **e,
                        "types": format_types(e["types"]).split(","),
                        "primary": [t for t in format_types(e["primary"]).split(",") if t],
                    }
                    for e in ordered
                ],
            }
        )
        return 0
    for e in ordered:
        print(f"In {e['storage_id']} ({format_types(e['types'], ', ')})")
        print(f"\tSealing: {str(e['can_seal']).lower()}; Storage: {str(e['can_store']).lower()}")
        print(f"\tLocal ({e['local_path']})" if e["local_path"] else "\tRemote")
        for url in e["urls"]:
            print(f"\tURL: {url}")
    return 0
