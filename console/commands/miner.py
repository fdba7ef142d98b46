"""``harmony miner info [MINER]``: each miner's summary, like ``lotus-miner info``.

The figures are the console's Miners pane's, from the same definition
(:func:`engine.snapshot.miners.miner_infos` over one snapshot of the read model, and the same
wording, :func:`~engine.snapshot.miners.info_lines`), on our clusters and on Curio's. On a
Curio cluster, power comes from a Lotus node (``--lotus-api``, ``FULLNODE_API_INFO`` or Curio's
``[Apis] ChainApiInfo`` layers, read once); without one it is printed as not known.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from .arguments import miner_address
from .common import CLOCK, CommandError, add_json_flag, open_db, print_json

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.snapshot.model import ClusterSnapshot

__all__ = ["read_snapshot", "register"]


def register(sub: argparse._SubParsersAction) -> None:
    miner = sub.add_parser("miner", help="miners: power, sectors, blocks won, next deadline")
    actions = miner.add_subparsers(dest="miner_command", metavar="ACTION", required=True)
    info = actions.add_parser(
        "info", help="each miner's summary (lotus-miner info), as the console's Miners pane"
    )
    info.add_argument(
        "miner",
        nargs="?",
        type=miner_address,
        metavar="MINER",
        help="f0<id>/t0<id> or an actor id (default: every miner)",
    )
    info.add_argument(
        "--lotus-api",
        metavar="API_INFO",
        default=argparse.SUPPRESS,
        help="on a Curio cluster, the Lotus node power and deadlines come from "
        "(TOKEN:/ip4/HOST/tcp/PORT/http; default: FULLNODE_API_INFO, then Curio's "
        "[Apis] ChainApiInfo layers; without one, power is not known)",
    )
    add_json_flag(info)
    info.set_defaults(run=run_info)


class _ReadOnce:
    """A chain watch that was read once: the Curio reader asks it for the latest state."""

    def __init__(self, state: object) -> None:
        self.state = state

    def latest(self, now: datetime) -> object:
        return self.state

    def follow(self, miners: Iterable[int]) -> None:
        pass


async def read_snapshot(db: DB, now: datetime, lotus_api: str | None = None) -> ClusterSnapshot:
    """One snapshot with the miners' figures, by the reader the console would use."""
    if not db.foreign:
        from engine.snapshot import SnapshotReader

        return await SnapshotReader(db).snapshot(now, lists={"miners"})
    from engine.snapshot.curio.reader import CurioSnapshotReader

    from .curio_proving import chain_state

    first = await CurioSnapshotReader(db).snapshot(now, lists={"miners"})
    miners = tuple(m.sp_id for m in first.post.miners)
    if not miners:
        return first
    state, _problem = await chain_state(db, lotus_api, miners, now)
    if state is None:
        return first
    reader = CurioSnapshotReader(db, chain=_ReadOnce(state))  # type: ignore[arg-type]
    return await reader.snapshot(now, lists={"miners"})


async def run_info(args: argparse.Namespace) -> int:
    from engine.chain import parse_miner
    from engine.snapshot.miners import info_lines, miner_infos

    db = await open_db(args, migrate=False, foreign=True)
    now = CLOCK.now()
    try:
        snap = await read_snapshot(db, now, getattr(args, "lotus_api", None))
    finally:
        await db.close()
    infos = miner_infos(snap, now)
    if args.miner is not None:
        sp_id = parse_miner(args.miner)
        infos = [i for i in infos if i.sp_id == sp_id]
        if not infos:
            raise CommandError(f"no miner {args.miner} in this cluster")
    elif not infos:
        raise CommandError("no miners in this cluster yet")
    if args.json:
        print_json([i.figures() for i in infos])
        return 0
    for n, info in enumerate(infos):
        if n:
            print()
        print("\n".join(info_lines(info, now)))
    for line in snap.post.missing:
        print(f"not known: {line}")
    return 0
