"""A miner with real 2 KiB sectors in one deadline, for the provability check's tests: sectors
0 and 1 in partition 0 and sector 2 in partition 1 of deadline :data:`DEADLINE`, their sealed
files and caches on a storage path of this host, the chain listing them as active."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.harmonydb import DB
from engine.proofs.sizes import SECTOR_2KIB
from engine.storage import SectorFileType, attach, declare_sector, sector_file_path, this_host

from .probe import wait_until
from .sealed import seal_into

__all__ = [
    "DEADLINE",
    "MINER",
    "PARTITIONS",
    "CheckCluster",
    "check_cluster",
    "check_from_post_pane",
    "flip_bytes",
]

MINER = 1000
DEADLINE = 3
#: sector -> partition
PARTITIONS = {0: 0, 1: 0, 2: 1}
FT = SectorFileType


@dataclass(frozen=True)
class CheckCluster:
    db: DB
    root: Path
    storage_id: str

    def sealed(self, sector: int) -> Path:
        return sector_file_path(self.root, FT.SEALED, MINER, sector)


async def check_cluster(db: DB, tmp_path: Path) -> CheckCluster:
    await db.exec(
        "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset, "
        "created_epoch) VALUES ($1, $2, 0, 0, 0)",
        MINER,
        SECTOR_2KIB,
    )
    root = tmp_path / "store"
    root.mkdir()
    path = await attach(db, root, host=this_host(), can_store=True)
    for number, part in PARTITIONS.items():
        sector = seal_into(root, number, MINER)
        for ft in (FT.SEALED, FT.CACHE):
            await declare_sector(db, path.storage_id, MINER, number, ft, sector_size=SECTOR_2KIB)
        await db.exec(
            "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
            'precommit_epoch, activation_epoch, deadline, "partition") '
            "VALUES ($1, $2, 'active', $3, 'u', 0, 0, $4, $5)",
            MINER,
            number,
            sector.sealed_cid,
            DEADLINE,
            part,
        )
    return CheckCluster(db, root, path.storage_id)


def flip_bytes(path: Path) -> None:
    """Invert every byte of ``path``: each leaf differs, so any challenge finds it."""
    path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))


async def check_from_post_pane(app: Any, pilot: Any) -> Any:
    """In a running console on :func:`check_cluster`'s cluster: the PoSt pane, ``enter`` on
    :data:`DEADLINE`'s row, and the provability check it opens, once finished (the screen)."""
    from console.screens.proving_check import ProvingCheckScreen

    await pilot.press("5")
    post = app.pane("post")
    row = f"{MINER}:{DEADLINE}"
    await wait_until(lambda: row in post.filter_table.keys, 10, f"deadline {DEADLINE} shown")
    post.filter_table.select_key(row)
    post.filter_table.focus()
    await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, ProvingCheckScreen), 5, "the check")
    check = app.screen
    await wait_until(lambda: check.finished, 60, "the check to end")
    assert check.error is None
    return check
