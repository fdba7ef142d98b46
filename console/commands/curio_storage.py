"""``harmony storage list`` on a Curio cluster: Curio's ``storage_path`` rows, read-only, through
the Curio read model's storage section (:func:`engine.snapshot.curio.storage.read_storage`), in
``lotus-miner storage list``'s layout (:func:`console.storage_report.render_path`).

Curio keeps each node's local directory in that node's own ``storage.json``, so there is no
``Local:`` line; the ``URL:`` lines are the ``/remote`` endpoints of the nodes that attached the
path (``storage_path.urls``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.snapshot.curio.storage import read_storage
from engine.snapshot.timing import Timing

from ..storage_report import render_path
from .common import CLOCK, print_json

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import StorageSnap

__all__ = ["curio_storage_list"]


async def curio_storage_list(db: DB, args: argparse.Namespace) -> int:
    now = CLOCK.now()
    timing = Timing()

    async def read(tx: Tx) -> StorageSnap:
        return await read_storage(timing.wrap(tx), now)

    snap = await db.transaction(read, isolation="repeatable_read")
    if args.json:
        print_json([info.to_json() for info in snap.paths])
    elif not snap.paths:
        print("no storage paths in this Curio cluster (a Curio node attaches its paths)")
    else:
        print("\n\n".join(render_path(info) for info in snap.paths))
    return 0
