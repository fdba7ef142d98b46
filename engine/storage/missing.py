"""Declared sector files that are gone from disk (the ``sector-no-file`` alert's evidence).

A declaration (``sector_location``) says a file is on a path; a sealed file deleted by hand, or
lost with a disk, stays declared until someone runs ``redeclare --drop-missing``, so the
cluster would learn of it only when a WindowPoSt could not read it. Only a host that reaches the
path can see its files, so each host's storage heartbeat looks every
:data:`MISSING_CHECK_EVERY` seconds (and :func:`~.redeclare.redeclare` on its walk): for each
of its paths, the declared files a proof needs (sealed, cache, update, update-cache) whose name
is not in their type directory are marked ``missing_since``; those found again are unmarked.
The declaration itself stays: dropping it is the operator's choice.

Cost per path and pass: one ``readdir`` per checked type directory (names only, no ``stat``:
100,000 sectors are about 200,000 entries, well under a second) and one indexed read of the
path's declared rows of those types; writes only for files that went missing or came back.
The declared rows are read *before* the directories, so a file written and declared meanwhile
is never taken for missing (a file is declared only once it is in place, and undeclared before
it is removed).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorruptStoreMeta
from .filetypes import SectorFileType
from .hosts import this_host
from .meta import read_meta
from .paths import LocalPath, local_paths
from .sectors import parse_sector_name

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "CHECKED_TYPES",
    "MISSING_CHECK_EVERY",
    "MissingReport",
    "check_declared_files",
    "mark_missing",
]

log = logging.getLogger(__name__)

MISSING_CHECK_EVERY = 600.0
"""Seconds between two looks of a host at its paths' declared files (a deleted sealed file is
an alert within this plus one alert evaluation)."""

#: the files a WindowPoSt reads: without them a live sector cannot be proven
CHECKED_TYPES = (
    SectorFileType.SEALED
    | SectorFileType.CACHE
    | SectorFileType.UPDATE
    | SectorFileType.UPDATE_CACHE
)

#: (miner, sector number, file type bit)
FileKey = tuple[int, int, int]

DECLARED = """
SELECT miner_id, sector_num, sector_filetype, missing_since IS NOT NULL AS missing
  FROM sector_location
 WHERE storage_id = $1 AND (sector_filetype & $2) <> 0
"""

#: rows still declared as they were read; a row undeclared meanwhile is simply not matched
MARK = """
UPDATE sector_location l SET missing_since = now()
  FROM unnest($2::bigint[], $3::bigint[], $4::int[]) AS k(miner_id, sector_num, filetype)
 WHERE l.storage_id = $1 AND l.miner_id = k.miner_id AND l.sector_num = k.sector_num
   AND l.sector_filetype = k.filetype AND l.missing_since IS NULL
"""

UNMARK = """
UPDATE sector_location l SET missing_since = NULL
  FROM unnest($2::bigint[], $3::bigint[], $4::int[]) AS k(miner_id, sector_num, filetype)
 WHERE l.storage_id = $1 AND l.miner_id = k.miner_id AND l.sector_num = k.sector_num
   AND l.sector_filetype = k.filetype AND l.missing_since IS NOT NULL
"""


@dataclass
class MissingReport:
    """One path's look: how many declared files it checked, which are gone now, and how many
    were marked or unmarked by this look. ``skipped`` says why the path was not looked at."""

    storage_id: str
    local_path: Path
    checked: int = 0
    missing: list[FileKey] = field(default_factory=list)
    marked: int = 0
    unmarked: int = 0
    skipped: str | None = None


def _present(local: LocalPath, types: SectorFileType) -> set[FileKey] | str:
    """The well-named entries of the path's type directories, or why it is not looked into
    (blocking). A path that is not the disk it was attached as is not: every file would look
    gone, and the heartbeat already reports it."""
    root = local.local_path
    meta = read_meta(root)
    if meta is None or meta.id != local.storage_id:
        return f"{root} is not storage path {local.storage_id} now (unmounted, another disk?)"
    found: set[FileKey] = set()
    for ft in types.bits():
        try:
            with os.scandir(root / ft.dir_name) as entries:
                for entry in entries:
                    parsed = parse_sector_name(entry.name)
                    if parsed is not None:
                        found.add((parsed[0], parsed[1], int(ft)))
        except FileNotFoundError:
            continue  # no file of this type yet: every declared one is gone
        except NotADirectoryError:
            continue
    return found


async def mark_missing(
    db: DB, storage_id: str, declared: dict[FileKey, bool], present: set[FileKey]
) -> tuple[list[FileKey], int, int]:
    """Record which of ``declared`` (key -> marked missing already) are not ``present``:
    returns (missing now, newly marked, unmarked)."""
    missing = sorted(k for k in declared if k not in present)
    new = [k for k in missing if not declared[k]]
    back = [k for k, was in declared.items() if was and k in present]
    marked = unmarked = 0
    for statement, keys in ((MARK, new), (UNMARK, back)):
        if not keys:
            continue
        count = await db.exec(
            statement,
            storage_id,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
        )
        if statement is MARK:
            marked = count
        else:
            unmarked = count
    return missing, marked, unmarked


async def check_path(db: DB, local: LocalPath) -> MissingReport:
    """Look at one local path's declared files (see the module docstring)."""
    report = MissingReport(local.storage_id, local.local_path)
    rows = await db.select(DECLARED, local.storage_id, int(CHECKED_TYPES))
    declared = {
        (int(r["miner_id"]), int(r["sector_num"]), int(r["sector_filetype"])): bool(r["missing"])
        for r in rows
    }
    report.checked = len(declared)
    if not declared:
        return report
    try:
        present = await asyncio.to_thread(_present, local, CHECKED_TYPES)
    except (OSError, CorruptStoreMeta) as exc:
        present = f"{local.local_path} cannot be read: {exc}"
    if isinstance(present, str):
        report.skipped = present
        return report
    report.missing, report.marked, report.unmarked = await mark_missing(
        db, local.storage_id, declared, present
    )
    if report.marked:
        log.warning(
            "storage path %s (%s): %d declared sector file(s) are gone from disk, e.g. %s; "
            "restore them, or forget them with `harmony storage redeclare --drop-missing`",
            local.storage_id,
            local.local_path,
            report.marked,
            ", ".join(f"{SectorFileType(t)} of s-t0{m}-{n}" for m, n, t in report.missing[:3]),
        )
    return report


async def check_declared_files(
    db: DB, *, host: str | None = None, storage_id: str | None = None
) -> list[MissingReport]:
    """Look at the declared files of every path attached on ``host`` (or one path)."""
    host = host or this_host()
    return [await check_path(db, local) for local in await local_paths(db, host, storage_id)]
