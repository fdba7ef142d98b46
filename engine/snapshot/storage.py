"""Storage paths for the console: ``storage list``'s rows, with ages measured against the
injected clock (``engine.storage.list_paths`` uses the server's ``now()``).

The rows are :class:`engine.storage.StoragePathInfo`, so the console's health, use and bar
logic is the ``storage list`` command's. Beside them the snapshot carries what the totals and
bars need: the filesystem each host saw a path on (so two paths on one disk count once) and the
bytes of the sector files declared on each path (harmony's own data, beside the filesystem's).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from engine.storage import HostView, SectorFileType
from engine.storage.filetypes import FS_OVERHEAD_FINALIZED
from engine.storage.listing import assemble, host_view
from engine.storage.paths import StoragePathRow

from .model import StorageSnap

if TYPE_CHECKING:
    from engine.harmonydb import Tx

__all__ = [
    "COUNTS",
    "SECTOR_FILES",
    "Counts",
    "SectorBytes",
    "read_counts",
    "read_sector_files",
    "read_storage",
]

PATHS = """
SELECT storage_id, urls, weight, max_storage, can_seal, can_store, groups, allow_to,
       allow_types, deny_types, allow_miners, deny_miners, capacity, available, fs_available,
       reserved, used, last_heartbeat, heartbeat_err,
       extract(epoch FROM $1::timestamptz - last_heartbeat)::float8 AS age
  FROM storage_path
 ORDER BY capacity DESC, storage_id
 LIMIT 1000
"""

# Declared sector files per path and type: a scan of sector_location, so the reader runs it at
# most every ``counts_every`` seconds (files come and go with sealing, not every second).
COUNTS = """
SELECT storage_id, sector_filetype AS filetype, count(*)::bigint AS n
  FROM sector_location
 GROUP BY storage_id, sector_filetype
 ORDER BY storage_id, sector_filetype
"""

# Our schema's COUNTS with the sizes the declarers recorded (Curio's sector_location has no
# sector_size, so its reader runs COUNTS): one scan gives both, at the same cadence.
SECTOR_FILES = """
SELECT storage_id, sector_filetype AS filetype, count(*)::bigint AS n,
       coalesce(sum(sector_size), 0)::bigint AS sized_bytes
  FROM sector_location
 GROUP BY storage_id, sector_filetype
 ORDER BY storage_id, sector_filetype
"""

# Live reservations and moves in one round trip: kind tells them apart.
FIGURES = """
SELECT 'reserved' AS kind, storage_id, sum(GREATEST(bytes - on_disk, 0))::bigint AS n
  FROM storage_reservations_live
 GROUP BY storage_id
UNION ALL
SELECT 'moves', dst_storage_id, count(*)::bigint
  FROM storage_moves
 WHERE state = 'copying'
 GROUP BY dst_storage_id
 ORDER BY 1, 2
"""

HOSTS = """
SELECT storage_id, hostname, local_path, heartbeat_err, fs_id,
       extract(epoch FROM $1::timestamptz - last_heartbeat)::float8 AS age
  FROM storage_path_hosts
 ORDER BY storage_id, hostname
 LIMIT 10000
"""

_ROW_FIELDS = (
    "storage_id",
    "urls",
    "weight",
    "max_storage",
    "can_seal",
    "can_store",
    "groups",
    "allow_to",
    "allow_types",
    "deny_types",
    "allow_miners",
    "deny_miners",
    "capacity",
    "available",
    "fs_available",
    "reserved",
    "used",
    "last_heartbeat",
    "heartbeat_err",
)


Counts = dict[str, dict[SectorFileType, int]]
#: per path, bytes of its declared sector files (see :func:`read_sector_files`)
SectorBytes = dict[str, int]


async def read_counts(tx: Tx) -> Counts:
    counts: Counts = {}
    for r in await tx.select(COUNTS):
        counts.setdefault(r["storage_id"], {})[SectorFileType(r["filetype"])] = int(r["n"])
    return counts


async def read_sector_files(tx: Tx) -> tuple[Counts, SectorBytes]:
    """Declared sector files per path and type, and their bytes per path.

    A file's bytes are its type's finished size (a sealed, unsealed or update replica holds one
    sector; a finalized cache a tenth of one: Curio's ``FsOverheadFinalized``) for the sector
    size its declarer recorded; a file declared without a size adds nothing, so the figure is a
    floor. A cache still holding its sealing layers is larger than its finished size.
    """
    counts: Counts = {}
    sizes: SectorBytes = {}
    for r in await tx.select(SECTOR_FILES):
        ft = SectorFileType(r["filetype"])
        counts.setdefault(r["storage_id"], {})[ft] = int(r["n"])
        finished = FS_OVERHEAD_FINALIZED.get(ft, 10) * int(r["sized_bytes"]) // 10
        sizes[r["storage_id"]] = sizes.get(r["storage_id"], 0) + finished
    return counts, sizes


async def read_storage(
    tx: Tx,
    now: datetime,
    counts: Counts,
    host: str | None = None,
    sector_bytes: SectorBytes | None = None,
) -> StorageSnap:
    """Every storage path (largest first), with per-type sector counts, hosts and health.

    ``counts`` and ``sector_bytes`` come from :func:`read_sector_files` (possibly a few
    refreshes old). ``host`` names the machine whose local directory is shown as
    ``local_path``; the console passes None, so what it shows does not depend on where it runs.
    """
    paths = await tx.select(PATHS, now)
    reserved: dict[str, int] = {}
    moves: dict[str, int] = {}
    for r in await tx.select(FIGURES):
        if r["kind"] == "reserved":
            reserved[r["storage_id"]] = int(r["n"])
        else:
            moves[r["storage_id"]] = int(r["n"])
    hosts: dict[str, list[HostView]] = {}
    fs_keys: dict[str, tuple[str, ...]] = {}
    for r in await tx.select(HOSTS, now):
        hosts.setdefault(r["storage_id"], []).append(host_view(r))
        if r["fs_id"] is not None:
            key = f"{r['hostname']}:{r['fs_id']}"
            fs_keys[r["storage_id"]] = (*fs_keys.get(r["storage_id"], ()), key)
    rows = [(StoragePathRow(**{k: p[k] for k in _ROW_FIELDS}), p["age"]) for p in paths]
    return StorageSnap(
        tuple(assemble(rows, hosts, counts, reserved, moves, host)),
        fs_keys=fs_keys,
        # a path with no declared files holds none of harmony's bytes: 0, not unknown
        declared_bytes=(
            {}
            if sector_bytes is None
            else {p["storage_id"]: sector_bytes.get(p["storage_id"], 0) for p in paths}
        ),
    )
