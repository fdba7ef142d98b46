"""Storage: paths, sector files, reservations, placement and crash-safe moves.

What a storage provider's machines share about disk (reference domain.md section 2, Curio
``lib/paths``): which directories hold sector files (``storage_path``, attached per host with a
``sectorstore.json``), which file of which sector is where (``sector_location``), how much room
each path has (a heartbeat every 10 s), and how much of it is promised to running tasks
(``storage_reservations``, in the database so every machine sees it).

Public API::

    await attach(db, "/mnt/seal1", can_seal=True)            # AttachedPath
    await detach(db, "/mnt/seal1")                           # DetachedPath
    await list_paths(db)                                     # [StoragePathInfo]
    await StorageHeartbeat(db).beat_once()                   # or .run() in a long-lived process
    claim = SectorStorageClaim(db, miner, sector, ssize, SEALED | CACHE, seal=True)
    if await claim.has_capacity(): res = await claim.claim(task_id, machine_id)
    await res.declare_and_release()                          # or res.release()
    await find_sector(db, miner, sector, SectorFileType.SEALED)
    await move_sector(db, miner, sector, SectorFileType.SEALED | SectorFileType.CACHE)
    await redeclare(db, drop_missing=True)                   # recovers interrupted moves first
"""

from .claim import SectorOf, SectorStorageClaim
from .errors import (
    CorruptStoreMeta,
    InvalidSetting,
    NoSuitablePath,
    NotADirectory,
    OverlappingPath,
    SectorFileSizeError,
    SectorNotFound,
    StorageError,
    StoreConfigConflict,
    UnknownStoragePath,
)
from .filetypes import (
    FS_OVERHEAD_FINALIZED,
    FS_OVERHEAD_SEAL,
    KNOWN_SECTOR_SIZES,
    SectorFileType,
    format_types,
    parse_types,
)
from .heartbeat import HEARTBEAT_INTERVAL, PathHealth, StorageHeartbeat
from .hosts import this_host
from .listing import HostView, StoragePathInfo, list_paths
from .meta import META_FILE, StoreConfig, read_meta
from .moves import MoveHook, MoveResult, RecoveryReport, move_sector, recover_moves
from .paths import (
    AttachedPath,
    DetachedPath,
    LocalPath,
    StoragePathRow,
    attach,
    detach,
    get_path,
    local_paths,
)
from .placement import STALE_AFTER, PathCandidate, best_path
from .redeclare import RedeclareReport, redeclare
from .reservations import (
    Reservation,
    ReservedFile,
    cleanup_dead_reservations,
    release_task_reservations,
    reserve,
)
from .sectors import (
    SectorLocation,
    declare_sector,
    find_sector,
    parse_sector_name,
    sector_file_path,
    sector_name,
    undeclare_sector,
)
from .units import parse_size, size_str

__all__ = [
    "FS_OVERHEAD_FINALIZED",
    "FS_OVERHEAD_SEAL",
    "HEARTBEAT_INTERVAL",
    "KNOWN_SECTOR_SIZES",
    "META_FILE",
    "STALE_AFTER",
    "AttachedPath",
    "CorruptStoreMeta",
    "DetachedPath",
    "HostView",
    "InvalidSetting",
    "LocalPath",
    "MoveHook",
    "MoveResult",
    "NoSuitablePath",
    "NotADirectory",
    "OverlappingPath",
    "PathCandidate",
    "PathHealth",
    "RecoveryReport",
    "RedeclareReport",
    "Reservation",
    "ReservedFile",
    "SectorFileSizeError",
    "SectorFileType",
    "SectorLocation",
    "SectorNotFound",
    "SectorOf",
    "SectorStorageClaim",
    "StorageError",
    "StorageHeartbeat",
    "StoragePathInfo",
    "StoragePathRow",
    "StoreConfig",
    "StoreConfigConflict",
    "UnknownStoragePath",
    "attach",
    "best_path",
    "cleanup_dead_reservations",
    "declare_sector",
    "detach",
    "find_sector",
    "format_types",
    "get_path",
    "list_paths",
    "local_paths",
    "move_sector",
    "parse_sector_name",
    "parse_size",
    "parse_types",
    "read_meta",
    "recover_moves",
    "redeclare",
    "release_task_reservations",
    "reserve",
    "sector_file_path",
    "sector_name",
    "size_str",
    "this_host",
    "undeclare_sector",
]
