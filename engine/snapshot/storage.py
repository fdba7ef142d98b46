"""Storage paths for the console: ``storage list``'s rows, with ages measured against the
injected clock (``engine.storage.list_paths`` uses the server's ``now()``).

The rows are :class:`engine.storage.StoragePathInfo`, so the console's health, use and bar
logic is the ``storage list`` command's.
"""

from __future__ import annotations

from datetime import datetime

from engine.harmonydb import Tx
from engine.storage import HostView, SectorFileType
from engine.storage.listing import assemble, host_view
from engine.storage.paths import StoragePathRow

from .model import StorageSnap

__all__ = ["COUNTS", "Counts", "read_counts", "read_storage"]

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
SELECT storage_id, hostname, local_path, heartbeat_err,
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


async def read_counts(tx: Tx) -> Counts:
    counts: Counts = {}
    for r in await tx.select(COUNTS):
        counts.setdefault(r["storage_id"], {})[SectorFileType(r["filetype"])] = int(r["n"])
    return counts


async def read_storage(
    tx: Tx, now: datetime, counts: Counts, host: str | None = None
) -> StorageSnap:
    """Every storage path (largest first), with per-type sector counts, hosts and health.

    ``counts`` come from :func:`read_counts` (possibly a few refreshes old). ``host`` names the
    machine whose local directory is shown as ``local_path``; the console passes None, so what
    it shows does not depend on where it runs.
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
    for r in await tx.select(HOSTS, now):
        hosts.setdefault(r["storage_id"], []).append(host_view(r))
    rows = [(StoragePathRow(**{k: p[k] for k in _ROW_FIELDS}), p["age"]) for p in paths]
    return StorageSnap(tuple(assemble(rows, hosts, counts, reserved, moves, host)))
