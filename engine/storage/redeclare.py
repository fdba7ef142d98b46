"""Re-declaring what is really on disk (Curio ``storage redeclare [--drop-missing]``).

Each host scans the type directories of its local paths and declares every well-named sector
file it finds, so files copied in by hand, or a declaration lost with a detach, come back. A file
is checked before it is declared: a sealed, unsealed or update file must be exactly one sector
long (the sector size comes from an earlier declaration of that sector, from the caller, or,
failing both, must be one of Filecoin's sector sizes). A file that fails is reported, not
declared. Temp entries of interrupted moves are cleaned up first and never declared.

Declared files that are gone from disk are dropped only with ``drop_missing``; without it they
are reported and marked gone (:mod:`.missing`, which the ``sector-no-file`` alert reads), so
the periodic redeclare of the storage heartbeat notices them too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .durable import entry_size
from .filetypes import KNOWN_SECTOR_SIZES, SectorFileType
from .hosts import this_host
from .missing import check_path
from .moves import recover_moves
from .paths import LocalPath, local_paths
from .sectors import declare_sector, parse_sector_name, undeclare_sector
from .units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = ["FoundFile", "RedeclareReport", "redeclare", "scan_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundFile:
    """A well-named entry in a type directory."""

    miner: int
    sector: int
    file_type: SectorFileType
    path: Path
    is_dir: bool
    size: int


@dataclass
class RedeclareReport:
    """The outcome for one path.

    Attributes:
        declared: good files declared (new or confirmed).
        dropped: declarations removed (with ``drop_missing``).
        missing: declared files a proof needs that are gone from disk (kept declared, marked
            gone and logged; none with ``drop_missing``, which forgets them).
        problems: one line per file that was not declared, and why.
    """

    storage_id: str
    local_path: Path
    declared: int = 0
    dropped: int = 0
    missing: int = 0
    problems: list[str] = field(default_factory=list)


def scan_path(root: Path) -> list[FoundFile]:
    """Every sector-named entry under the type directories of ``root`` (blocking)."""
    found = []
    for ft in SectorFileType.all().bits():
        type_dir = root / ft.dir_name
        try:
            entries = sorted(os.scandir(type_dir), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            parsed = parse_sector_name(entry.name)
            if parsed is None:
                if not entry.name.startswith("."):
                    log.debug("redeclare: ignoring %s (not a sector file name)", entry.path)
                continue
            path = Path(entry.path)
            try:
                is_dir = stat.S_ISDIR(entry.stat(follow_symlinks=False).st_mode)
                size = entry_size(path)
            except FileNotFoundError:
                continue
            found.append(FoundFile(parsed[0], parsed[1], ft, path, is_dir, size))
    return found


async def redeclare(
    db: DB,
    *,
    host: str | None = None,
    storage_id: str | None = None,
    drop_missing: bool = False,
    sector_size: int | None = None,
) -> list[RedeclareReport]:
    """Declare the good sector files on ``host``'s paths (or one path), report the bad ones.

    With ``drop_missing``, declarations on these paths whose file is gone or bad are removed
    too; without it a bad file that was declared before stays declared (and is reported), since
    dropping the cluster's knowledge of a sector is the operator's call.
    """
    host = host or this_host()
    await recover_moves(db, host=host)
    reports = []
    for local in await local_paths(db, host, storage_id):
        reports.append(await _redeclare_path(db, local, drop_missing, sector_size))
    return reports


async def _redeclare_path(
    db: DB, local: LocalPath, drop_missing: bool, sector_size: int | None
) -> RedeclareReport:
    report = RedeclareReport(local.storage_id, local.local_path)
    if not await asyncio.to_thread(local.local_path.is_dir):
        report.problems.append(f"{local.local_path} is not reachable: not redeclared")
        return report
    found = await asyncio.to_thread(scan_path, local.local_path)
    declared_sizes = await _known_sector_sizes(db, found)
    # A whole sealed/unsealed file tells the size of its sector's other files too.
    inferred: dict[tuple[int, int], int] = {}
    for f in found:
        fixed = f.file_type.expected_size(f.size) is not None
        if fixed and not f.is_dir and f.size in KNOWN_SECTOR_SIZES:
            inferred.setdefault((f.miner, f.sector), f.size)

    good: list[tuple[FoundFile, int | None]] = []
    for f in found:
        key = (f.miner, f.sector)
        # What the cluster declared before wins over the caller's guess, which wins over ours.
        size = declared_sizes.get(key) or sector_size or inferred.get(key)
        problem = _problem(f, size)
        if problem:
            report.problems.append(problem)
        else:
            good.append((f, size))

    async def work(tx: Tx) -> None:
        for f, size in good:
            await declare_sector(
                tx,
                local.storage_id,
                f.miner,
                f.sector,
                f.file_type,
                primary=local.can_store,
                sector_size=size,
            )
        report.declared = len(good)
        report.dropped = 0
        if drop_missing:
            keep = {(f.miner, f.sector, int(f.file_type)) for f, _ in good}
            rows = await tx.select(
                "SELECT miner_id, sector_num, sector_filetype FROM sector_location "
                "WHERE storage_id = $1",
                local.storage_id,
            )
            for r in rows:
                key = (r["miner_id"], r["sector_num"], r["sector_filetype"])
                if key not in keep:
                    await undeclare_sector(
                        tx, local.storage_id, key[0], key[1], SectorFileType(key[2])
                    )
                    report.dropped += 1
        await tx.commit()

    await db.transaction(work)
    # A fresh look (declared rows, then the directories): what the scan above saw may predate a
    # file declared meanwhile. It logs the files it finds newly gone.
    gone = await check_path(db, local)
    report.missing = len(gone.missing)
    for line in report.problems:
        log.warning("redeclare %s: %s", local.storage_id, line)
    return report


def _problem(f: FoundFile, sector_size: int | None) -> str | None:
    if f.is_dir != f.file_type.is_directory:
        kind = "a directory" if f.file_type.is_directory else "a file"
        return f"{f.path}: should be {kind}; not declared"
    if sector_size is not None:
        expected = f.file_type.expected_size(sector_size)
        if expected is not None and f.size != expected:
            return (
                f"{f.path}: {f.size} bytes, expected {expected} ({size_str(expected)} sector): "
                "truncated; not declared"
            )
    elif f.file_type.expected_size(f.size) is not None and f.size not in KNOWN_SECTOR_SIZES:
        return (
            f"{f.path}: {f.size} bytes is not a whole sector of any known size: "
            "truncated; not declared"
        )
    return None


async def _known_sector_sizes(db: DB, found: list[FoundFile]) -> dict[tuple[int, int], int]:
    if not found:
        return {}
    rows = await db.select(
        "SELECT DISTINCT ON (miner_id, sector_num) miner_id, sector_num, sector_size "
        "FROM sector_location WHERE sector_size IS NOT NULL AND (miner_id, sector_num) IN "
        "(SELECT * FROM unnest($1::bigint[], $2::bigint[])) "
        "ORDER BY miner_id, sector_num, is_primary DESC",
        [f.miner for f in found],
        [f.sector for f in found],
    )
    return {(r["miner_id"], r["sector_num"]): r["sector_size"] for r in rows}
