"""Attaching and detaching storage paths (Curio ``StorageAttach``/``StorageDetach``).

Attach runs on the host that reaches the directory: it initialises (or reads) the directory's
``sectorstore.json``, checks the directory against the paths this host already has, and
registers the path in ``storage_path`` plus this host's local directory in
``storage_path_hosts``. Several hosts may attach the same path (NFS); detaching the last one
deletes the path and, through the foreign keys, its sector locations and reservations. Files
are never touched by detach, and ``sectorstore.json`` stays, so a re-attach keeps the ID.

Attach, detach and a storage server registering or dropping its URL all rewrite
``storage_path.urls`` from what they read of ``storage_path_hosts`` and ``storage_servers``.
All of them run SERIALIZABLE (:data:`URLS_ISOLATION`, retried on 40001 by
``DB.transaction``): under READ COMMITTED a detach could write a list read before a server's
registration committed (a lost update on the path's row), and an attach and a registration on
the same host could each miss the other's row without sharing one (write skew, which no row
lock catches). YugabyteDB runs serializable transactions too; no advisory lock is needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .durable import fsync_dir
from .errors import (
    InvalidSetting,
    NotADirectory,
    OverlappingPath,
    StoreConfigConflict,
    UnknownStoragePath,
)
from .filetypes import SectorFileType, parse_types
from .hosts import host_url, this_host
from .meta import META_FILE, StoreConfig, read_meta, write_meta

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "AttachedPath",
    "DetachedPath",
    "LocalPath",
    "StoragePathRow",
    "attach",
    "detach",
    "get_path",
    "local_paths",
    "refresh_host_urls",
    "split_list",
]

log = logging.getLogger(__name__)

#: The isolation of every transaction that rewrites ``storage_path.urls`` (see the module
#: docstring); the storage server's registration uses the same.
URLS_ISOLATION = "serializable"


def split_list(value: str) -> list[str]:
    """A comma-separated column (``groups``, ``allow_types`` ...) as a list."""
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class StoragePathRow:
    """One ``storage_path`` row, as stored (lists stay comma-separated strings)."""

    storage_id: str
    urls: str
    weight: int
    max_storage: int
    can_seal: bool
    can_store: bool
    groups: str
    allow_to: str
    allow_types: str
    deny_types: str
    allow_miners: str
    deny_miners: str
    capacity: int
    available: int
    fs_available: int
    reserved: int
    used: int
    last_heartbeat: datetime | None
    heartbeat_err: str | None

    @property
    def allowed_types(self) -> SectorFileType:
        """The file types this path accepts once allow and deny lists are applied."""
        allowed = parse_types(self.allow_types) if self.allow_types else SectorFileType.all()
        return allowed & ~parse_types(self.deny_types)


@dataclass(frozen=True)
class LocalPath:
    """A storage path as one host reaches it."""

    storage_id: str
    local_path: Path
    host: str
    max_storage: int
    can_seal: bool
    can_store: bool


@dataclass(frozen=True)
class AttachedPath:
    """What :func:`attach` did. ``initialised``: a new ``sectorstore.json`` was written."""

    storage_id: str
    local_path: Path
    host: str
    config: StoreConfig
    initialised: bool


@dataclass(frozen=True)
class DetachedPath:
    """What :func:`detach` did. ``removed``: this was the last host, the path row is gone,
    and with it ``dropped_locations`` sector declarations."""

    storage_id: str
    local_path: Path
    host: str
    removed: bool
    dropped_locations: int


async def attach(
    db: DB,
    path: Path | str,
    *,
    host: str | None = None,
    weight: int | None = None,
    can_seal: bool | None = None,
    can_store: bool | None = None,
    max_storage: int | None = None,
    groups: list[str] | None = None,
    allow_to: list[str] | None = None,
    allow_types: list[str] | None = None,
    deny_types: list[str] | None = None,
    allow_miners: list[str] | None = None,
    deny_miners: list[str] | None = None,
) -> AttachedPath:
    """Attach the directory ``path`` on ``host`` (default: this machine) as a storage path.

    A directory without ``sectorstore.json`` is initialised with the given settings (unset
    ones take Lotus's defaults: weight 10, neither seal nor store, no limit). A directory
    that has one keeps its ID and settings; settings passed here must then match it. Attaching
    the same directory again on the same host is a no-op refresh.

    Raises:
        NotADirectory: ``path`` does not exist or is not a directory.
        CorruptStoreMeta: its ``sectorstore.json`` is unreadable.
        StoreConfigConflict: settings differ from the existing ``sectorstore.json``.
        OverlappingPath: the directory is, contains or lies inside a path already attached
            on this host, or its ID is already attached here at another directory.
        InvalidSetting: a malformed setting (unknown file type, negative number).
    """
    host = host or this_host()
    directory = await asyncio.to_thread(_existing_directory, Path(path))
    given = {
        "weight": weight,
        "can_seal": can_seal,
        "can_store": can_store,
        "max_storage": max_storage,
        "groups": groups,
        "allow_to": allow_to,
        "allow_types": allow_types,
        "deny_types": deny_types,
        "allow_miners": allow_miners,
        "deny_miners": deny_miners,
    }
    specified = {k: v for k, v in given.items() if v is not None}
    _validate(specified)

    existing = await asyncio.to_thread(read_meta, directory)
    if existing is None:
        config = StoreConfig.new(**specified)
    else:
        config = existing
        conflicts = [
            f"{k} is {getattr(existing, k)!r}, not {v!r}"
            for k, v in specified.items()
            if getattr(existing, k) != v
        ]
        if conflicts:
            raise StoreConfigConflict(
                f"{directory} is already initialised as {existing.id} and its "
                f"{META_FILE} says otherwise: {'; '.join(conflicts)} "
                f"(attach without those options, or edit {META_FILE} on every host first)"
            )

    # Check before writing anything, so a refused attach leaves no sectorstore.json behind.
    await db.transaction(lambda tx: _check_overlap(tx, host, directory, config.id))
    await asyncio.to_thread(_initialise, directory, config if existing is None else None)

    async def register(tx: Tx) -> None:
        await _check_overlap(tx, host, directory, config.id)
        await tx.exec(
            "INSERT INTO storage_path (storage_id, weight, max_storage, can_seal, can_store, "
            "groups, allow_to, allow_types, deny_types, allow_miners, deny_miners) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (storage_id) DO UPDATE SET weight = EXCLUDED.weight, "
            "max_storage = EXCLUDED.max_storage, can_seal = EXCLUDED.can_seal, "
            "can_store = EXCLUDED.can_store, groups = EXCLUDED.groups, "
            "allow_to = EXCLUDED.allow_to, allow_types = EXCLUDED.allow_types, "
            "deny_types = EXCLUDED.deny_types, allow_miners = EXCLUDED.allow_miners, "
            "deny_miners = EXCLUDED.deny_miners",
            config.id,
            config.weight,
            config.max_storage,
            config.can_seal,
            config.can_store,
            ",".join(config.groups),
            ",".join(config.allow_to),
            ",".join(config.allow_types),
            ",".join(config.deny_types),
            ",".join(config.allow_miners),
            ",".join(config.deny_miners),
        )
        await tx.exec(
            "INSERT INTO storage_path_hosts (storage_id, hostname, local_path) "
            "VALUES ($1, $2, $3) ON CONFLICT (storage_id, hostname) DO NOTHING",
            config.id,
            host,
            str(directory),
        )
        await _refresh_urls(tx, config.id)
        await tx.commit()

    try:
        await db.transaction(register, isolation=URLS_ISOLATION)
    except BaseException:
        if existing is None:
            # Undo our own initialisation: a path that is not registered has no ID yet.
            await asyncio.to_thread((directory / META_FILE).unlink, missing_ok=True)
        raise
    log.info("attached storage path %s at %s on %s", config.id, directory, host)
    return AttachedPath(config.id, directory, host, config, initialised=existing is None)


async def detach(db: DB, path_or_id: Path | str, *, host: str | None = None) -> DetachedPath:
    """Detach a storage path from ``host``, by local directory or by storage ID.

    Raises:
        UnknownStoragePath: nothing is attached on this host at that directory or ID.
    """
    host = host or this_host()
    text = str(path_or_id)
    as_dir = str(await asyncio.to_thread(_resolve, text))

    async def work(tx: Tx) -> DetachedPath:
        row = await tx.query_row(
            "SELECT storage_id, local_path FROM storage_path_hosts "
            "WHERE hostname = $1 AND (storage_id = $2 OR local_path = $3) "
            "ORDER BY storage_id = $2 DESC LIMIT 1 FOR UPDATE",
            host,
            text,
            as_dir,
        )
        if row is None:
            raise UnknownStoragePath(
                f"no storage path is attached on {host} at {text} (see `harmony storage list`)"
            )
        storage_id = row["storage_id"]
        await tx.exec(
            "DELETE FROM storage_path_hosts WHERE storage_id = $1 AND hostname = $2",
            storage_id,
            host,
        )
        others = await tx.query_value(
            "SELECT count(*) FROM storage_path_hosts WHERE storage_id = $1", storage_id
        )
        dropped = 0
        if others == 0:
            dropped = await tx.query_value(
                "SELECT count(*) FROM sector_location WHERE storage_id = $1", storage_id
            )
            await tx.exec("DELETE FROM storage_path WHERE storage_id = $1", storage_id)
        else:
            await _refresh_urls(tx, storage_id)
        await tx.commit()
        return DetachedPath(storage_id, Path(row["local_path"]), host, others == 0, dropped)

    result = await db.transaction(work, isolation=URLS_ISOLATION)
    log.info("detached storage path %s from %s", result.storage_id, host)
    return result


async def local_paths(
    db: DB | Tx, host: str | None = None, storage_id: str | None = None
) -> list[LocalPath]:
    """The paths attached on ``host`` (optionally just one), with their local directories."""
    rows = await db.select(
        "SELECT h.storage_id, h.local_path, h.hostname AS host, p.max_storage, p.can_seal, "
        "p.can_store FROM storage_path_hosts h JOIN storage_path p USING (storage_id) "
        "WHERE h.hostname = $1 AND ($2::varchar IS NULL OR h.storage_id = $2) "
        "ORDER BY h.local_path",
        host or this_host(),
        storage_id,
    )
    return [LocalPath(**{**r, "local_path": Path(r["local_path"])}) for r in rows]


async def get_path(db: DB | Tx, storage_id: str) -> StoragePathRow:
    """One storage path row. Raises UnknownStoragePath."""
    row = await db.query_row(
        "SELECT storage_id, urls, weight, max_storage, can_seal, can_store, groups, allow_to, "
        "allow_types, deny_types, allow_miners, deny_miners, capacity, available, fs_available, "
        "reserved, used, last_heartbeat, heartbeat_err FROM storage_path WHERE storage_id = $1",
        storage_id,
        into=StoragePathRow,
    )
    if row is None:
        raise UnknownStoragePath(f"no storage path with ID {storage_id}")
    return row


def _resolve(text: str) -> Path:
    return Path(text).expanduser().resolve(strict=False)


def _initialise(directory: Path, new_config: StoreConfig | None) -> None:
    """Create the type directories and, for a new path, its ``sectorstore.json``."""
    for ft in SectorFileType.all().bits():
        (directory / ft.dir_name).mkdir(exist_ok=True)
    if new_config is not None:
        write_meta(directory, new_config)
    fsync_dir(directory)


def _existing_directory(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise NotADirectory(path, "does not exist")
    if not path.is_dir():
        raise NotADirectory(path)
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise NotADirectory(path, "is not writable by this user")
    return path.resolve()


def _validate(settings: dict[str, Any]) -> None:
    for key in ("weight", "max_storage"):
        if key in settings and settings[key] < 0:
            raise InvalidSetting(f"{key} must not be negative, got {settings[key]}")
    for key in ("allow_types", "deny_types"):
        if key in settings:
            try:
                parse_types(settings[key])
            except ValueError as exc:
                raise InvalidSetting(f"{key.replace('_', '-')}: {exc}") from None
    for key in ("groups", "allow_to", "allow_types", "deny_types", "allow_miners", "deny_miners"):
        if key in settings:
            bad = [v for v in settings[key] if "," in v or not v.strip()]
            if bad:
                raise InvalidSetting(f"{key.replace('_', '-')}: bad entry {bad[0]!r}")


async def _check_overlap(tx: Tx, host: str, directory: Path, storage_id: str) -> None:
    rows = await tx.select(
        "SELECT storage_id, local_path FROM storage_path_hosts WHERE hostname = $1", host
    )
    for row in rows:
        other = Path(row["local_path"])
        if row["storage_id"] == storage_id:
            if other != directory:
                raise OverlappingPath(
                    f"storage path {storage_id} is already attached on {host} at {other}; "
                    f"{directory} has the same {META_FILE} (a copy?)"
                )
            continue
        if other == directory:
            raise OverlappingPath(
                f"{directory} is already attached on {host} as {row['storage_id']}, "
                f"but its {META_FILE} now says {storage_id}"
            )
        if other in directory.parents:
            raise OverlappingPath(
                f"{directory} is inside storage path {row['storage_id']} at {other}"
            )
        if directory in other.parents:
            raise OverlappingPath(
                f"{directory} contains storage path {row['storage_id']} at {other}"
            )


async def _refresh_urls(tx: Tx, storage_id: str) -> None:
    """Rewrite the path's ``urls``: per attached host, its storage servers' URLs (Curio's
    ``http://host:port/remote``), or ``file://host/dir`` for a host serving none."""
    rows = await tx.select(
        "SELECT h.hostname, h.local_path, s.url FROM storage_path_hosts h "
        "LEFT JOIN storage_servers s ON s.hostname = h.hostname "
        "WHERE h.storage_id = $1 ORDER BY h.hostname, s.url",
        storage_id,
    )
    urls = ",".join(dict.fromkeys(host_url(r["hostname"], r["local_path"], r["url"]) for r in rows))
    await tx.exec("UPDATE storage_path SET urls = $2 WHERE storage_id = $1", storage_id, urls)


async def refresh_host_urls(tx: Tx, host: str) -> None:
    """Rewrite ``urls`` of every path attached on ``host`` (its storage server started or
    stopped)."""
    ids = await tx.select(
        "SELECT storage_id FROM storage_path_hosts WHERE hostname = $1 ORDER BY storage_id", host
    )
    for row in ids:
        await _refresh_urls(tx, row["storage_id"])
