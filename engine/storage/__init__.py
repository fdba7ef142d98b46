"""Storage: paths, sector files, reservations, placement and crash-safe moves.

What a storage provider's machines share about disk (after Curio ``lib/paths``, so a Curio
operator finds the same tables and rules): which directories hold sector files
(``storage_path``, attached per host with a ``sectorstore.json``), which file of which sector
is where (``sector_location``), how much room each path has (a heartbeat every 10 s), and how
much of it is promised to running tasks (``storage_reservations``, in the database so every
machine sees it).

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

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "claim": [
            "SectorOf",
            "SectorStorageClaim",
        ],
        "errors": [
            "CorruptStoreMeta",
            "InvalidSetting",
            "NoSuitablePath",
            "NotADirectory",
            "OverlappingPath",
            "SectorFileSizeError",
            "SectorNotFound",
            "StorageError",
            "StoreConfigConflict",
            "UnknownStoragePath",
        ],
        "filetypes": [
            "FS_OVERHEAD_FINALIZED",
            "FS_OVERHEAD_SEAL",
            "KNOWN_SECTOR_SIZES",
            "SectorFileType",
            "format_types",
            "parse_types",
        ],
        "heartbeat": [
            "HEARTBEAT_INTERVAL",
            "PathHealth",
            "StorageHeartbeat",
        ],
        "hosts": [
            "this_host",
        ],
        "listing": [
            "HostView",
            "StoragePathInfo",
            "list_paths",
        ],
        "meta": [
            "META_FILE",
            "StoreConfig",
            "read_meta",
        ],
        "moves": [
            "MoveHook",
            "MoveResult",
            "RecoveryReport",
            "move_sector",
            "recover_moves",
        ],
        "paths": [
            "AttachedPath",
            "DetachedPath",
            "LocalPath",
            "StoragePathRow",
            "attach",
            "detach",
            "get_path",
            "local_paths",
        ],
        "placement": [
            "STALE_AFTER",
            "PathCandidate",
            "best_path",
        ],
        "redeclare": [
            "RedeclareReport",
            "redeclare",
        ],
        "reservations": [
            "Reservation",
            "ReservedFile",
            "cleanup_dead_reservations",
            "release_task_reservations",
            "reserve",
        ],
        "sectors": [
            "SectorLocation",
            "declare_sector",
            "find_sector",
            "parse_sector_name",
            "sector_file_path",
            "sector_name",
            "undeclare_sector",
        ],
        "units": [
            "parse_size",
            "size_str",
        ],
    },
)
