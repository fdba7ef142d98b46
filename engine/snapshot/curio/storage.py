"""Curio's storage paths: ``storage_path`` rows as :class:`engine.storage.StoragePathInfo`, with
sector file counts from ``sector_location``, so the pane and ``storage list`` show a Curio
cluster with the same health, use and bar logic as ours.

What Curio's columns mean (filecoin-project/curio at e0294b0f, ``lib/paths``):

* ``urls``: the ``http://host:port/remote`` endpoints of every node that attached the path,
  comma-joined (``db_index.go``, ``StorageAttach`` / ``StorageDetach``). Curio keeps each node's
  local directory in that node's own ``storage.json``, not in the database, so ``hosts`` and
  ``local_path`` stay empty here; the URLs are ``path.urls``.
* ``capacity`` / ``available`` / ``fs_available`` / ``reserved`` / ``used``: the last heartbeat's
  ``FsStat`` (every 10 s, ``local.go`` ``reportStorage`` -> ``StorageReportHealth``):
  ``reserved`` is what running tasks reserved and have not yet written, ``available`` is
  ``fs_available`` less that (and capped by ``max_storage``), ``used`` is the directory's disk
  usage, measured only when ``max_storage`` is set. Reservations live in each node's memory,
  so the heartbeat's ``reserved`` is the freshest figure there is: it is ``live_reserved``.
* A failed disk check does not reach ``heartbeat_err``: ``reportStorage`` sends an empty
  ``FsStat`` with the error, and ``StorageReportHealth`` writes the zeros and ``NOW()`` and
  drops the error. So a heartbeat with ``capacity`` 0 is a failed check; it is shown as the
  heartbeat error (:data:`DISK_CHECK_FAILED`), as Curio's allocator stops placing files there
  (``db_index.go``, ``StorageBestAlloc``: ``available >= $1``). A row Curio wrote with an error
  keeps its own text.
* Health is Curio's GUI rule (``web/api/webrpc/storage_path.go``, ``EnrichStoragePathInfo``),
  the one :class:`~engine.storage.StoragePathInfo` applies: an error, else stale past
  ``SkippedHeartbeatThresh`` (5 x 10 s), else OK.
* Curio has no move queue in the database: ``moves_in_progress`` stays 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.storage.listing import assemble
from engine.storage.paths import StoragePathRow

from ..model import StorageSnap
from ..storage import Counts, read_counts
from ..timing import TimedTx

__all__ = ["DISK_CHECK_FAILED", "PATHS", "read_storage"]

#: ``heartbeat_err`` of a path whose last heartbeat reported capacity 0 (see the docstring)
DISK_CHECK_FAILED = "disk check failed (the last heartbeat reported capacity 0)"

# Every column Curio allows NULL is read as Curio's GUI shows a NULL: empty lists, zero sizes,
# flags off. Largest first, as ``storage list``.
PATHS = """
SELECT storage_id, coalesce(urls, '') AS urls, coalesce(weight, 0) AS weight,
       coalesce(max_storage, 0) AS max_storage, coalesce(can_seal, false) AS can_seal,
       coalesce(can_store, false) AS can_store, coalesce(groups, '') AS groups,
       coalesce(allow_to, '') AS allow_to, coalesce(allow_types, '') AS allow_types,
       coalesce(deny_types, '') AS deny_types, coalesce(allow_miners, '') AS allow_miners,
       coalesce(deny_miners, '') AS deny_miners, coalesce(capacity, 0) AS capacity,
       coalesce(available, 0) AS available, coalesce(fs_available, 0) AS fs_available,
       coalesce(reserved, 0) AS reserved, coalesce(used, 0) AS used, last_heartbeat,
       heartbeat_err,
       extract(epoch FROM $1::timestamptz - last_heartbeat)::float8 AS age
  FROM storage_path
 ORDER BY capacity DESC NULLS LAST, storage_id
 LIMIT 1000
"""


def _row(p: Any) -> StoragePathRow:
    error = p["heartbeat_err"]
    if error is None and p["last_heartbeat"] is not None and p["capacity"] <= 0:
        error = DISK_CHECK_FAILED
    return StoragePathRow(
        storage_id=p["storage_id"],
        urls=p["urls"],
        weight=p["weight"],
        max_storage=p["max_storage"],
        can_seal=p["can_seal"],
        can_store=p["can_store"],
        groups=p["groups"],
        allow_to=p["allow_to"],
        allow_types=p["allow_types"],
        deny_types=p["deny_types"],
        allow_miners=p["allow_miners"],
        deny_miners=p["deny_miners"],
        capacity=p["capacity"],
        available=p["available"],
        fs_available=p["fs_available"],
        reserved=p["reserved"],
        used=p["used"],
        last_heartbeat=p["last_heartbeat"],
        heartbeat_err=error,
    )


async def read_storage(tx: TimedTx, now: datetime, *, counts: Counts | None = None) -> StorageSnap:
    """Every storage path (largest first) with its sector file counts per type.

    ``counts`` (from :func:`engine.snapshot.storage.read_counts`, the same statement: Curio's
    ``sector_location`` is ours) may be passed from an earlier refresh: the count scans a
    table with a row per sector file, so a caller refreshing every second should re-read it
    only every few tens of seconds, as our reader does. None reads them now.
    """
    paths = await tx.select(PATHS, now)
    if counts is None:
        counts = await read_counts(tx)  # type: ignore[arg-type]  # TimedTx is a Tx
    rows = [(_row(p), p["age"]) for p in paths]
    reserved = {row.storage_id: max(row.reserved, 0) for row, _ in rows}
    return StorageSnap(tuple(assemble(rows, {}, counts, reserved, {}, None)))
